//! argus-bus against the real RabbitMQ and PostgreSQL: every test has a
//! vhost and a database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use argus_bus::testing::{BrokerProxy, TestVhost};
use argus_bus::{
    CancellationToken, ConsumerConfig, Exchange, Incoming, Message, OutboxRelay, Outcome, Publisher, PublisherConfig,
    RelayConfig, Topology, WorkQueue, proto,
};
use argus_domain::DomainEvent;
use argus_store::outbox;
use argus_store::testing::TestDatabase;
use argus_store::{Store, StoreError};
use argus_types::{EventId, TenantId};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(15);

fn topology(delays: impl IntoIterator<Item = u64>) -> Topology {
    Topology::new("argus", delays)
}

fn publisher(url: &str, topology: &Topology) -> Publisher {
    let mut config = PublisherConfig::new(url, topology.clone());
    config.max_backoff = Duration::from_millis(500);
    Publisher::new(config)
}

/// A vhost of the test's own, the topology with `delays`, and a publisher
/// to them.
async fn publishing(delays: impl IntoIterator<Item = u64>) -> (TestVhost, Topology, Publisher) {
    let vhost = TestVhost::create().await;
    let topology = topology(delays);
    let publisher = publisher(vhost.url(), &topology);
    (vhost, topology, publisher)
}

fn event(tenant: &TenantId) -> proto::Event {
    let mut event = proto::Event {
        id: EventId::generate().to_string(),
        r#type: "incident.updated".to_owned(),
        tenant_id: tenant.to_string(),
        created_at_unix_ms: 1_700_000_000_000,
        envelope_json: Vec::new(),
    };
    event.envelope_json = domain_event(&event).envelope().to_string().into_bytes();
    event
}

fn domain_event(event: &proto::Event) -> DomainEvent {
    DomainEvent {
        id: event.id.parse().unwrap(),
        tenant: event.tenant_id.parse().unwrap(),
        kind: event.r#type.parse().unwrap(),
        created_at: chrono::DateTime::from_timestamp_millis(event.created_at_unix_ms).unwrap(),
        data: serde_json::Value::Null,
    }
}

/// The outbox row the store writes for `event`.
fn outbox_row(event: &proto::Event) -> outbox::NewOutboxMessage {
    let domain = domain_event(event);
    outbox::NewOutboxMessage::event(&domain, &domain.envelope())
}

fn trace_headers() -> BTreeMap<String, String> {
    BTreeMap::from([("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned())])
}

/// A consumer or relay running in a task of its own until stopped.
struct Running {
    task: JoinHandle<()>,
    token: CancellationToken,
}

impl Running {
    fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = CancellationToken::new();
        Self { task: tokio::spawn(run(token.clone())), token }
    }

    /// Cancels it and waits until it has returned (in-flight handlers
    /// finished and settled).
    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(WAIT, self.task).await.expect("stopped in time").unwrap();
    }
}

/// Runs `handler` on `queue` (with `prefetch`) until stopped.
fn consume<H, Fut>(url: &str, topology: &Topology, queue: WorkQueue, prefetch: u16, handler: H) -> Running
where
    H: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let (broker, topology) = (argus_bus::Broker::from(url), topology.clone());
    Running::spawn(|token| async move {
        let config = ConsumerConfig::new(queue, prefetch);
        argus_bus::run_consumer_forever(&broker, &topology, &config, handler, token)
            .await
            .expect("the topology declares");
    })
}

/// Consumes `queue`, acking everything, and forwards each message.
fn collect(url: &str, topology: &Topology, queue: WorkQueue) -> (mpsc::UnboundedReceiver<Incoming>, Running) {
    let (tx, rx) = mpsc::unbounded_channel();
    let consumer = consume(url, topology, queue, 16, move |incoming: Incoming| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(incoming);
            Outcome::Ack
        }
    });
    (rx, consumer)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Incoming>) -> Incoming {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("timed out waiting for a message").expect("consumer ended")
}

async fn enqueue_events(db: &TestDatabase, tenant: &TenantId, range: std::ops::Range<usize>) -> Vec<proto::Event> {
    let events: Vec<_> = range.map(|_| event(tenant)).collect();
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let rows: Vec<_> = events.iter().map(|e| outbox_row(e).with_headers(trace_headers())).collect();
    conn.transaction::<(), StoreError, _>(async |conn| {
        for row in rows {
            outbox::enqueue(conn, row).await?;
        }
        Ok(())
    })
    .await
    .unwrap();
    events
}

async fn wait_until_all_sent(store: &Store) {
    let deadline = Instant::now() + WAIT;
    while store.outbox_unsent_count().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "outbox rows still unsent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A channel on a connection of its own, for looking at queues directly
/// (the connection lives as long as the channel is used).
async fn check_channel(url: &str) -> (lapin::Connection, lapin::Channel) {
    let connection = argus_bus::connect(&url.into(), "check", WAIT).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// How many messages wait in `queue`, by a passive declare (which fails
/// when there is no such queue).
async fn message_count(channel: &lapin::Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), passive, FieldTable::default()).await.unwrap().message_count()
}

/// The text header `name` of a message taken from a queue.
fn text_header(message: &lapin::message::BasicGetMessage, name: &str) -> String {
    let headers = message.delivery.properties.headers().clone().unwrap_or_default();
    match headers.inner().get(name) {
        Some(lapin::types::AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => panic!("header {name}: {other:?}"),
    }
}

fn relay_config() -> RelayConfig {
    RelayConfig { max_backoff: Duration::from_millis(500), ..RelayConfig::default() }
}

/// What the outbox relay's tests start from: a vhost, a database and its
/// store, a tenant, and a topology without retry queues.
struct Outbox {
    vhost: TestVhost,
    db: TestDatabase,
    store: Store,
    tenant: TenantId,
    topology: Topology,
}

impl Outbox {
    async fn start() -> Self {
        let (vhost, db) = tokio::join!(TestVhost::create(), TestDatabase::create());
        let store = db.store();
        Self { vhost, db, store, tenant: TenantId::generate(), topology: topology([]) }
    }

    /// A relay of the outbox to the broker at `url`.
    fn relay(&self, url: &str, config: RelayConfig) -> OutboxRelay {
        OutboxRelay::new(self.store.clone(), self.db.url(), publisher(url, &self.topology), config)
    }

    /// [`Outbox::relay`] running until stopped.
    fn run_relay(&self, url: &str, config: RelayConfig) -> Running {
        let relay = self.relay(url, config);
        Running::spawn(|token| relay.run(token))
    }

    async fn enqueue_events(&self, range: std::ops::Range<usize>) -> Vec<proto::Event> {
        enqueue_events(&self.db, &self.tenant, range).await
    }

    fn collect(&self, queue: WorkQueue) -> (mpsc::UnboundedReceiver<Incoming>, Running) {
        collect(self.vhost.url(), &self.topology, queue)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_declares_twice_without_error() {
    let vhost = TestVhost::create().await;
    let topology = topology([0, 200, 5_000, 200]);
    let connection = argus_bus::connect(&vhost.url().into(), "test", WAIT).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();
    topology.declare(&channel).await.unwrap();
    // A second process declaring the same topology on its own connection.
    let other = argus_bus::connect(&vhost.url().into(), "test-2", WAIT).await.unwrap();
    topology.declare(&other.create_channel().await.unwrap()).await.unwrap();

    // Every queue exists, durable, and a passive declare finds it.
    let mut names: Vec<String> = WorkQueue::ALL.iter().map(|q| topology.queue(*q)).collect();
    names.push(topology.dead_queue());
    names.push(topology.retry_queue(200));
    names.push(topology.retry_queue(5_000));
    for name in names {
        message_count(&channel, &name).await;
    }
    assert_eq!(topology.retry_delays_ms(), &[200, 5_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_with_confirms_and_consumes_with_properties() {
    let (vhost, topology, publisher) = publishing([]).await;
    let tenant = TenantId::generate();
    let event = event(&tenant);
    let message = Message::event(&event).with_header("traceparent", "00-abc-def-01");
    publisher.publish(Exchange::Events, "incident.updated", &message).await.unwrap();
    assert!(publisher.is_connected().await);

    let (mut rx, consumer) = collect(vhost.url(), &topology, WorkQueue::Fanout);
    let got = next(&mut rx).await;
    assert_eq!(got.message_id, event.id);
    assert_eq!(got.kind, "incident.updated");
    assert_eq!(got.tenant_id, tenant.as_str());
    assert_eq!(got.routing_key, "incident.updated");
    assert_eq!(got.headers.get("traceparent").map(String::as_str), Some("00-abc-def-01"));
    assert_eq!(got.retry_count, 0);
    assert!(got.timestamp.is_some());
    assert_eq!(got.decode::<proto::Event>().unwrap(), event);

    // A routing key no queue is bound to is refused, not silently dropped.
    let task =
        proto::JobTask { job_id: "job_1".into(), tenant_id: tenant.to_string(), kind: "export".into(), attempt: 1 };
    let err = publisher.publish(Exchange::Work, "nobody-listens", &Message::job(&task)).await.unwrap_err();
    assert!(matches!(err, argus_bus::BusError::Unroutable { .. }), "{err}");
    // ... and the publisher is still usable after it.
    publisher.publish(Exchange::Work, WorkQueue::Jobs.routing_key(), &Message::job(&task)).await.unwrap();
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_comes_back_to_the_work_queue_after_the_delay() {
    let (vhost, topology, publisher) = publishing([200, 60_000]).await;
    let tenant = TenantId::generate();
    let task = proto::DeliveryTask {
        delivery_id: "dlv_1".into(),
        webhook_id: "wh_1".into(),
        event_id: "evt_1".into(),
        tenant_id: tenant.to_string(),
        attempt: 1,
    };
    let message = Message::delivery(&task).with_header("traceparent", "00-trace-span-01");
    publisher.publish(Exchange::Work, WorkQueue::Deliveries.routing_key(), &message).await.unwrap();

    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(Instant, Incoming)>();
    let consumer = consume(vhost.url(), &topology, WorkQueue::Deliveries, 4, move |incoming: Incoming| {
        let seen_tx = seen_tx.clone();
        async move {
            let first = incoming.retry_count == 0;
            let _ = seen_tx.send((Instant::now(), incoming));
            if first { Outcome::Retry { delay_ms: 200 } } else { Outcome::Ack }
        }
    });

    let (t1, first) = tokio::time::timeout(WAIT, seen.recv()).await.unwrap().unwrap();
    let (t2, second) = tokio::time::timeout(WAIT, seen.recv()).await.unwrap().unwrap();
    let waited = t2 - t1;
    assert!(waited >= Duration::from_millis(200), "came back after {waited:?}");
    assert!(waited < Duration::from_secs(5), "came back only after {waited:?}");
    assert_eq!(first.message_id, "dlv_1.1");
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.retry_count, 1);
    assert_eq!(second.routing_key, "200ms.delivery");
    assert_eq!(second.tenant_id, tenant.as_str());
    assert_eq!(second.headers.get("traceparent").map(String::as_str), Some("00-trace-span-01"));
    assert_eq!(second.decode::<proto::DeliveryTask>().unwrap(), task);

    consumer.stop().await;
    // Acked: nothing left anywhere.
    let (_connection, channel) = check_channel(vhost.url()).await;
    for queue in [topology.queue(WorkQueue::Deliveries), topology.retry_queue(200)] {
        assert_eq!(message_count(&channel, &queue).await, 0, "{queue}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_with_zero_delay_redelivers_at_once() {
    let (vhost, topology, publisher) = publishing([]).await;
    let task = proto::JobTask { job_id: "job_1".into(), tenant_id: "ten_x".into(), kind: "export".into(), attempt: 1 };
    publisher.publish(Exchange::Work, WorkQueue::Jobs.routing_key(), &Message::job(&task)).await.unwrap();

    let (seen_tx, mut seen) = mpsc::unbounded_channel::<Incoming>();
    let consumer = consume(vhost.url(), &topology, WorkQueue::Jobs, 1, move |incoming: Incoming| {
        let seen_tx = seen_tx.clone();
        async move {
            let again = incoming.retry_count < 2;
            let _ = seen_tx.send(incoming);
            if again { Outcome::Retry { delay_ms: 0 } } else { Outcome::Ack }
        }
    });
    for expected in 0..3 {
        let got = tokio::time::timeout(WAIT, seen.recv()).await.unwrap().unwrap();
        assert_eq!(got.retry_count, expected);
        assert_eq!(got.message_id, "job_1.1");
        assert_eq!(got.routing_key, "job");
    }
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_lands_in_the_dead_queue() {
    let (vhost, topology, publisher) = publishing([1_000]).await;
    let task = proto::DeliveryTask {
        delivery_id: "dlv_9".into(),
        webhook_id: "wh_9".into(),
        event_id: "evt_9".into(),
        tenant_id: "ten_9".into(),
        attempt: 10,
    };
    publisher.publish(Exchange::Work, WorkQueue::Deliveries.routing_key(), &Message::delivery(&task)).await.unwrap();

    let consumer = consume(vhost.url(), &topology, WorkQueue::Deliveries, 2, |_incoming: Incoming| async {
        Outcome::DeadLetter { reason: "retries exhausted".to_owned() }
    });

    let (_connection, channel) = check_channel(vhost.url()).await;
    let deadline = Instant::now() + WAIT;
    let dead = loop {
        if let Some(got) =
            channel.basic_get(topology.dead_queue().as_str().into(), BasicGetOptions::default()).await.unwrap()
        {
            break got;
        }
        assert!(Instant::now() < deadline, "nothing in the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    consumer.stop().await;
    let props = &dead.delivery.properties;
    assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some("dlv_9.10"));
    assert_eq!(text_header(&dead, argus_bus::HEADER_DEAD_REASON), "retries exhausted");
    assert_eq!(text_header(&dead, argus_bus::HEADER_DEAD_QUEUE), "argus.deliveries");
    assert_eq!(text_header(&dead, argus_bus::HEADER_TENANT_ID), "ten_9");
    dead.delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_message_does_not_hold_up_the_others() {
    let (vhost, topology, publisher) = publishing([]).await;
    let slow = Message::new("slow", "job", "ten_x", b"slow".to_vec());
    publisher.publish(Exchange::Work, "job", &slow).await.unwrap();
    for n in 0..3 {
        publisher
            .publish(Exchange::Work, "job", &Message::new(format!("fast-{n}"), "job", "ten_x", vec![]))
            .await
            .unwrap();
    }

    let (done_tx, mut done) = mpsc::unbounded_channel::<String>();
    let consumer = consume(vhost.url(), &topology, WorkQueue::Jobs, 4, move |incoming: Incoming| {
        let done_tx = done_tx.clone();
        async move {
            if incoming.message_id == "slow" {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let _ = done_tx.send(incoming.message_id);
            Outcome::Ack
        }
    });
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(tokio::time::timeout(WAIT, done.recv()).await.unwrap().unwrap());
    }
    assert_eq!(order.last().map(String::as_str), Some("slow"), "{order:?}");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_in_flight_handlers_finish_and_ack() {
    let (vhost, topology, publisher) = publishing([]).await;
    publisher.publish(Exchange::Work, "job", &Message::new("m1", "job", "ten_x", vec![])).await.unwrap();

    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (started, finished) = (started.clone(), finished.clone());
        consume(vhost.url(), &topology, WorkQueue::Jobs, 2, move |_incoming: Incoming| {
            let (started, finished) = (started.clone(), finished.clone());
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(700)).await;
                finished.store(true, Ordering::SeqCst);
                Outcome::Ack
            }
        })
    };
    tokio::time::timeout(WAIT, started.notified()).await.unwrap();
    consumer.stop().await;
    assert!(finished.load(Ordering::SeqCst), "returned before the handler finished");

    let (_connection, channel) = check_channel(vhost.url()).await;
    let jobs = topology.queue(WorkQueue::Jobs);
    assert_eq!(message_count(&channel, &jobs).await, 0, "the in-flight message was not acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_publishes_committed_rows_on_notify_and_marks_them_sent() {
    let o = Outbox::start().await;
    let Outbox { store, tenant, .. } = &o;
    let (mut events_rx, events_consumer) = o.collect(WorkQueue::Fanout);
    let (mut work_rx, work_consumer) = o.collect(WorkQueue::Deliveries);

    // Polling only once a minute: only the NOTIFY can wake the relay in time.
    let config = RelayConfig { poll_interval: Duration::from_secs(60), ..relay_config() };
    let relay = o.run_relay(o.vhost.url(), config);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let events = o.enqueue_events(0..3).await;
    let task = proto::DeliveryTask {
        delivery_id: "dlv_7".into(),
        webhook_id: "wh_7".into(),
        event_id: events[0].id.clone(),
        tenant_id: tenant.to_string(),
        attempt: 1,
    };
    store
        .enqueue_outbox(outbox::NewOutboxMessage::delivery(tenant, &task).with_headers(trace_headers()))
        .await
        .unwrap();

    let mut got = HashMap::new();
    for _ in 0..3 {
        let m = next(&mut events_rx).await;
        got.insert(m.message_id.clone(), m);
    }
    for e in &events {
        let m = &got[&e.id];
        assert_eq!(m.decode::<proto::Event>().unwrap(), *e);
        assert_eq!(m.kind, "incident.updated");
        assert_eq!(m.routing_key, "incident.updated");
        assert_eq!(m.tenant_id, tenant.as_str());
        assert_eq!(m.headers.get("traceparent"), trace_headers().get("traceparent"));
    }
    let work = next(&mut work_rx).await;
    assert_eq!(work.message_id, "dlv_7.1");
    assert_eq!(work.decode::<proto::DeliveryTask>().unwrap(), task);

    // Confirmed rows are deleted: the outbox holds only what is unsent.
    wait_until_all_sent(store).await;
    for e in &events {
        assert!(!store.outbox_holds(&e.id).await.unwrap());
    }

    relay.stop().await;
    events_consumer.stop().await;
    work_consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_a_rolled_back_transaction_are_never_published() {
    let o = Outbox::start().await;
    let Outbox { store, tenant, .. } = &o;
    let (mut rx, consumer) = o.collect(WorkQueue::Fanout);

    let doomed = event(tenant);
    let mut conn = AsyncPgConnection::establish(o.db.url()).await.unwrap();
    let row = outbox_row(&doomed);
    let rolled_back = conn
        .transaction::<(), StoreError, _>(async |conn| {
            outbox::enqueue(conn, row).await?;
            Err(StoreError::Conflict("the change failed after the outbox write".to_owned()))
        })
        .await;
    assert!(rolled_back.is_err());
    let committed = o.enqueue_events(2..3).await;

    let relay = o.run_relay(o.vhost.url(), relay_config());
    assert_eq!(next(&mut rx).await.message_id, committed[0].id);
    wait_until_all_sent(store).await;
    // Give a stray publish time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.try_recv().is_err(), "a rolled-back row was published");
    assert!(!store.outbox_holds(&doomed.id).await.unwrap());

    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_outbox_rows_and_loses_none() {
    let o = Outbox::start().await;
    let store = &o.store;
    let proxy = BrokerProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    assert!(proxy.url(o.vhost.url()).contains(&format!(":{}/", proxy.port)));

    // The broker is "down" from the start: rows wait.
    let mut expected: HashSet<String> = o.enqueue_events(0..20).await.into_iter().map(|e| e.id).collect();
    let relay = o.run_relay(&proxy.url(o.vhost.url()), relay_config());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(store.outbox_unsent_count().await.unwrap(), 20);

    // It comes up: everything goes out, through the same relay.
    proxy.set_up(true);
    wait_until_all_sent(store).await;

    // It goes down while the relay holds a connection, more rows arrive.
    proxy.set_up(false);
    expected.extend(o.enqueue_events(20..40).await.into_iter().map(|e| e.id));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(store.outbox_unsent_count().await.unwrap(), 20);
    proxy.set_up(true);
    wait_until_all_sent(store).await;

    // Every event reached the broker (at least once).
    let (mut rx, consumer) = o.collect(WorkQueue::Fanout);
    let mut seen = HashSet::new();
    while !expected.is_subset(&seen) {
        seen.insert(next(&mut rx).await.message_id);
    }
    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_pointed_at_an_unreachable_broker_keeps_rows_for_a_reachable_one() {
    let o = Outbox::start().await;
    let store = &o.store;
    let events = o.enqueue_events(0..5).await;

    let nowhere = o.run_relay("amqp://guest:guest@127.0.0.1:1/%2f", relay_config());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(store.outbox_unsent_count().await.unwrap(), 5);
    nowhere.stop().await;

    let batch = o.relay(o.vhost.url(), relay_config()).relay_batch().await.unwrap();
    assert_eq!((batch.claimed, batch.sent), (5, 5));
    assert_eq!(store.outbox_unsent_count().await.unwrap(), 0);
    let (mut rx, consumer) = o.collect(WorkQueue::Fanout);
    let mut seen = HashSet::new();
    for _ in 0..5 {
        seen.insert(next(&mut rx).await.message_id);
    }
    assert_eq!(seen, events.into_iter().map(|e| e.id).collect());
    consumer.stop().await;
}

/// Commits outbox rows, one transaction each, until `until`; each
/// transaction is held open for `hold` after its insert (a writer in
/// flight). Returns the message ids.
async fn write_until(db_url: String, tenant: TenantId, until: Instant, hold: Duration) -> Vec<String> {
    let mut conn = AsyncPgConnection::establish(&db_url).await.unwrap();
    let mut ids = Vec::new();
    while Instant::now() < until {
        let event = event(&tenant);
        let row = outbox_row(&event);
        conn.transaction::<(), StoreError, _>(async |conn| {
            outbox::enqueue(conn, row).await?;
            tokio::time::sleep(hold).await;
            Ok(())
        })
        .await
        .unwrap();
        ids.push(event.id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_do_not_notify_a_busy_relay_and_none_of_their_rows_waits_for_the_poll() {
    let o = Outbox::start().await;
    let (mut rx, consumer) = o.collect(WorkQueue::Fanout);
    // Polling once a minute: a row no notification or busy poll finds
    // would not arrive in time.
    let config = RelayConfig { poll_interval: Duration::from_secs(60), ..relay_config() };
    let relay = o.run_relay(o.vhost.url(), config);
    let mut counter =
        argus_store::listen::Listener::connect(o.db.url(), outbox::NOTIFY_CHANNEL, "notify-counter").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Six writers committing as fast as they can and two holding each
    // transaction open for 50 ms, for 1.5 s; then one last writer in flight
    // for 400 ms while the relay has nothing else to do.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let hold = if n < 6 { Duration::ZERO } else { Duration::from_millis(50) };
        writers.spawn(write_until(o.db.url().to_owned(), o.tenant.clone(), until, hold));
    }
    let mut notified = 0;
    while Instant::now() < until {
        notified += counter.wait(Duration::from_millis(100)).await.unwrap().len();
    }
    let mut expected = HashSet::new();
    while let Some(ids) = writers.join_next().await {
        expected.extend(ids.unwrap());
    }
    // One row (the loop's first pass outlasts `until`).
    let one = Instant::now() + Duration::from_millis(1);
    let last = write_until(o.db.url().to_owned(), o.tenant.clone(), one, Duration::from_millis(400));
    expected.extend(last.await);

    let mut got = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, rx.recv()).await.expect("rows waited for the poll").unwrap();
        got.insert(message.message_id);
    }
    assert_eq!(got, expected);
    // A busy relay is left alone: most commits did not notify.
    assert!(notified * 2 < expected.len(), "{notified} notifications for {} rows", expected.len());

    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_publish_each_row_once() {
    let o = Outbox::start().await;
    let store = &o.store;
    let mut expected = HashSet::new();
    for chunk in 0..6 {
        expected.extend(o.enqueue_events(chunk * 50..(chunk + 1) * 50).await.into_iter().map(|e| e.id));
    }

    let config = RelayConfig { batch_size: 10, ..relay_config() };
    let relays: Vec<_> = (0..2).map(|_| o.run_relay(o.vhost.url(), config.clone())).collect();
    wait_until_all_sent(store).await;
    for relay in relays {
        relay.stop().await;
    }

    let (mut rx, consumer) = o.collect(WorkQueue::Fanout);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..expected.len() {
        *counts.entry(next(&mut rx).await.message_id).or_default() += 1;
    }
    // Nothing beyond the expected number arrives.
    assert!(tokio::time::timeout(Duration::from_millis(700), rx.recv()).await.is_err(), "a row was published twice");
    assert_eq!(counts.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(counts.values().all(|n| *n == 1));
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_dead_letters_its_message_once_and_consuming_goes_on() {
    let (vhost, topology, publisher) = publishing([]).await;
    publisher.publish(Exchange::Work, "job", &Message::new("p1", "job", "ten_x", vec![])).await.unwrap();
    publisher.publish(Exchange::Work, "job", &Message::new("p2", "job", "ten_x", vec![])).await.unwrap();

    let poison_calls = Arc::new(AtomicU32::new(0));
    let (done_tx, mut done) = mpsc::unbounded_channel::<Incoming>();
    let counter = poison_calls.clone();
    let consumer = consume(vhost.url(), &topology, WorkQueue::Jobs, 1, move |incoming: Incoming| {
        let (counter, done_tx) = (counter.clone(), done_tx.clone());
        async move {
            if incoming.message_id == "p1" {
                counter.fetch_add(1, Ordering::SeqCst);
                panic!("handler bug");
            }
            let _ = done_tx.send(incoming);
            Outcome::Ack
        }
    });
    // The next message is handled (one at a time, so only after p1 settled).
    let after = tokio::time::timeout(WAIT, done.recv()).await.unwrap().unwrap();
    assert_eq!(after.message_id, "p2");

    let (_connection, channel) = check_channel(vhost.url()).await;
    let dead_queue = topology.dead_queue();
    let dead = channel.basic_get(dead_queue.as_str().into(), BasicGetOptions::default()).await.unwrap();
    let dead = dead.expect("the poison message is in the dead-letter queue");
    let props = &dead.delivery.properties;
    assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some("p1"));
    assert_eq!(text_header(&dead, argus_bus::HEADER_DEAD_REASON), "the handler panicked: handler bug");
    dead.delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
    // Once: no second copy there, and it was never handed out again.
    assert!(channel.basic_get(dead_queue.as_str().into(), BasicGetOptions::default()).await.unwrap().is_none());
    assert_eq!(poison_calls.load(Ordering::SeqCst), 1);
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_row_stays_unsent_without_holding_up_the_rest() {
    let o = Outbox::start().await;
    let Outbox { store, tenant, .. } = &o;
    let stray = outbox::NewOutboxMessage {
        tenant_id: tenant.clone(),
        message_id: "stray-1".to_owned(),
        exchange: outbox::OutboxExchange::Work,
        routing_key: "no-such-work".to_owned(),
        kind: "job".to_owned(),
        payload: vec![],
        headers: BTreeMap::new(),
    };
    store.enqueue_outbox(stray).await.unwrap();
    let events = o.enqueue_events(0..5).await;

    let relay = o.run_relay(o.vhost.url(), RelayConfig { batch_size: 2, ..relay_config() });
    let deadline = Instant::now() + WAIT;
    for e in &events {
        while store.outbox_holds(&e.id).await.unwrap() {
            assert!(Instant::now() < deadline, "event {} not published", e.id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(store.outbox_holds("stray-1").await.unwrap());
    assert_eq!(store.outbox_unsent_count().await.unwrap(), 1);
    relay.stop().await;
}

/// Consumes `queue`, dead-lettering every message until `healed`, then
/// acking and forwarding them.
fn dead_until_healed(
    url: &str,
    topology: &Topology,
    queue: WorkQueue,
    healed: Arc<AtomicBool>,
) -> (mpsc::UnboundedReceiver<Incoming>, Running) {
    let (tx, rx) = mpsc::unbounded_channel();
    let consumer = consume(url, topology, queue, 4, move |incoming: Incoming| {
        let (tx, healed) = (tx.clone(), healed.clone());
        async move {
            if !healed.load(Ordering::SeqCst) {
                return Outcome::DeadLetter { reason: "the receiver is gone".to_owned() };
            }
            let _ = tx.send(incoming);
            Outcome::Ack
        }
    });
    (rx, consumer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_replayed_onto_their_queues_and_purged() {
    use argus_bus::dead_letters::{self, Selection};
    let vhost = TestVhost::create().await;
    let topology = topology([1_000]);
    let broker: argus_bus::Broker = vhost.url().into();
    let publisher = publisher(vhost.url(), &topology);
    let delivery = |id: &str, tenant: &str| proto::DeliveryTask {
        delivery_id: id.into(),
        webhook_id: "wh_1".into(),
        event_id: format!("evt_{id}"),
        tenant_id: tenant.into(),
        attempt: 1,
    };
    let started = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    for task in [delivery("dlv_a1", "ten_a"), delivery("dlv_a2", "ten_a"), delivery("dlv_b1", "ten_b")] {
        publisher
            .publish(Exchange::Work, WorkQueue::Deliveries.routing_key(), &Message::delivery(&task))
            .await
            .unwrap();
    }
    let job =
        proto::JobTask { job_id: "job_a".into(), tenant_id: "ten_a".into(), kind: "export.bulk".into(), attempt: 1 };
    publisher.publish(Exchange::Work, WorkQueue::Jobs.routing_key(), &Message::job(&job)).await.unwrap();
    let healed = Arc::new(AtomicBool::new(false));
    let (mut deliveries, deliveries_consumer) =
        dead_until_healed(vhost.url(), &topology, WorkQueue::Deliveries, healed.clone());
    let (mut jobs, jobs_consumer) = dead_until_healed(vhost.url(), &topology, WorkQueue::Jobs, healed.clone());

    // All four die; listing shows them and leaves them.
    let everything = Selection::default();
    let deadline = Instant::now() + WAIT;
    let listed = loop {
        let listed = dead_letters::list(&broker, &topology, &everything).await.unwrap();
        if listed.len() == 4 {
            break listed;
        }
        assert!(Instant::now() < deadline, "{} of 4 dead", listed.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let a1 = listed.iter().find(|d| d.message_id == "dlv_a1.1").unwrap();
    assert_eq!(a1.kind, "delivery");
    assert_eq!(a1.tenant_id, "ten_a");
    assert_eq!(a1.queue, "argus.deliveries");
    assert_eq!(a1.reason, "the receiver is gone");
    assert_eq!(a1.ids["delivery_id"], "dlv_a1");
    assert_eq!(a1.ids["event_id"], "evt_dlv_a1");
    assert!(a1.died_at.unwrap() > started, "{a1:?}");
    let j = listed.iter().find(|d| d.kind == "job").unwrap();
    assert_eq!((j.queue.as_str(), j.ids["job_id"].as_str()), ("argus.jobs", "job_a"));
    assert_eq!(dead_letters::list(&broker, &topology, &everything).await.unwrap().len(), 4, "listing keeps them");
    let only_b = Selection { tenant: Some("ten_b".into()), ..Selection::default() };
    let b = dead_letters::list(&broker, &topology, &only_b).await.unwrap();
    assert_eq!(b.iter().map(|d| d.message_id.as_str()).collect::<Vec<_>>(), ["dlv_b1.1"]);
    let one = Selection { limit: Some(1), ..Selection::default() };
    assert_eq!(dead_letters::list(&broker, &topology, &one).await.unwrap().len(), 1);

    // Replayed by an id it names, then by tenant: each back on its own
    // queue, once, without its death headers.
    healed.store(true, Ordering::SeqCst);
    let by_id = Selection { ids: vec!["dlv_a1".into()], ..Selection::default() };
    assert_eq!(dead_letters::replay(&broker, &topology, &by_id).await.unwrap().len(), 1);
    let back = next(&mut deliveries).await;
    assert_eq!(back.message_id, "dlv_a1.1");
    assert!(!back.headers.contains_key(argus_bus::HEADER_DEAD_REASON), "{:?}", back.headers);
    let only_a = Selection { tenant: Some("ten_a".into()), ..Selection::default() };
    let replayed = dead_letters::replay(&broker, &topology, &only_a).await.unwrap();
    assert_eq!(replayed.len(), 2);
    assert_eq!(next(&mut deliveries).await.message_id, "dlv_a2.1");
    assert_eq!(next(&mut jobs).await.message_id, "job_a.1");
    let left = dead_letters::list(&broker, &topology, &everything).await.unwrap();
    assert_eq!(left.iter().map(|d| d.message_id.as_str()).collect::<Vec<_>>(), ["dlv_b1.1"]);

    // Purged by age: nothing died before `started`; the rest did before now.
    let old = Selection { before: Some(started), ..Selection::default() };
    assert!(dead_letters::purge(&broker, &topology, &old).await.unwrap().is_empty());
    let now = Selection { before: Some(chrono::Utc::now()), ..Selection::default() };
    assert_eq!(dead_letters::purge(&broker, &topology, &now).await.unwrap().len(), 1);
    assert!(dead_letters::list(&broker, &topology, &everything).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(deliveries.try_recv().is_err(), "nothing replayed twice");
    deliveries_consumer.stop().await;
    jobs_consumer.stop().await;

    // The queue is bounded by the topology.
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_queues", "-q", "-p", vhost.name(), "name", "arguments"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    let dead = listing.lines().find(|l| l.starts_with("argus.dead")).unwrap();
    assert!(dead.contains("x-max-length") && dead.contains("drop-head"), "{dead}");
}
