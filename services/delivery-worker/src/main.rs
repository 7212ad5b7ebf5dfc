use delivery_worker::{Worker, WorkerConfig};

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    argus_http::cli::answer_flags(
        "delivery-worker",
        env!("CARGO_PKG_VERSION"),
        delivery_worker::config::ABOUT,
        delivery_worker::config::ENVIRONMENT,
    );
    let config = match WorkerConfig::from_environment() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("delivery-worker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = match argus_spans::init_from_environment("delivery-worker", env!("CARGO_PKG_VERSION")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("delivery-worker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match start(config).await {
        Ok(worker) => worker.run_until_stopped().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    telemetry.shutdown().await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("delivery-worker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Checks an encrypted database connection first (see
/// `Store::check_tls_at_start`), then starts the worker.
async fn start(config: WorkerConfig) -> Result<Worker, Box<dyn std::error::Error>> {
    argus_store::Store::connect(&config.store)?.check_tls_at_start().await?;
    Ok(Worker::build(config)?)
}
