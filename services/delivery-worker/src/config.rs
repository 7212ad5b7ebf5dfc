//! delivery-worker configuration, from the environment.

use std::time::Duration;

use argus_http::cli::Binary;
use argus_store::StoreConfig;
use argus_types::env::{ConfigError, flag, parse_var, var_or};

/// The Standard Webhooks retry schedule after the first, immediate attempt:
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
pub const DEFAULT_RETRY_SCHEDULE: &str = "5,300,1800,7200,18000,36000,50400,72000,86400";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `ARGUS_ENV` (`live` or `sandbox`, default live): the database and the
    /// vhost must belong to it (checked at start, see
    /// [`crate::check_environment`]).
    pub environment: argus_types::Environment,
    /// `ARGUS_WORKER_ADMIN_ADDR` (default `127.0.0.1:8082`): `/metrics`,
    /// `/healthz` and `/readyz`; the worker has no public port.
    pub admin_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 16).
    pub store: StoreConfig,
    /// `ARGUS_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).
    pub amqp_url: String,
    /// `ARGUS_AMQP_CA_FILE` (default none): PEM certificates trusted for an
    /// `amqps://` broker besides the built-in web roots (a private CA).
    pub amqp_ca_file: Option<std::path::PathBuf>,
    /// `ARGUS_BUS_PREFIX` (default `argus`): names of exchanges and queues.
    pub bus_prefix: String,
    /// `ARGUS_SECRET_PEPPER`: unseals webhook signing secrets.
    pub secret_pepper: String,
    /// `ARGUS_WEBHOOK_RETRY_SCHEDULE`: comma-separated delays in seconds
    /// (fractions allowed) between attempts, after the first immediate one.
    pub retry_schedule: Vec<Duration>,
    /// `ARGUS_WEBHOOK_ALLOW_PRIVATE` (default false): let deliveries reach
    /// loopback and private addresses (local work and tests).
    pub allow_private: bool,
    /// `ARGUS_WEBHOOK_TIMEOUT_SECONDS` (default 15).
    pub request_timeout: Duration,
    /// `ARGUS_WORKER_CONCURRENCY` (default 64): deliveries in flight at once.
    pub concurrency: u16,
    /// `ARGUS_WEBHOOK_MAX_IN_FLIGHT` (default 8): requests in flight to one
    /// webhook at once to start with; the limit then adapts to the endpoint
    /// (up to the per-tenant cap while it answers fast, down to 1 while it
    /// fails or times out). More wait in the worker for a slot when their
    /// turn is expected within 250 ms, else, unattempted, in a delay queue,
    /// so one slow endpoint cannot take the whole worker.
    pub per_webhook_in_flight: u16,
    /// `ARGUS_WEBHOOK_MAX_IN_FLIGHT_PER_TENANT` (default a quarter of
    /// `ARGUS_WORKER_CONCURRENCY`): requests (deliveries and job callbacks)
    /// in flight for one tenant at once, and the most one webhook's limit
    /// rises to; more wait like a busy webhook's, so one tenant's slow
    /// endpoints hold at most its share.
    pub per_tenant_in_flight: u16,
    /// The jobs consumer (`ARGUS_JOBS_*`).
    pub jobs: JobsConfig,
}

/// How the worker runs async jobs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `ARGUS_JOBS_CONCURRENCY` (default 2): jobs run at once by this
    /// worker; each job may also use a CPU core. Their callbacks go out
    /// with the deliveries, outside these slots.
    pub concurrency: u16,
    /// `ARGUS_JOBS_LEASE_SECONDS` (default 30): how long a claimed job
    /// stays with a worker that stopped checkpointing (died) before another
    /// takes it over.
    pub lease: Duration,
    /// `ARGUS_JOBS_CHECKPOINT_MS` (default 1000): how often a running job's
    /// progress is written, its lease renewed and a cancel looked for.
    pub checkpoint_every: Duration,
    /// `ARGUS_JOBS_IMPORT_BATCH` (default 5000): rows per upsert statement
    /// of `import.bulk`.
    pub import_batch: usize,
    /// `ARGUS_GRAPH_CACHE_GRAPHS` (default 4; 0 = none): built entity
    /// graphs kept in memory for graph.compute, up to ~30 MB each for a
    /// million edges.
    pub graph_cache: usize,
    /// `ARGUS_JOB_MAX_ROWS` (default 5,000,000): rows one `export.bulk` may
    /// hold; a larger export fails with `too_many_rows`, saying to narrow
    /// it.
    pub max_rows: u64,
    /// `ARGUS_JOB_RESULT_RETENTION_DAYS` (default 7; 1 to 3650): how long
    /// a succeeded job's result is kept; then it is deleted (its
    /// `GET /v1/jobs/{id}/result` is a 410) and the tenant's quota freed.
    pub result_retention: Duration,
}

const DAY_SECONDS: u64 = 24 * 60 * 60;
const DEFAULT_JOB_MAX_ROWS: u64 = 5_000_000;

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease: Duration::from_secs(30),
            checkpoint_every: Duration::from_millis(1000),
            import_batch: 5000,
            graph_cache: 4,
            max_rows: DEFAULT_JOB_MAX_ROWS,
            result_retention: Duration::from_secs(7 * DAY_SECONDS),
        }
    }
}

impl JobsConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            concurrency: parse_var("ARGUS_JOBS_CONCURRENCY", d.concurrency)?,
            lease: Duration::from_secs(parse_var("ARGUS_JOBS_LEASE_SECONDS", 30u64)?.max(1)),
            checkpoint_every: Duration::from_millis(parse_var("ARGUS_JOBS_CHECKPOINT_MS", 1000u64)?.max(10)),
            import_batch: parse_var("ARGUS_JOBS_IMPORT_BATCH", d.import_batch)?.max(1),
            graph_cache: parse_var("ARGUS_GRAPH_CACHE_GRAPHS", d.graph_cache)?,
            max_rows: parse_var("ARGUS_JOB_MAX_ROWS", d.max_rows)?,
            result_retention: result_retention()?,
        })
    }
}

fn result_retention() -> Result<Duration, ConfigError> {
    let days: u64 = parse_var("ARGUS_JOB_RESULT_RETENTION_DAYS", 7)?;
    if !(1..=3650).contains(&days) {
        let reason = "must be 1 to 3650 days".to_owned();
        return Err(ConfigError { name: "ARGUS_JOB_RESULT_RETENTION_DAYS", reason });
    }
    Ok(Duration::from_secs(days * DAY_SECONDS))
}

/// A tenant's default share of the worker's requests: a quarter, so at
/// least four tenants' slow endpoints must add up before the rest wait.
fn default_per_tenant(concurrency: u16) -> u16 {
    (concurrency / 4).max(1)
}

pub fn parse_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 7.0 * 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("`{s}` is not a number of seconds between 0 and 604800"))
        })
        .collect()
}

impl WorkerConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        let schedule = var_or("ARGUS_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE);
        let concurrency: u16 = parse_var("ARGUS_WORKER_CONCURRENCY", 64)?;
        Ok(Self {
            environment: parse_var("ARGUS_ENV", argus_types::Environment::Live)?,
            admin_addr: var_or("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:8082"),
            store: StoreConfig::from_environment()?,
            amqp_url: var_or("ARGUS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            amqp_ca_file: Some(var_or("ARGUS_AMQP_CA_FILE", "")).filter(|p| !p.is_empty()).map(Into::into),
            bus_prefix: var_or("ARGUS_BUS_PREFIX", "argus"),
            secret_pepper: var_or("ARGUS_SECRET_PEPPER", argus_crypto::DEV_PEPPER),
            retry_schedule: parse_schedule(&schedule)
                .map_err(|reason| ConfigError { name: "ARGUS_WEBHOOK_RETRY_SCHEDULE", reason })?,
            allow_private: flag("ARGUS_WEBHOOK_ALLOW_PRIVATE", false)?,
            request_timeout: Duration::from_secs(parse_var("ARGUS_WEBHOOK_TIMEOUT_SECONDS", 15)?),
            concurrency,
            per_webhook_in_flight: parse_var("ARGUS_WEBHOOK_MAX_IN_FLIGHT", 8)?,
            per_tenant_in_flight: parse_var("ARGUS_WEBHOOK_MAX_IN_FLIGHT_PER_TENANT", default_per_tenant(concurrency))?,
            jobs: JobsConfig::from_environment()?,
        })
    }
}

/// What `delivery-worker --help` and `--version` say of the binary.
pub const BINARY: Binary = Binary {
    name: "delivery-worker",
    version: env!("CARGO_PKG_VERSION"),
    about: "Argus delivery-worker: webhook deliveries, job callbacks, async jobs and the outbox relay",
    environment: ENVIRONMENT,
};

/// The variables `delivery-worker --help` lists.
pub const ENVIRONMENT: &[&str] = &[OWN_ENVIRONMENT];

/// This service's own variables.
const OWN_ENVIRONMENT: &str = "\
  ARGUS_ENV                      live or sandbox (default live): the database and vhost must belong to it
  ARGUS_WORKER_ADMIN_ADDR        /metrics, /healthz and /readyz for operators (default 127.0.0.1:8082)
  ARGUS_AMQP_URL                 the broker (default amqp://guest:guest@127.0.0.1:5672/%2f; secret)
  ARGUS_AMQP_CA_FILE             PEM CA certificates for an amqps:// broker (default none)
  ARGUS_BUS_PREFIX               exchange and queue names (default argus)
  ARGUS_SECRET_PEPPER            opens webhook signing secrets (secret; a development pepper if unset)
  ARGUS_WEBHOOK_RETRY_SCHEDULE   seconds between attempts (default 5,300,1800,7200,18000,36000,50400,72000,86400)
  ARGUS_WEBHOOK_ALLOW_PRIVATE    allow private webhook addresses (default false)
  ARGUS_WEBHOOK_TIMEOUT_SECONDS  per request (default 15)
  ARGUS_WORKER_CONCURRENCY       requests in flight (default 64)
  ARGUS_WEBHOOK_MAX_IN_FLIGHT    per webhook to start with; adapts (default 8)
  ARGUS_WEBHOOK_MAX_IN_FLIGHT_PER_TENANT  per tenant (default a quarter of the concurrency)
  ARGUS_JOBS_CONCURRENCY         jobs at once (default 2)
  ARGUS_JOBS_LEASE_SECONDS       (default 30)
  ARGUS_JOBS_CHECKPOINT_MS       (default 1000)
  ARGUS_JOBS_IMPORT_BATCH        rows per upsert (default 5000)
  ARGUS_GRAPH_CACHE_GRAPHS       graphs kept in memory (default 4)
  ARGUS_JOB_MAX_ROWS             rows one export may hold (default 5000000)
  ARGUS_JOB_RESULT_RETENTION_DAYS  how long results are kept (default 7)";

#[cfg(test)]
mod help_tests {
    #[test]
    fn help_lists_every_variable_read() {
        argus_http::testing::assert_help_lists_every_variable(super::ENVIRONMENT, include_str!("config.rs"));
    }
}
