//! The spans of unsampled requests, held until the request ends: a request
//! that failed (5xx) or took at least the keep threshold keeps them for
//! the span store; any other drops them, never encoded. A request's spans
//! may take at most its budget of memory, and all requests' together at
//! most [`TOTAL_BUDGET`]; beyond, its spans are dropped at once and
//! counted (`argus_trace_buffers_dropped_total`), and it cannot be kept.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// What all held requests' spans may take together (per process).
pub(crate) const TOTAL_BUDGET: usize = 64 << 20;
/// What one request's spans may take by default.
pub const REQUEST_BUDGET: usize = 256 << 10;
/// Shards, by trace id: a request's spans may end on several threads.
const SHARDS: usize = 16;
/// What an entry costs besides its spans.
const ENTRY_BYTES: usize = 128;
/// How long spans wait for their request at most: a request that never
/// ends in this process (its server span went elsewhere) is forgotten.
const HOLD_AT_MOST: Duration = Duration::from_secs(120);
/// How long spans ending after their kept request are kept with it.
const KEEP_LATE: Duration = Duration::from_secs(30);
/// How often a shard looks for what it may forget.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// When an unsampled request keeps its spans.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepRule {
    /// Kept when it took at least this long; `None`: only failures.
    pub(crate) slower_than: Option<Duration>,
    /// The memory one request's spans may take.
    pub(crate) request_budget: usize,
}

/// Unsampled requests' spans, until their request ends.
pub(crate) struct Held {
    rule: KeepRule,
    shards: Box<[Mutex<Shard>]>,
}

struct Shard {
    traces: FastMap<TraceId, HeldTrace>,
    /// Traces whose request was kept, and when.
    kept: FastMap<TraceId, Instant>,
    bytes: usize,
    swept: Instant,
}

struct HeldTrace {
    spans: Vec<SpanData>,
    bytes: usize,
    /// Its spans outgrew the budget: it can no longer be kept.
    dropped: bool,
    since: Instant,
}

impl Held {
    pub(crate) fn new(rule: KeepRule) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    traces: FastMap::default(),
                    kept: FastMap::default(),
                    bytes: 0,
                    swept: Instant::now(),
                })
            })
            .collect();
        Self { rule, shards }
    }

    /// Takes a finished unsampled span; returns the spans to write now: a
    /// kept request's (its descendants first, then its own), or a late
    /// descendant of one. Everything else is held or dropped.
    pub(crate) fn end(&self, span: SpanData) -> Vec<SpanData> {
        let trace = span.span_context.trace_id();
        let index = (u128::from_be_bytes(trace.to_bytes()) as usize) % SHARDS;
        let mut shard = self.shards[index].lock().unwrap_or_else(PoisonError::into_inner);
        shard.sweep();
        if shard.kept.contains_key(&trace) {
            return vec![span];
        }
        if span.parent_span_id != SpanId::INVALID && !span.parent_span_is_remote {
            shard.hold(span, self.rule.request_budget);
            return Vec::new();
        }
        // The request's own span: its end decides.
        let (mut spans, dropped) = shard.take_descendants(trace, span.span_context.span_id());
        if dropped || !self.keeps(&span) {
            return Vec::new();
        }
        shard.kept.insert(trace, Instant::now());
        drop(shard);
        crate::sampling::forget_unsampled(trace);
        spans.push(span);
        spans
    }

    fn keeps(&self, span: &SpanData) -> bool {
        let took = span.end_time.duration_since(span.start_time).unwrap_or_default();
        span.span_kind == SpanKind::Server
            && (matches!(span.status, Status::Error { .. })
                || self.rule.slower_than.is_some_and(|threshold| took >= threshold))
    }
}

impl Shard {
    fn hold(&mut self, span: SpanData, request_budget: usize) {
        let size = size_of_span(&span);
        let shard_budget = TOTAL_BUDGET / SHARDS;
        let trace = span.span_context.trace_id();
        let held = match self.traces.get_mut(&trace) {
            Some(held) => held,
            None => {
                self.bytes += ENTRY_BYTES;
                self.traces.entry(trace).or_insert(HeldTrace {
                    spans: Vec::new(),
                    bytes: 0,
                    dropped: false,
                    since: Instant::now(),
                })
            }
        };
        if held.dropped {
            return;
        }
        if held.bytes + size > request_budget || self.bytes + size > shard_budget {
            self.bytes -= held.bytes;
            held.bytes = 0;
            held.spans = Vec::new();
            held.dropped = true;
            crate::metrics::trace_buffer_dropped();
            return;
        }
        held.bytes += size;
        self.bytes += size;
        held.spans.push(span);
    }

    /// Removes the held descendants of `root` in `trace` (another request of
    /// the same trace keeps its own), and whether the trace's spans
    /// outgrew the budget.
    fn take_descendants(&mut self, trace: TraceId, root: SpanId) -> (Vec<SpanData>, bool) {
        let Some(mut held) = self.traces.remove(&trace) else { return (Vec::new(), false) };
        let mut descendants = Vec::new();
        let mut owners = vec![root];
        while let Some(owner) = owners.pop() {
            let mut i = 0;
            while i < held.spans.len() {
                if held.spans[i].parent_span_id == owner {
                    let child = held.spans.swap_remove(i);
                    owners.push(child.span_context.span_id());
                    descendants.push(child);
                } else {
                    i += 1;
                }
            }
        }
        let taken: usize = descendants.iter().map(size_of_span).sum();
        held.bytes -= taken;
        self.bytes -= taken;
        let dropped = held.dropped;
        if held.spans.is_empty() {
            self.bytes -= ENTRY_BYTES + held.bytes;
        } else {
            self.traces.insert(trace, held);
        }
        (descendants, dropped)
    }

    /// Forgets spans whose request never ended here, and old kept traces.
    fn sweep(&mut self) {
        if self.swept.elapsed() < SWEEP_EVERY {
            return;
        }
        self.swept = Instant::now();
        let mut freed = 0;
        self.traces.retain(|_, held| {
            let keep = held.since.elapsed() < HOLD_AT_MOST;
            if !keep {
                freed += ENTRY_BYTES + held.bytes;
            }
            keep
        });
        self.bytes -= freed;
        self.kept.retain(|_, since| since.elapsed() < KEEP_LATE);
    }
}

/// About what a finished span takes in memory.
fn size_of_span(span: &SpanData) -> usize {
    let text = |value: &Value| match value {
        Value::String(text) => text.as_str().len(),
        _ => 0,
    };
    let attributes = |attributes: &[KeyValue]| {
        attributes.iter().map(|kv| size_of::<KeyValue>() + kv.key.as_str().len() + text(&kv.value)).sum::<usize>()
    };
    size_of::<SpanData>()
        + span.name.len()
        + attributes(&span.attributes)
        + span.events.iter().map(|event| event.name.len() + attributes(&event.attributes)).sum::<usize>()
        + span.links.len() * size_of::<opentelemetry::trace::Link>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};

    const RULE: KeepRule = KeepRule { slower_than: Some(Duration::from_millis(1000)), request_budget: REQUEST_BUDGET };

    fn span(trace: u128, id: u64, parent: u64) -> SpanData {
        let mut span = crate::test_span(trace, id, parent);
        span.span_context =
            SpanContext::new(TraceId::from(trace), SpanId::from(id), TraceFlags::default(), false, TraceState::NONE);
        span
    }

    /// A request's server span, its parent the caller's (remote).
    fn request(trace: u128, id: u64, status: Status, took: Duration) -> SpanData {
        let mut root = span(trace, id, 99);
        root.parent_span_is_remote = true;
        root.span_kind = SpanKind::Server;
        root.status = status;
        root.end_time = root.start_time + took;
        root
    }

    fn ids(spans: &[SpanData]) -> Vec<u64> {
        spans.iter().map(|s| u64::from_be_bytes(s.span_context.span_id().to_bytes())).collect()
    }

    #[test]
    fn a_failed_or_slow_request_keeps_its_spans_and_any_other_drops_them() {
        let held = Held::new(RULE);
        let fast = Duration::from_millis(5);
        for (trace, status, took, kept) in [
            (1, Status::error("boom"), fast, true),
            (2, Status::Unset, Duration::from_millis(1000), true),
            (3, Status::Unset, fast, false),
            (4, Status::Ok, Duration::from_millis(999), false),
        ] {
            assert!(held.end(span(trace, 3, 2)).is_empty(), "a grandchild waits");
            assert!(held.end(span(trace, 2, 1)).is_empty(), "a child waits");
            let written = held.end(request(trace, 1, status, took));
            assert_eq!(ids(&written), if kept { vec![2, 3, 1] } else { vec![] }, "trace {trace}");
            // A late child goes with its kept request, or nowhere.
            assert_eq!(held.end(span(trace, 4, 1)).len(), usize::from(kept), "trace {trace}");
        }
        // Late children of a dropped request are held until forgotten.
        let shard = held.shards.iter().map(|s| s.lock().unwrap().traces.len()).sum::<usize>();
        assert_eq!(shard, 2);
        // Not a request (no SERVER span): never kept.
        let mut consumer = request(5, 1, Status::error("boom"), fast);
        consumer.span_kind = SpanKind::Consumer;
        assert!(held.end(consumer).is_empty());
        // Without the slow rule, only failures are kept.
        let failures_only = Held::new(KeepRule { slower_than: None, ..RULE });
        assert!(failures_only.end(request(6, 1, Status::Unset, Duration::from_secs(60))).is_empty());
    }

    #[test]
    fn two_requests_of_one_trace_keep_only_their_own_spans() {
        let held = Held::new(RULE);
        assert!(held.end(span(7, 11, 10)).is_empty());
        assert!(held.end(span(7, 21, 20)).is_empty());
        assert_eq!(ids(&held.end(request(7, 10, Status::error("boom"), Duration::ZERO))), vec![11, 10]);
        let held = Held::new(RULE);
        assert!(held.end(span(7, 11, 10)).is_empty());
        assert!(held.end(span(7, 21, 20)).is_empty());
        assert!(held.end(request(7, 10, Status::Unset, Duration::ZERO)).is_empty());
        assert_eq!(ids(&held.end(request(7, 20, Status::error("boom"), Duration::ZERO))), vec![21, 20]);
    }

    #[test]
    fn a_request_over_its_budget_is_dropped_counted_and_never_kept() {
        let one_span = size_of_span(&span(8, 2, 1));
        let held = Held::new(KeepRule { request_budget: 2 * one_span, ..RULE });
        assert!(held.end(span(8, 2, 1)).is_empty());
        assert!(held.end(span(8, 3, 1)).is_empty());
        assert!(held.end(span(8, 4, 1)).is_empty(), "the third outgrows the budget");
        assert!(held.end(span(8, 5, 1)).is_empty());
        assert!(held.end(request(8, 1, Status::error("boom"), Duration::ZERO)).is_empty(), "failed, but dropped");
        // Within the budget, the same request is kept; the memory is freed.
        assert!(held.end(span(9, 2, 1)).is_empty());
        assert_eq!(held.end(request(9, 1, Status::error("boom"), Duration::ZERO)).len(), 2);
        assert!(held.shards.iter().all(|s| s.lock().unwrap().bytes == 0));
    }
}
