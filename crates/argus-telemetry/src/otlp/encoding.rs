//! An export's message, from the spans the pipeline already encoded: the
//! request is byte for byte a prost-encoded `ExportTraceServiceRequest`,
//! which a test checks against opentelemetry-proto's conversion of the same
//! spans. And gzip, for `OTEL_EXPORTER_OTLP_COMPRESSION`.

use std::io::{Read as _, Write as _};

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;

use crate::chunks::length_delimited;

/// Spans of one instrumentation scope, encoded, on their way to the
/// exporter.
#[derive(Debug)]
pub(crate) struct ScopeChunk {
    pub(crate) scope: InstrumentationScope,
    /// Entries of `ScopeSpans.spans`, one after another.
    pub(crate) bytes: Vec<u8>,
    pub(crate) spans: usize,
}

/// `ResourceSpans.resource` and `.schema_url`, encoded once.
pub(crate) fn encoded_resource(resource: &Resource) -> Vec<u8> {
    let resource = ResourceAttributesWithSchema::from(resource);
    let mut out = Vec::new();
    let proto = ProtoResource { attributes: resource.attributes.0, ..Default::default() };
    prost::encoding::message::encode(1, &proto, &mut out);
    if let Some(schema_url) = resource.schema_url.filter(|s| !s.is_empty()) {
        prost::encoding::string::encode(3, &schema_url, &mut out);
    }
    out
}

/// The message of one export: an `ExportTraceServiceRequest` with one
/// `ResourceSpans`, and a `ScopeSpans` per scope in the order first seen.
pub(crate) fn export_message(resource: &[u8], chunks: &[ScopeChunk]) -> Vec<u8> {
    let mut scopes: Vec<(&InstrumentationScope, Vec<u8>)> = Vec::new();
    for chunk in chunks {
        let at = match scopes.iter().position(|(scope, _)| **scope == chunk.scope) {
            Some(at) => at,
            None => {
                let mut scope_spans = Vec::new();
                let proto = ProtoScope::from((&chunk.scope, None));
                prost::encoding::message::encode(1, &proto, &mut scope_spans);
                scopes.push((&chunk.scope, scope_spans));
                scopes.len() - 1
            }
        };
        scopes[at].1.extend_from_slice(&chunk.bytes);
    }
    let mut resource_spans = resource.to_vec();
    for (scope, mut scope_spans) in scopes {
        if let Some(schema_url) = scope.schema_url().filter(|s| !s.is_empty()) {
            prost::encoding::string::encode(3, &schema_url.to_owned(), &mut scope_spans);
        }
        length_delimited(2, &scope_spans, &mut resource_spans);
    }
    let mut request = Vec::with_capacity(resource_spans.len() + 8);
    length_delimited(1, &resource_spans, &mut request);
    request
}

/// `bytes` gzipped, at flate2's default level (opentelemetry-otlp's).
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _infallible = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A collector's gzipped answer, unless it is not gzip or would inflate
/// past `limit` bytes (an answer is a few bytes; a bomb is not read).
pub(crate) fn gunzip(bytes: &[u8], limit: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).take(limit + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= limit).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::SpanEncoder;
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::SpanData;
    use prost::Message as _;

    fn span(id: u64, scope: &InstrumentationScope) -> SpanData {
        let mut span = crate::test_span(0xabc, id, 0);
        span.span_kind = opentelemetry::trace::SpanKind::Server;
        span.name = format!("span {id}").into();
        span.attributes = vec![KeyValue::new("n", i64::try_from(id).unwrap())];
        span.instrumentation_scope = scope.clone();
        span
    }

    #[test]
    fn a_message_is_what_opentelemetry_proto_makes_of_the_same_spans() {
        let resource = Resource::builder()
            .with_service_name("api-service")
            .with_schema_url(
                [KeyValue::new("deployment.environment.name", "test")],
                "https://opentelemetry.io/schemas/1.36.0",
            )
            .build();
        let ours = InstrumentationScope::builder("api-service").with_version("1.2.3").build();
        let theirs = InstrumentationScope::builder("lib").with_schema_url("https://example.com/s").build();
        let spans = vec![span(1, &ours), span(2, &ours), span(3, &theirs), span(4, &ours)];
        // Chunks as the pipeline makes them: one scope each.
        let mut encoder = SpanEncoder::default();
        let chunks: Vec<ScopeChunk> = [&spans[..2], &spans[2..3], &spans[3..]]
            .into_iter()
            .map(|group| {
                let mut bytes = Vec::new();
                for span in group {
                    encoder.encode(span, |_| true, &mut bytes);
                }
                ScopeChunk { scope: group[0].instrumentation_scope.clone(), bytes, spans: group.len() }
            })
            .collect();
        let message = export_message(&encoded_resource(&resource), &chunks);
        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &ResourceAttributesWithSchema::from(&resource)),
        };
        assert_eq!(ExportTraceServiceRequest::decode(message.as_slice()).unwrap(), expected);
    }

    #[test]
    fn gzip_reads_back_and_a_bomb_is_not_inflated() {
        let message = b"spans ".repeat(10_000);
        let zipped = gzip(&message);
        assert!(zipped.len() < message.len() / 10);
        assert_eq!(gunzip(&zipped, 60_000).as_deref(), Some(message.as_slice()));
        assert_eq!(gunzip(&zipped, 59_999), None, "past the limit");
        assert_eq!(gunzip(b"not gzip", 1_000), None);
    }
}
