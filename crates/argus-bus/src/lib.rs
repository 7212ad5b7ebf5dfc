//! RabbitMQ for Argus: the topology ([`topology`]), a publisher that waits
//! for the broker's confirm ([`Publisher`]), the transactional-outbox relay
//! ([`relay`]), the consumer loop with retry and dead-letter outcomes
//! ([`consumer`]). The messages themselves ([`proto`], [`Message`]) live in
//! `argus-messages`, below the store that writes them to the outbox.
//!
//! Every message is persistent and carries `message_id`, `type`,
//! `content_type = application/x-protobuf`, `timestamp` and the headers
//! `tenant_id` plus any extra string headers (`traceparent`, `tracestate`).
//! Delivery is at least once end to end; consumers deduplicate on
//! `message_id`.

pub mod consumer;
pub mod dead_letters;
pub mod environment;
mod error;
mod message;
mod publisher;
pub mod relay;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

pub use argus_messages::{CONTENT_TYPE, JOB_CALLBACK_KIND, Message, proto};

pub use consumer::{ConsumerConfig, Incoming, Outcome, panic_text, run_consumer_forever};
pub use error::BusError;
pub use lapin::{Channel, Connection};
pub use message::{HEADER_DEAD_AT, HEADER_DEAD_QUEUE, HEADER_DEAD_REASON, HEADER_RETRY_COUNT, HEADER_TENANT_ID};
pub use publisher::{Broker, Publisher, PublisherConfig, connect};
pub use relay::{OutboxRelay, RelayConfig};
pub use tokio_util::sync::CancellationToken;
pub use topology::{Exchange, Topology, WorkQueue};
