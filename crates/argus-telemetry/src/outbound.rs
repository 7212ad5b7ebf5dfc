//! CLIENT spans for outbound HTTP requests (webhooks, job callbacks, the
//! JWKS fetch), after the OpenTelemetry HTTP client conventions. The
//! request carries the span's `traceparent`, so the receiver continues the
//! same trace.

use tracing::Span;
use tracing::field::Empty;

/// The span of one outbound request; send the request with
/// [`crate::propagation::headers_of`] this span.
pub fn http_client_span(method: &str, url: &url::Url) -> Span {
    // The URL without user info or query: either may hold a credential.
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    tracing::info_span!(
        "HTTP client request",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = Empty,
        "http.request.method" = method,
        "server.address" = url.host_str(),
        "server.port" = url.port_or_known_default().map(i64::from),
        "url.full" = shown.as_str(),
        "http.response.status_code" = Empty,
        "error.type" = Empty,
    )
}

/// Records the answer's status; 4xx and 5xx mark the client span failed.
pub fn record_status(span: &Span, status: u16) {
    // As i64: tracing-opentelemetry records unsigned integers as text.
    span.record("http.response.status_code", i64::from(status));
    if status >= 400 {
        span.record("otel.status_code", "error");
        span.record("error.type", status.to_string().as_str());
    }
}

/// Records a request that got no answer.
pub fn record_failure(span: &Span, error_type: &str) {
    span.record("otel.status_code", "error");
    span.record("error.type", error_type);
}
