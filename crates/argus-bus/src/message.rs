//! The AMQP side of a [`Message`]: the properties it is published with and
//! the headers the consumer adds.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use argus_messages::{CONTENT_TYPE, Message};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};

use crate::BusError;
use crate::topology::short;

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

/// The AMQP properties: persistent, with id, type, content type,
/// timestamp and headers.
/// `trace` (the publishing span's `traceparent`/`tracestate`) replaces
/// whatever trace context the message carried.
pub(crate) fn properties(message: &Message, trace: &BTreeMap<String, String>) -> Result<BasicProperties, BusError> {
    let mut headers = FieldTable::default();
    let carried = message.headers.iter().filter(|(name, _)| !is_trace_header(name) || trace.is_empty());
    for (name, value) in carried.chain(trace) {
        headers.insert(short(name)?, AMQPValue::LongString(LongString::from(value.as_str())));
    }
    headers.insert(short(HEADER_TENANT_ID)?, AMQPValue::LongString(LongString::from(message.tenant_id.as_str())));
    let timestamp = message
        .timestamp
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Ok(BasicProperties::default()
        .with_message_id(short(&message.message_id)?)
        .with_type(short(&message.kind)?)
        .with_content_type(short(CONTENT_TYPE)?)
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(timestamp)
        .with_headers(headers))
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
