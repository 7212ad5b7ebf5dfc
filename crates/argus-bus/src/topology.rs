//! The broker topology, declared idempotently by every process at start
//! (and by the publisher on every reconnect, so a broker that lost its
//! definitions gets them back). All names start with a prefix (`argus` by
//! default) so tests and deployments can share a broker.
//!
//! ```text
//!  {p}.events (topic) --#------------------------------> {p}.fanout
//!  {p}.work  (direct) --delivery | {d}ms.delivery------> {p}.deliveries
//!                     --job      | {d}ms.job-----------> {p}.jobs
//!                     --fanout   | {d}ms.fanout--------> {p}.fanout
//!  {p}.retry (direct) --{d}ms.delivery|job|fanout------> {p}.retry.{d}ms
//!        (TTL d, then dead-lettered to {p}.work, routing key kept)
//!  {p}.dead  (fanout) ---------------------------------> {p}.dead
//!        (at most 100,000 messages / 256 MiB, oldest dropped)
//! ```
//!
//! Retrying a message in `d` ms means publishing it to `{p}.retry` with key
//! `{d}ms.{k}`, where `k` is the return key of the queue it came from. It
//! waits in `{p}.retry.{d}ms` until its TTL expires; the broker dead-letters
//! it to `{p}.work` keeping the routing key, and `{p}.work` routes
//! `{d}ms.{k}` back to the queue it came from. No broker plugin is needed.
//! A delay of 0 republishes straight to `{p}.work` with key `k`.
//!
//! All queues are durable quorum queues. Dead-lettering (retry queues back
//! to work, work queues to `{p}.dead` on a poison message) uses the
//! `at-least-once` strategy with `reject-publish` overflow (RabbitMQ ≥ 3.10),
//! so the broker keeps a message until the target queue has confirmed it.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::BusError;

/// The prefix when none is configured.
pub const DEFAULT_PREFIX: &str = "argus";

/// After this many deliveries without a settle (the consumer crashed or
/// lost its connection each time) a quorum queue dead-letters the message
/// to `{p}.dead`, so one poison message cannot crash-loop the workers for
/// ever. Fixed rather than configured: RabbitMQ refuses to redeclare a queue
/// with different arguments.
pub const POISON_DELIVERY_LIMIT: i64 = 20;

/// The dead-letter queue keeps at most this many messages, and at most
/// [`DEAD_LETTER_MAX_BYTES`]; past either the oldest are dropped
/// (`drop-head`), so a flood of poison messages cannot fill the broker's
/// disk. Operators read and replay them with `argusctl dlq`.
pub const DEAD_LETTER_MAX_MESSAGES: i64 = 100_000;
/// See [`DEAD_LETTER_MAX_MESSAGES`].
pub const DEAD_LETTER_MAX_BYTES: i64 = 256 * 1024 * 1024;

/// The exchanges of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// Topic exchange for domain events; the routing key is the event type.
    Events,
    /// Direct exchange for work items; the routing key is the work kind.
    Work,
    /// Direct exchange in front of the delay queues.
    Retry,
    /// Fanout exchange in front of the dead-letter queue.
    Dead,
}

impl Exchange {
    fn suffix(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Work => "work",
            Self::Retry => "retry",
            Self::Dead => "dead",
        }
    }
}

impl From<argus_store::outbox::OutboxExchange> for Exchange {
    fn from(e: argus_store::outbox::OutboxExchange) -> Self {
        match e {
            argus_store::outbox::OutboxExchange::Events => Self::Events,
            argus_store::outbox::OutboxExchange::Work => Self::Work,
        }
    }
}

/// The queues consumers read, each with the key that routes work (and
/// retries) back to it through `{p}.work`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkQueue {
    /// Every event, for the worker that fans events out to webhooks.
    Fanout,
    /// Webhook delivery attempts ([`crate::proto::DeliveryTask`]).
    Deliveries,
    /// Jobs ([`crate::proto::JobTask`]).
    Jobs,
}

impl WorkQueue {
    pub const ALL: [Self; 3] = [Self::Fanout, Self::Deliveries, Self::Jobs];

    /// The `{p}.work` routing key of this queue: publish a delivery task to
    /// [`Exchange::Work`] with `WorkQueue::Deliveries.routing_key()`.
    pub fn routing_key(self) -> &'static str {
        match self {
            Self::Fanout => argus_messages::routing::FANOUT,
            Self::Deliveries => argus_messages::routing::DELIVERIES,
            Self::Jobs => argus_messages::routing::JOBS,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Fanout => "fanout",
            Self::Deliveries => "deliveries",
            Self::Jobs => "jobs",
        }
    }
}

/// Names and retry delays of one deployment's topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    /// Sorted, deduplicated, without 0 (which needs no queue).
    retry_delays_ms: Vec<u64>,
}

impl Default for Topology {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX, [])
    }
}

impl Topology {
    /// `retry_delays_ms` is every delay a consumer may ask for (the webhook
    /// retry schedule, say); each non-zero one gets a delay queue. Keeping
    /// old delays in the list after a schedule change lets messages already
    /// waiting in their queues come back; they do anyway, since a delay
    /// queue's bindings stay until deleted.
    pub fn new(prefix: impl Into<String>, retry_delays_ms: impl IntoIterator<Item = u64>) -> Self {
        let mut delays: Vec<u64> = retry_delays_ms.into_iter().filter(|d| *d > 0).collect();
        delays.sort_unstable();
        delays.dedup();
        Self { prefix: prefix.into(), retry_delays_ms: delays }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The delays that have a delay queue, ascending.
    pub fn retry_delays_ms(&self) -> &[u64] {
        &self.retry_delays_ms
    }

    pub fn exchange(&self, exchange: Exchange) -> String {
        format!("{}.{}", self.prefix, exchange.suffix())
    }

    pub fn queue(&self, queue: WorkQueue) -> String {
        format!("{}.{}", self.prefix, queue.suffix())
    }

    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn retry_queue(&self, delay_ms: u64) -> String {
        format!("{}.retry.{delay_ms}ms", self.prefix)
    }

    /// The delay queue that serves a requested delay: the shortest one at
    /// least as long (a receiver's `Retry-After` means "not before"), else
    /// the longest; `None` for 0 or when no delays are configured, meaning
    /// "republish now".
    pub fn effective_delay_ms(&self, requested_ms: u64) -> Option<u64> {
        if requested_ms == 0 {
            return None;
        }
        self.retry_delays_ms.iter().copied().find(|d| *d >= requested_ms).or(self.retry_delays_ms.last().copied())
    }

    /// Where to publish a message from `queue` so that it comes back to
    /// `queue` after about `delay_ms`: an exchange and a routing key.
    pub fn retry_route(&self, queue: WorkQueue, delay_ms: u64) -> (Exchange, String) {
        match self.effective_delay_ms(delay_ms) {
            None => (Exchange::Work, queue.routing_key().to_owned()),
            Some(d) => (Exchange::Retry, retry_key(d, queue)),
        }
    }

    /// Declares every exchange, queue and binding. Idempotent; fails with a
    /// PRECONDITION_FAILED channel error if a queue exists with different
    /// arguments (for example a classic queue of the same name).
    pub async fn declare(&self, channel: &Channel) -> Result<(), BusError> {
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        for (exchange, kind) in [
            (Exchange::Events, ExchangeKind::Topic),
            (Exchange::Work, ExchangeKind::Direct),
            (Exchange::Retry, ExchangeKind::Direct),
            (Exchange::Dead, ExchangeKind::Fanout),
        ] {
            channel.exchange_declare(short(&self.exchange(exchange))?, kind, durable, FieldTable::default()).await?;
        }

        let dead = self.dead_queue();
        let mut dead_args = quorum_args();
        dead_args.insert("x-max-length".into(), AMQPValue::LongLongInt(DEAD_LETTER_MAX_MESSAGES));
        dead_args.insert("x-max-length-bytes".into(), AMQPValue::LongLongInt(DEAD_LETTER_MAX_BYTES));
        dead_args.insert("x-overflow".into(), long_str("drop-head"));
        self.declare_queue(channel, &dead, dead_args).await.map_err(|e| {
            BusError::Config(format!(
                "cannot declare the dead-letter queue {dead} ({e}); if it was declared before it had a bound, \
                 save its messages (`argusctl dlq list`), delete it (`rabbitmqctl delete_queue {dead}`) and start again"
            ))
        })?;
        self.bind(channel, &dead, Exchange::Dead, "").await?;

        let mut work_args = quorum_args();
        dead_letter_to(&mut work_args, &self.exchange(Exchange::Dead));
        work_args.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(POISON_DELIVERY_LIMIT));
        for queue in WorkQueue::ALL {
            let name = self.queue(queue);
            self.declare_queue(channel, &name, work_args.clone()).await?;
            self.bind(channel, &name, Exchange::Work, queue.routing_key()).await?;
            for d in &self.retry_delays_ms {
                self.bind(channel, &name, Exchange::Work, &retry_key(*d, queue)).await?;
            }
        }
        self.bind(channel, &self.queue(WorkQueue::Fanout), Exchange::Events, "#").await?;

        for d in &self.retry_delays_ms {
            let mut args = quorum_args();
            let ttl = i64::try_from(*d).map_err(|_| BusError::Invalid(format!("retry delay {d} ms")))?;
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            // No x-dead-letter-routing-key: the message keeps `{d}ms.{k}`,
            // which `{p}.work` routes back to the queue it came from.
            dead_letter_to(&mut args, &self.exchange(Exchange::Work));
            let name = self.retry_queue(*d);
            self.declare_queue(channel, &name, args).await?;
            for queue in WorkQueue::ALL {
                self.bind(channel, &name, Exchange::Retry, &retry_key(*d, queue)).await?;
            }
        }
        Ok(())
    }

    async fn declare_queue(&self, channel: &Channel, name: &str, args: FieldTable) -> Result<(), BusError> {
        let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        channel.queue_declare(short(name)?, options, args).await?;
        Ok(())
    }

    async fn bind(&self, channel: &Channel, queue: &str, exchange: Exchange, key: &str) -> Result<(), BusError> {
        channel
            .queue_bind(
                short(queue)?,
                short(&self.exchange(exchange))?,
                short(key)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }
}

fn retry_key(delay_ms: u64, queue: WorkQueue) -> String {
    format!("{delay_ms}ms.{}", queue.routing_key())
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_str("quorum"));
    args
}

fn dead_letter_to(args: &mut FieldTable, exchange: &str) {
    args.insert("x-dead-letter-exchange".into(), long_str(exchange));
    // at-least-once: the source queue keeps the message until the target
    // confirms it; it requires reject-publish overflow.
    args.insert("x-dead-letter-strategy".into(), long_str("at-least-once"));
    args.insert("x-overflow".into(), long_str("reject-publish"));
}

fn long_str(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// An AMQP short string, refusing (rather than panicking on) more than 255 bytes.
pub(crate) fn short(s: &str) -> Result<ShortString, BusError> {
    ShortString::try_new(s).map_err(|e| BusError::Invalid(format!("`{s}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology::new("t1", [5000, 0, 200, 5000]);
        assert_eq!(t.exchange(Exchange::Events), "t1.events");
        assert_eq!(t.exchange(Exchange::Work), "t1.work");
        assert_eq!(t.queue(WorkQueue::Deliveries), "t1.deliveries");
        assert_eq!(t.dead_queue(), "t1.dead");
        assert_eq!(t.retry_queue(200), "t1.retry.200ms");
        assert_eq!(t.retry_delays_ms(), &[200, 5000]);
    }

    #[test]
    fn retry_routes_pick_the_shortest_delay_not_shorter_than_asked() {
        let t = Topology::new("p", [5_000, 300_000]);
        assert_eq!(t.retry_route(WorkQueue::Deliveries, 0), (Exchange::Work, "delivery".to_owned()));
        assert_eq!(t.retry_route(WorkQueue::Deliveries, 5_000), (Exchange::Retry, "5000ms.delivery".to_owned()));
        assert_eq!(t.retry_route(WorkQueue::Jobs, 1), (Exchange::Retry, "5000ms.job".to_owned()));
        assert_eq!(t.retry_route(WorkQueue::Fanout, 6_000), (Exchange::Retry, "300000ms.fanout".to_owned()));
        assert_eq!(t.retry_route(WorkQueue::Jobs, 10_000_000), (Exchange::Retry, "300000ms.job".to_owned()));
        let none = Topology::new("p", []);
        assert_eq!(none.retry_route(WorkQueue::Jobs, 5_000), (Exchange::Work, "job".to_owned()));
    }
}
