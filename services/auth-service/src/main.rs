use auth_service::{Application, AuthConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = match AuthConfig::from_environment() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auth-service: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    argus_telemetry::init(config.log_format, &config.log_filter);
    let result = match Application::build(config).await {
        Ok(app) => app.run_until_stopped().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "auth-service stopped");
            eprintln!("auth-service: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
