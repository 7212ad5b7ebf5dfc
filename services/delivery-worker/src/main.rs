use argus_http::cli::run_service;
use delivery_worker::{Worker, WorkerConfig};

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run_service(delivery_worker::config::BINARY, WorkerConfig::from_environment, run).await
}

/// An encrypted database connection is checked first (see
/// `Store::check_tls_at_start`), then that the database and the vhost are
/// of `ARGUS_ENV`'s environment, then the worker starts.
async fn run(config: WorkerConfig) -> Result<(), Box<dyn std::error::Error>> {
    argus_store::Store::connect(&config.store)?.check_tls_at_start().await?;
    delivery_worker::check_environment(&config).await?;
    Ok(Worker::build(config)?.run_until_stopped().await?)
}
