//! api-service configuration, from the environment.

use argus_http::cli::Binary;
use argus_http::discovery::{DISCOVERY_ENVIRONMENT, PublicUrls};
use argus_http::serve::Shutdown;
use argus_store::StoreConfig;
use argus_types::env::{ConfigError, flag, parse_var, var_or};

/// Which API this process serves: the live one, or the sandbox (its own
/// database, its own key set, and only `aud=sandbox` tokens).
pub use argus_types::Environment;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `ARGUS_API_ADDR` (default `127.0.0.1:8081`).
    pub listen_addr: String,
    /// `ARGUS_API_ADMIN_ADDR` (default `127.0.0.1:9081`): `/metrics`,
    /// `/healthz` and `/readyz` for operators, never routed publicly.
    pub admin_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 16).
    pub store: StoreConfig,
    /// `ARGUS_ENV` (`live` or `sandbox`, default live). The audience tokens
    /// must carry follows from it alone (`api.knogin.com` or `sandbox`), as
    /// does the key set they must be signed by.
    pub environment: Environment,
    /// `ARGUS_ISSUER` (default `http://127.0.0.1:8080`): the `iss` tokens
    /// must carry.
    pub issuer: String,
    /// `ARGUS_JWKS_URL` (default `$ARGUS_ISSUER/.well-known/jwks.json`,
    /// or `$ARGUS_ISSUER/.well-known/sandbox/jwks.json` in the sandbox).
    pub jwks_url: String,
    /// `ARGUS_MIGRATE` (default false): run migrations before serving.
    pub migrate: bool,
    /// `ARGUS_SHUTDOWN_DRAIN_SECONDS` (default 0) and
    /// `ARGUS_SHUTDOWN_TIMEOUT_SECONDS` (default 30): after SIGTERM, how long
    /// `/readyz` fails before the server stops accepting, then how long
    /// in-flight requests may take.
    pub shutdown: Shutdown,
    /// `ARGUS_TRACE_RETENTION_DAYS` (default 7): the trace lookup returns
    /// no span older than this.
    pub trace_retention: std::time::Duration,
    /// The public URLs the API catalog links to (`ARGUS_API_URL`,
    /// `ARGUS_DOCS_URL`, and `ARGUS_ISSUER` for the auth host).
    pub public_urls: PublicUrls,
    /// `ARGUS_DEPRECATIONS_FILE` (default the shipped matrix,
    /// `docs/deprecations.yaml`): checked at start-up.
    pub deprecations_file: Option<std::path::PathBuf>,
    /// `/v1/jobs` (`ARGUS_JOBS_MAX_BODY_BYTES`, `ARGUS_WEBHOOK_ALLOW_PRIVATE`,
    /// `ARGUS_SECRET_PEPPER`).
    pub jobs: JobsApiConfig,
    /// The sandbox's webhook routes (`ARGUS_MAX_WEBHOOKS_PER_TENANT`,
    /// `ARGUS_WEBHOOK_MANUAL_SENDS_PER_MINUTE`, as the auth-service reads
    /// them); live, the auth-service serves them.
    pub webhooks: auth_service::WebhookLimits,
}

argus_types::env_settings! {
    /// What `/v1/jobs` needs beyond the rest of the API.
    #[derive(Debug, Clone)]
    pub struct JobsApiConfig {
        /// `ARGUS_JOBS_MAX_BODY_BYTES` (default 67108864, 64 MiB): the largest
        /// `POST /v1/jobs` body, which carries an `import.bulk`'s NDJSON. Every
        /// other route keeps its 64 KiB limit.
        pub max_body: usize = 64 * 1024 * 1024 => parse_var("ARGUS_JOBS_MAX_BODY_BYTES"),
        /// `ARGUS_JOBS_MAX_BODIES_IN_FLIGHT` (default 8): `POST /v1/jobs`
        /// bodies over 64 KiB (or of unknown length) read at once; more are
        /// answered 503 with `Retry-After`. Each costs ~14 MiB of resident memory
        /// while it streams, and a database connection (`ARGUS_DB_MAX_CONNECTIONS`).
        pub max_bodies_in_flight: usize = 8 => parse_var("ARGUS_JOBS_MAX_BODIES_IN_FLIGHT"),
        /// `ARGUS_JOBS_TENANT_QUOTA_BYTES` (default 2147483648, 2 GiB): what a
        /// tenant's stored job inputs and results may add up to (uncompressed);
        /// a job that would go over is a 429.
        pub tenant_quota_bytes: u64 = 2 << 30 => parse_var("ARGUS_JOBS_TENANT_QUOTA_BYTES"),
        /// `ARGUS_JOB_MAX_ROWS` (default 5,000,000): lines one `import.bulk`
        /// may hold (a 400 beyond, nothing stored); the worker bounds
        /// `export.bulk` by the same variable.
        pub max_rows: u64 = 5_000_000 => parse_var("ARGUS_JOB_MAX_ROWS"),
        /// `ARGUS_WEBHOOK_ALLOW_PRIVATE` (default false): accept `http` and
        /// private addresses as `callback_url` (local work and tests), as the
        /// auth-service does for webhooks.
        pub allow_private_callbacks: bool = false => flag("ARGUS_WEBHOOK_ALLOW_PRIVATE"),
        /// `ARGUS_SECRET_PEPPER`: seals callback secrets (and the responses
        /// kept for Idempotency-Keys, which show them); the delivery worker
        /// must have the same.
        pub secret_pepper: String = argus_crypto::DEV_PEPPER.to_owned() => parse_var("ARGUS_SECRET_PEPPER"),
    }
}

impl ApiConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        let environment = parse_var("ARGUS_ENV", Environment::Live)?;
        refuse_other_audience(environment)?;
        let issuer = var_or("ARGUS_ISSUER", "http://127.0.0.1:8080");
        let default_jwks = format!("{}{}", issuer.trim_end_matches('/'), environment.jwks_path());
        Ok(Self {
            deprecations_file: std::env::var_os("ARGUS_DEPRECATIONS_FILE").map(Into::into),
            public_urls: PublicUrls::from_environment(&issuer, environment.default_api_url())?,
            jwks_url: var_or("ARGUS_JWKS_URL", &default_jwks),
            issuer,
            environment,
            listen_addr: var_or("ARGUS_API_ADDR", "127.0.0.1:8081"),
            admin_addr: var_or("ARGUS_API_ADMIN_ADDR", "127.0.0.1:9081"),
            store: StoreConfig::from_environment()?,
            migrate: flag("ARGUS_MIGRATE", false)?,
            shutdown: Shutdown::from_environment()?,
            trace_retention: argus_spans::retention_from_environment()?,
            jobs: JobsApiConfig::from_environment()?,
            webhooks: auth_service::WebhookLimits::from_environment()?,
        })
    }
}

/// `ARGUS_AUDIENCE` is no setting of the api-service: the audience follows
/// from `ARGUS_ENV`, so that no one variable can let tokens cross between
/// live and the sandbox. A deployment that still sets it to its own
/// environment's audience starts; any other value is refused.
fn refuse_other_audience(environment: Environment) -> Result<(), ConfigError> {
    match std::env::var("ARGUS_AUDIENCE") {
        Ok(set) if !set.is_empty() && set != environment.audience() => Err(ConfigError {
            name: "ARGUS_AUDIENCE",
            reason: format!(
                "`{set}`: the audience follows from ARGUS_ENV={environment} alone (`{}`); unset it",
                environment.audience()
            ),
        }),
        _ => Ok(()),
    }
}

/// What `api-service --help` and `--version` say of the binary.
pub const BINARY: Binary =
    argus_http::binary!("Argus api-service: GraphQL, async jobs and the trace lookup (api.knogin.com)", ENVIRONMENT);

/// The variables `api-service --help` lists.
pub const ENVIRONMENT: &[&str] = &[OWN_ENVIRONMENT, DISCOVERY_ENVIRONMENT, argus_http::cli::SERVER_ENVIRONMENT];

/// This service's own variables.
const OWN_ENVIRONMENT: &str = "\
  ARGUS_API_ADDR                 listen address (default 127.0.0.1:8081)
  ARGUS_API_ADMIN_ADDR           /metrics, /healthz and /readyz for operators (default 127.0.0.1:9081)
  ARGUS_ISSUER                   the auth-service's URL (default http://127.0.0.1:8080)
  ARGUS_JWKS_URL                 where its keys are (default $ARGUS_ISSUER/.well-known/jwks.json; /.well-known/sandbox/jwks.json with ARGUS_ENV=sandbox)
  ARGUS_AUDIENCE                 not a setting: the aud follows from ARGUS_ENV; refused unless it is that aud
  ARGUS_SECRET_PEPPER            seals job callback secrets (secret; a development pepper if unset)
  ARGUS_WEBHOOK_ALLOW_PRIVATE    allow private job callback (and, in the sandbox, webhook) addresses (default false)
  ARGUS_MAX_WEBHOOKS_PER_TENANT  the sandbox's webhooks per tenant (default 50)
  ARGUS_WEBHOOK_MANUAL_SENDS_PER_MINUTE  the sandbox's webhook test sends and resends per tenant (default 30)
  ARGUS_JOBS_MAX_BODY_BYTES      largest POST /v1/jobs body (default 67108864)
  ARGUS_JOBS_MAX_BODIES_IN_FLIGHT  large job bodies streamed at once (default 8)
  ARGUS_JOBS_TENANT_QUOTA_BYTES  a tenant's stored job inputs and results (default 2147483648)
  ARGUS_JOB_MAX_ROWS             lines one import may hold (default 5000000)";

#[cfg(test)]
mod help_tests {
    #[test]
    fn help_lists_every_variable_read() {
        argus_http::testing::assert_help_lists_every_variable(super::ENVIRONMENT, include_str!("config.rs"));
    }
}
