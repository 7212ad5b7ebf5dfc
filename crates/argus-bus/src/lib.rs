//! RabbitMQ for Argus: the topology ([`topology`]), a publisher that waits
//! for the broker's confirm ([`Publisher`]), the transactional-outbox relay
//! ([`relay`]), the consumer loop with retry and dead-letter outcomes
//! ([`consumer`]) and the protobuf messages that cross the broker
//! ([`proto`], from `proto/argus/bus/v1`).
//!
//! Every message is persistent and carries `message_id`, `type`,
//! `content_type = application/x-protobuf`, `timestamp` and the headers
//! `tenant_id` plus any extra string headers (`traceparent`, `tracestate`).
//! Delivery is at least once end to end; consumers deduplicate on
//! `message_id`.

pub mod consumer;
pub mod dead_letters;
mod error;
mod message;
pub mod outbox;
mod publisher;
pub mod relay;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

/// The generated protobuf types of package `argus.bus.v1`.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/argus.bus.v1.rs"));
}

pub use consumer::{ConsumerConfig, Incoming, Outcome, panic_text, run_consumer, run_consumer_forever};
pub use error::BusError;
pub use lapin::{Channel, Connection};
pub use message::{
    CONTENT_TYPE, HEADER_DEAD_AT, HEADER_DEAD_QUEUE, HEADER_DEAD_REASON, HEADER_RETRY_COUNT, HEADER_TENANT_ID,
    JOB_CALLBACK_KIND, Message,
};
pub use publisher::{Broker, Publisher, PublisherConfig, connect};
pub use relay::{OutboxRelay, RelayConfig};
pub use tokio_util::sync::CancellationToken;
pub use topology::{Exchange, Topology, WorkQueue};
