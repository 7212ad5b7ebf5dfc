//! delivery-worker configuration, from the environment.

use argus_store::StoreConfig;
use argus_telemetry::LogFormat;
use argus_types::env::{ConfigError, parse_var, var_or};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `ARGUS_WORKER_ADMIN_ADDR` (default `127.0.0.1:8082`): health and
    /// readiness only; the worker has no public port.
    pub admin_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 8).
    pub store: StoreConfig,
    /// `ARGUS_LOG_FORMAT` and `RUST_LOG`.
    pub log_format: LogFormat,
    pub log_filter: String,
}

impl WorkerConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        Ok(Self {
            admin_addr: var_or("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:8082"),
            store: StoreConfig {
                database_url: var_or("ARGUS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/argus"),
                max_connections: parse_var("ARGUS_DB_MAX_CONNECTIONS", 8)?,
            },
            log_format: parse_var("ARGUS_LOG_FORMAT", LogFormat::Json)?,
            log_filter: var_or("RUST_LOG", "info"),
        })
    }
}
