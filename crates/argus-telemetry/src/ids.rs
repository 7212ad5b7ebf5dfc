//! Trace and span ids for the traces Argus starts.

use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

/// The SDK's random ids, but a trace id begins with the second the trace
/// started (`argus_types::traces::trace_id_started_at`), so the span store
/// can find the trace's recent spans by time instead of by a GIN entry
/// each. The right-most 12 bytes stay random: W3C Trace Context asks for 7,
/// and AWS X-Ray's ids have the same layout.
#[derive(Debug, Default)]
pub(crate) struct StartTimeIds;

impl IdGenerator for StartTimeIds {
    fn new_trace_id(&self) -> TraceId {
        let random = u128::from_be_bytes(RandomIdGenerator::default().new_trace_id().to_bytes());
        let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|since| since.as_secs());
        match started.ok().and_then(|seconds| u32::try_from(seconds).ok()) {
            Some(seconds) => TraceId::from(argus_types::traces::trace_id_started_at(seconds, random)),
            // Before 1970 or after 2106: a plain random id.
            None => TraceId::from(random),
        }
    }

    fn new_span_id(&self) -> SpanId {
        RandomIdGenerator::default().new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_id_begins_with_the_current_second_and_ends_random() {
        let before = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let (a, b) = (StartTimeIds.new_trace_id().to_bytes(), StartTimeIds.new_trace_id().to_bytes());
        let after = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let second = u64::from(u32::from_be_bytes(a[..4].try_into().unwrap()));
        assert!((before..=after).contains(&second));
        assert_ne!(a[4..], b[4..]);
        assert_ne!(StartTimeIds.new_span_id(), StartTimeIds.new_span_id());
    }
}
