//! The messages that cross RabbitMQ, without the broker: the protobuf types
//! of `proto/argus/bus/v1` ([`proto`]) and the [`Message`] envelope every
//! Argus message shares (id, type, tenant, protobuf body, string headers).
//!
//! It sits below both the store, which writes messages into the outbox in
//! the transaction of the change they announce, and the bus, which
//! publishes them; so there is one mapping from a change to its message.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// The generated protobuf types of package `argus.bus.v1`.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/argus.bus.v1.rs"));
}

/// The `content_type` of every message.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// AMQP `type` of a job callback task on the deliveries queue.
pub const JOB_CALLBACK_KIND: &str = "job.callback";

/// Routing keys on the work exchange, one per work queue.
pub mod routing {
    /// Every event, to the worker that fans events out to webhooks.
    pub const FANOUT: &str = "fanout";
    /// Webhook delivery attempts and job callbacks.
    pub const DELIVERIES: &str = "delivery";
    /// Job runs.
    pub const JOBS: &str = "job";
}

/// A message to publish: a protobuf body and the properties every Argus
/// message carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// AMQP `message_id`; consumers deduplicate on it.
    pub message_id: String,
    /// AMQP `type`: the event type for events, `delivery` or `job` for work.
    pub kind: String,
    pub tenant_id: String,
    /// The protobuf-encoded body.
    pub payload: Vec<u8>,
    /// Extra string headers. `traceparent`/`tracestate`, when present, name
    /// the parent of the publish span, which replaces them on the wire.
    pub headers: BTreeMap<String, String>,
    /// AMQP `timestamp` (whole seconds); now when absent.
    pub timestamp: Option<SystemTime>,
}

impl Message {
    pub fn new(
        message_id: impl Into<String>,
        kind: impl Into<String>,
        tenant_id: impl Into<String>,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            message_id: message_id.into(),
            kind: kind.into(),
            tenant_id: tenant_id.into(),
            payload,
            headers: BTreeMap::new(),
            timestamp: None,
        }
    }

    /// A message whose payload is `body`, protobuf-encoded.
    fn encoding(message_id: String, kind: impl Into<String>, tenant_id: &str, body: &impl prost::Message) -> Self {
        Self::new(message_id, kind, tenant_id, body.encode_to_vec())
    }

    /// Adds a string header, e.g. `traceparent`.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// An event, with its id as `message_id` and its type as `type`.
    /// It is published to the events exchange with the event type as key.
    pub fn event(event: &proto::Event) -> Self {
        Self::encoding(event.id.clone(), event.r#type.clone(), &event.tenant_id, event)
    }

    /// A delivery task, with `message_id` `{delivery_id}.{attempt}`, so
    /// each attempt is its own message while retries of one attempt through
    /// the delay queues keep theirs. It is published to the work exchange
    /// with [`routing::DELIVERIES`].
    pub fn delivery(task: &proto::DeliveryTask) -> Self {
        Self::encoding(format!("{}.{}", task.delivery_id, task.attempt), routing::DELIVERIES, &task.tenant_id, task)
    }

    /// A job task, with `message_id` `{job_id}.{attempt}`. It is published
    /// to the work exchange with [`routing::JOBS`].
    pub fn job(task: &proto::JobTask) -> Self {
        Self::encoding(format!("{}.{}", task.job_id, task.attempt), routing::JOBS, &task.tenant_id, task)
    }

    /// A job callback attempt, with `message_id` `{event_id}.callback` and
    /// `type` [`JOB_CALLBACK_KIND`]; it travels on the deliveries queue.
    pub fn job_callback(task: &proto::JobCallbackTask) -> Self {
        Self::encoding(format!("{}.callback", task.event_id), JOB_CALLBACK_KIND, &task.tenant_id, task)
    }
}
