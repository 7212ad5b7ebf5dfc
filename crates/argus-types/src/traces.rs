//! What the telemetry and the span store share: trace ids Argus makes
//! begin with the second the trace started, so the span store can find a
//! trace's recent spans by time; and the batches of a tenant's spans the
//! telemetry writes and the store keeps.

use chrono::{DateTime, Utc};

/// A trace id that begins with `started` (unix seconds, big-endian, as
/// AWS X-Ray's do) and ends with the low 96 bits of `random`, so the 7
/// right-most bytes W3C Trace Context (level 2) wants random are.
pub fn trace_id_started_at(started: u32, random: u128) -> u128 {
    (u128::from(started) << 96) | (random & ((1 << 96) - 1))
}

/// The second a trace began if Argus made its id ([`trace_id_started_at`]);
/// for any other id, a time that no batch's `written_at` is near, bar chance.
pub fn trace_started(trace_id: u128) -> DateTime<Utc> {
    let seconds = (trace_id >> 96) as u32;
    DateTime::from_timestamp(i64::from(seconds), 0).unwrap_or_default()
}

/// One tenant's spans from one service, encoded, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSpanBatch {
    pub tenant_id: String,
    /// The service that recorded the spans (`api-service`, ...).
    pub service: String,
    /// The traces the spans belong to.
    pub trace_ids: Vec<u128>,
    pub first_start: DateTime<Utc>,
    pub last_start: DateTime<Utc>,
    /// When the writer wrote it: it decides which traces the batch lists as
    /// recent.
    pub written_at: DateTime<Utc>,
    pub span_count: i32,
    /// The encoded spans (an OTLP `ResourceSpans`); the store does not look
    /// inside.
    pub spans: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_second_leads_and_the_random_part_follows() {
        let id = trace_id_started_at(1_764_550_000, u128::MAX);
        assert_eq!(format!("{id:032x}"), format!("{:08x}{}", 1_764_550_000u32, "f".repeat(24)));
        assert_eq!(trace_started(id), DateTime::from_timestamp(1_764_550_000, 0).unwrap());
    }
}
