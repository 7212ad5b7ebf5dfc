//! Fan-out of events to webhooks, and the delivery of each one.

use std::time::Duration;

use argus_bus::{
    BusError, Exchange, HEADER_DEAD_AT, HEADER_DEAD_QUEUE, HEADER_DEAD_REASON, HEADER_RETRY_COUNT, Incoming,
    JOB_CALLBACK_KIND, Message, Outcome, Publisher, WorkQueue, proto,
};
use argus_crypto::webhook::{SecretBox, sign_webhook, webhook_signing_key};
use argus_domain::DeliveryStatus;
use argus_store::outbox::WEBHOOKS_VERSION_HEADER;
use argus_store::webhooks::{AttemptRecord, Attempted, DeliveryContext, DeliveryKey, FanOut};
use argus_store::{Store, StoreError};
use argus_types::{DeliveryId, EventId, TenantId, WebhookId};
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::in_flight::{InFlight, Slot};
use crate::metrics::{Delivered, Sending};
use crate::mock::Outbound;
use crate::record::{BookkeepingFailed, Recorder};
use crate::sender::SendOutcome;
use crate::webhook_cache::WebhookCache;

/// A webhook failing without a success for this long is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 5;
/// First attempts of one event that end within this of each other are
/// recorded in one transaction.
const RECORD_TOGETHER: Duration = Duration::from_millis(20);
/// When the database is unreachable, try the message again this soon.
pub(crate) const STORE_RETRY_MS: u64 = 1000;

pub struct Deliverer {
    pub store: Store,
    pub publisher: Publisher,
    /// The network, or in the sandbox its mock connectors.
    pub sender: Outbound,
    pub sealer: SecretBox,
    /// Delays before the 2nd, 3rd, … attempt.
    pub schedule: Vec<Duration>,
    /// Webhook requests in flight at once, over every event and retry.
    pub sending: Semaphore,
    /// Requests in flight per webhook (or a tenant's job callback URL) and
    /// per tenant, webhooks and job callbacks together.
    pub caps: InFlight,
    /// Writes attempts, batched with other events' ([`crate::record`]).
    pub recorder: Recorder,
    /// Each tenant's enabled webhooks, for the fan-out of new events.
    pub webhooks: WebhookCache,
}

/// What one try at a delivery came to.
enum Try {
    /// An attempt (or a refusal without sending) to record, and what
    /// follows it.
    Made(Attempted, Outcome),
    /// Not tried: its webhook or tenant is busy, and its turn was not
    /// expected soon (or did not come). `attempt` is the number it will
    /// have.
    Deferred { delivery: DeliveryKey, attempt: i32 },
}

/// How long a delivery waits, unattempted, in the delay queue when its
/// webhook (or its tenant) has as many requests in flight as it may and
/// its turn is not expected within `limit::MAX_WAIT`.
pub const DEFER_MS: u64 = 1000;

pub(crate) fn disable_after() -> chrono::Duration {
    chrono::Duration::days(DISABLE_AFTER_DAYS)
}

/// The work message of a delivery's attempt number `attempt`.
fn task(
    tenant: &TenantId,
    event: &EventId,
    delivery: &DeliveryId,
    webhook: &WebhookId,
    attempt: i32,
) -> proto::DeliveryTask {
    proto::DeliveryTask {
        delivery_id: delivery.to_string(),
        webhook_id: webhook.to_string(),
        event_id: event.to_string(),
        tenant_id: tenant.to_string(),
        attempt: u32::try_from(attempt).unwrap_or(0),
    }
}

/// A delay ±10 %, picked at random among the delay queues the topology
/// declares for it, so retries of many deliveries do not arrive in step.
pub fn jittered(delay: Duration) -> Duration {
    let roll = argus_crypto::secrets::random_bytes::<1>()[0] % 3;
    let ms = delay.as_millis();
    let jittered = match roll {
        0 => ms * 9 / 10,
        1 => ms,
        _ => ms * 11 / 10,
    };
    Duration::from_millis(u64::try_from(jittered).unwrap_or(u64::MAX))
}

/// The delay queues a schedule needs: each delay and its jittered
/// variants, and the wait of a delivery whose webhook or tenant is busy.
pub fn delay_queues_ms(schedule: &[Duration]) -> Vec<u64> {
    let mut all: Vec<u64> = schedule
        .iter()
        .map(|d| d.as_millis() as u64)
        .filter(|ms| *ms > 0)
        .flat_map(|ms| [ms * 9 / 10, ms, ms * 11 / 10])
        .filter(|ms| *ms > 0)
        .chain([DEFER_MS])
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl Deliverer {
    /// Fans an event out to the tenant's subscribed webhooks and makes each
    /// delivery's first attempt at once, concurrently, recording attempts
    /// that end together in one transaction: a work message per delivery
    /// would cost the broker and the database several times what the
    /// attempt itself does. Only deliveries that must try again (or wait
    /// for a busy webhook) go through the deliveries queue (its delay
    /// queues), published before the event is acked; a crash
    /// before that redelivers the event, and the fan-out, being idempotent,
    /// hands back what is still to do (at least once, same `webhook-id`).
    pub async fn fan_out(&self, message: Incoming) -> Outcome {
        let (event, tenant, event_id): (proto::Event, TenantId, EventId) = match crate::task::decode(&message) {
            Ok(decoded) => decoded,
            Err(o) => return o,
        };
        let fanned = match self.plan(&message, &event, &tenant, &event_id).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "fan-out failed; retrying");
                return Outcome::Retry { delay_ms: STORE_RETRY_MS };
            }
        };
        let mut sends: FuturesUnordered<_> = fanned
            .fresh
            .iter()
            .map(|ctx| {
                let span = tracing::info_span!(
                    "deliver",
                    otel.kind = "internal",
                    "argus.delivery_id" = ctx.delivery.id.as_str(),
                    "argus.webhook_id" = ctx.webhook.id.as_str(),
                );
                self.attempt(ctx).instrument(span)
            })
            .collect();
        let mut follow_ups = Vec::new();
        // Attempts that end together are recorded together; a slow
        // receiver's is recorded when it ends, and does not keep the others'
        // waiting.
        while let Some(first) = sends.next().await {
            let mut ended = vec![first];
            let window = tokio::time::sleep(RECORD_TOGETHER);
            tokio::pin!(window);
            loop {
                tokio::select! {
                    biased;
                    next = sends.next() => match next {
                        Some(attempt) => ended.push(attempt),
                        None => break,
                    },
                    () = &mut window => break,
                }
            }
            let mut recorded = Vec::with_capacity(ended.len());
            let mut postponed = Vec::new();
            for attempt in ended {
                match attempt {
                    Ok(Try::Made(attempted, outcome)) => {
                        let (next, of) = (attempted.record.attempt + 1, &attempted.delivery);
                        follow_ups.push((outcome, task(&tenant, &event_id, &of.id, &of.webhook, next)));
                        recorded.push(attempted);
                    }
                    Ok(Try::Deferred { delivery, attempt }) => {
                        let work = task(&tenant, &event_id, &delivery.id, &delivery.webhook, attempt);
                        follow_ups.push((Outcome::Retry { delay_ms: DEFER_MS }, work));
                        postponed.push(delivery);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery bookkeeping failed; the event will be fanned out again");
                        return Outcome::Retry { delay_ms: STORE_RETRY_MS };
                    }
                }
            }
            // The deliveries' rows are written here, with their first
            // attempt or postponed, before any work message names them.
            if let Err(e) = self.recorder.record(&tenant, recorded, postponed).await {
                tracing::warn!(error = %e, "recording the attempts failed; the event will be fanned out again");
                return Outcome::Retry { delay_ms: STORE_RETRY_MS };
            }
        }
        // An event handled before may have recorded retrying deliveries
        // whose retry messages never reached the broker: queue them again
        // (a copy that did arrive costs at most one extra attempt).
        if message.redelivered || message.retry_count > 0 {
            let now = Utc::now();
            for d in &fanned.retrying {
                let delay = d.next_attempt_at.map_or(0, |at| (at - now).num_milliseconds().max(0) as u64);
                let next = task(&tenant, &event_id, &d.id, &d.webhook_id, d.attempts + 1);
                follow_ups.push((Outcome::Retry { delay_ms: delay }, next));
            }
        }
        if let Err(e) = self.queue_follow_ups(follow_ups).await {
            tracing::warn!(error = %e, "queueing retries failed; the event will be fanned out again");
            return Outcome::Retry { delay_ms: STORE_RETRY_MS };
        }
        tracing::debug!(event_id = %event_id, deliveries = fanned.fresh.len(), "event fanned out");
        Outcome::Ack
    }

    /// What an event's fan-out has to do. An event seen for the first time
    /// is fanned out from memory: its envelope from the message, and the
    /// tenant's webhooks from the cache. A redelivered or retried event
    /// (which may have stored deliveries, some retrying), or a message
    /// without an envelope (from a writer of an earlier release), is
    /// fanned out from the database. A copy of an event that the relay
    /// published twice (it crashed between the broker's confirm and the
    /// row's delete) arrives as new: it is sent again with the same
    /// `webhook-id`, and its record finds the delivery taken.
    async fn plan(
        &self,
        message: &Incoming,
        event: &proto::Event,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<FanOut, StoreError> {
        let first_time = !message.redelivered && message.retry_count == 0;
        if first_time && let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(&event.envelope_json) {
            let version = message.headers.get(WEBHOOKS_VERSION_HEADER).and_then(|v| v.parse().ok());
            let webhooks = self.webhooks.enabled(&self.store, tenant, version).await?;
            return Ok(FanOut::of_new_event(tenant, event_id, &event.r#type, &envelope, &webhooks.enabled));
        }
        self.store.fan_out(tenant, event_id, &event.r#type).await
    }

    /// Publishes, confirmed, a work message for each delivery that must try
    /// again (to the delay queue of its delay) or has failed for good (to
    /// the dead-letter queue), as the consumer loop does for the deliveries
    /// queue's own messages.
    async fn queue_follow_ups(&self, follow_ups: Vec<(Outcome, proto::DeliveryTask)>) -> Result<(), BusError> {
        let topology = self.publisher.topology();
        let queue = WorkQueue::Deliveries;
        let routed: Vec<(Exchange, String, Message)> = follow_ups
            .into_iter()
            .filter_map(|(outcome, task)| {
                let mut message = Message::delivery(&task);
                match outcome {
                    Outcome::Ack => None,
                    Outcome::Retry { delay_ms } => {
                        message.headers.insert(HEADER_RETRY_COUNT.into(), "1".into());
                        let (exchange, key) = topology.retry_route(queue, delay_ms);
                        Some((exchange, key, message))
                    }
                    Outcome::DeadLetter { reason } => {
                        message.headers.insert(HEADER_DEAD_REASON.into(), reason);
                        message.headers.insert(HEADER_DEAD_QUEUE.into(), topology.queue(queue));
                        message.headers.insert(HEADER_DEAD_AT.into(), Utc::now().timestamp_millis().to_string());
                        Some((Exchange::Dead, queue.routing_key().to_owned(), message))
                    }
                }
            })
            .collect();
        let results = self.publisher.publish_many(routed.iter().map(|(e, k, m)| (*e, k.as_str(), m))).await;
        results.into_iter().collect()
    }

    /// Makes one attempt at a delivery from the deliveries queue (a retry,
    /// a manual resend, a test or a job callback) and records it.
    pub async fn deliver(&self, message: Incoming) -> Outcome {
        if message.kind == JOB_CALLBACK_KIND {
            return self.callback(message).await;
        }
        let (_, tenant, delivery): (proto::DeliveryTask, TenantId, DeliveryId) = match crate::task::decode(&message) {
            Ok(decoded) => decoded,
            Err(o) => return o,
        };
        match self.deliver_one(&tenant, &delivery).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(error = %e, delivery_id = %delivery, "delivery bookkeeping failed; retrying");
                Outcome::Retry { delay_ms: STORE_RETRY_MS }
            }
        }
    }

    async fn deliver_one(&self, tenant: &TenantId, delivery: &DeliveryId) -> Result<Outcome, BookkeepingFailed> {
        let Some(ctx) = self.store.delivery_context(tenant, delivery).await? else {
            // The webhook was deleted since: nothing to send.
            return Ok(Outcome::Ack);
        };
        if ctx.delivery.status.is_terminal() {
            // A duplicate of a message already settled.
            return Ok(Outcome::Ack);
        }
        match self.attempt(&ctx).await? {
            Try::Made(attempted, outcome) => {
                self.recorder.record(tenant, vec![attempted], Vec::new()).await?;
                Ok(outcome)
            }
            Try::Deferred { .. } => Ok(Outcome::Retry { delay_ms: DEFER_MS }),
        }
    }

    /// Sends one request under `slot` (its endpoint's and tenant's caps,
    /// claimed first, so a tenant over its share never queues for a
    /// worker-wide slot) and tells `slot` the answer, which its endpoint's
    /// limit follows.
    pub(crate) async fn send(
        &self,
        slot: &mut Slot<'_>,
        tenant: &TenantId,
        what: Delivered,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> SendOutcome {
        // Bounds the requests in flight over every event and retry.
        let _sending_slot = self.sending.acquire().await.ok();
        let _sending = Sending::start(what);
        let sent = self.sender.send(tenant, what, url, headers, body).await;
        slot.answered(&sent);
        sent
    }

    /// Sends a delivery once (or, its webhook being disabled, records why
    /// not): the attempt to record and what should follow it. A webhook or
    /// tenant with as many requests in flight as it may gets none more: the
    /// delivery waits for a slot when its turn is expected soon, and is
    /// deferred, unattempted, when not.
    async fn attempt(&self, ctx: &DeliveryContext) -> Result<Try, StoreError> {
        let tried = caught(attempt_ids(ctx), self.send_once(ctx)).await;
        match &tried {
            Ok(Try::Made(made, _)) => {
                let disabled = !ctx.webhook.enabled || made.record.disable.is_some();
                crate::metrics::attempted(Delivered::Webhook, made.record.status, disabled);
            }
            Ok(Try::Deferred { .. }) => crate::metrics::deferred(),
            Err(_) => {}
        }
        tried
    }

    async fn send_once(&self, ctx: &DeliveryContext) -> Result<Try, StoreError> {
        let ids = attempt_ids(ctx);
        let attempted_at = Utc::now();
        let not_sent = |error: String, outcome: Outcome| unsent(ids.clone(), attempted_at, error, outcome);
        if !ctx.webhook.enabled {
            let why = ctx.webhook.disabled_reason.as_deref().unwrap_or("no reason given");
            return Ok(not_sent(format!("not sent: the webhook is disabled ({why})"), Outcome::Ack));
        }
        let AttemptIds { delivery, attempt } = ids.clone();
        let Some(mut slot) = self.caps.claim(ctx.webhook.tenant_id.as_str(), ctx.webhook.id.as_str()).await else {
            return Ok(Try::Deferred { delivery, attempt });
        };
        let (headers, body) = match self.signed_request(ctx, attempted_at.timestamp()) {
            Ok(r) => r,
            Err(e) => {
                let reason = format!("cannot sign: {e}");
                return Ok(not_sent(format!("not sent: {reason}"), Outcome::DeadLetter { reason }));
            }
        };
        let sent =
            self.send(&mut slot, &ctx.webhook.tenant_id, Delivered::Webhook, &ctx.webhook.url, headers, body).await;
        drop(slot);
        let duration_ms = i32::try_from(sent.duration.as_millis()).unwrap_or(i32::MAX);
        let status = sent.status;
        let Step { state, outcome, next_attempt_at, disable } = next_step(&self.schedule, attempt, &sent, attempted_at);
        let record = AttemptRecord {
            attempt,
            attempted_at,
            response_status: status.map(i32::from),
            duration_ms,
            error: sent.error,
            response_body: sent.body_excerpt,
            status: state,
            next_attempt_at,
            disable,
        };
        tracing::info!(delivery_id = %delivery.id, attempt, status = ?status, result = %state, "delivery attempted");
        Ok(Try::Made(Attempted { delivery, record }, outcome))
    }

    /// The Standard Webhooks headers and the body. While a rotated-out
    /// secret is still in its overlap, both signatures are sent.
    fn signed_request(&self, ctx: &DeliveryContext, timestamp: i64) -> Result<(HeaderMap, Vec<u8>), String> {
        let body = serde_json::to_vec(&ctx.envelope).map_err(|e| format!("event body: {e}"))?;
        let msg_id = ctx.delivery.event_id.as_str();
        let mut keys = vec![self.key(&ctx.webhook.secret_sealed)?];
        if let (Some(previous), Some(until)) =
            (&ctx.webhook.previous_secret_sealed, ctx.webhook.previous_secret_expires_at)
            && until > Utc::now()
        {
            keys.push(self.key(previous)?);
        }
        Ok((signature_headers(msg_id, timestamp, &body, &keys), body))
    }

    fn key(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        open_signing_key(&self.sealer, sealed)
    }
}

/// The signing key inside a sealed `whsec_…` secret.
/// Which attempt of which delivery to which webhook.
#[derive(Debug, Clone)]
struct AttemptIds {
    delivery: DeliveryKey,
    /// The number the attempt will have.
    attempt: i32,
}

fn attempt_ids(ctx: &DeliveryContext) -> AttemptIds {
    AttemptIds { delivery: ctx.key(), attempt: ctx.delivery.attempts + 1 }
}

/// A failed attempt that sent nothing, recorded with why.
fn unsent(ids: AttemptIds, attempted_at: chrono::DateTime<Utc>, error: String, outcome: Outcome) -> Try {
    let record = AttemptRecord {
        attempt: ids.attempt,
        attempted_at,
        response_status: None,
        duration_ms: 0,
        error: Some(error),
        response_body: None,
        status: DeliveryStatus::Failed,
        next_attempt_at: None,
        disable: None,
    };
    Try::Made(Attempted { delivery: ids.delivery, record }, outcome)
}

/// A panic while attempting fails the delivery, recorded with a reason, and
/// dead-letters its message. Left to the consumer loop, the message would
/// be dead-lettered with the delivery still pending or retrying for ever.
async fn caught(
    ids: AttemptIds,
    attempt: impl std::future::Future<Output = Result<Try, StoreError>>,
) -> Result<Try, StoreError> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(attempt).catch_unwind().await {
        Ok(tried) => tried,
        Err(panic) => {
            let what = argus_bus::panic_text(&*panic);
            tracing::error!(delivery_id = %ids.delivery.id, panic = what, "delivery attempt panicked");
            let reason = format!("the attempt panicked: {what}");
            let error = "not sent: the worker stopped on an internal error".to_owned();
            Ok(unsent(ids, Utc::now(), error, Outcome::DeadLetter { reason }))
        }
    }
}

pub(crate) fn open_signing_key(sealer: &SecretBox, sealed: &[u8]) -> Result<Vec<u8>, String> {
    let secret = sealer.open(sealed).map_err(|e| e.to_string())?;
    let secret = String::from_utf8(secret).map_err(|_| "sealed secret is not text".to_owned())?;
    webhook_signing_key(&secret).map_err(|e| e.to_string())
}

/// The Standard Webhooks headers of a request: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` with one `v1,` signature
/// per key. Webhook deliveries and job callbacks are signed with this.
pub(crate) fn signature_headers(msg_id: &str, timestamp: i64, body: &[u8], keys: &[Vec<u8>]) -> HeaderMap {
    let signatures: Vec<String> = keys.iter().map(|k| sign_webhook(k, msg_id, timestamp, body)).collect();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put("webhook-id", msg_id);
    put("webhook-timestamp", &timestamp.to_string());
    put("webhook-signature", &signatures.join(" "));
    headers
}

/// What follows an attempt, by the retry schedule.
pub(crate) struct Step {
    /// `succeeded`, `retrying` or `failed`.
    pub state: DeliveryStatus,
    pub outcome: Outcome,
    pub next_attempt_at: Option<chrono::DateTime<Utc>>,
    /// Disable the target (it answered 410 Gone), with this reason.
    pub disable: Option<String>,
}

/// Decides after attempt `attempt` (1-based): 2xx succeeds; 410 fails for
/// good; anything else retries after the schedule's next delay (at least
/// a 429/503's `Retry-After`, but never more than the schedule's longest
/// step, so a receiver cannot park a delivery for ever; jittered) or, when
/// the schedule is used up, fails and dead-letters.
pub(crate) fn next_step(
    schedule: &[Duration],
    attempt: i32,
    sent: &SendOutcome,
    attempted_at: chrono::DateTime<Utc>,
) -> Step {
    let status = sent.status;
    let (state, outcome, next_attempt_at, disable) = match status {
        Some(s) if (200..300).contains(&s) => (DeliveryStatus::Succeeded, Outcome::Ack, None, None),
        Some(410) => (DeliveryStatus::Failed, Outcome::Ack, None, Some("the receiver answered 410 Gone".to_owned())),
        _ => match schedule.get(usize::try_from(attempt - 1).unwrap_or(usize::MAX)) {
            Some(delay) => {
                let honoured = match (status, sent.retry_after) {
                    (Some(429 | 503), Some(after)) => {
                        let longest = schedule.iter().max().copied().unwrap_or_default();
                        after.min(longest).max(*delay)
                    }
                    _ => *delay,
                };
                let delay = jittered(honoured);
                let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                // Checked: a schedule from the environment may still be huge.
                let next = i64::try_from(ms)
                    .ok()
                    .and_then(chrono::TimeDelta::try_milliseconds)
                    .and_then(|d| attempted_at.checked_add_signed(d))
                    .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
                (DeliveryStatus::Retrying, Outcome::Retry { delay_ms: ms }, Some(next), None)
            }
            None => (
                DeliveryStatus::Failed,
                Outcome::DeadLetter { reason: format!("gave up after {attempt} attempts") },
                None,
                None,
            ),
        },
    };
    Step { state, outcome, next_attempt_at, disable }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::sender::parse_retry_after;

    const SCHEDULE: [Duration; 3] = [Duration::from_secs(5), Duration::from_secs(300), Duration::from_secs(60)];

    fn answered(status: u16, retry_after: Option<Duration>) -> SendOutcome {
        SendOutcome { status: Some(status), duration: Duration::ZERO, error: None, body_excerpt: None, retry_after }
    }

    #[tokio::test]
    async fn a_panicking_attempt_fails_its_delivery_and_dead_letters_it() {
        let delivery = DeliveryKey {
            id: DeliveryId::generate(),
            stored: true,
            webhook: WebhookId::generate(),
            event: EventId::generate(),
            event_type: "incident.updated".into(),
        };
        let ids = AttemptIds { delivery, attempt: 3 };
        let empty: Vec<u8> = Vec::new();
        let tried = caught(ids.clone(), async {
            Ok(Try::Deferred { delivery: ids.delivery.clone(), attempt: i32::from(empty[1]) })
        });
        let Ok(Try::Made(attempted, outcome)) = tried.await else { panic!("no attempt recorded") };
        assert_eq!(attempted.delivery.id, ids.delivery.id);
        assert_eq!(attempted.record.attempt, 3);
        assert_eq!(attempted.record.status, DeliveryStatus::Failed);
        assert_eq!(attempted.record.error.as_deref(), Some("not sent: the worker stopped on an internal error"));
        let Outcome::DeadLetter { reason } = outcome else { panic!("not dead-lettered: {outcome:?}") };
        assert!(reason.starts_with("the attempt panicked: index out of bounds"), "{reason}");
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_longest_step() {
        let now = Utc::now();
        let huge = parse_retry_after("10000000000000", now);
        let step = next_step(&SCHEDULE, 1, &answered(503, huge), now);
        assert_eq!(step.state, DeliveryStatus::Retrying);
        let Outcome::Retry { delay_ms } = step.outcome else { panic!("not a retry") };
        assert!((270_000..=330_000).contains(&delay_ms), "{delay_ms}");
        let next = step.next_attempt_at.unwrap();
        assert_eq!((next - now).num_milliseconds(), i64::try_from(delay_ms).unwrap());
        // A short Retry-After never shortens the schedule's own step.
        let step = next_step(&SCHEDULE, 2, &answered(429, Some(Duration::from_secs(1))), now);
        assert!(matches!(step.outcome, Outcome::Retry { delay_ms: 270_000..=330_000 }));
        // Other statuses do not get to ask.
        let step = next_step(&SCHEDULE, 1, &answered(500, huge), now);
        assert!(matches!(step.outcome, Outcome::Retry { delay_ms: 4_500..=5_500 }));
    }

    proptest::proptest! {
        #[test]
        fn retry_after_parsing_never_panics(value in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "[0-9 +-]{0,30}",
            "(Mon|Sat), [0-9]{1,2} (Dec|Foo) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+9999|é)",
        ], status in proptest::prop_oneof![proptest::prelude::Just(503u16), 100u16..600], attempt in -2i32..6) {
            let now = Utc::now();
            let after = parse_retry_after(&value, now);
            let step = next_step(&SCHEDULE, attempt, &answered(status, after), now);
            if let Some(next) = step.next_attempt_at {
                // Never later than the longest step, jittered.
                proptest::prop_assert!(next - now <= chrono::TimeDelta::seconds(330));
            }
        }
    }
}
