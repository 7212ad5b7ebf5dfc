//! The tenant-scoped span store: the finished spans of tenants' work,
//! which `argus-telemetry` attributes and batches, written to PostgreSQL
//! ([`PostgresSpans`]), purged after the retention, and read back for the
//! trace lookup ([`spans_of_trace`]).
//!
//! The dependency points one way: this crate plugs the store into the
//! telemetry as its [`TenantSpanSink`]; the telemetry knows no store.

mod lookup;

use std::sync::Arc;
use std::time::Duration;

use argus_store::{Store, StoreConfig, StoreError};
use argus_telemetry::{Telemetry, TelemetryConfig, TenantSpanSink};
use argus_types::env::{ConfigError, flag, parse_var};
use argus_types::traces::NewSpanBatch;
use chrono::Utc;
use futures_util::future::BoxFuture;

pub use lookup::{RecordedSpan, spans_of_trace};

/// How often expired batches are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Rows one purge statement deletes at most.
const PURGE_BATCH: i64 = 10_000;
const PURGE_BATCH_ROWS: usize = PURGE_BATCH as usize;

/// Where and how long spans are kept.
#[derive(Debug, Clone)]
pub struct SpanStoreConfig {
    pub database_url: String,
    /// `ARGUS_TRACE_RETENTION_DAYS` (default 7).
    pub retention: Duration,
}

impl SpanStoreConfig {
    /// `ARGUS_TRACE_STORE` (default true) writes tenants' spans to the span
    /// store in `ARGUS_DATABASE_URL`, kept [`retention_from_environment`].
    pub fn from_environment() -> Result<Option<Self>, ConfigError> {
        let retention = retention_from_environment()?;
        Ok(flag("ARGUS_TRACE_STORE", true)?
            .then(|| Self { database_url: argus_store::database_url_from_environment(), retention }))
    }
}

/// `ARGUS_TRACE_RETENTION_DAYS` (default 7, at least 1): how long the span
/// store keeps spans; the trace lookup never returns older ones.
pub fn retention_from_environment() -> Result<Duration, ConfigError> {
    let days: u32 = parse_var("ARGUS_TRACE_RETENTION_DAYS", 7)?;
    if days == 0 {
        return Err(ConfigError { name: "ARGUS_TRACE_RETENTION_DAYS", reason: "must be at least 1".into() });
    }
    Ok(Duration::from_secs(u64::from(days) * 86_400))
}

/// The span store as the telemetry's sink for tenants' spans.
pub struct PostgresSpans {
    store: Store,
}

impl PostgresSpans {
    /// Opens the store and starts purging what is older than the
    /// retention, on the current tokio runtime.
    pub fn start(config: &SpanStoreConfig) -> Result<Arc<Self>, StoreError> {
        let store = Store::connect(&StoreConfig { database_url: config.database_url.clone(), max_connections: 2 })?;
        tokio::spawn(purge_forever(store.clone(), config.retention));
        Ok(Arc::new(Self { store }))
    }
}

impl TenantSpanSink for PostgresSpans {
    fn write<'a>(&'a self, batches: &'a [NewSpanBatch]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.store.insert_span_batches(batches).await.map(drop).map_err(|e| e.to_string()) })
    }
}

async fn purge_forever(store: Store, retention: Duration) {
    let Ok(retention) = chrono::Duration::from_std(retention) else { return };
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        let cutoff = Utc::now() - retention;
        loop {
            match store.purge_spans_before(cutoff, PURGE_BATCH).await {
                Ok(PURGE_BATCH_ROWS) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot purge expired spans");
                    break;
                }
            }
        }
    }
}

/// Installs the telemetry with the span store (when configured) as the
/// sink of tenants' spans. Must run inside a tokio runtime.
pub fn init_service(config: &TelemetryConfig, store: Option<&SpanStoreConfig>) -> Result<Telemetry, StoreError> {
    let sink = store.map(PostgresSpans::start).transpose()?.map(|spans| spans as Arc<dyn TenantSpanSink>);
    Ok(argus_telemetry::init_service(config, sink))
}

/// For a service's `main`: reads [`TelemetryConfig`] and
/// [`SpanStoreConfig`] from the environment and installs both.
pub fn init_from_environment(service: &'static str, version: &'static str) -> Result<Telemetry, String> {
    let config = TelemetryConfig::from_environment(service, version).map_err(|e| e.to_string())?;
    let store = SpanStoreConfig::from_environment().map_err(|e| e.to_string())?;
    init_service(&config, store.as_ref()).map_err(|e| e.to_string())
}
