//! W3C Trace Context (`traceparent`, `tracestate`) in and out of HTTP
//! requests and AMQP messages.
//!
//! Extraction is strict: `opentelemetry_sdk`'s propagator parses the ids
//! with `from_str_radix`, which takes too-short ids and a leading `+`, so the
//! header's grammar is checked here first and only a well-formed header is
//! handed to it. An invalid `traceparent` is ignored (the caller starts a
//! new trace) and its `tracestate` goes with it.

use std::collections::BTreeMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
/// Response headers naming the trace and the server span of a request.
pub const TRACE_ID_HEADER: &str = "x-argus-trace-id";
pub const SPAN_ID_HEADER: &str = "x-argus-span-id";
/// W3C Trace Context Level 2's response header: the trace, the server span
/// and whether it was sampled, as `traceparent` writes them.
pub const TRACERESPONSE: &str = "traceresponse";

/// Whether `value` is a `traceparent` the W3C grammar accepts: version
/// `00` with exactly four fields, or a later version (not `ff`) with at
/// least four; lowercase hex of exactly 2-32-16-2 digits; ids not all zero.
pub fn is_valid_traceparent(value: &str) -> bool {
    let value = value.trim_matches([' ', '\t']);
    let fields: Vec<&str> = value.split('-').collect();
    let lower_hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let [version, trace_id, span_id, flags, rest @ ..] = fields.as_slice() else {
        return false;
    };
    if !lower_hex(version, 2) || *version == "ff" || !lower_hex(trace_id, 32) || !lower_hex(span_id, 16) {
        return false;
    }
    if !lower_hex(flags, 2) || trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
        return false;
    }
    // Version 00 has exactly four fields; a later version may append more.
    *version != "00" || rest.is_empty()
}

/// The remote parent named by `get("traceparent")`/`get("tracestate")`, or
/// `None` when there is no valid one.
pub fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Context> {
    let traceparent = get(TRACEPARENT)?;
    if !is_valid_traceparent(traceparent) {
        return None;
    }
    struct Headers<'a, F: Fn(&str) -> Option<&'a str>>(F);
    impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Headers<'a, F> {
        fn get(&self, key: &str) -> Option<&str> {
            (self.0)(key)
        }
        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT, TRACESTATE]
        }
    }
    let cx = TraceContextPropagator::new().extract(&Headers(get));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Extracts from a string map (AMQP headers, outbox rows).
pub fn extract_map(headers: &BTreeMap<String, String>) -> Option<Context> {
    extract(|name| headers.get(name).map(String::as_str))
}

/// Extracts from HTTP request headers.
pub fn extract_http(headers: &actix_web::http::header::HeaderMap) -> Option<Context> {
    extract(|name| headers.get(name).and_then(|v| v.to_str().ok()))
}

/// `traceparent` (and `tracestate` when not empty) for `cx`'s span; empty
/// when `cx` has no valid span.
pub fn inject(cx: &Context) -> BTreeMap<String, String> {
    struct Map(BTreeMap<String, String>);
    impl Injector for Map {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
    }
    let mut map = Map(BTreeMap::new());
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(cx, &mut map);
    }
    map.0
}

/// The trace headers naming `span` as the parent.
pub fn headers_of(span: &tracing::Span) -> BTreeMap<String, String> {
    inject(&span.context())
}

/// The trace headers naming the current span as the parent: what a writer
/// puts on an outbox row, a message or an outbound request.
pub fn current_headers() -> BTreeMap<String, String> {
    headers_of(&tracing::Span::current())
}

/// Makes `span` a child of the trace named in `headers`, if they name one.
/// Must be called before the span is entered or has children.
pub fn set_parent_from_map(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    if let Some(cx) = extract_map(headers) {
        // Fails only when the span is disabled or already started; then it
        // keeps its local parent, which is all that can be done.
        let _ = span.set_parent(cx);
    }
}

/// The headers a response names `span` (its request's server span) in:
/// `X-Argus-Trace-ID`, `X-Argus-Span-ID` and `traceresponse`, which carries
/// the sampling decision.
pub fn response_headers(span: &tracing::Span) -> Option<[(&'static str, String); 3]> {
    let cx = span.context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    if !sc.is_valid() {
        return None;
    }
    let (trace_id, span_id) = (sc.trace_id().to_string(), sc.span_id().to_string());
    let traceresponse = format!("00-{trace_id}-{span_id}-{:02x}", sc.trace_flags().to_u8());
    Some([(TRACE_ID_HEADER, trace_id), (SPAN_ID_HEADER, span_id), (TRACERESPONSE, traceresponse)])
}

/// The (trace id, span id) of `span`, as lowercase hex.
pub fn ids_of(span: &tracing::Span) -> Option<(String, String)> {
    let cx = span.context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn accepts_only_the_w3c_grammar() {
        assert!(is_valid_traceparent(VALID));
        assert!(is_valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-follows"));
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "",
            "garbage",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn extracts_the_parent_and_its_tracestate() {
        let headers = BTreeMap::from([
            (TRACEPARENT.to_owned(), VALID.to_owned()),
            (TRACESTATE.to_owned(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned()),
        ]);
        let cx = extract_map(&headers).unwrap();
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_state().header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        let out = inject(&cx);
        assert_eq!(out.get(TRACEPARENT).map(String::as_str), Some(VALID));
        assert_eq!(out.get(TRACESTATE), headers.get(TRACESTATE));
    }

    #[test]
    fn an_invalid_traceparent_drops_the_tracestate_too() {
        let headers = BTreeMap::from([
            (TRACEPARENT.to_owned(), VALID.to_uppercase()),
            (TRACESTATE.to_owned(), "congo=t61rcWkgMzE".to_owned()),
        ]);
        assert!(extract_map(&headers).is_none());
        assert!(inject(&Context::new()).is_empty());
    }

    #[test]
    fn keeps_at_most_32_tracestate_members() {
        let members: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
        let headers =
            BTreeMap::from([(TRACEPARENT.to_owned(), VALID.to_owned()), (TRACESTATE.to_owned(), members.join(","))]);
        let cx = extract_map(&headers).unwrap();
        let span = cx.span();
        let state = span.span_context().trace_state().header();
        assert_eq!(state.split(',').count(), 32);
        assert!(state.starts_with("k0=v0,"));
    }

    proptest::proptest! {
        #[test]
        fn trace_header_parsing_never_panics(
            traceparent in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "[0-9a-fA-Fé+ -]{0,60}",
                "[0-9a-f]{2}-[0-9a-fé]{32}-[0-9a-f+]{16}-[0-9a-f]{2}(-[a-zé]{0,3})?",
            ],
            tracestate in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "([a-zé0-9@*/_-]{0,5}=[ -~é]{0,5},?){0,40}",
            ],
        ) {
            let headers =
                BTreeMap::from([(TRACEPARENT.to_owned(), traceparent.clone()), (TRACESTATE.to_owned(), tracestate)]);
            let extracted = extract_map(&headers);
            proptest::prop_assert_eq!(extracted.is_some(), is_valid_traceparent(&traceparent));
            if let Some(cx) = extracted {
                // What comes in goes out as the same trace and parent.
                let out = inject(&cx);
                let sent = out.get(TRACEPARENT).unwrap();
                proptest::prop_assert!(is_valid_traceparent(sent));
                proptest::prop_assert_eq!(&sent[3..52], &traceparent.trim_matches([' ', '\t'])[3..52]);
            }
        }

        #[test]
        fn traceparents_round_trip(trace in "[0-9a-f]{31}[1-9a-f]", span in "[1-9a-f][0-9a-f]{15}", flags in "0[01]") {
            let traceparent = format!("00-{trace}-{span}-{flags}");
            let cx = extract_map(&BTreeMap::from([(TRACEPARENT.to_owned(), traceparent.clone())])).unwrap();
            let out = inject(&cx);
            proptest::prop_assert_eq!(out.get(TRACEPARENT), Some(&traceparent));
        }
    }
}
