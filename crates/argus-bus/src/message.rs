use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};

use crate::BusError;
use crate::proto;
use crate::topology::short;

/// The `content_type` of every message.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// AMQP `type` of a job callback task on the deliveries queue.
pub const JOB_CALLBACK_KIND: &str = "job.callback";
/// Header naming the tenant the message belongs to.
pub const HEADER_TENANT_ID: &str = "tenant_id";
/// Header counting how often the consumer sent a message round a delay queue.
pub const HEADER_RETRY_COUNT: &str = "x-argus-retry-count";
/// Header on a dead-lettered message: why the consumer gave up.
pub const HEADER_DEAD_REASON: &str = "x-argus-dead-reason";
/// Header on a dead-lettered message: the queue it was taken from.
pub const HEADER_DEAD_QUEUE: &str = "x-argus-dead-queue";
/// Header on a dead-lettered message: when the consumer gave up on it
/// (Unix milliseconds).
pub const HEADER_DEAD_AT: &str = "x-argus-dead-at";

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

    /// Adds a string header, e.g. `traceparent`.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// An event, with its id as `message_id` and its type as `type`.
    /// Publish it to [`crate::Exchange::Events`] with the event type as key.
    pub fn event(event: &proto::Event) -> Self {
        Self::new(event.id.clone(), event.r#type.clone(), event.tenant_id.clone(), prost::Message::encode_to_vec(event))
    }

    /// A delivery task, with `message_id` `{delivery_id}.{attempt}`, so
    /// each attempt is its own message while retries of one attempt through
    /// the delay queues keep theirs. Publish it to [`crate::Exchange::Work`]
    /// with [`crate::WorkQueue::Deliveries`]' routing key.
    pub fn delivery(task: &proto::DeliveryTask) -> Self {
        Self::new(
            format!("{}.{}", task.delivery_id, task.attempt),
            crate::WorkQueue::Deliveries.routing_key(),
            task.tenant_id.clone(),
            prost::Message::encode_to_vec(task),
        )
    }

    /// A job task, with `message_id` `{job_id}.{attempt}`. Publish it to
    /// [`crate::Exchange::Work`] with [`crate::WorkQueue::Jobs`]' routing key.
    pub fn job(task: &proto::JobTask) -> Self {
        Self::new(
            format!("{}.{}", task.job_id, task.attempt),
            crate::WorkQueue::Jobs.routing_key(),
            task.tenant_id.clone(),
            prost::Message::encode_to_vec(task),
        )
    }

    /// A job callback attempt, with `message_id` `{event_id}.callback` and
    /// `type` [`JOB_CALLBACK_KIND`]; it travels on the deliveries queue.
    pub fn job_callback(task: &proto::JobCallbackTask) -> Self {
        Self::new(
            format!("{}.callback", task.event_id),
            JOB_CALLBACK_KIND,
            task.tenant_id.clone(),
            prost::Message::encode_to_vec(task),
        )
    }

    /// The AMQP properties: persistent, with id, type, content type,
    /// timestamp and headers.
    /// `trace` (the publishing span's `traceparent`/`tracestate`) replaces
    /// whatever trace context the message carried.
    pub(crate) fn properties(&self, trace: &BTreeMap<String, String>) -> Result<BasicProperties, BusError> {
        let mut headers = FieldTable::default();
        let carried = self.headers.iter().filter(|(name, _)| !is_trace_header(name) || trace.is_empty());
        for (name, value) in carried.chain(trace) {
            headers.insert(short(name)?, AMQPValue::LongString(LongString::from(value.as_str())));
        }
        headers.insert(short(HEADER_TENANT_ID)?, AMQPValue::LongString(LongString::from(self.tenant_id.as_str())));
        let timestamp = self
            .timestamp
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok(BasicProperties::default()
            .with_message_id(short(&self.message_id)?)
            .with_type(short(&self.kind)?)
            .with_content_type(short(CONTENT_TYPE)?)
            .with_delivery_mode(PERSISTENT)
            .with_timestamp(timestamp)
            .with_headers(headers))
    }
}

fn is_trace_header(name: &str) -> bool {
    name == argus_telemetry::propagation::TRACEPARENT || name == argus_telemetry::propagation::TRACESTATE
}

/// AMQP delivery mode 2: the broker writes the message to disk.
pub(crate) const PERSISTENT: u8 = 2;

/// A header value as a string, whatever AMQP type the sender used.
pub(crate) fn header_string(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::Boolean(b) => Some(b.to_string()),
        AMQPValue::ShortShortInt(n) => Some(n.to_string()),
        AMQPValue::ShortShortUInt(n) => Some(n.to_string()),
        AMQPValue::ShortInt(n) => Some(n.to_string()),
        AMQPValue::ShortUInt(n) => Some(n.to_string()),
        AMQPValue::LongInt(n) => Some(n.to_string()),
        AMQPValue::LongUInt(n) => Some(n.to_string()),
        AMQPValue::LongLongInt(n) => Some(n.to_string()),
        AMQPValue::Timestamp(n) => Some(n.to_string()),
        _ => None,
    }
}
