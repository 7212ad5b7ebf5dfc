use api_service::ApiConfig;
use argus_http::cli::run_service;

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run_service(api_service::config::BINARY, ApiConfig::from_environment, api_service::serve).await
}
