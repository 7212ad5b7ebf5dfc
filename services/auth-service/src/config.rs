//! auth-service configuration, from the environment.

use argus_store::StoreConfig;
use argus_telemetry::LogFormat;
use argus_types::claims::LIVE_AUDIENCE;
use argus_types::env::{ConfigError, flag, parse_var, var_or};

/// The pepper used when none is configured: fine on a laptop, refused by
/// nothing but warned about at start, and never to be used in production.
pub const DEV_PEPPER: &str = "argus-dev-pepper-do-not-use-in-production";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `ARGUS_AUTH_ADDR` (default `127.0.0.1:8080`); port 0 picks a free one.
    pub listen_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 16).
    pub store: StoreConfig,
    /// `ARGUS_ISSUER` (default `http://127.0.0.1:8080`): the `iss` of every token.
    pub issuer: String,
    /// `ARGUS_AUDIENCE` (default `api.knogin.com`): the audience this
    /// service's own routes accept.
    pub audience: String,
    /// `ARGUS_SECRET_PEPPER`: key of the keyed hash client secrets are stored as.
    pub secret_pepper: String,
    /// `ARGUS_MIGRATE` (default false): run migrations before serving.
    pub migrate: bool,
    /// `ARGUS_LOG_FORMAT` (`json` or `pretty`, default json) and `RUST_LOG`.
    pub log_format: LogFormat,
    pub log_filter: String,
}

impl AuthConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: var_or("ARGUS_AUTH_ADDR", "127.0.0.1:8080"),
            store: StoreConfig {
                database_url: var_or("ARGUS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/argus"),
                max_connections: parse_var("ARGUS_DB_MAX_CONNECTIONS", 16)?,
            },
            issuer: var_or("ARGUS_ISSUER", "http://127.0.0.1:8080"),
            audience: var_or("ARGUS_AUDIENCE", LIVE_AUDIENCE),
            secret_pepper: var_or("ARGUS_SECRET_PEPPER", DEV_PEPPER),
            migrate: flag("ARGUS_MIGRATE", false)?,
            log_format: parse_var("ARGUS_LOG_FORMAT", LogFormat::Json)?,
            log_filter: var_or("RUST_LOG", "info"),
        })
    }
}
