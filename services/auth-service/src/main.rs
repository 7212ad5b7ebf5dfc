use argus_http::cli::run_service;
use auth_service::AuthConfig;

// Requests, spans and messages are many small allocations freed on other
// threads; mimalloc serves that pattern far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run_service(auth_service::config::BINARY, AuthConfig::from_environment, auth_service::serve).await
}
