//! Which spans are recorded. The caller's `sampled` flag decides for the
//! traces it continues (under the parent-based samplers); a trace Argus
//! starts itself is sampled, by default, at most
//! `ARGUS_TRACE_SAMPLE_PER_SECOND` times a second per process
//! ([`RateLimited`]): at low traffic every trace is kept, at high traffic
//! the cost is bounded.
//!
//! An unsampled request is still recorded, but not encoded or written: its
//! spans wait in memory for its end (`crate::held`), which keeps them for
//! the span store when it failed or was slow, and drops them otherwise.
//! Everything else unsampled is not recorded at all. The trace ids of
//! unsampled requests are remembered a while ([`seen_unsampled`]), so the
//! trace lookup can say why it finds nothing.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

/// The name of [`RateLimited`] under the parent-based rule, as
/// `OTEL_TRACES_SAMPLER` names it: the default.
pub const RATE_LIMITED: &str = "parentbased_argus_rate_limited";

/// Samples the traces Argus starts at most `per_second` times a second,
/// with bursts of up to a second's worth (GCRA): a root
/// sampler, under [`Sampler::ParentBased`] so the caller's flag decides
/// for the rest. Requests (SERVER spans) and background work (the span
/// store's writes, the relay's polls, messages without a trace) each have
/// that limit, so background work never takes the requests' share. One
/// per process: clones share the limits.
#[derive(Clone)]
pub struct RateLimited {
    per_second: f64,
    requests: Arc<Gcra>,
    background: Arc<Gcra>,
}

impl RateLimited {
    /// `per_second` must be finite and not negative; 0 samples none.
    pub fn new(per_second: f64) -> Self {
        Self { per_second, requests: Arc::new(Gcra::new(per_second)), background: Arc::new(Gcra::new(per_second)) }
    }

    /// The parent-based sampler with this as its root sampler.
    pub fn parent_based(per_second: f64) -> Sampler {
        Sampler::ParentBased(Box::new(Self::new(per_second)))
    }
}

impl std::fmt::Debug for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RateLimited({}/s)", self.per_second)
    }
}

impl ShouldSample for RateLimited {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let limit = if *kind == SpanKind::Server { &self.requests } else { &self.background };
        let decision = if limit.admit() { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop };
        let trace_state = match parent {
            Some(cx) => cx.span().span_context().trace_state().clone(),
            None => TraceState::default(),
        };
        SamplingResult { decision, attributes: Vec::new(), trace_state }
    }
}

/// A rate limit with bursts of a second's worth (at least one): governor's
/// GCRA, as the auth-service's request limits use. `None` admits nothing.
struct Gcra(Option<DefaultDirectRateLimiter>);

impl Gcra {
    fn new(per_second: f64) -> Self {
        let limit = (per_second > 0.0)
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1))))
            .flatten()
            .map(|quota| {
                let burst =
                    NonZeroU32::new(per_second.ceil().min(f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
                RateLimiter::direct(quota.allow_burst(burst))
            });
        Self(limit)
    }

    fn admit(&self) -> bool {
        self.0.as_ref().is_some_and(|limit| limit.check().is_ok())
    }
}

/// The service's sampler around the configured one: an unsampled request
/// (a SERVER span without a local parent) is recorded but not sampled, and
/// so are its descendants in this process, when `hold_unsampled` (a span
/// pipeline is there to hold them); every other unsampled span is dropped
/// as the configured sampler said. The trace ids of unsampled requests are
/// remembered for [`seen_unsampled`].
#[derive(Clone, Debug)]
pub(crate) struct Sampling {
    pub(crate) sampler: Sampler,
    pub(crate) hold_unsampled: bool,
}

impl ShouldSample for Sampling {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result = self.sampler.should_sample(parent, trace_id, name, kind, attributes, links);
        if result.decision == SamplingDecision::RecordAndSample {
            return result;
        }
        let local_parent = parent.map(TraceContextExt::span).filter(|span| {
            let context = span.span_context();
            context.is_valid() && !context.is_remote()
        });
        let held = match local_parent {
            // A descendant of an unsampled request is held with it.
            Some(parent) => parent.is_recording(),
            None if *kind == SpanKind::Server => {
                UNSAMPLED.insert(trace_id);
                true
            }
            None => false,
        };
        result.decision =
            if held && self.hold_unsampled { SamplingDecision::RecordOnly } else { SamplingDecision::Drop };
        result
    }
}

/// Whether this process answered a request of `trace_id` without sampling
/// it in the last few minutes (at least [`REMEMBER_UNSAMPLED`], fewer under
/// heavy traffic: at most [`UNSAMPLED_MAX`] ids a generation).
pub fn seen_unsampled(trace_id: u128) -> bool {
    UNSAMPLED.contains(TraceId::from(trace_id))
}

/// Forgets that `trace_id` was not sampled: its request was kept.
pub(crate) fn forget_unsampled(trace_id: TraceId) {
    UNSAMPLED.remove(trace_id);
}

/// How long an unsampled request's trace id is remembered at least, when
/// traffic allows.
const REMEMBER_UNSAMPLED: Duration = Duration::from_secs(300);
/// Trace ids remembered per generation of a shard, at most.
const UNSAMPLED_MAX: usize = 8_192;
/// Shards of the record, by trace id, so requests rarely share a lock.
const UNSAMPLED_SHARDS: usize = 16;

static UNSAMPLED: LazyLock<Unsampled> = LazyLock::new(Unsampled::default);

/// The trace ids of recent unsampled requests: per shard, two generations,
/// the older dropped whole when the newer is full or old enough.
struct Unsampled {
    shards: [Mutex<Generations>; UNSAMPLED_SHARDS],
}

impl Default for Unsampled {
    fn default() -> Self {
        Self { shards: std::array::from_fn(|_| Mutex::new(Generations::default())) }
    }
}

type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

struct Generations {
    current: FastSet<TraceId>,
    previous: FastSet<TraceId>,
    since: Instant,
}

impl Default for Generations {
    fn default() -> Self {
        Self { current: FastSet::default(), previous: FastSet::default(), since: Instant::now() }
    }
}

impl Unsampled {
    fn shard(&self, trace_id: TraceId) -> std::sync::MutexGuard<'_, Generations> {
        let index = (u128::from_be_bytes(trace_id.to_bytes()) as usize) % UNSAMPLED_SHARDS;
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, trace_id: TraceId) {
        let mut shard = self.shard(trace_id);
        if shard.current.len() >= UNSAMPLED_MAX || shard.since.elapsed() >= REMEMBER_UNSAMPLED {
            let shard = &mut *shard;
            shard.previous = std::mem::take(&mut shard.current);
            shard.since = Instant::now();
        }
        shard.current.insert(trace_id);
    }

    fn contains(&self, trace_id: TraceId) -> bool {
        let shard = self.shard(trace_id);
        // Both generations are stale when nothing rotated them for long.
        shard.since.elapsed() < 2 * REMEMBER_UNSAMPLED
            && (shard.current.contains(&trace_id) || shard.previous.contains(&trace_id))
    }

    fn remove(&self, trace_id: TraceId) {
        let mut shard = self.shard(trace_id);
        shard.current.remove(&trace_id);
        shard.previous.remove(&trace_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};

    fn decide(sampler: &dyn ShouldSample, parent: Option<&Context>, trace: u128, kind: SpanKind) -> SamplingDecision {
        sampler.should_sample(parent, TraceId::from(trace), "s", &kind, &[], &[]).decision
    }

    fn remote(trace: u128, sampled: bool) -> Context {
        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let context = SpanContext::new(TraceId::from(trace), SpanId::from(7), flags, true, TraceState::default());
        Context::new().with_remote_span_context(context)
    }

    #[test]
    fn the_rate_limit_admits_a_seconds_burst_then_its_rate() {
        // At most what the time that passed allowed: 50 a second.
        let allowed = |since: Instant| since.elapsed().as_secs_f64() * 50.0 + 1.0;
        let start = Instant::now();
        let limit = Gcra::new(50.0);
        let admitted = (0..1000).filter(|_| limit.admit()).count();
        // A burst of 50 first.
        assert!(admitted >= 50 && admitted as f64 <= 50.0 + allowed(start), "{admitted}");
        let rested = Instant::now();
        std::thread::sleep(Duration::from_millis(200));
        let later = (0..1000).filter(|_| limit.admit()).count();
        assert!(later >= 9 && later as f64 <= allowed(rested), "{later} after 200 ms at 50/s");
        assert!(!Gcra::new(0.0).admit(), "0 admits nothing");
        let slow = Gcra::new(0.5);
        assert!(slow.admit() && !slow.admit(), "one at once, then one every 2 s");
    }

    #[test]
    fn the_callers_flag_decides_and_traces_argus_starts_are_rate_limited() {
        let sampler = Sampling { sampler: RateLimited::parent_based(2.0), hold_unsampled: true };
        let fresh = || u128::from(rand::random::<u64>()) << 64 | 1;
        let roots: Vec<SamplingDecision> = (0..10).map(|_| decide(&sampler, None, fresh(), SpanKind::Server)).collect();
        let sampled = roots.iter().filter(|d| **d == SamplingDecision::RecordAndSample).count();
        assert_eq!(sampled, 2, "{roots:?}");
        // The others are held (recorded, not sampled) and remembered.
        assert!(roots.iter().all(|d| *d != SamplingDecision::Drop), "{roots:?}");
        // Background work has a limit of its own: the requests' is spent.
        let background: Vec<SamplingDecision> =
            (0..10).map(|_| decide(&sampler, None, fresh(), SpanKind::Client)).collect();
        let sampled = background.iter().filter(|d| **d == SamplingDecision::RecordAndSample).count();
        assert_eq!(sampled, 2, "{background:?}");
        assert_eq!(decide(&sampler, None, fresh(), SpanKind::Server), SamplingDecision::RecordOnly);

        for _ in 0..10 {
            let trace = fresh();
            assert_eq!(
                decide(&sampler, Some(&remote(trace, true)), trace, SpanKind::Server),
                SamplingDecision::RecordAndSample
            );
            assert!(!seen_unsampled(trace));
        }
        let trace = fresh();
        assert_eq!(
            decide(&sampler, Some(&remote(trace, false)), trace, SpanKind::Server),
            SamplingDecision::RecordOnly
        );
        assert!(seen_unsampled(trace), "a request the caller did not sample is remembered");
        forget_unsampled(TraceId::from(trace));
        assert!(!seen_unsampled(trace));
        // Not a request: not recorded, not remembered.
        let trace = fresh();
        assert_eq!(decide(&sampler, Some(&remote(trace, false)), trace, SpanKind::Consumer), SamplingDecision::Drop);
        assert!(!seen_unsampled(trace));
        // Without a pipeline to hold them, unsampled requests are not recorded.
        let nowhere = Sampling { sampler: RateLimited::parent_based(0.0), hold_unsampled: false };
        assert_eq!(decide(&nowhere, None, fresh(), SpanKind::Server), SamplingDecision::Drop);
    }
}
