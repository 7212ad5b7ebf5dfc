//! The decisions behind the caps on requests in flight, as pure functions:
//! how an endpoint's limit follows its answers (AIMD), and whether a
//! delivery over a cap may wait in the worker for a slot or must be put
//! back in the delay queue.
//!
//! Written here rather than taken from a crate: the adaptive-limit crates
//! (`congestion-limiter`, `tower-acc`, `rate_limiter_aimd`, each a 0.1
//! release) limit one service behind a semaphore or a tower/reqwest layer.
//! The worker needs a limit per webhook nested under a fixed cap per tenant,
//! created on demand, with a bounded queue whose overflow is not an error but
//! a hand-back to the broker; that mechanism is `crate::in_flight`, and the
//! rules it needs are these few lines.

use std::time::Duration;

use crate::sender::SendOutcome;

/// The longest a delivery waits in the worker for a slot. A quarter of the
/// delay queue's bounce (`deliver::DEFER_MS`): a wait worth holding a
/// message for is much shorter than the bounce it saves, and while a
/// delivery waits its message is one of the consumer's prefetch.
pub const MAX_WAIT: Duration = Duration::from_millis(250);

/// An answer at least this slow is a sign of an endpoint near its limit.
pub const SLOW_ANSWER: Duration = Duration::from_secs(1);

/// A slow answer takes a tenth off the limit...
const SLOW_BACKOFF: f64 = 0.9;
/// ...an error or no answer half.
const ERROR_BACKOFF: f64 = 0.5;

/// What an attempt's answer says of its endpoint's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 2xx, in less than [`SLOW_ANSWER`].
    Fast,
    /// Any answer after [`SLOW_ANSWER`] or more.
    Slow,
    /// No answer (a timeout, a refused or reset connection), 408, 429 or
    /// 5xx.
    Overloaded,
    /// Any other answer (a 4xx): the receiver's choice, not its load.
    Neutral,
}

impl Answer {
    pub fn of(sent: &SendOutcome) -> Self {
        match sent.status {
            None | Some(408 | 429 | 500..) => Self::Overloaded,
            Some(_) if sent.duration >= SLOW_ANSWER => Self::Slow,
            Some(200..=299) => Self::Fast,
            Some(_) => Self::Neutral,
        }
    }
}

/// Where an endpoint's limit may go.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The configured per-webhook cap (`ARGUS_WEBHOOK_MAX_IN_FLIGHT`), at
    /// most the ceiling: where a limit starts, and the lowest slow answers
    /// alone bring it to.
    pub start: f64,
    /// The per-tenant cap: one endpoint never gets more than its tenant.
    pub ceiling: f64,
}

impl Bounds {
    pub fn new(per_webhook: u16, per_tenant: u16) -> Self {
        let ceiling = f64::from(per_tenant.max(1));
        Self { start: f64::from(per_webhook.max(1)).min(ceiling), ceiling }
    }
}

/// An endpoint's next limit after an answer (AIMD). A fast answer adds one,
/// but only while the limit held deliveries back (`held_back`: others were
/// waiting, or every slot was taken), so an endpoint that never needed more
/// does not collect a large limit to use all at once later. A slow answer
/// takes a tenth off, down to the configured cap at the lowest: an endpoint
/// that is always slow keeps what every webhook had before limits adapted.
/// An error or no answer halves the limit, down to 1: a failing or hanging
/// endpoint holds one of the worker's requests, not eight.
pub fn next_limit(limit: f64, answer: Answer, held_back: bool, bounds: Bounds) -> f64 {
    let next = match answer {
        Answer::Fast if held_back => limit + 1.0,
        Answer::Fast | Answer::Neutral => limit,
        Answer::Slow => (limit * SLOW_BACKOFF).max(bounds.start.min(limit)),
        Answer::Overloaded => limit * ERROR_BACKOFF,
    };
    next.clamp(1.0, bounds.ceiling)
}

/// The requests a limit lets in flight at once.
pub fn slots(limit: f64) -> usize {
    // Bounded by the ceiling, a u16.
    limit.max(1.0) as usize
}

/// The time a request of a flow (an endpoint, a tenant) is expected to take:
/// its smoothed latency, or, when its requests have gone without an answer
/// for longer (`waited` since the last one ended), that: an endpoint that
/// starts hanging is seen as slow before its first timeout.
pub fn expected_latency(smoothed: Option<Duration>, waited: Duration) -> Duration {
    smoothed.unwrap_or_default().max(waited)
}

/// The smoothed latency after a new one (an exponentially weighted mean,
/// a quarter to the newest).
pub fn smoothed(previous: Option<Duration>, latest: Duration) -> Duration {
    match previous {
        Some(p) => (p * 3 + latest) / 4,
        None => latest,
    }
}

/// Whether a delivery with `ahead` others waiting before it may wait for a
/// slot of a flow sending `slots` at a time, each taking `latency`: only if
/// its turn is expected within [`MAX_WAIT`] (Little's law). A fast endpoint
/// lets many wait, each for a moment; a slow or hanging one few or none, so
/// what waits cannot hold the consumers' prefetch.
pub fn may_wait(ahead: usize, slots: usize, latency: Duration) -> bool {
    let turn = latency.as_secs_f64() * (ahead + 1) as f64 / slots.max(1) as f64;
    turn <= MAX_WAIT.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds { start: 8.0, ceiling: 16.0 };

    fn answered(status: Option<u16>, ms: u64) -> Answer {
        Answer::of(&SendOutcome {
            status,
            duration: Duration::from_millis(ms),
            error: None,
            body_excerpt: None,
            retry_after: None,
        })
    }

    #[test]
    fn answers_are_judged_by_status_and_time() {
        assert_eq!(answered(Some(200), 5), Answer::Fast);
        assert_eq!(answered(Some(204), 999), Answer::Fast);
        assert_eq!(answered(Some(200), 1000), Answer::Slow);
        assert_eq!(answered(Some(404), 2000), Answer::Slow);
        for status in [None, Some(408), Some(429), Some(500), Some(503)] {
            assert_eq!(answered(status, 5), Answer::Overloaded, "{status:?}");
        }
        assert_eq!(answered(Some(503), 3000), Answer::Overloaded);
        assert_eq!(answered(Some(400), 5), Answer::Neutral);
        assert_eq!(answered(Some(410), 5), Answer::Neutral);
    }

    #[test]
    fn fast_answers_raise_the_limit_one_at_a_time_up_to_the_tenants_cap() {
        let mut limit = BOUNDS.start;
        for expected in 9..=16 {
            limit = next_limit(limit, Answer::Fast, true, BOUNDS);
            assert_eq!(limit, f64::from(expected));
        }
        assert_eq!(next_limit(limit, Answer::Fast, true, BOUNDS), 16.0, "never past the ceiling");
        // A limit that held nothing back does not grow.
        assert_eq!(next_limit(8.0, Answer::Fast, false, BOUNDS), 8.0);
        assert_eq!(next_limit(8.0, Answer::Neutral, true, BOUNDS), 8.0);
    }

    #[test]
    fn errors_halve_the_limit_down_to_one() {
        let mut limit = 16.0;
        for expected in [8.0, 4.0, 2.0, 1.0, 1.0] {
            limit = next_limit(limit, Answer::Overloaded, true, BOUNDS);
            assert_eq!(limit, expected);
        }
        assert_eq!(slots(limit), 1);
    }

    #[test]
    fn slow_answers_bring_the_limit_back_to_the_configured_cap_and_no_lower() {
        let mut limit = 16.0;
        let mut seen = Vec::new();
        for _ in 0..20 {
            limit = next_limit(limit, Answer::Slow, true, BOUNDS);
            seen.push(limit);
        }
        assert!(seen.windows(2).all(|w| w[1] <= w[0]), "{seen:?}");
        assert!(seen[0] < 16.0 && seen[0] > 8.0, "{seen:?}");
        assert_eq!(limit, 8.0);
        // Below it (after errors), slow answers do not raise it either.
        assert_eq!(next_limit(2.0, Answer::Slow, true, BOUNDS), 2.0);
    }

    #[test]
    fn the_start_is_the_configured_cap_within_the_tenants() {
        let b = Bounds::new(8, 16);
        assert_eq!((b.start, b.ceiling), (8.0, 16.0));
        let b = Bounds::new(32, 4);
        assert_eq!((b.start, b.ceiling), (4.0, 4.0));
        let b = Bounds::new(0, 0);
        assert_eq!((b.start, b.ceiling), (1.0, 1.0));
        assert_eq!(slots(7.9), 7);
    }

    #[test]
    fn deliveries_wait_only_when_their_turn_comes_within_the_longest_wait() {
        let ms = Duration::from_millis;
        // A fast endpoint: 16 at a time, 5 ms each: 800 may wait.
        assert!(may_wait(0, 16, ms(5)));
        assert!(may_wait(799, 16, ms(5)));
        assert!(!may_wait(800, 16, ms(5)));
        // A slow one: 8 at a time, 1 s each: its turn is 125 ms per 1 in 8
        // ahead, so one waits.
        assert!(may_wait(1, 8, ms(1000)));
        assert!(!may_wait(2, 8, ms(1000)));
        // One at a time, 1.5 s each: none.
        assert!(!may_wait(0, 1, ms(1500)));
    }

    #[test]
    fn an_endpoint_without_answers_for_a_while_is_expected_to_be_that_slow() {
        let ms = Duration::from_millis;
        assert_eq!(expected_latency(None, ms(3)), ms(3));
        assert_eq!(expected_latency(Some(ms(5)), ms(1)), ms(5));
        assert_eq!(expected_latency(Some(ms(5)), ms(2000)), ms(2000));
        assert_eq!(smoothed(None, ms(40)), ms(40));
        assert_eq!(smoothed(Some(ms(40)), ms(80)), ms(50));
    }
}
