//! The dead-letter queue for operators: list, replay and purge
//! (`argusctl dlq`).
//!
//! Messages are taken with `basic.get` and settled one by one on a channel
//! of the command's own. A message being looked at is unacknowledged on
//! that channel, so no other command (another operator's replay) can take
//! it at the same time, and a replay is never done twice at once. What a
//! command does not act on goes back to the queue when its channel closes.
//! A replayed message is acknowledged only once its copy on the work queue
//! is confirmed by the broker: replays are at least once.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde::Serialize;

use crate::consumer::publish_copy;
use crate::message::header_string;
use crate::topology::short;
use crate::{
    Broker, BusError, Exchange, HEADER_DEAD_AT, HEADER_DEAD_QUEUE, HEADER_DEAD_REASON, HEADER_RETRY_COUNT,
    HEADER_TENANT_ID, JOB_CALLBACK_KIND, Topology, WorkQueue, proto,
};

/// How long to wait for the broker to answer when connecting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most messages one command looks at: the queue's bound and a margin.
const MAX_WALK: usize = 110_000;
/// The queue is empty for this command once it answered empty this many
/// times, [`EMPTY_PAUSE`] apart.
const EMPTY_ANSWERS: u32 = 3;
const EMPTY_PAUSE: Duration = Duration::from_millis(50);

/// One dead message, as `argusctl dlq list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// AMQP `message_id`.
    pub message_id: String,
    /// AMQP `type`: `delivery`, `job`, `job.callback` or an event type.
    pub kind: String,
    pub tenant_id: String,
    /// The ids the message names (`delivery_id`, `job_id`, `event_id`, …).
    pub ids: BTreeMap<&'static str, String>,
    /// The queue it died in.
    pub queue: String,
    /// Why it died: the consumer's reason, or the broker's (`delivery_limit`,
    /// `rejected`, …).
    pub reason: String,
    /// When it (first) died, when known.
    pub died_at: Option<DateTime<Utc>>,
}

/// Which dead messages a command acts on; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub tenant: Option<String>,
    /// Message ids or ids the message names (a delivery, job or event id).
    pub ids: Vec<String>,
    /// Only messages that died before this.
    pub before: Option<DateTime<Utc>>,
    /// At most this many (none: every one).
    pub limit: Option<usize>,
}

impl Selection {
    fn matches(&self, dead: &DeadLetter) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == dead.tenant_id)
            && (self.ids.is_empty()
                || self.ids.iter().any(|id| *id == dead.message_id || dead.ids.values().any(|v| v == id)))
            && self.before.is_none_or(|before| dead.died_at.is_some_and(|at| at < before))
    }
}

/// What to do with a selected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Leave it in the queue.
    Look,
    /// Publish it back to the work queue it died in, then remove it.
    Replay,
    /// Remove it.
    Purge,
}

/// The dead messages `selection` picks, left in the queue.
pub async fn list(broker: &Broker, topology: &Topology, selection: &Selection) -> Result<Vec<DeadLetter>, BusError> {
    walk(broker, topology, selection, Action::Look).await
}

/// Puts the selected messages back on the queues they died in; returns
/// them. A message whose queue is not one of the topology's stays.
pub async fn replay(broker: &Broker, topology: &Topology, selection: &Selection) -> Result<Vec<DeadLetter>, BusError> {
    walk(broker, topology, selection, Action::Replay).await
}

/// Deletes the selected messages; returns them.
pub async fn purge(broker: &Broker, topology: &Topology, selection: &Selection) -> Result<Vec<DeadLetter>, BusError> {
    walk(broker, topology, selection, Action::Purge).await
}

async fn walk(
    broker: &Broker,
    topology: &Topology,
    selection: &Selection,
    action: Action,
) -> Result<Vec<DeadLetter>, BusError> {
    let connection = crate::connect(broker, "argusctl dlq", CONNECT_TIMEOUT).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let queue = topology.dead_queue();
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    // The queue must exist (a wrong vhost or prefix is an error, not an
    // empty list).
    channel.queue_declare(short(&queue)?, passive, FieldTable::default()).await.map_err(|e| {
        BusError::Config(format!(
            "no dead-letter queue {queue} on this broker ({e}): check ARGUS_AMQP_URL (its vhost) and \
             ARGUS_BUS_PREFIX; the queue exists once a service has started"
        ))
    })?;
    let mut acted = Vec::new();
    // Each message is looked at once: those taken stay unacknowledged on
    // this channel until the end. The queue is read until it answers empty
    // a few times in a row, as messages another command is handing back
    // (its own leftovers) reach the queue a moment after it finished.
    let (mut taken, mut empty) = (0usize, 0u32);
    while taken < MAX_WALK && empty < EMPTY_ANSWERS {
        if selection.limit.is_some_and(|limit| acted.len() >= limit) {
            break;
        }
        let Some(message) = channel.basic_get(short(&queue)?, BasicGetOptions { no_ack: false }).await? else {
            empty += 1;
            tokio::time::sleep(EMPTY_PAUSE).await;
            continue;
        };
        (taken, empty) = (taken + 1, 0);
        let dead = describe(&message);
        if !selection.matches(&dead) {
            continue;
        }
        match action {
            Action::Look => {}
            Action::Purge => {
                message.delivery.acker.ack(BasicAckOptions::default()).await?;
            }
            Action::Replay => {
                let Some(work) = WorkQueue::ALL.into_iter().find(|q| topology.queue(*q) == dead.queue) else {
                    tracing::warn!(message_id = %dead.message_id, queue = %dead.queue, "not a work queue; left dead");
                    continue;
                };
                republish(&channel, topology, work, &message).await?;
                message.delivery.acker.ack(BasicAckOptions::default()).await?;
            }
        }
        acted.push(dead);
    }
    // What was not acted on goes back now rather than when the connection
    // drops; multiple=true covers every message still held.
    if taken > 0 {
        let back = BasicNackOptions { multiple: true, requeue: true };
        let _ = channel.basic_nack(0, back).await;
    }
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;
    Ok(acted)
}

/// Publishes a copy of a dead message to `{p}.work` with the queue's key,
/// without its death headers or retry count, and waits for the confirm.
async fn republish(
    channel: &lapin::Channel,
    topology: &Topology,
    queue: WorkQueue,
    message: &BasicGetMessage,
) -> Result<(), BusError> {
    let properties = &message.delivery.properties;
    let dead_headers = [HEADER_DEAD_REASON, HEADER_DEAD_QUEUE, HEADER_DEAD_AT, HEADER_RETRY_COUNT];
    let kept: BTreeMap<_, _> = properties
        .headers()
        .clone()
        .unwrap_or_default()
        .inner()
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !dead_headers.contains(&name)
                && name != "x-death"
                && !name.starts_with("x-first-death-")
                && !name.starts_with("x-last-death-")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let properties = properties.clone().with_headers(FieldTable::from(kept));
    let exchange = topology.exchange(Exchange::Work);
    publish_copy(channel, &exchange, queue.routing_key(), &message.delivery, properties).await
}

/// Reads what a dead message is, from our headers (a consumer gave up on
/// it) or the broker's (`x-first-death-*`, `x-death`: it hit the delivery
/// limit or was rejected).
fn describe(message: &BasicGetMessage) -> DeadLetter {
    let props = &message.delivery.properties;
    let table = props.headers().clone().unwrap_or_default();
    let text = |name: &str| table.inner().get(name).and_then(header_string);
    let kind = props.kind().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
    let died_at = text(HEADER_DEAD_AT)
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
        .or_else(|| first_death_time(table.inner().get("x-death")));
    DeadLetter {
        message_id: props.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        ids: ids(&kind, &message.delivery.data),
        tenant_id: text(HEADER_TENANT_ID).unwrap_or_default(),
        queue: text(HEADER_DEAD_QUEUE).or_else(|| text("x-first-death-queue")).unwrap_or_default(),
        reason: text(HEADER_DEAD_REASON).or_else(|| text("x-first-death-reason")).unwrap_or_default(),
        died_at,
        kind,
    }
}

/// The `time` of the oldest entry of the broker's `x-death` array.
fn first_death_time(x_death: Option<&AMQPValue>) -> Option<DateTime<Utc>> {
    let Some(AMQPValue::FieldArray(deaths)) = x_death else { return None };
    deaths
        .as_slice()
        .iter()
        .filter_map(|death| match death {
            AMQPValue::FieldTable(t) => match t.inner().get("time") {
                Some(AMQPValue::Timestamp(seconds)) => {
                    DateTime::from_timestamp(i64::try_from(*seconds).unwrap_or(i64::MAX), 0)
                }
                _ => None,
            },
            _ => None,
        })
        .min()
}

/// The ids a message body names, decoded by its kind; none when it does
/// not decode.
fn ids(kind: &str, body: &[u8]) -> BTreeMap<&'static str, String> {
    use prost::Message as _;
    let mut ids = BTreeMap::new();
    let mut put = |name: &'static str, value: String| {
        if !value.is_empty() {
            ids.insert(name, value);
        }
    };
    if kind == WorkQueue::Deliveries.routing_key() {
        if let Ok(t) = proto::DeliveryTask::decode(body) {
            put("delivery_id", t.delivery_id);
            put("webhook_id", t.webhook_id);
            put("event_id", t.event_id);
        }
    } else if kind == WorkQueue::Jobs.routing_key() {
        if let Ok(t) = proto::JobTask::decode(body) {
            put("job_id", t.job_id);
        }
    } else if kind == JOB_CALLBACK_KIND {
        if let Ok(t) = proto::JobCallbackTask::decode(body) {
            put("job_id", t.job_id);
            put("event_id", t.event_id);
        }
    } else if let Ok(e) = proto::Event::decode(body) {
        put("event_id", e.id);
    }
    ids
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use lapin::types::FieldArray;

    use super::*;

    #[test]
    fn the_first_death_is_the_oldest_x_death_entry() {
        let death = |seconds: u64| {
            let mut t = FieldTable::default();
            t.insert("time".into(), AMQPValue::Timestamp(seconds));
            t.insert("reason".into(), AMQPValue::LongString("delivery_limit".into()));
            AMQPValue::FieldTable(t)
        };
        let deaths = AMQPValue::FieldArray(FieldArray::from(vec![death(1_800_000_100), death(1_800_000_000)]));
        assert_eq!(first_death_time(Some(&deaths)), DateTime::from_timestamp(1_800_000_000, 0));
        assert_eq!(first_death_time(None), None);
        assert_eq!(first_death_time(Some(&AMQPValue::LongString("x".into()))), None);
    }

    #[test]
    fn ids_are_read_by_kind_and_garbage_names_none() {
        let task = proto::JobTask { job_id: "job_1".into(), tenant_id: "ten_1".into(), kind: "k".into(), attempt: 2 };
        let body = prost::Message::encode_to_vec(&task);
        assert_eq!(ids("job", &body).get("job_id").map(String::as_str), Some("job_1"));
        assert!(ids("delivery", &[0xff, 0xff, 0xff]).is_empty());
    }
}
