use api_service::{ApiConfig, Application};

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    argus_http::cli::answer_flags(
        "api-service",
        env!("CARGO_PKG_VERSION"),
        api_service::config::ABOUT,
        api_service::config::ENVIRONMENT,
    );
    let config = match ApiConfig::from_environment() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("api-service: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = match argus_spans::init_from_environment("api-service", env!("CARGO_PKG_VERSION")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("api-service: {e}");
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
            eprintln!("api-service: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
