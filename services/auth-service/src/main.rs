use auth_service::{Application, AuthConfig};

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    argus_http::cli::answer_flags(
        "auth-service",
        env!("CARGO_PKG_VERSION"),
        auth_service::config::ABOUT,
        auth_service::config::ENVIRONMENT,
    );
    let config = match AuthConfig::from_environment() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auth-service: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = match argus_spans::init_from_environment("auth-service", env!("CARGO_PKG_VERSION")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("auth-service: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match Application::build(config).await {
        Ok(app) => app.run_until_stopped().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    telemetry.shutdown().await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "auth-service stopped");
            eprintln!("auth-service: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
