//! The transactional outbox. A writer calls [`enqueue`] on the connection
//! of the transaction that makes its change, so the message exists exactly
//! when the change does. A relay (`argus_bus::relay`) claims rows with
//! `FOR UPDATE SKIP LOCKED`, publishes them with publisher confirms and
//! deletes the confirmed ones in the same transaction, so several relays
//! can run and a row goes only once the broker holds it. The table holds
//! only what is still to publish.
//!
//! Delivery is at least once: a relay that dies between the broker's
//! confirm and its commit publishes those rows again. Consumers deduplicate
//! (deliveries by event and webhook, attempts by number, jobs by state).
//!
//! The rows are built here, by the store functions that make the changes
//! ([`NewOutboxMessage::event`] and its siblings): one mapping from a
//! change to its bus message (`argus-messages`). Each row keeps the trace
//! context of the span that wrote it, so the relay's publish continues the
//! writer's trace.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use argus_domain::DomainEvent;
use argus_messages::{Message, proto, routing};
use argus_telemetry::propagation::{TRACEPARENT, current_headers};
use argus_types::TenantId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::listen::Listener;
use crate::schema::outbox;
use crate::{Store, StoreError};

/// The PostgreSQL channel the insert trigger notifies.
pub const NOTIFY_CHANNEL: &str = "argus_outbox";

/// The header of an event's message with the count of changes to its
/// tenant's webhooks its writer saw (`tenants.webhooks_version`, read by
/// the event's own insert): a fan-out from a list of webhooks older than
/// that reads the list again.
pub const WEBHOOKS_VERSION_HEADER: &str = "argus-webhooks-version";

/// Which broker exchange a row goes to. Stored by its logical name; the
/// relay maps it to the deployment's prefixed exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxExchange {
    /// Domain events, routed by event type.
    Events,
    /// Work items (deliveries, jobs), routed by work kind.
    Work,
}

impl OutboxExchange {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Work => "work",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "events" => Ok(Self::Events),
            "work" => Ok(Self::Work),
            other => Err(StoreError::Corrupt(format!("outbox exchange `{other}`"))),
        }
    }
}

/// A message to publish once the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage {
    pub tenant_id: TenantId,
    /// The AMQP `message_id`, by which consumers deduplicate.
    pub message_id: String,
    pub exchange: OutboxExchange,
    pub routing_key: String,
    /// The AMQP `type` property.
    pub kind: String,
    /// The protobuf-encoded body.
    pub payload: Vec<u8>,
    /// Extra string headers, e.g. `traceparent` and `tracestate`.
    pub headers: BTreeMap<String, String>,
}

impl NewOutboxMessage {
    /// The bus message of a domain event, for the events exchange, with
    /// its webhook `envelope` (what the event's row stores).
    pub fn event(event: &DomainEvent, envelope: &serde_json::Value) -> Self {
        let wire = proto::Event {
            id: event.id.to_string(),
            r#type: event.kind.as_str().to_owned(),
            tenant_id: event.tenant.to_string(),
            created_at_unix_ms: event.created_at.timestamp_millis(),
            envelope_json: envelope.to_string().into_bytes(),
        };
        Self::of(&event.tenant, OutboxExchange::Events, event.kind.as_str(), Message::event(&wire))
    }

    /// A webhook delivery's work task (attempt 0: the first send).
    pub fn delivery(tenant: &TenantId, task: &proto::DeliveryTask) -> Self {
        Self::of(tenant, OutboxExchange::Work, routing::DELIVERIES, Message::delivery(task))
    }

    /// A job's work task.
    pub fn job(tenant: &TenantId, task: &proto::JobTask) -> Self {
        Self::of(tenant, OutboxExchange::Work, routing::JOBS, Message::job(task))
    }

    /// A job callback's task: callbacks go out like webhook deliveries,
    /// never in a job-run slot.
    pub fn job_callback(tenant: &TenantId, task: &proto::JobCallbackTask) -> Self {
        Self::of(tenant, OutboxExchange::Work, routing::DELIVERIES, Message::job_callback(task))
    }

    /// A message as a row, with the current span's trace context unless
    /// the message names a parent already.
    fn of(tenant: &TenantId, exchange: OutboxExchange, routing_key: &str, message: Message) -> Self {
        let mut headers = message.headers;
        if !headers.contains_key(TRACEPARENT) {
            headers.extend(current_headers());
        }
        Self {
            tenant_id: tenant.clone(),
            message_id: message.message_id,
            exchange,
            routing_key: routing_key.to_owned(),
            kind: message.kind,
            payload: message.payload,
            headers,
        }
    }

    /// The headers as the `headers` column holds them.
    pub(crate) fn headers_json(&self) -> serde_json::Value {
        self.headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect()
    }

    /// Replaces or adds headers (a test's own trace context).
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn with_headers(mut self, headers: BTreeMap<String, String>) -> Self {
        self.headers.extend(headers);
        self
    }
}

/// A row, as the relay claims it.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    /// Kept as stored: the relay must publish every row, and a tenant id it
    /// cannot parse is no reason to hold a message back.
    pub tenant_id: String,
    pub message_id: String,
    pub exchange: OutboxExchange,
    pub routing_key: String,
    pub kind: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
struct OutboxRow {
    id: i64,
    tenant_id: String,
    message_id: String,
    exchange: String,
    routing_key: String,
    kind: String,
    payload: Vec<u8>,
    headers: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl TryFrom<OutboxRow> for OutboxMessage {
    type Error = StoreError;

    fn try_from(r: OutboxRow) -> Result<Self, StoreError> {
        let headers = match r.headers {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    // Only strings are written by `enqueue`; anything else
                    // (a hand-written row) is passed on as its JSON text.
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Self {
            exchange: OutboxExchange::parse(&r.exchange)?,
            id: r.id,
            tenant_id: r.tenant_id,
            message_id: r.message_id,
            routing_key: r.routing_key,
            kind: r.kind,
            payload: r.payload,
            headers,
            created_at: r.created_at,
        })
    }
}

/// Adds a message to the outbox on `conn`. Call it inside the transaction
/// that makes the change the message announces: the message is published
/// if and only if that transaction commits.
pub async fn enqueue(conn: &mut AsyncPgConnection, msg: NewOutboxMessage) -> Result<(), StoreError> {
    let headers = msg.headers_json();
    diesel::insert_into(outbox::table)
        .values((
            outbox::tenant_id.eq(msg.tenant_id.as_str()),
            outbox::message_id.eq(&msg.message_id),
            outbox::exchange.eq(msg.exchange.as_str()),
            outbox::routing_key.eq(&msg.routing_key),
            outbox::kind.eq(&msg.kind),
            outbox::payload.eq(&msg.payload),
            outbox::headers.eq(headers),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks up to `limit` rows, oldest first, skipping rows another relay
/// holds. Must run inside a transaction: the locks last until it ends.
pub async fn claim(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
    let rows: Vec<OutboxRow> = outbox::table
        .order(outbox::id.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(OutboxRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Deletes published rows; returns how many there were.
pub async fn remove_sent(conn: &mut AsyncPgConnection, ids: &[i64]) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(outbox::table.filter(outbox::id.eq_any(ids))).execute(conn).await?)
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayedBatch {
    /// Rows claimed (locked) in this pass.
    pub claimed: usize,
    /// Rows the publisher confirmed, now deleted.
    pub sent: usize,
}

impl Store {
    /// Adds one message to the outbox in a transaction of its own (tests
    /// of the relay; every real message rides its change's transaction).
    #[cfg(feature = "testing")]
    pub async fn enqueue_outbox(&self, msg: NewOutboxMessage) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        enqueue(&mut conn, msg).await
    }

    /// One relay pass: claims up to `limit` rows, hands them to `publish`,
    /// and deletes the ids it returns (those the broker confirmed), all in
    /// one transaction. Rows not returned stay unsent for
    /// a later pass. `publish` runs while the rows are locked, so it should
    /// bound its own time.
    pub async fn relay_outbox_batch<F, Fut>(&self, limit: i64, publish: F) -> Result<RelayedBatch, StoreError>
    where
        F: FnOnce(Vec<OutboxMessage>) -> Fut + Send,
        Fut: Future<Output = Vec<i64>> + Send,
    {
        let mut conn = self.conn().await?;
        conn.transaction::<RelayedBatch, StoreError, _>(async move |conn| {
            let rows = claim(conn, limit).await?;
            if rows.is_empty() {
                return Ok(RelayedBatch::default());
            }
            let claimed = rows.len();
            let confirmed = publish(rows).await;
            let sent = remove_sent(conn, &confirmed).await?;
            Ok(RelayedBatch { claimed, sent })
        })
        .await
    }

    /// How many rows wait to be published (for readiness and metrics).
    pub async fn outbox_unsent_count(&self) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        Ok(outbox::table.count().get_result(&mut conn).await?)
    }

    /// Whether the message with this id waits in the outbox (unsent, or
    /// published and not yet confirmed).
    #[cfg(feature = "testing")]
    pub async fn outbox_holds(&self, message_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        Ok(diesel::select(diesel::dsl::exists(outbox::table.filter(outbox::message_id.eq(message_id))))
            .get_result(&mut conn)
            .await?)
    }
}

/// The advisory lock an idle relay holds on its listening session. The
/// outbox's insert trigger notifies only when it cannot take it shared, that
/// is while a relay sleeps (migration `2026-12-06-230000_outbox_wake_lock`
/// has the same number, and says why a busy relay must not be notified).
pub const WAKE_LOCK: i64 = 1_634_887_541;

/// What became of a sleeping relay's attempt to take [`WAKE_LOCK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeLock {
    /// This relay held it already: writers notify it.
    Held,
    /// This relay took it just now: writers notify from now on, and every
    /// writer that did not has committed (or given up), so one more claim
    /// sees all that was left.
    Taken,
    /// Another relay holds it: writers notify, and this relay may sleep.
    HeldByAnotherRelay,
    /// Writers that skipped the notification have not committed yet: poll
    /// again soon.
    WritersInFlight,
}

#[derive(diesel::QueryableByName)]
struct WakeLockTry {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    taken: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    held_by_another: bool,
}

/// Wakes a relay as soon as a writer commits an outbox row instead of at
/// its next poll: a [`Listener`] on [`NOTIFY_CHANNEL`], and the session
/// that holds [`WAKE_LOCK`] while the relay sleeps.
pub struct OutboxListener {
    listener: Listener,
    holds_wake_lock: bool,
}

impl OutboxListener {
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            listener: Listener::connect(database_url, NOTIFY_CHANNEL, "argus-outbox-relay").await?,
            holds_wake_lock: false,
        })
    }

    /// Before sleeping: asks writers to notify by taking [`WAKE_LOCK`]
    /// (without waiting: a writer holds it shared only from its insert to
    /// its commit). Taking it again while held is a no-op.
    pub async fn take_wake_lock(&mut self) -> Result<WakeLock, StoreError> {
        if self.holds_wake_lock {
            return Ok(WakeLock::Held);
        }
        // A bigint key below 2^31 shows in pg_locks as classid 0, objid
        // the key, objsubid 1.
        let tried: WakeLockTry = diesel::sql_query(
            "SELECT pg_try_advisory_lock($1) AS taken, EXISTS (
                 SELECT 1 FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = 0 AND objid = $1::oid AND objsubid = 1
                   AND mode = 'ExclusiveLock' AND granted AND pid <> pg_backend_pid()
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             ) AS held_by_another",
        )
        .bind::<diesel::sql_types::BigInt, _>(WAKE_LOCK)
        .get_result(self.listener.session())
        .await?;
        Ok(if tried.taken {
            self.holds_wake_lock = true;
            WakeLock::Taken
        } else if tried.held_by_another {
            WakeLock::HeldByAnotherRelay
        } else {
            WakeLock::WritersInFlight
        })
    }

    /// When busy: writers stop notifying (each keeps [`WAKE_LOCK`] shared
    /// to its commit instead), and the relay polls.
    pub async fn release_wake_lock(&mut self) -> Result<(), StoreError> {
        if self.holds_wake_lock {
            diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<diesel::sql_types::BigInt, _>(WAKE_LOCK)
                .execute(self.listener.session())
                .await?;
            self.holds_wake_lock = false;
        }
        Ok(())
    }

    /// Waits up to `max` for a notification. `Ok(true)`: something was
    /// inserted (all notifications already queued are consumed too, so a
    /// burst of inserts wakes the relay once); `Ok(false)`: timed out; `Err`:
    /// the connection is lost and the listener must be made again.
    pub async fn wait(&mut self, max: Duration) -> Result<bool, StoreError> {
        Ok(!self.listener.wait(max).await?.is_empty())
    }
}
