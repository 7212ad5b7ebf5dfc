//! Logging and tracing for every Argus service.
//!
//! Tracing is OpenTelemetry under `tracing`: every `tracing` span of an
//! Argus crate is an OpenTelemetry span. Each HTTP request gets a server
//! span continuing the caller's W3C trace ([`trace_requests`]); messages
//! carry the trace through RabbitMQ ([`propagation`]); finished spans go to
//! an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and the
//! spans of tenants' work to a [`TenantSpanSink`] (`argus-spans` writes them
//! to the tenant-scoped span store). Metrics are recorded with the
//! `metrics` facade and rendered for Prometheus ([`metrics`]).

mod chunks;
mod config;
mod encode;
mod held;
mod ids;
pub mod metrics;
mod otlp;
pub mod outbound;
mod pipeline;
pub mod propagation;
mod request_span;
pub mod sampling;
mod tenant_spans;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

pub use config::{TelemetryConfig, TelemetryError, TracesConfig};
pub use otlp::{OtlpCompression, OtlpConfig, OtlpProtocol};

/// A finished span for unit tests: sampled, local, internal, named `s`,
/// started and ended now, without attributes; tests set what they need.
#[cfg(test)]
pub(crate) fn test_span(trace: u128, id: u64, parent: u64) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
    let now = std::time::SystemTime::now();
    opentelemetry_sdk::trace::SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: "s".into(),
        start_time: now,
        end_time: now,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status: Status::Unset,
        instrumentation_scope: Default::default(),
    }
}
pub use request_span::{TENANT_FIELD, record_tenant, trace_requests};
pub use tenant_spans::{TenantSpanSink, shown_to_tenant};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for collectors.
    #[default]
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("unknown log format `{other}` (json or pretty)")),
        }
    }
}

/// The installed tracing pipeline. [`Telemetry::shutdown`] writes out what
/// the export and the span store still hold; call it before the process
/// exits.
pub struct Telemetry {
    provider: SdkTracerProvider,
    flushes: Vec<chunks::Flush>,
}

impl Telemetry {
    /// How long shutting down waits for the last spans to be written.
    const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

    pub async fn shutdown(self) {
        let waits = self.flushes.iter().map(|flush| async move {
            let (done, heard) = tokio::sync::oneshot::channel();
            if flush.send(done).await.is_ok() {
                let _gone_or_done = heard.await;
            }
        });
        if tokio::time::timeout(Self::SHUTDOWN_WAIT, futures_util::future::join_all(waits)).await.is_err() {
            tracing::warn!("spans not written out in time at shutdown");
        }
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "tracer provider did not shut down cleanly");
        }
    }
}

/// Installs logging and tracing for a service: OTLP export as configured,
/// and tenants' spans to `tenant_spans` if given (`argus-spans` gives the
/// span store). Must run inside a tokio runtime (the export and the tenant
/// spans' writer are tasks).
pub fn init_service(config: &TelemetryConfig, tenant_spans: Option<Arc<dyn TenantSpanSink>>) -> Telemetry {
    // Not `Resource::builder()`, which reads OTEL_RESOURCE_ATTRIBUTES from
    // the process: the configuration has them.
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(config.traces.resource_attributes.iter().cloned())
        .with_service_name(config.service.clone())
        .with_attributes([
            KeyValue::new("service.version", config.version),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .build();
    let keep =
        held::KeepRule { slower_than: config.traces.keep_slower_than, request_budget: config.traces.keep_budget_bytes };
    let pipeline = pipeline::SpanPipeline::start(config.otlp.clone(), tenant_spans, keep, &resource, &config.service);
    let flushes = pipeline.as_ref().map(pipeline::SpanPipeline::flushes).unwrap_or_default();
    // Unsampled requests are held for the keep rule only where spans go.
    let sampler = sampling::Sampling { sampler: config.traces.sampler.clone(), hold_unsampled: pipeline.is_some() };
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_id_generator(ids::StartTimeIds)
        .with_sampler(sampler)
        .with_span_limits(config.traces.span_limits);
    if let Some(pipeline) = pipeline {
        builder = builder.with_span_processor(pipeline);
    }
    let provider = builder.build();
    install(config.log_format, &config.log_filter, &provider, config.service.clone());
    Telemetry { provider, flushes }
}

/// Installs logging and tracing without export or span store: for tests,
/// which start many services in one process. Calling it twice is harmless.
pub fn init(format: LogFormat, filter: &str) {
    let provider = SdkTracerProvider::builder().with_id_generator(ids::StartTimeIds).build();
    install(format, filter, &provider, "argus-test".to_owned());
}

fn install(format: LogFormat, filter: &str, provider: &SdkTracerProvider, service: String) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_span_list(false).boxed(),
        LogFormat::Pretty => fmt::layer().boxed(),
    };
    // Spans of Argus crates go to OpenTelemetry whatever RUST_LOG says of
    // logs; dependencies' spans do not, and log events never do (as span
    // events they would cost every request an allocation per field, and
    // RUST_LOG could no longer switch them off at the call site).
    let traced = filter_fn(|meta| {
        meta.is_span()
            && *meta.level() <= Level::INFO
            && TRACED_CRATES
                .iter()
                .any(|c| meta.target().strip_prefix(c).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
    });
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_tracked_inactivity(false)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false);
    let _already_set =
        tracing_subscriber::registry().with(logs.with_filter(filter)).with(otel.with_filter(traced)).try_init();
}

/// Crates whose spans are traced.
const TRACED_CRATES: &[&str] = &[
    "argus_telemetry",
    "argus_store",
    "argus_bus",
    "argus_authn",
    "argus_crypto",
    "auth_service",
    "api_service",
    "delivery_worker",
];
