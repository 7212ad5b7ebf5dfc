//! The caps on requests in flight: per endpoint (a webhook, or a tenant's
//! job callback URL) an adaptive limit (`crate::limit::next_limit`), per
//! tenant a fixed cap, so that one slow endpoint, or one tenant's many,
//! holds at most that many of the worker's requests at once.
//!
//! A delivery over a cap waits here for a slot of its endpoint, in arrival
//! order, when its turn is expected soon (`crate::limit::may_wait`), for at
//! most `crate::limit::MAX_WAIT`; otherwise the caller defers it through the
//! delay queue. A waiting delivery holds its unacked message, so what may
//! wait is bounded: by the endpoint's and the tenant's expected drain, and
//! to at most the worker's concurrency per tenant.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::limit::{self, Answer, Bounds};
use crate::sender::SendOutcome;

/// An idle endpoint's learnt limit is forgotten after this long.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// How often idle endpoints are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The caps of one worker.
pub struct InFlight {
    bounds: Bounds,
    per_tenant: usize,
    /// Deliveries of one tenant waiting at most.
    most_waiting: usize,
    state: Mutex<State>,
}

struct State {
    tenants: HashMap<String, Tenant>,
    next_ticket: u64,
    swept_at: Instant,
}

/// Requests in flight to something and how fast they end.
struct Flow {
    in_flight: usize,
    latency: Option<Duration>,
    /// When a request last ended, or the flow last became busy.
    progress_at: Instant,
}

struct Tenant {
    flow: Flow,
    waiting: usize,
    endpoints: HashMap<String, Endpoint>,
}

struct Endpoint {
    flow: Flow,
    limit: f64,
    queue: VecDeque<Waiter>,
}

struct Waiter {
    ticket: u64,
    turn: oneshot::Sender<()>,
}

/// What a claim came to at once.
enum Entered {
    Sending,
    Waiting(u64, oneshot::Receiver<()>),
    Refused,
}

impl Flow {
    fn new(now: Instant) -> Self {
        Self { in_flight: 0, latency: None, progress_at: now }
    }

    fn expected_latency(&self, now: Instant) -> Duration {
        let waited = if self.in_flight == 0 { Duration::ZERO } else { now.duration_since(self.progress_at) };
        limit::expected_latency(self.latency, waited)
    }

    fn start(&mut self, now: Instant) {
        if self.in_flight == 0 {
            self.progress_at = now;
        }
        self.in_flight += 1;
    }

    fn end(&mut self, now: Instant, took: Option<Duration>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.progress_at = now;
        if let Some(took) = took {
            self.latency = Some(limit::smoothed(self.latency, took));
        }
    }
}

impl Endpoint {
    fn slots(&self) -> usize {
        limit::slots(self.limit)
    }
}

impl Tenant {
    /// Gives slots to the endpoints' first waiters while the endpoints and
    /// the tenant have room.
    fn hand_out(&mut self, per_tenant: usize, now: Instant) {
        if self.waiting == 0 {
            return;
        }
        for endpoint in self.endpoints.values_mut() {
            while self.flow.in_flight < per_tenant
                && endpoint.flow.in_flight < endpoint.slots()
                && let Some(waiter) = endpoint.queue.pop_front()
            {
                self.waiting -= 1;
                crate::metrics::waiting(false);
                // Sent under the lock: a waiter that gave up meanwhile is
                // no longer in the queue, so this one is still listening.
                if waiter.turn.send(()).is_ok() {
                    endpoint.flow.start(now);
                    self.flow.start(now);
                }
            }
        }
    }
}

impl InFlight {
    /// Caps of `per_webhook` (where each endpoint's limit starts) and
    /// `per_tenant` requests; at most `most_waiting` deliveries of one
    /// tenant wait (the worker's concurrency: one consumer's prefetch).
    pub fn new(per_webhook: u16, per_tenant: u16, most_waiting: u16) -> Self {
        Self {
            bounds: Bounds::new(per_webhook, per_tenant),
            per_tenant: usize::from(per_tenant.max(1)),
            most_waiting: usize::from(most_waiting),
            state: Mutex::new(State { tenants: HashMap::new(), next_ticket: 0, swept_at: Instant::now() }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for one request of `tenant` to `endpoint`: at once, after a
    /// short wait in line behind the endpoint's earlier deliveries, or
    /// `None` when the delivery should be deferred.
    pub(crate) async fn claim(&self, tenant: &str, endpoint: &str) -> Option<Slot<'_>> {
        let slot = || Slot { caps: self, tenant: tenant.to_owned(), endpoint: endpoint.to_owned(), answer: None };
        let (ticket, turn) = match self.enter(tenant, endpoint) {
            Entered::Sending => return Some(slot()),
            Entered::Refused => return None,
            Entered::Waiting(ticket, turn) => (ticket, turn),
        };
        let mut waiting = Waiting { caps: self, tenant, endpoint, ticket, turn, settled: false };
        let granted = matches!(tokio::time::timeout(limit::MAX_WAIT, &mut waiting.turn).await, Ok(Ok(())))
            // Its turn may have come as the wait ran out.
            || !self.lock().leave(tenant, endpoint, ticket);
        waiting.settled = true;
        granted.then(slot)
    }

    fn enter(&self, tenant: &str, endpoint: &str) -> Entered {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let t = state.tenants.entry(tenant.to_owned()).or_insert_with(|| Tenant {
            flow: Flow::new(now),
            waiting: 0,
            endpoints: HashMap::new(),
        });
        let start = self.bounds.start;
        let e = t.endpoints.entry(endpoint.to_owned()).or_insert_with(|| Endpoint {
            flow: Flow::new(now),
            limit: start,
            queue: VecDeque::new(),
        });
        if e.queue.is_empty() && e.flow.in_flight < e.slots() && t.flow.in_flight < self.per_tenant {
            e.flow.start(now);
            t.flow.start(now);
            return Entered::Sending;
        }
        let may_wait = t.waiting < self.most_waiting
            && limit::may_wait(e.queue.len(), e.slots(), e.flow.expected_latency(now))
            && limit::may_wait(t.waiting, self.per_tenant, t.flow.expected_latency(now));
        if !may_wait {
            return Entered::Refused;
        }
        let (tx, rx) = oneshot::channel();
        e.queue.push_back(Waiter { ticket, turn: tx });
        t.waiting += 1;
        crate::metrics::waiting(true);
        Entered::Waiting(ticket, rx)
    }

    fn release(&self, tenant: &str, endpoint: &str, answer: Option<(Answer, Duration)>) {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(t) = state.tenants.get_mut(tenant) else { return };
        let Some(e) = t.endpoints.get_mut(endpoint) else { return };
        let held_back = !e.queue.is_empty() || e.flow.in_flight >= e.slots();
        let took = answer.map(|(_, took)| took);
        e.flow.end(now, took);
        t.flow.end(now, took);
        if let Some((answer, _)) = answer {
            e.limit = limit::next_limit(e.limit, answer, held_back, self.bounds);
        }
        t.hand_out(self.per_tenant, now);
    }
}

impl State {
    /// Takes a waiter out of its line: false when it is no longer there
    /// (its turn came).
    fn leave(&mut self, tenant: &str, endpoint: &str, ticket: u64) -> bool {
        let Some(t) = self.tenants.get_mut(tenant) else { return false };
        let Some(e) = t.endpoints.get_mut(endpoint) else { return false };
        let Some(at) = e.queue.iter().position(|w| w.ticket == ticket) else { return false };
        e.queue.remove(at);
        t.waiting -= 1;
        crate::metrics::waiting(false);
        true
    }

    /// Forgets endpoints idle for [`FORGET_AFTER`], and tenants left with
    /// none, at most every [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.swept_at) < SWEEP_EVERY {
            return;
        }
        self.swept_at = now;
        let idle = |flow: &Flow| flow.in_flight == 0 && now.duration_since(flow.progress_at) >= FORGET_AFTER;
        self.tenants.retain(|_, t| {
            t.endpoints.retain(|_, e| !(e.queue.is_empty() && idle(&e.flow)));
            !t.endpoints.is_empty()
        });
    }
}

/// A delivery in line for a slot. Dropped before it was settled (its
/// future cancelled), it leaves the line, or hands back the slot it was
/// just given.
struct Waiting<'a> {
    caps: &'a InFlight,
    tenant: &'a str,
    endpoint: &'a str,
    ticket: u64,
    turn: oneshot::Receiver<()>,
    settled: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let left = self.caps.lock().leave(self.tenant, self.endpoint, self.ticket);
        if !left && self.turn.try_recv().is_ok() {
            self.caps.release(self.tenant, self.endpoint, None);
        }
    }
}

/// One request's place under its endpoint's and tenant's caps, until
/// dropped. Tell it the answer ([`Slot::answered`]) so the endpoint's
/// limit follows.
pub(crate) struct Slot<'a> {
    caps: &'a InFlight,
    tenant: String,
    endpoint: String,
    answer: Option<(Answer, Duration)>,
}

impl Slot<'_> {
    pub(crate) fn answered(&mut self, sent: &SendOutcome) {
        self.answer = Some((Answer::of(sent), sent.duration));
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.caps.release(&self.tenant, &self.endpoint, self.answer);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn answer(status: u16, ms: u64) -> SendOutcome {
        SendOutcome {
            status: Some(status),
            duration: Duration::from_millis(ms),
            error: None,
            body_excerpt: None,
            retry_after: None,
        }
    }

    fn limit_of(caps: &InFlight, tenant: &str, endpoint: &str) -> f64 {
        caps.lock().tenants[tenant].endpoints[endpoint].limit
    }

    #[tokio::test]
    async fn over_the_cap_a_delivery_waits_for_the_next_slot_in_arrival_order() {
        // One at a time: each waiter's turn comes when the one before ends.
        let caps = InFlight::new(1, 1, 64);
        let held = caps.claim("t", "e").await.unwrap();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let waiters = (0..3u64).map(|n| {
            let (caps, order) = (&caps, order.clone());
            async move {
                // Arrive in the order 2, 1, 0 (polled in the order 0, 1, 2).
                tokio::time::sleep(Duration::from_millis((2 - n) * 10)).await;
                let slot = caps.claim("t", "e").await;
                order.lock().unwrap().push(n);
                slot.map(|mut s| s.answered(&answer(200, 1)))
            }
        });
        let release = async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            drop(held);
        };
        let (got, ()) = tokio::join!(futures_util::future::join_all(waiters), release);
        assert!(got.iter().all(Option::is_some), "every waiter got a slot");
        assert_eq!(*order.lock().unwrap(), [2, 1, 0]);
        assert_eq!(caps.lock().tenants["t"].waiting, 0);
    }

    #[tokio::test]
    async fn fast_answers_while_deliveries_wait_raise_the_limit() {
        let caps = InFlight::new(2, 16, 64);
        let held = [caps.claim("t", "e").await.unwrap(), caps.claim("t", "e").await.unwrap()];
        let waiters = futures_util::future::join_all((0..4).map(|_| caps.claim("t", "e")));
        let release = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            for mut slot in held {
                slot.answered(&answer(200, 1));
            }
        };
        let (got, ()) = tokio::join!(waiters, release);
        // Two slots ended, each raising the limit by one: all four got in.
        assert!(got.iter().all(Option::is_some));
        assert_eq!(limit_of(&caps, "t", "e"), 4.0);
        assert_eq!(caps.lock().tenants["t"].endpoints["e"].flow.in_flight, 4);
    }

    #[tokio::test]
    async fn a_delivery_waits_at_most_the_longest_wait() {
        let caps = InFlight::new(1, 16, 64);
        let _held = caps.claim("t", "e").await.unwrap();
        let started = Instant::now();
        assert!(caps.claim("t", "e").await.is_none());
        let waited = started.elapsed();
        assert!(waited >= limit::MAX_WAIT && waited < Duration::from_secs(1), "{waited:?}");
        let state = caps.lock();
        assert!(state.tenants["t"].endpoints["e"].queue.is_empty());
        assert_eq!(state.tenants["t"].waiting, 0);
    }

    #[tokio::test]
    async fn an_endpoint_known_to_be_slow_lets_none_wait() {
        let caps = InFlight::new(1, 16, 64);
        let mut slot = caps.claim("t", "slow").await.unwrap();
        slot.answered(&answer(200, 1500));
        drop(slot);
        let _held = caps.claim("t", "slow").await.unwrap();
        let started = Instant::now();
        assert!(caps.claim("t", "slow").await.is_none());
        assert!(started.elapsed() < Duration::from_millis(50), "deferred at once");
    }

    #[tokio::test]
    async fn the_tenant_cap_holds_over_its_endpoints_and_its_waiters_are_bounded() {
        let caps = InFlight::new(8, 2, 1);
        let _a = caps.claim("t", "a").await.unwrap();
        let _b = caps.claim("t", "b").await.unwrap();
        let (third, fourth) = tokio::join!(caps.claim("t", "c"), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            // One waits already: the tenant's bound.
            let started = Instant::now();
            let slot = caps.claim("t", "d").await;
            (slot.is_none(), started.elapsed())
        });
        assert!(third.is_none(), "the tenant had no slot within the wait");
        let (refused, after) = fourth;
        assert!(refused && after < Duration::from_millis(50), "refused at once: {after:?}");
        // Another tenant is not held up.
        assert!(caps.claim("u", "a").await.is_some());
    }

    #[tokio::test]
    async fn errors_shrink_an_endpoints_limit_and_a_cancelled_wait_gives_its_place_back() {
        let caps = InFlight::new(4, 16, 64);
        for _ in 0..2 {
            let mut slot = caps.claim("t", "e").await.unwrap();
            slot.answered(&answer(503, 5));
        }
        assert_eq!(limit_of(&caps, "t", "e"), 1.0);
        let held = caps.claim("t", "e").await.unwrap();
        // A claim dropped while waiting leaves the line.
        let cancelled = tokio::time::timeout(Duration::from_millis(20), caps.claim("t", "e")).await;
        assert!(cancelled.is_err());
        assert!(caps.lock().tenants["t"].endpoints["e"].queue.is_empty());
        assert_eq!(caps.lock().tenants["t"].waiting, 0);
        drop(held);
        let state = caps.lock();
        assert_eq!((state.tenants["t"].flow.in_flight, state.tenants["t"].endpoints["e"].flow.in_flight), (0, 0));
    }
}
