//! api-service configuration, from the environment.

use argus_store::StoreConfig;
use argus_telemetry::LogFormat;
use argus_types::env::{ConfigError, flag, parse_var, var_or};

/// Which API this process serves: the live one, or the sandbox (its own
/// database, and only `aud=sandbox` tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Live,
    Sandbox,
}

impl std::str::FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Self::Live),
            "sandbox" => Ok(Self::Sandbox),
            other => Err(format!("`{other}` is not `live` or `sandbox`")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `ARGUS_API_ADDR` (default `127.0.0.1:8081`).
    pub listen_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 16).
    pub store: StoreConfig,
    /// `ARGUS_ENV` (`live` or `sandbox`, default live).
    pub environment: Environment,
    /// `ARGUS_MIGRATE` (default false): run migrations before serving.
    pub migrate: bool,
    /// `ARGUS_LOG_FORMAT` and `RUST_LOG`.
    pub log_format: LogFormat,
    pub log_filter: String,
}

impl ApiConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: var_or("ARGUS_API_ADDR", "127.0.0.1:8081"),
            store: StoreConfig {
                database_url: var_or("ARGUS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/argus"),
                max_connections: parse_var("ARGUS_DB_MAX_CONNECTIONS", 16)?,
            },
            environment: parse_var("ARGUS_ENV", Environment::Live)?,
            migrate: flag("ARGUS_MIGRATE", false)?,
            log_format: parse_var("ARGUS_LOG_FORMAT", LogFormat::Json)?,
            log_filter: var_or("RUST_LOG", "info"),
        })
    }
}
