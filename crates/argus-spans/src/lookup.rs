//! Reading a trace back: the spans of one trace in the batches the store
//! returns, as the trace lookup shows them to the tenant.

use std::time::{Duration, SystemTime};

use argus_telemetry::shown_to_tenant;
use chrono::{DateTime, Utc};
use opentelemetry::trace::TraceId;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as ProtoSpan, span, status};
use prost::Message as _;

/// Spans one lookup returns at most.
const TRACE_SPANS_MAX: usize = 10_000;

/// One span of a trace, read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSpan {
    pub span_id: String,
    /// Absent on a root span.
    pub parent_span_id: Option<String>,
    pub service: String,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: &'static str,
    pub start: DateTime<Utc>,
    pub duration_ms: f64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// A JSON object, without any attribute that may hold a credential.
    pub attributes: serde_json::Value,
}

/// The spans of `trace_id` (32 lowercase hex digits) in `batches` as
/// [`argus_store::Store::trace_span_batches`] returns them, started after
/// `since`, oldest first. A batch that does not decode is skipped.
pub fn spans_of_trace(batches: &[Vec<u8>], trace_id: &str, since: DateTime<Utc>) -> Vec<RecordedSpan> {
    let Ok(wanted) = TraceId::from_hex(trace_id) else { return Vec::new() };
    let wanted = wanted.to_bytes();
    let mut found = Vec::new();
    for encoded in batches {
        let batch = match ResourceSpans::decode(encoded.as_slice()) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "a stored span batch does not decode");
                continue;
            }
        };
        let service = batch
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for span in batch.scope_spans.into_iter().flat_map(|s| s.spans) {
            if span.trace_id.as_slice() != wanted.as_slice() {
                continue;
            }
            let recorded = recorded(span, &service);
            if recorded.start > since {
                found.push(recorded);
            }
        }
    }
    found.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.span_id.cmp(&b.span_id)));
    found.truncate(TRACE_SPANS_MAX);
    found
}

fn recorded(span: ProtoSpan, service: &str) -> RecordedSpan {
    let at = |nanos: u64| DateTime::<Utc>::from(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let attributes = span
        .attributes
        .iter()
        .filter(|kv| shown_to_tenant(&kv.key))
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map(json_of).unwrap_or_default()))
        .collect();
    RecordedSpan {
        span_id: hex(&span.span_id),
        parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
        service: service.to_owned(),
        kind: match span::SpanKind::try_from(span.kind) {
            Ok(span::SpanKind::Server) => "server",
            Ok(span::SpanKind::Client) => "client",
            Ok(span::SpanKind::Producer) => "producer",
            Ok(span::SpanKind::Consumer) => "consumer",
            _ => "internal",
        },
        start: at(span.start_time_unix_nano),
        // Nanoseconds to milliseconds; a span is far shorter than 2^53 ns.
        duration_ms: span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e6,
        status: match span.status.map(|s| status::StatusCode::try_from(s.code)) {
            Some(Ok(status::StatusCode::Ok)) => "ok",
            Some(Ok(status::StatusCode::Error)) => "error",
            _ => "unset",
        },
        name: span.name,
        attributes: serde_json::Value::Object(attributes),
    }
}

fn json_of(value: &AnyValue) -> serde_json::Value {
    use any_value::Value as V;
    match &value.value {
        Some(V::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(V::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(V::IntValue(n)) => serde_json::Value::from(*n),
        Some(V::DoubleValue(f)) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
        Some(V::ArrayValue(a)) => serde_json::Value::Array(a.values.iter().map(json_of).collect()),
        _ => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Status};

    use super::*;

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
    }

    fn text(key: &str, value: &str) -> KeyValue {
        attribute(key, any_value::Value::StringValue(value.into()))
    }

    fn proto_span(trace: u128, id: u64, parent: u64, start_ns: u64, end_ns: u64) -> ProtoSpan {
        ProtoSpan {
            trace_id: trace.to_be_bytes().to_vec(),
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: if parent == 0 { Vec::new() } else { parent.to_be_bytes().to_vec() },
            name: "s".into(),
            start_time_unix_nano: start_ns,
            end_time_unix_nano: end_ns,
            ..Default::default()
        }
    }

    /// A batch as the telemetry writes it: one `ResourceSpans` naming the
    /// service, one `ScopeSpans` with the spans.
    fn batch(spans: Vec<ProtoSpan>) -> Vec<u8> {
        ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "api-service")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_trace_reads_back_oldest_first_without_credentials() {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let mut root = proto_span(0x4bf9, 1, 0, now, now + 5_000_000);
        root.kind = span::SpanKind::Server as i32;
        root.status = Some(Status { code: status::StatusCode::Error as i32, message: "boom".into() });
        root.attributes = vec![
            text("argus.tenant_id", "ten_a"),
            text("http.request.header.authorization", "Bearer x"),
            text("Client_Secret", "x"),
            attribute("http.response.status_code", any_value::Value::IntValue(200)),
            text("note", "quote \" kept"),
            text("db.query.text", "SELECT 1"),
        ];
        let child = proto_span(0x4bf9, 2, 1, now + 1_000_000, now + 4_000_000);
        let other = proto_span(0x77, 3, 0, now, now);
        // Stored out of order: the lookup sorts by start.
        let stored = batch(vec![child, other, root]);

        let long_ago = Utc::now() - chrono::Duration::days(1);
        let spans = spans_of_trace(std::slice::from_ref(&stored), &format!("{:032x}", 0x4bf9), long_ago);
        assert_eq!(spans.len(), 2, "only the trace asked for");
        let (root, child) = (&spans[0], &spans[1]);
        assert_eq!((root.span_id.as_str(), root.parent_span_id.as_deref()), ("0000000000000001", None));
        assert_eq!((root.kind, root.status, root.service.as_str()), ("server", "error", "api-service"));
        assert_eq!(root.attributes["note"], "quote \" kept");
        assert_eq!(root.attributes["http.response.status_code"], 200);
        assert_eq!(root.attributes["argus.tenant_id"], "ten_a");
        assert!(root.attributes.get("Client_Secret").is_none());
        assert!(root.attributes.get("http.request.header.authorization").is_none());
        assert!(root.attributes.get("db.query.text").is_none(), "internal detail, not shown");
        assert_eq!((child.kind, child.status), ("internal", "unset"));
        assert_eq!(child.parent_span_id.as_deref(), Some("0000000000000001"));
        assert!((child.duration_ms - 3.0).abs() < 0.01, "{}", child.duration_ms);
        // Spans started before `since` are left out; garbage is skipped.
        let later = Utc::now() + chrono::Duration::hours(1);
        assert!(
            spans_of_trace(&[stored.clone(), b"not protobuf".to_vec()], &format!("{:032x}", 0x4bf9), later).is_empty()
        );
        assert_eq!(spans_of_trace(&[b"not protobuf".to_vec(), stored], &format!("{:032x}", 0x77), long_ago).len(), 1);
        assert!(spans_of_trace(&[], "not hex", long_ago).is_empty());
    }
}
