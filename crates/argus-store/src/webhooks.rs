//! Webhook subscriptions, the events they receive, deliveries and attempts.
//! Functions that must share a transaction with an outbox write take the
//! connection; the rest go through the pool. All are tenant-scoped.

use argus_domain::DeliveryStatus;
use argus_types::pagination::fetch_limit;
use argus_types::{DeliveryId, EventId, TenantId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::outbox::{NewOutboxMessage, enqueue};
use crate::schema::{delivery_attempts, events, tenants, webhook_deliveries, webhooks};
use crate::stored_text::{Stored, parse_stored};

/// `last_success_at` is kept to this many seconds, to spare writes.
const HEALTH_RESOLUTION_SECONDS: i64 = 10;

/// The type of the synthetic event `POST /v1/webhooks/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";
use crate::{Page, Store, StoreError, parse_id};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
pub struct WebhookRow {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret_sealed: Vec<u8>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub type WebhookRecord = WebhookRow;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRecord {
    pub id: String,
    pub tenant_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    #[diesel(deserialize_as = Stored<DeliveryStatus>)]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub attempted_at: Option<DateTime<Utc>>,
    pub response_status: Option<i32>,
    pub duration_ms: Option<i32>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret_sealed: Vec<u8>,
}

/// A PUT: each `Some` replaces that field.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// A new secret; the old one keeps signing for `secret_overlap`.
    pub secret_sealed: Option<Vec<u8>>,
    pub secret_overlap: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
}

/// The result of one attempt, as the worker records it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub response_status: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_body: Option<String>,
    /// `succeeded`, `retrying` or `failed`.
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Disable the webhook (410 Gone), with this reason.
    pub disable: Option<String>,
}

/// Everything needed to send one delivery.
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    pub delivery: DeliveryRecord,
    pub webhook: WebhookRecord,
    pub envelope: Value,
}

/// What [`Store::fan_out`] leaves to the caller.
#[derive(Debug, Default)]
pub struct FanOut {
    /// Deliveries waiting for their first attempt.
    pub fresh: Vec<DeliveryContext>,
    /// Deliveries of the event already retrying.
    pub retrying: Vec<DeliveryRecord>,
}

/// One attempt at one delivery, for [`Store::record_attempts`].
#[derive(Debug, Clone)]
pub struct Attempted {
    pub delivery: DeliveryId,
    pub webhook: WebhookId,
    pub record: AttemptRecord,
}

#[derive(QueryableByName)]
struct RecordedDelivery {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The webhooks' health after `recorded` attempts. Rows are written only
/// when something changes, so concurrent deliveries to one webhook do not
/// queue on its row lock; a webhook with a success among the attempts
/// counts as healthy.
async fn update_health(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    recorded: &[&Attempted],
    disable_after: Duration,
) -> Result<(), StoreError> {
    let Some(at) = recorded.iter().map(|a| a.record.attempted_at).max() else { return Ok(()) };
    let succeeded: Vec<&str> =
        recorded.iter().filter(|a| a.record.status == DeliveryStatus::Succeeded).map(|a| a.webhook.as_str()).collect();
    let failed: Vec<&str> = recorded
        .iter()
        .filter(|a| a.record.status != DeliveryStatus::Succeeded && !succeeded.contains(&a.webhook.as_str()))
        .map(|a| a.webhook.as_str())
        .collect();
    let gone: Vec<(&str, &str)> = recorded
        .iter()
        .filter_map(|a| a.record.disable.as_deref().map(|reason| (a.webhook.as_str(), reason)))
        .collect();
    let of_tenant = webhooks::tenant_id.eq(tenant.as_str());
    if !succeeded.is_empty() {
        let stale = at - Duration::seconds(HEALTH_RESOLUTION_SECONDS);
        diesel::update(webhooks::table)
            .filter(of_tenant)
            .filter(webhooks::id.eq_any(&succeeded))
            .filter(
                webhooks::failing_since
                    .is_not_null()
                    .or(webhooks::last_success_at.is_null())
                    .or(webhooks::last_success_at.lt(stale)),
            )
            .set((webhooks::last_success_at.eq(at), webhooks::failing_since.eq(None::<DateTime<Utc>>)))
            .execute(conn)
            .await?;
    }
    if !failed.is_empty() {
        diesel::update(webhooks::table)
            .filter(of_tenant)
            .filter(webhooks::id.eq_any(&failed))
            .filter(webhooks::failing_since.is_null())
            .set(webhooks::failing_since.eq(at))
            .execute(conn)
            .await?;
        for (webhook, reason) in gone {
            diesel::update(webhooks::table)
                .filter(of_tenant)
                .filter(webhooks::id.eq(webhook))
                .filter(webhooks::enabled.eq(true))
                .set((webhooks::enabled.eq(false), webhooks::disabled_reason.eq(reason)))
                .execute(conn)
                .await?;
        }
        let reason = format!("no successful delivery for {} days", disable_after.num_days());
        diesel::update(webhooks::table)
            .filter(of_tenant)
            .filter(webhooks::id.eq_any(&failed))
            .filter(webhooks::enabled.eq(true))
            .filter(webhooks::failing_since.le(at - disable_after))
            .set((webhooks::enabled.eq(false), webhooks::disabled_reason.eq(reason)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Stores an event envelope (call in the writer's transaction).
pub async fn insert_event(
    conn: &mut AsyncPgConnection,
    id: &EventId,
    tenant: &TenantId,
    event_type: &str,
    envelope: &Value,
) -> Result<(), StoreError> {
    diesel::insert_into(events::table)
        .values((
            events::id.eq(id.as_str()),
            events::tenant_id.eq(tenant.as_str()),
            events::event_type.eq(event_type),
            events::envelope.eq(envelope),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The tenant's enabled webhooks subscribed to `event_type`.
pub async fn subscribed_webhooks(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    event_type: &str,
) -> Result<Vec<WebhookId>, StoreError> {
    let ids: Vec<String> = webhooks::table
        .filter(webhooks::tenant_id.eq(tenant.as_str()))
        .filter(webhooks::enabled.eq(true))
        .filter(webhooks::events.contains(vec![event_type.to_owned()]))
        .select(webhooks::id)
        .load(conn)
        .await?;
    ids.iter().map(|i| parse_id(i)).collect()
}

/// Creates the delivery of `event` to `webhook` unless it exists (the
/// fan-out may run twice for one event). Returns the new id, or `None`.
pub async fn insert_delivery(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    webhook: &WebhookId,
    event: &EventId,
    event_type: &str,
) -> Result<Option<DeliveryId>, StoreError> {
    let id = DeliveryId::generate();
    let inserted = diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(id.as_str()),
            webhook_deliveries::tenant_id.eq(tenant.as_str()),
            webhook_deliveries::webhook_id.eq(webhook.as_str()),
            webhook_deliveries::event_id.eq(event.as_str()),
            webhook_deliveries::event_type.eq(event_type),
        ))
        .on_conflict((webhook_deliveries::event_id, webhook_deliveries::webhook_id))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok((inserted == 1).then_some(id))
}

/// Puts a finished delivery back in the queue (manual resend). `None` when
/// there is no such delivery; a conflict while it is still queued or
/// retrying (an attempt may be in flight).
pub async fn requeue_delivery(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    webhook: &WebhookId,
    delivery: &DeliveryId,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let status: Option<String> = webhook_deliveries::table
        .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
        .filter(webhook_deliveries::webhook_id.eq(webhook.as_str()))
        .filter(webhook_deliveries::id.eq(delivery.as_str()))
        .select(webhook_deliveries::status)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match status.as_deref().map(parse_stored::<DeliveryStatus>).transpose()? {
        None => return Ok(None),
        Some(settled) if settled.is_terminal() => {}
        Some(other) => {
            return Err(StoreError::Conflict(format!("the delivery is {other}; resend it once it has finished")));
        }
    }
    Ok(diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
        .filter(webhook_deliveries::webhook_id.eq(webhook.as_str()))
        .filter(webhook_deliveries::id.eq(delivery.as_str()))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Queued.as_str()),
            webhook_deliveries::next_attempt_at.eq(Utc::now()),
            webhook_deliveries::updated_at.eq(diesel::dsl::now),
        ))
        .returning(DeliveryRecord::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

impl Store {
    /// Stores an event and its outbox message in one transaction.
    pub async fn emit_event(
        &self,
        id: &EventId,
        tenant: &TenantId,
        event_type: &str,
        envelope: &Value,
        message: NewOutboxMessage,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            insert_event(conn, id, tenant, event_type, envelope).await?;
            enqueue(conn, message).await
        })
        .await
    }

    /// Creates one delivery per subscribed, enabled webhook (skipping those
    /// that exist, so a redelivered event fans out once) and returns the
    /// event's deliveries the caller still has to act on: those waiting for
    /// their first attempt, with what sending needs, and those already
    /// retrying (whose retry message an interrupted earlier run may not
    /// have published).
    pub async fn fan_out(&self, tenant: &TenantId, event: &EventId, event_type: &str) -> Result<FanOut, StoreError> {
        let mut conn = self.conn().await?;
        let subscribed = subscribed_webhooks(&mut conn, tenant, event_type).await?;
        if subscribed.is_empty() {
            return Ok(FanOut::default());
        }
        // One statement, so no transaction is needed around it.
        let rows: Vec<_> = subscribed
            .iter()
            .map(|webhook| {
                (
                    webhook_deliveries::id.eq(DeliveryId::generate().to_string()),
                    webhook_deliveries::tenant_id.eq(tenant.as_str()),
                    webhook_deliveries::webhook_id.eq(webhook.as_str()),
                    webhook_deliveries::event_id.eq(event.as_str()),
                    webhook_deliveries::event_type.eq(event_type),
                )
            })
            .collect();
        diesel::insert_into(webhook_deliveries::table)
            .values(rows)
            .on_conflict((webhook_deliveries::event_id, webhook_deliveries::webhook_id))
            .do_nothing()
            .execute(&mut conn)
            .await?;
        let found: Vec<(DeliveryRecord, WebhookRow, Value)> = webhook_deliveries::table
            .inner_join(webhooks::table.on(webhooks::id.eq(webhook_deliveries::webhook_id)))
            .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
            .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
            .filter(webhook_deliveries::event_id.eq(event.as_str()))
            .filter(
                webhook_deliveries::status
                    .eq(DeliveryStatus::Queued.as_str())
                    .and(webhook_deliveries::attempts.eq(0))
                    .or(webhook_deliveries::status.eq(DeliveryStatus::Retrying.as_str())),
            )
            .select((DeliveryRecord::as_select(), WebhookRow::as_select(), events::envelope))
            .load(&mut conn)
            .await?;
        let mut out = FanOut::default();
        for (delivery, webhook, envelope) in found {
            if delivery.status == DeliveryStatus::Retrying {
                out.retrying.push(delivery);
            } else {
                out.fresh.push(DeliveryContext { delivery, webhook, envelope });
            }
        }
        Ok(out)
    }

    /// A `webhook.test` event for one webhook only: the event, its delivery
    /// and the work message, in one transaction.
    pub async fn create_test_delivery(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        event: &EventId,
        envelope: &Value,
        task: impl Fn(&DeliveryId) -> NewOutboxMessage + Send + Sync,
    ) -> Result<Option<DeliveryId>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let owned: Option<String> = webhooks::table
                .filter(webhooks::tenant_id.eq(tenant.as_str()))
                .filter(webhooks::id.eq(webhook.as_str()))
                .select(webhooks::id)
                .first(conn)
                .await
                .optional()?;
            if owned.is_none() {
                return Ok(None);
            }
            insert_event(conn, event, tenant, TEST_EVENT, envelope).await?;
            let delivery = insert_delivery(conn, tenant, webhook, event, TEST_EVENT).await?;
            if let Some(d) = &delivery {
                enqueue(conn, task(d)).await?;
            }
            Ok(delivery)
        })
        .await
    }

    /// Requeues a delivery by hand and writes its work message.
    pub async fn resend_delivery(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        delivery: &DeliveryId,
        task: impl Fn(&DeliveryRecord) -> NewOutboxMessage + Send + Sync,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(record) = requeue_delivery(conn, tenant, webhook, delivery).await? else { return Ok(None) };
            enqueue(conn, task(&record)).await?;
            Ok(Some(record))
        })
        .await
    }

    /// Creates a webhook unless the tenant has `max_per_tenant` already (a
    /// [`StoreError::Conflict`]). Creates of one tenant take turns on its
    /// row (`FOR NO KEY UPDATE`, which leaves inserts referencing the tenant
    /// alone), so concurrent ones cannot count the same free place.
    pub async fn create_webhook(
        &self,
        tenant: &TenantId,
        new: NewWebhook,
        max_per_tenant: usize,
    ) -> Result<WebhookRecord, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            tenants::table
                .filter(tenants::id.eq(tenant.as_str()))
                .select(tenants::id)
                .for_no_key_update()
                .first::<String>(conn)
                .await
                .optional()?;
            let existing: i64 =
                webhooks::table.filter(webhooks::tenant_id.eq(tenant.as_str())).count().get_result(conn).await?;
            if usize::try_from(existing).unwrap_or(usize::MAX) >= max_per_tenant {
                return Err(StoreError::Conflict(format!(
                    "the tenant has {existing} webhooks, the most allowed is {max_per_tenant}; delete one first"
                )));
            }
            Ok(diesel::insert_into(webhooks::table)
                .values((
                    webhooks::id.eq(WebhookId::generate().as_str()),
                    webhooks::tenant_id.eq(tenant.as_str()),
                    webhooks::url.eq(&new.url),
                    webhooks::events.eq(&new.events),
                    webhooks::description.eq(&new.description),
                    webhooks::secret_sealed.eq(&new.secret_sealed),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await
    }

    pub async fn get_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(webhooks::table
            .filter(webhooks::tenant_id.eq(tenant.as_str()))
            .filter(webhooks::id.eq(id.as_str()))
            .select(WebhookRow::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    pub async fn list_webhooks(
        &self,
        tenant: &TenantId,
        after: Option<&WebhookId>,
        limit: usize,
    ) -> Result<Page<WebhookRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = webhooks::table
            .filter(webhooks::tenant_id.eq(tenant.as_str()))
            .order(webhooks::id)
            .limit(fetch_limit(limit))
            .select(WebhookRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(webhooks::id.gt(after.as_str()));
        }
        let rows = query.load(&mut conn).await?;
        Ok(Page::from_overfetch(rows, limit, |w| w.id.clone()))
    }

    pub async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        changes: WebhookChanges,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(current) = webhooks::table
                .filter(webhooks::tenant_id.eq(tenant.as_str()))
                .filter(webhooks::id.eq(id.as_str()))
                .select(WebhookRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let now = Utc::now();
            let (secret, previous, previous_until) = match changes.secret_sealed {
                Some(new) => (new, Some(current.secret_sealed.clone()), Some(now + changes.secret_overlap)),
                None => {
                    (current.secret_sealed.clone(), current.previous_secret_sealed, current.previous_secret_expires_at)
                }
            };
            let enabled = changes.enabled.unwrap_or(current.enabled);
            let re_enabled = enabled && !current.enabled;
            let row = diesel::update(webhooks::table.find(id.as_str()))
                .set((
                    webhooks::url.eq(changes.url.unwrap_or(current.url)),
                    webhooks::events.eq(changes.events.unwrap_or(current.events)),
                    webhooks::description.eq(changes.description.unwrap_or(current.description)),
                    webhooks::enabled.eq(enabled),
                    webhooks::disabled_reason.eq(if enabled {
                        None
                    } else {
                        current.disabled_reason.or(Some("disabled by the integrator".to_owned()))
                    }),
                    webhooks::failing_since.eq(if re_enabled { None } else { current.failing_since }),
                    webhooks::secret_sealed.eq(secret),
                    webhooks::previous_secret_sealed.eq(previous),
                    webhooks::previous_secret_expires_at.eq(previous_until),
                    webhooks::updated_at.eq(now),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(row))
        })
        .await
    }

    pub async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::delete(webhooks::table)
            .filter(webhooks::tenant_id.eq(tenant.as_str()))
            .filter(webhooks::id.eq(id.as_str()))
            .execute(&mut conn)
            .await?;
        Ok(n == 1)
    }

    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        filter: &DeliveryFilter,
        after: Option<&DeliveryId>,
        limit: usize,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
            .filter(webhook_deliveries::webhook_id.eq(webhook.as_str()))
            .order(webhook_deliveries::id.desc())
            .limit(fetch_limit(limit))
            .select(DeliveryRecord::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(webhook_deliveries::id.lt(after.as_str()));
        }
        if let Some(status) = &filter.status {
            query = query.filter(webhook_deliveries::status.eq(status.as_str()));
        }
        if let Some(t) = &filter.event_type {
            query = query.filter(webhook_deliveries::event_type.eq(t.clone()));
        }
        let rows = query.load(&mut conn).await?;
        Ok(Page::from_overfetch(rows, limit, |d| d.id.clone()))
    }

    /// The delivery, its webhook and the event body, for sending.
    pub async fn delivery_context(
        &self,
        tenant: &TenantId,
        delivery: &DeliveryId,
    ) -> Result<Option<DeliveryContext>, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<(DeliveryRecord, WebhookRow, Value)> = webhook_deliveries::table
            .inner_join(webhooks::table.on(webhooks::id.eq(webhook_deliveries::webhook_id)))
            .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
            .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
            .filter(webhook_deliveries::id.eq(delivery.as_str()))
            .select((DeliveryRecord::as_select(), WebhookRow::as_select(), events::envelope))
            .first(&mut conn)
            .await
            .optional()?;
        Ok(found.map(|(delivery, webhook, envelope)| DeliveryContext { delivery, webhook, envelope }))
    }

    /// Records attempts (at most one per delivery) and their consequences
    /// in one transaction of a few statements, whatever their number: the
    /// attempt rows (once each, even if a message is redelivered), the
    /// deliveries' state, and the webhooks' health (a webhook failing
    /// without a success for `disable_after` is disabled; a 410 disables it
    /// at once). Deliveries of other tenants are left alone.
    pub async fn record_attempts(
        &self,
        tenant: &TenantId,
        attempts: &[Attempted],
        disable_after: Duration,
    ) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = attempts.iter().map(|a| a.delivery.as_str()).collect();
        let statuses: Vec<&str> = attempts.iter().map(|a| a.record.status.as_str()).collect();
        let numbers: Vec<i32> = attempts.iter().map(|a| a.record.attempt).collect();
        let at: Vec<DateTime<Utc>> = attempts.iter().map(|a| a.record.attempted_at).collect();
        let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.record.response_status).collect();
        let durations: Vec<i32> = attempts.iter().map(|a| a.record.duration_ms).collect();
        let next: Vec<Option<DateTime<Utc>>> = attempts.iter().map(|a| a.record.next_attempt_at).collect();
        let errors: Vec<Option<&str>> = attempts.iter().map(|a| a.record.error.as_deref()).collect();
        let bodies: Vec<Option<&str>> = attempts.iter().map(|a| a.record.response_body.as_deref()).collect();
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            // The attempt rows and the deliveries' state in one statement:
            // a delivery whose attempt row exists already (a redelivered
            // message) is not updated again.
            let updated: Vec<RecordedDelivery> = diesel::sql_query(
                "WITH v AS (
                     SELECT * FROM unnest($2::text[], $3::text[], $4::int4[], $5::timestamptz[], $6::int4[],
                                          $7::int4[], $8::timestamptz[], $9::text[], $10::text[])
                         AS v(id, status, attempt, attempted_at, response_status, duration_ms,
                              next_attempt_at, error, response_body)
                 ), inserted AS (
                     INSERT INTO delivery_attempts
                         (delivery_id, attempt, attempted_at, response_status, duration_ms, error, response_body)
                     SELECT v.id, v.attempt, v.attempted_at, v.response_status, v.duration_ms, v.error, v.response_body
                     FROM v JOIN webhook_deliveries d ON d.id = v.id AND d.tenant_id = $1
                     ON CONFLICT DO NOTHING
                     RETURNING delivery_id
                 )
                 UPDATE webhook_deliveries d
                 SET status = v.status, attempts = v.attempt, attempted_at = v.attempted_at,
                     response_status = v.response_status, duration_ms = v.duration_ms,
                     next_attempt_at = v.next_attempt_at, error = v.error, response_body = v.response_body,
                     updated_at = now()
                 FROM v
                 WHERE d.tenant_id = $1 AND d.id = v.id AND d.id IN (SELECT delivery_id FROM inserted)
                 RETURNING d.id",
            )
            .bind::<Text, _>(tenant.as_str())
            .bind::<Array<Text>, _>(&ids)
            .bind::<Array<Text>, _>(&statuses)
            .bind::<Array<Integer>, _>(&numbers)
            .bind::<Array<Timestamptz>, _>(&at)
            .bind::<Array<Nullable<Integer>>, _>(&codes)
            .bind::<Array<Integer>, _>(&durations)
            .bind::<Array<Nullable<Timestamptz>>, _>(&next)
            .bind::<Array<Nullable<Text>>, _>(&errors)
            .bind::<Array<Nullable<Text>>, _>(&bodies)
            .load(conn)
            .await?;
            let recorded: Vec<&Attempted> =
                attempts.iter().filter(|a| updated.iter().any(|u| u.id == a.delivery.as_str())).collect();
            update_health(conn, tenant, &recorded, disable_after).await
        })
        .await
    }

    /// Every attempt of a delivery, oldest first.
    pub async fn delivery_attempts(
        &self,
        tenant: &TenantId,
        delivery: &DeliveryId,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(delivery_attempts::table
            .inner_join(webhook_deliveries::table.on(webhook_deliveries::id.eq(delivery_attempts::delivery_id)))
            .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
            .filter(delivery_attempts::delivery_id.eq(delivery.as_str()))
            .order(delivery_attempts::attempt)
            .select(AttemptRow::as_select())
            .load(&mut conn)
            .await?)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = delivery_attempts, check_for_backend(diesel::pg::Pg))]
pub struct AttemptRow {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub response_status: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
}
