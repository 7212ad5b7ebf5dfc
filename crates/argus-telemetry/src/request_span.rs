//! The server span of every HTTP request: a child of the caller's span when
//! the request carries a valid `traceparent`, named and attributed after
//! the OpenTelemetry HTTP server conventions, and announced to the caller in
//! `X-Argus-Trace-ID` / `X-Argus-Span-ID` and `traceresponse` (with the
//! sampling decision) on every response, errors too, sampled or not; and
//! the request's HTTP metrics (`crate::metrics`).

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use crate::propagation;

/// The span field a handler records the verified tenant in, which makes
/// the request's spans the tenant's (see [`record_tenant`]).
pub const TENANT_FIELD: &str = "argus.tenant_id";

/// Marks the current request (or message) span as the tenant's work: its
/// spans then go to the tenant's span store. Called inside a span of its
/// own (a handler's `#[instrument]`), it marks the nearest enclosing span
/// that has the field, the request's.
pub fn record_tenant(tenant_id: &str) {
    let current = tracing::Span::current();
    if current.has_field(TENANT_FIELD) {
        current.record(TENANT_FIELD, tenant_id);
        return;
    }
    current.with_subscriber(|(id, dispatch)| {
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else { return };
        let enclosing = registry.span(id).and_then(|span| {
            span.scope()
                .find_map(|s| s.metadata().fields().field(TENANT_FIELD).map(|field| (s.id(), s.metadata(), field)))
        });
        if let Some((id, metadata, field)) = enclosing {
            let values = [(&field, Some(&tenant_id as &dyn tracing::Value))];
            dispatch.record(&id, &tracing::span::Record::new(&metadata.fields().value_set(&values)));
        }
    });
}

/// The middleware: `App::new().wrap(actix_web::middleware::from_fn(argus_telemetry::trace_requests))`.
pub async fn trace_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.match_pattern();
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let connection = req.connection_info().clone();
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        "http.request.method" = %method,
        "http.route" = route.as_deref(),
        "url.path" = req.path(),
        "url.scheme" = connection.scheme(),
        "server.address" = connection.host(),
        "client.address" = connection.realip_remote_addr(),
        "network.protocol.version" = http_version(req.version()),
        "user_agent.original" = req.headers().get("user-agent").and_then(|v| v.to_str().ok()),
        "http.response.status_code" = Empty,
        "argus.tenant_id" = Empty,
    );
    if let Some(parent) = propagation::extract_http(req.headers()) {
        let _ = span.set_parent(parent);
    }
    // Starting the span here makes the sampling decision, before the
    // handler's spans (its children) start.
    let announced = propagation::response_headers(&span);
    // Handlers' and extractors' errors arrive here as responses already;
    // an `Err` could only come from a middleware inside this one (there is
    // none), and actix turns it into a response after this returns.
    let outcome = next.call(req).instrument(span.clone()).await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            span.record("otel.status_code", "error");
            tracing::error!(parent: &span, error = %error, "request failed in a middleware");
            let status = actix_web::http::StatusCode::INTERNAL_SERVER_ERROR;
            crate::metrics::http_request(route.as_deref(), &method, status, started.elapsed());
            return Err(error);
        }
    };
    let status = response.status();
    // As i64: tracing-opentelemetry records unsigned integers as text.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
        if let Some(error) = response.response().error() {
            tracing::error!(parent: &span, error = %error, "request failed");
        }
    }
    if let Some(announced) = announced {
        let headers = response.headers_mut();
        for (header, value) in announced {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(header), value);
            }
        }
    }
    let elapsed = started.elapsed();
    crate::metrics::http_request(route.as_deref(), &method, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    tracing::info!(parent: &span, status = status.as_u16(), latency_ms, "request completed");
    Ok(response)
}

fn http_version(version: actix_web::http::Version) -> &'static str {
    match version {
        actix_web::http::Version::HTTP_09 => "0.9",
        actix_web::http::Version::HTTP_10 => "1.0",
        actix_web::http::Version::HTTP_2 => "2",
        actix_web::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}
