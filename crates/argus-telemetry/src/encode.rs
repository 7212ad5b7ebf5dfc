//! Finished spans as OTLP protobuf, encoded on the thread that ended them.
//!
//! opentelemetry-proto's `From<SpanData>` builds a fresh `Span` message per
//! span, one allocation for every name, key and string value; at request
//! rate that (and handing whole `SpanData`s to another thread, which then
//! frees memory the request's thread allocated) was most of what tracing
//! cost. [`SpanEncoder`] fills one reused message of the same generated type
//! instead, so after the first few spans it allocates nothing, and prost
//! encodes it: the wire format stays prost's, and a test checks the result
//! against opentelemetry-proto's own conversion.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Key, Value};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, SpanFlags, span, status};
use opentelemetry_sdk::trace::SpanData;

/// The field number of `ScopeSpans.spans`: each encoded span is one entry
/// of that repeated field, so batches are concatenations of spans.
pub(crate) const SCOPE_SPANS_SPANS: u32 = 2;

/// Encodes spans into a reused message. One per thread (or shard).
#[derive(Default)]
pub(crate) struct SpanEncoder {
    span: ProtoSpan,
    /// Attribute entries kept for reuse when a span has fewer than the last.
    spare: Vec<KeyValue>,
}

impl SpanEncoder {
    /// Appends `span`, with the attributes `keep` allows, to `out` as one
    /// length-delimited entry of `ScopeSpans.spans`.
    pub(crate) fn encode(&mut self, span: &SpanData, mut keep: impl FnMut(&Key) -> bool, out: &mut Vec<u8>) {
        let message = &mut self.span;
        let context = &span.span_context;
        set_bytes(&mut message.trace_id, &context.trace_id().to_bytes());
        set_bytes(&mut message.span_id, &context.span_id().to_bytes());
        set_str(&mut message.trace_state, &context.trace_state().header());
        if span.parent_span_id == SpanId::INVALID {
            message.parent_span_id.clear();
        } else {
            set_bytes(&mut message.parent_span_id, &span.parent_span_id.to_bytes());
        }
        message.flags = u32::from(context.trace_flags().to_u8())
            | SpanFlags::ContextHasIsRemoteMask as u32
            | if span.parent_span_is_remote { SpanFlags::ContextIsRemoteMask as u32 } else { 0 };
        set_str(&mut message.name, &span.name);
        message.kind = span::SpanKind::from(span.span_kind.clone()) as i32;
        message.start_time_unix_nano = nanos(span.start_time);
        message.end_time_unix_nano = nanos(span.end_time);
        message.dropped_attributes_count = span.dropped_attributes_count;
        let mut kept = 0;
        for attribute in span.attributes.iter().filter(|kv| keep(&kv.key)) {
            if kept == message.attributes.len() {
                message.attributes.push(self.spare.pop().unwrap_or_default());
            }
            let entry = &mut message.attributes[kept];
            set_str(&mut entry.key, attribute.key.as_str());
            set_value(entry.value.get_or_insert_with(AnyValue::default), &attribute.value);
            kept += 1;
        }
        self.spare.extend(message.attributes.drain(kept..));
        // Events and links are rare here (log events are not traced), so
        // they take opentelemetry-proto's allocating conversion.
        message.events.clear();
        message.events.extend(span.events.iter().map(|event| span::Event {
            time_unix_nano: nanos(event.timestamp),
            name: event.name.to_string(),
            attributes: event.attributes.iter().cloned().map(proto_key_value).collect(),
            dropped_attributes_count: event.dropped_attributes_count,
        }));
        message.dropped_events_count = span.events.dropped_count;
        message.links.clear();
        message.links.extend(span.links.iter().cloned().map(span::Link::from));
        message.dropped_links_count = span.links.dropped_count;
        let status = message.status.get_or_insert_with(Default::default);
        status.code = status::StatusCode::from(&span.status) as i32;
        match &span.status {
            Status::Error { description } => set_str(&mut status.message, description),
            _ => status.message.clear(),
        }
        prost::encoding::message::encode(SCOPE_SPANS_SPANS, &*message, out);
    }
}

fn set_bytes(target: &mut Vec<u8>, bytes: &[u8]) {
    target.clear();
    target.extend_from_slice(bytes);
}

fn set_str(target: &mut String, text: &str) {
    target.clear();
    target.push_str(text);
}

fn set_value(target: &mut AnyValue, value: &Value) {
    use any_value::Value as Proto;
    match (value, &mut target.value) {
        (Value::String(text), Some(Proto::StringValue(reused))) => set_str(reused, text.as_str()),
        (Value::String(text), slot) => *slot = Some(Proto::StringValue(text.as_str().to_owned())),
        (Value::Bool(b), slot) => *slot = Some(Proto::BoolValue(*b)),
        (Value::I64(n), slot) => *slot = Some(Proto::IntValue(*n)),
        (Value::F64(f), slot) => *slot = Some(Proto::DoubleValue(*f)),
        (other, _) => *target = AnyValue::from(other.clone()),
    }
}

fn proto_key_value(kv: opentelemetry::KeyValue) -> KeyValue {
    KeyValue { key: kv.key.as_str().to_owned(), value: Some(AnyValue::from(kv.value)), ..Default::default() }
}

/// As opentelemetry-proto counts time: nanoseconds since the epoch, 0
/// before it.
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::{Array, InstrumentationScope, StringValue};
    use opentelemetry_proto::tonic::trace::v1::ScopeSpans;
    use prost::Message as _;
    use std::borrow::Cow;
    use std::str::FromStr as _;
    use std::time::Duration;

    fn span(attributes: Vec<opentelemetry::KeyValue>) -> SpanData {
        let mut span = crate::test_span(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736, 0x00f0_67aa_0ba9_02b7, 0);
        span.span_kind = SpanKind::Server;
        span.name = Cow::Borrowed("POST /graphql");
        span.start_time = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        span.end_time = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_223_456_789);
        span.attributes = attributes;
        span.instrumentation_scope = InstrumentationScope::builder("api-service").build();
        span
    }

    fn every_kind_of_span() -> Vec<SpanData> {
        let mut full = span(vec![
            opentelemetry::KeyValue::new("http.request.method", "POST"),
            opentelemetry::KeyValue::new("http.response.status_code", 200_i64),
            opentelemetry::KeyValue::new("sampled", true),
            opentelemetry::KeyValue::new("ratio", 0.25),
            opentelemetry::KeyValue::new("static", StringValue::from("x")),
            opentelemetry::KeyValue::new("list", Value::Array(Array::I64(vec![1, 2]))),
            opentelemetry::KeyValue::new("names", Value::Array(Array::String(vec!["a".into(), "b".into()]))),
        ]);
        full.parent_span_id = SpanId::from(7);
        full.parent_span_is_remote = true;
        full.span_context = SpanContext::new(
            full.span_context.trace_id(),
            full.span_context.span_id(),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_str("argus=t61rcWkgMzE,other=1").expect("valid tracestate"),
        );
        full.status = Status::error("deadline exceeded");
        full.dropped_attributes_count = 3;
        full.events.events.push(Event::new(
            "retry",
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            vec![opentelemetry::KeyValue::new("attempt", 2_i64)],
            1,
        ));
        full.events.dropped_count = 4;
        full.links.links.push(Link::with_context(full.span_context.clone()));
        full.links.dropped_count = 5;

        let mut fewer = span(vec![opentelemetry::KeyValue::new("http.response.status_code", "text now")]);
        fewer.span_kind = SpanKind::Consumer;
        fewer.status = Status::Ok;
        let mut before_epoch = span(Vec::new());
        before_epoch.start_time = UNIX_EPOCH - Duration::from_secs(1);
        vec![span(Vec::new()), full, fewer, before_epoch, span(vec![opentelemetry::KeyValue::new("a", "b")])]
    }

    fn decode(bytes: &[u8]) -> Vec<ProtoSpan> {
        ScopeSpans::decode(bytes).expect("a concatenation of ScopeSpans.spans entries").spans
    }

    #[test]
    fn encodes_what_opentelemetry_proto_converts_with_one_reused_message() {
        let spans = every_kind_of_span();
        let mut encoder = SpanEncoder::default();
        let mut out = Vec::new();
        for span in &spans {
            encoder.encode(span, |_| true, &mut out);
        }
        let expected: Vec<ProtoSpan> = spans.into_iter().map(ProtoSpan::from).collect();
        assert_eq!(decode(&out), expected);
    }

    #[test]
    fn leaves_out_the_attributes_not_kept() {
        let spans = every_kind_of_span();
        let mut encoder = SpanEncoder::default();
        let mut out = Vec::new();
        let keep = |key: &Key| !key.as_str().starts_with("http.");
        for span in &spans {
            encoder.encode(span, keep, &mut out);
        }
        let expected: Vec<ProtoSpan> = spans
            .into_iter()
            .map(|mut span| {
                span.attributes.retain(|kv| keep(&kv.key));
                ProtoSpan::from(span)
            })
            .collect();
        assert_eq!(decode(&out), expected);
    }
}
