//! The consumer loop. A handler gets each message and answers with an
//! [`Outcome`]; the loop settles the message only after the handler has
//! returned, so a handler that commits its database row before returning
//! never loses work (at worst the message is delivered again).
//!
//! Up to `prefetch` messages are handled at once, so one slow message does
//! not hold up the others. Stopping (through the [`CancellationToken`])
//! cancels the subscription, lets in-flight handlers finish and settle,
//! and closes the channel, which hands any prefetched but unstarted
//! messages back to the broker.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::message::{
    HEADER_DEAD_AT, HEADER_DEAD_QUEUE, HEADER_DEAD_REASON, HEADER_RETRY_COUNT, HEADER_TENANT_ID, PERSISTENT,
    header_string,
};
use crate::topology::{Exchange, Topology, WorkQueue, short};
use crate::{Broker, BusError, connect};

/// What to do with a message once its handler is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: remove it from the queue.
    Ack,
    /// Deliver it again to the same queue after about `delay_ms` (rounded
    /// up to the next configured delay queue; 0 means at once).
    Retry { delay_ms: u64 },
    /// Give up: move it to the dead-letter queue with this reason.
    DeadLetter { reason: String },
}

/// A message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// AMQP `message_id` (empty if the publisher set none).
    pub message_id: String,
    /// AMQP `type`.
    pub kind: String,
    /// The `tenant_id` header (empty if absent).
    pub tenant_id: String,
    pub routing_key: String,
    /// The broker delivered it before without a settle (a consumer died or
    /// lost its connection): the handler may have run already.
    pub redelivered: bool,
    /// How often a handler of this queue has answered `Retry` for it.
    pub retry_count: u32,
    /// Every header whose value reads as a string (`traceparent`, ...).
    pub headers: BTreeMap<String, String>,
    pub payload: Vec<u8>,
    /// AMQP `timestamp`, Unix seconds.
    pub timestamp: Option<u64>,
}

impl Incoming {
    fn from_delivery(delivery: &Delivery) -> Self {
        let props = &delivery.properties;
        let headers: BTreeMap<String, String> = props
            .headers()
            .as_ref()
            .map(|table| {
                table.inner().iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), header_string(v)?))).collect()
            })
            .unwrap_or_default();
        Self {
            message_id: props.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            kind: props.kind().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            tenant_id: headers.get(HEADER_TENANT_ID).cloned().unwrap_or_default(),
            retry_count: headers.get(HEADER_RETRY_COUNT).and_then(|n| n.parse().ok()).unwrap_or(0),
            routing_key: delivery.routing_key.as_str().to_owned(),
            redelivered: delivery.redelivered,
            headers,
            payload: delivery.data.clone(),
            timestamp: *props.timestamp(),
        }
    }

    /// Decodes the body as protobuf message `T`.
    pub fn decode<T: prost::Message + Default>(&self) -> Result<T, BusError> {
        Ok(T::decode(self.payload.as_slice())?)
    }
}

/// Which queue to consume and how many messages to handle at once.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub queue: WorkQueue,
    /// Messages in flight at once (the channel's prefetch and the number of
    /// concurrent handlers).
    pub prefetch: u16,
    /// Shown by the broker for the connection [`run_consumer_forever`] opens.
    pub connection_name: String,
    /// Back-off between reconnects in [`run_consumer_forever`].
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl ConsumerConfig {
    pub fn new(queue: WorkQueue, prefetch: u16) -> Self {
        Self {
            queue,
            prefetch: prefetch.max(1),
            connection_name: format!("argus-consumer-{}", queue.routing_key()),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Consumes `config.queue` until `shutdown` is cancelled (then `Ok`,
/// after in-flight handlers finished), on a connection of its own: connects
/// (declaring the topology), consumes, and after a broker failure (the
/// channel's unsettled messages go back to the queue and are delivered
/// again) reconnects with back-off. A configuration the broker refuses
/// ([`BusError::Config`], such as a dead-letter queue declared with other
/// arguments) is returned instead: reconnecting cannot fix it, and looping
/// would hide it.
pub async fn run_consumer_forever<H, Fut>(
    broker: &Broker,
    topology: &Topology,
    config: &ConsumerConfig,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), BusError>
where
    H: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let handler = Arc::new(handler);
    let mut backoff = config.min_backoff;
    while !shutdown.is_cancelled() {
        let attempt = async {
            let connection = connect(broker, &config.connection_name, Duration::from_secs(5)).await?;
            let channel = connection.create_channel().await?;
            topology.declare(&channel).await?;
            let _ = channel.close(200, "declared".into()).await;
            tracing::info!(queue = %topology.queue(config.queue), "consuming");
            consume(&connection, topology, config, handler.clone(), &shutdown).await
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e @ BusError::Config(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(queue = %topology.queue(config.queue), error = %e, retry_in_ms = backoff.as_millis() as u64, "consumer stopped; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(config.max_backoff);
    }
    Ok(())
}

struct Context {
    topology: Topology,
    queue: WorkQueue,
    channel: Channel,
}

async fn consume<H, Fut>(
    connection: &Connection,
    topology: &Topology,
    config: &ConsumerConfig,
    handler: Arc<H>,
    shutdown: &CancellationToken,
) -> Result<(), BusError>
where
    H: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let channel = connection.create_channel().await?;
    // Confirms on this channel make the retry and dead-letter republishes
    // safe to ack after.
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    channel.basic_qos(config.prefetch, BasicQosOptions::default()).await?;
    let queue_name = topology.queue(config.queue);
    let mut consumer = channel
        .basic_consume(short(&queue_name)?, "".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    let context = Arc::new(Context { topology: topology.clone(), queue: config.queue, channel: channel.clone() });
    let slots = Arc::new(Semaphore::new(usize::from(config.prefetch)));
    let mut in_flight = JoinSet::new();

    let result = loop {
        while let Some(done) = in_flight.try_join_next() {
            log_task_end(done);
        }
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break Ok(()),
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break Ok(()),
            },
        };
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => break Ok(()),
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                in_flight.spawn(handle(context.clone(), handler.clone(), delivery, permit));
            }
            Some(Err(e)) => break Err(BusError::Amqp(e)),
            None => break Err(BusError::Unavailable(format!("the broker cancelled the consumer on {queue_name}"))),
        }
    };

    if channel.status().connected() {
        let _ = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
    }
    while let Some(done) = in_flight.join_next().await {
        log_task_end(done);
    }
    if channel.status().connected() {
        let _ = channel.close(200, "consumer stopped".into()).await;
    }
    result
}

fn log_task_end(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "message task failed");
    }
}

async fn handle<H, Fut>(context: Arc<Context>, handler: Arc<H>, delivery: Delivery, _permit: OwnedSemaphorePermit)
where
    H: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let incoming = Incoming::from_delivery(&delivery);
    let message_id = incoming.message_id.clone();
    let span = process_span(&context, &incoming);
    // Its own task, so a panicking handler costs one message, not the loop.
    // The message is dead-lettered, not requeued: handled again it would
    // most likely panic again, and each time repeat whatever it did first.
    let outcome = match tokio::spawn(handler(incoming).instrument(span.clone())).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let reason = format!("the handler panicked: {}", panic_message(e));
            tracing::error!(%message_id, %reason, "handler panicked; dead-lettering");
            Outcome::DeadLetter { reason }
        }
    };
    match &outcome {
        Outcome::Ack => {}
        Outcome::Retry { .. } => {
            span.record("argus.outcome", "retry");
        }
        Outcome::DeadLetter { .. } => {
            span.record("otel.status_code", "error");
            span.record("argus.outcome", "dead_letter");
        }
    }
    if let Err(e) = settle(&context, &delivery, &outcome).instrument(span).await {
        if let Outcome::DeadLetter { .. } = outcome {
            // The work queue's own dead-letter exchange takes it (without
            // the reason headers) rather than handing it out again.
            tracing::warn!(%message_id, ?outcome, error = %e, "cannot dead-letter message; rejecting it");
            reject(&delivery).await;
        } else {
            tracing::warn!(%message_id, ?outcome, error = %e, "cannot settle message; requeueing");
            requeue(&delivery).await;
        }
    }
}

/// What a panicked handler task panicked with, when it is text.
fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    panic_text(&*e.into_panic()).to_owned()
}

/// What a panic carried, when it is text (`panic!` with a literal or a
/// formatted message); otherwise a placeholder.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text payload")
}

/// The CONSUMER span of one message, after the OpenTelemetry messaging
/// conventions: a child of the publish span named by the message's
/// `traceparent`, and the tenant's work by its `tenant_id` header.
fn process_span(context: &Context, incoming: &Incoming) -> tracing::Span {
    let queue = context.topology.queue(context.queue);
    let span = tracing::info_span!(
        "process",
        otel.name = %format_args!("process {queue}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        "messaging.system" = "rabbitmq",
        "messaging.operation.type" = "process",
        "messaging.operation.name" = "process",
        "messaging.destination.name" = queue.as_str(),
        "messaging.rabbitmq.destination.routing_key" = incoming.routing_key.as_str(),
        "messaging.message.id" = incoming.message_id.as_str(),
        "messaging.message.body.size" = incoming.payload.len() as i64,
        "argus.retry_count" = i64::from(incoming.retry_count),
        "argus.outcome" = tracing::field::Empty,
        "argus.tenant_id" = tracing::field::Empty,
    );
    if !incoming.tenant_id.is_empty() {
        span.record("argus.tenant_id", incoming.tenant_id.as_str());
    }
    argus_telemetry::propagation::set_parent_from_map(&span, &incoming.headers);
    span
}

async fn settle(context: &Context, delivery: &Delivery, outcome: &Outcome) -> Result<(), BusError> {
    match outcome {
        Outcome::Ack => {}
        Outcome::Retry { delay_ms } => {
            let (exchange, key) = context.topology.retry_route(context.queue, *delay_ms);
            let retries = header_string_of(&delivery.properties, HEADER_RETRY_COUNT)
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0)
                .saturating_add(1);
            let properties = with_headers(&delivery.properties, [(HEADER_RETRY_COUNT, retries.to_string())]);
            republish(context, exchange, &key, delivery, properties).await?;
        }
        Outcome::DeadLetter { reason } => {
            let properties = with_headers(
                &delivery.properties,
                [
                    (HEADER_DEAD_REASON, reason.clone()),
                    (HEADER_DEAD_QUEUE, context.topology.queue(context.queue)),
                    (HEADER_DEAD_AT, chrono::Utc::now().timestamp_millis().to_string()),
                ],
            );
            republish(context, Exchange::Dead, delivery.routing_key.as_str(), delivery, properties).await?;
        }
    }
    delivery.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// Publishes a copy of `delivery` and waits for the broker's confirm, so
/// the original is acked only once the copy is safe.
async fn republish(
    context: &Context,
    exchange: Exchange,
    routing_key: &str,
    delivery: &Delivery,
    properties: BasicProperties,
) -> Result<(), BusError> {
    let exchange_name = context.topology.exchange(exchange);
    publish_copy(&context.channel, &exchange_name, routing_key, delivery, properties).await
}

/// Publishes `delivery`'s body with `properties` on a confirming channel,
/// mandatory-routed, and waits for the confirm: the copy is safe once this
/// returns `Ok`.
pub(crate) async fn publish_copy(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    delivery: &Delivery,
    properties: BasicProperties,
) -> Result<(), BusError> {
    let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
    let confirm =
        channel.basic_publish(short(exchange)?, short(routing_key)?, options, &delivery.data, properties).await?;
    let message_id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_returned)) => {
            Err(BusError::Unroutable { message_id, exchange: exchange.to_owned(), routing_key: routing_key.to_owned() })
        }
        Confirmation::Nack(_) => Err(BusError::Nacked { message_id }),
    }
}

/// Hands a message back to its queue. A short pause first, so a message
/// that cannot be settled (a broker refusing the republish) does not spin;
/// the queue's delivery limit dead-letters it if this keeps happening.
async fn requeue(delivery: &Delivery) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let options = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
    if let Err(e) = delivery.acker.nack(options).await {
        tracing::warn!(error = %e, "cannot requeue message; the broker redelivers it when the channel closes");
    }
}

/// Refuses a message without requeueing it: the broker dead-letters it.
async fn reject(delivery: &Delivery) {
    let options = BasicNackOptions { requeue: false, ..BasicNackOptions::default() };
    if let Err(e) = delivery.acker.nack(options).await {
        tracing::warn!(error = %e, "cannot reject message; the broker redelivers it when the channel closes");
    }
}

fn header_string_of(properties: &BasicProperties, name: &str) -> Option<String> {
    properties.headers().as_ref().and_then(|h| h.inner().get(name)).and_then(header_string)
}

fn with_headers<'a>(
    properties: &BasicProperties,
    extra: impl IntoIterator<Item = (&'a str, String)>,
) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    for (name, value) in extra {
        headers.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
    }
    properties.clone().with_headers(headers).with_delivery_mode(PERSISTENT)
}
