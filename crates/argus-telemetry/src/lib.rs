//! Logging, per-request spans, health endpoints and shared HTTP request
//! rules for every Argus service.
//!
//! Each HTTP request gets one span (method, route, status, latency and a
//! request id) and one closing log line carrying those fields.

pub mod health;
pub mod http;
pub mod openapi;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

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

/// Installs the global subscriber. `filter` is an `EnvFilter` directive
/// (`RUST_LOG` syntax). Calling it twice is harmless (tests start many
/// servers in one process).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let _already_set = match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The request-span middleware.
pub fn request_spans() -> TracingLogger<RequestSpan> {
    TracingLogger::<RequestSpan>::new()
}

struct Started(Instant);

/// Root span per request: tracing-actix-web's fields plus `latency_ms`.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        tracing_actix_web::root_span!(level = tracing::Level::INFO, request, latency_ms = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome {
            let latency_ms = response
                .request()
                .extensions()
                .get::<Started>()
                .map(|s| s.0.elapsed().as_secs_f64() * 1000.0)
                .unwrap_or_default();
            span.record("latency_ms", latency_ms);
            tracing::info!(parent: &span, status = response.status().as_u16(), latency_ms, "request completed");
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
