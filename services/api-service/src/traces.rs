//! `GET /v1/observability/traces/{trace_id}`: the calling tenant's spans of
//! one trace, across the auth-service, the api-service and the delivery
//! worker, from the span store every service writes to.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use argus_authn::{TenantScoped, TracesRead};
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_spans::RecordedSpan;
use argus_store::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// What the lookup needs: the store and how far back spans are kept.
pub struct TraceLookup {
    pub store: Store,
    pub retention: Duration,
}

/// One recorded trace: the caller's spans of it, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceView {
    /// 32 lowercase hex digits, as in `traceparent` and `X-Argus-Trace-ID`.
    pub trace_id: String,
    pub spans: Vec<SpanView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpanView {
    pub span_id: String,
    /// Absent on the trace's root span.
    pub parent_span_id: Option<String>,
    /// `auth-service`, `api-service` or `delivery-worker`.
    pub service: String,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: String,
    pub start: DateTime<Utc>,
    pub duration_ms: f64,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// OpenTelemetry attributes, without any that may hold a credential.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
}

impl From<RecordedSpan> for SpanView {
    fn from(span: RecordedSpan) -> Self {
        Self {
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            service: span.service,
            name: span.name,
            kind: span.kind.to_owned(),
            start: span.start,
            duration_ms: span.duration_ms,
            status: span.status.to_owned(),
            attributes: span.attributes,
        }
    }
}

/// A trace id as W3C Trace Context writes it: 32 hex digits, not all zero.
/// Upper case is accepted and read as lower case.
fn parse_trace_id(raw: &str) -> Option<String> {
    let id = raw.to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')).then_some(id)
}

/// Look up a recorded trace
#[utoipa::path(
    get,
    path = "/v1/observability/traces/{trace_id}",
    tag = "Observability",
    params(
        ("trace_id" = String, Path, description = "32 hex digits, from `traceparent` or `X-Argus-Trace-ID`"),
        TenantHeader,
    ),
    responses(
        (status = 200, description = "The tenant's spans of the trace", body = TraceView),
        (status = 400, description = "Malformed trace id"),
        (status = 404, description = "No span of this trace recorded for the tenant within the retention"),
        TenantScopedErrors,
    ),
    security(("bearer" = ["traces:read"]))
)]
#[tracing::instrument(name = "get_trace", skip_all)]
pub async fn get_trace(
    caller: TenantScoped<TracesRead>,
    path: web::Path<String>,
    lookup: web::Data<TraceLookup>,
) -> Result<HttpResponse, ApiError> {
    let trace_id = parse_trace_id(&path)
        .ok_or_else(|| ApiError::Validation("trace_id must be 32 hexadecimal digits, not all zero".into()))?;
    let since = Utc::now() - chrono::Duration::from_std(lookup.retention).unwrap_or(chrono::Duration::days(7));
    let number = u128::from_str_radix(&trace_id, 16).unwrap_or_default();
    let batches = lookup.store.trace_span_batches(caller.tenant(), number, since).await?;
    let spans = argus_spans::spans_of_trace(&batches, &trace_id, since);
    if spans.is_empty() {
        let why = if argus_telemetry::sampling::seen_unsampled(number) {
            format!(
                "trace {trace_id} was not sampled, so its spans were not recorded: send `traceparent` with the \
                 sampled flag 01 on a call you want to look up"
            )
        } else {
            format!("no trace {trace_id} is recorded for this tenant")
        };
        return Err(ApiError::NotFound(why));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TraceView { trace_id, spans: spans.into_iter().map(SpanView::from).collect() }))
}

#[cfg(test)]
mod tests {
    use super::parse_trace_id;

    #[test]
    fn trace_ids_are_32_hex_digits_not_all_zero() {
        assert_eq!(
            parse_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "4bf92f",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6a3ce929d0e0e473g",
            "+bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            assert_eq!(parse_trace_id(bad), None, "{bad}");
        }
    }
}
