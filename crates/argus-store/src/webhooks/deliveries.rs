//! Events, their fan-out into deliveries, and the delivery queue.

use argus_domain::{DeliveryStatus, DomainEvent, EventKind};
use argus_messages::proto;
use argus_types::{DeliveryId, EventId, TenantId, WebhookId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::{DeliveryKey, WebhookRecord, WebhookRow};
use crate::outbox::{NewOutboxMessage, enqueue};
use crate::schema::{events, webhook_deliveries, webhooks};
use crate::stored_text::Stored;
use crate::tenant_rows::{PageQuery, TenantTable, list_page};
use crate::{Page, PageRequest, Store, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRecord {
    #[diesel(deserialize_as = Stored<DeliveryId>)]
    pub id: DeliveryId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<WebhookId>)]
    pub webhook_id: WebhookId,
    #[diesel(deserialize_as = Stored<EventId>)]
    pub event_id: EventId,
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

impl DeliveryRecord {
    /// A delivery the fan-out is about to make, before its row exists.
    fn unstored(tenant: &TenantId, webhook: &WebhookId, event: &EventId, event_type: &str) -> Self {
        let now = Utc::now();
        Self {
            id: DeliveryId::generate(),
            tenant_id: tenant.clone(),
            webhook_id: webhook.clone(),
            event_id: event.clone(),
            event_type: event_type.to_owned(),
            status: DeliveryStatus::Queued,
            attempts: 0,
            attempted_at: None,
            response_status: None,
            duration_ms: None,
            next_attempt_at: None,
            error: None,
            response_body: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl TenantTable for webhook_deliveries::table {
    type TenantId = webhook_deliveries::tenant_id;
    type Id = webhook_deliveries::id;
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
}

/// Everything needed to send one delivery.
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    pub delivery: DeliveryRecord,
    pub webhook: WebhookRecord,
    pub envelope: Value,
    /// Whether the delivery's row exists yet (see [`Store::fan_out`]).
    pub stored: bool,
}

impl DeliveryContext {
    /// Which delivery this is, as [`Store::record_attempts`] takes it.
    pub fn key(&self) -> DeliveryKey {
        let d = &self.delivery;
        DeliveryKey {
            id: d.id.clone(),
            stored: self.stored,
            webhook: d.webhook_id.clone(),
            event: d.event_id.clone(),
            event_type: d.event_type.clone(),
        }
    }
}

/// What [`Store::fan_out`] leaves to the caller.
#[derive(Debug, Default)]
pub struct FanOut {
    /// Deliveries waiting for their first attempt.
    pub fresh: Vec<DeliveryContext>,
    /// Deliveries of the event already retrying.
    pub retrying: Vec<DeliveryRecord>,
}

impl FanOut {
    /// The fan-out of an event seen for the first time, from what the
    /// worker holds in memory: a new, unstored delivery for each of
    /// `webhooks` (the tenant's enabled ones, [`Store::enabled_webhooks`])
    /// subscribed to `event_type`. Like [`Store::fan_out`]'s, its record
    /// finds the pair (event, webhook) taken if the event was fanned out
    /// before, so a copy of the message makes no second delivery row.
    pub fn of_new_event(
        tenant: &TenantId,
        event: &EventId,
        event_type: &str,
        envelope: &Value,
        webhooks: &[WebhookRow],
    ) -> Self {
        let fresh = webhooks
            .iter()
            // The rule of `Store::fan_out`'s `subscribed`, in memory.
            .filter(|w| w.enabled && w.events.iter().any(|e| e == event_type))
            .map(|webhook| DeliveryContext {
                delivery: DeliveryRecord::unstored(tenant, &webhook.id, event, event_type),
                webhook: webhook.clone(),
                envelope: envelope.clone(),
                stored: false,
            })
            .collect();
        Self { fresh, retrying: Vec::new() }
    }
}

/// Stores an event's envelope (call in the writer's transaction).
pub(crate) async fn insert_event(conn: &mut AsyncPgConnection, event: &DomainEvent) -> Result<(), StoreError> {
    diesel::insert_into(events::table)
        .values((
            events::id.eq(event.id.as_str()),
            events::tenant_id.eq(event.tenant.as_str()),
            events::event_type.eq(event.kind.as_str()),
            events::envelope.eq(event.envelope()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates the delivery of `event` to `webhook` unless it exists (the
/// fan-out may run twice for one event). Returns the new id, or `None`.
async fn insert_delivery(
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
async fn requeue_delivery(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    webhook: &WebhookId,
    delivery: &DeliveryId,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let of_webhook = webhook_deliveries::webhook_id.eq(webhook.as_str());
    let row = webhook_deliveries::table.tenant_row(tenant, delivery.as_str()).filter(of_webhook);
    let status: Option<Stored<DeliveryStatus>> =
        row.select(webhook_deliveries::status).for_update().first(conn).await.optional()?;
    match status.map(Stored::into_inner) {
        None => return Ok(None),
        Some(settled) if settled.is_terminal() => {}
        Some(other) => {
            return Err(StoreError::Conflict(format!("the delivery is {other}; resend it once it has finished")));
        }
    }
    Ok(diesel::update(row)
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
    /// Stores an event and its outbox message in one statement: an event
    /// with no change of its own (the webhook benchmark, tests).
    pub async fn emit_event(&self, event: &argus_domain::DomainEvent) -> Result<(), StoreError> {
        // One statement: it needs no transaction around it.
        crate::domain::record_event(&mut *self.conn().await?, event).await
    }

    /// What an event's fan-out has to do, in one read: a delivery to make
    /// for each subscribed, enabled webhook that has none yet (a new id, not
    /// stored: [`Store::record_attempts`] writes the row with its first
    /// attempt's result, so a delivery costs one insert, not an insert and
    /// an update), the stored deliveries still waiting for their first
    /// attempt (a redelivered event, or a run that stopped before
    /// recording), with what sending needs, and those already retrying
    /// (whose retry message an interrupted earlier run may not have
    /// published). A redelivered event fans out once: the pair (event,
    /// webhook) is unique, and the record of a second copy finds it taken.
    pub async fn fan_out(&self, tenant: &TenantId, event: &EventId, event_type: &str) -> Result<FanOut, StoreError> {
        let mut conn = self.conn().await?;
        // The rule `FanOut::of_new_event` applies in memory.
        let subscribed = webhooks::enabled.eq(true).and(webhooks::events.contains(vec![event_type.to_owned()]));
        let found: Vec<(WebhookRow, Value, Option<DeliveryRecord>)> =
            events::table
                .inner_join(webhooks::table.on(webhooks::tenant_id.eq(events::tenant_id)))
                .left_join(webhook_deliveries::table.on(
                    webhook_deliveries::event_id.eq(events::id).and(webhook_deliveries::webhook_id.eq(webhooks::id)),
                ))
                .filter(events::tenant_id.eq(tenant.as_str()))
                .filter(events::id.eq(event.as_str()))
                .filter(webhook_deliveries::id.nullable().is_not_null().or(subscribed))
                .select((WebhookRow::as_select(), events::envelope, Option::<DeliveryRecord>::as_select()))
                .load(&mut conn)
                .await?;
        let mut out = FanOut::default();
        for (webhook, envelope, delivery) in found {
            let (delivery, stored) = match delivery {
                Some(d) if d.status == DeliveryStatus::Retrying => {
                    out.retrying.push(d);
                    continue;
                }
                Some(d) if d.status == DeliveryStatus::Queued && d.attempts == 0 => (d, true),
                Some(_) => continue,
                None => (DeliveryRecord::unstored(tenant, &webhook.id, event, event_type), false),
            };
            out.fresh.push(DeliveryContext { delivery, webhook, envelope, stored });
        }
        Ok(out)
    }

    /// A `webhook.test` event with `data` for one webhook only (it is not
    /// published to the events exchange): the event, its delivery and the
    /// delivery's work message, in one transaction.
    pub async fn create_test_delivery(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        data: Value,
    ) -> Result<Option<DeliveryId>, StoreError> {
        let event = DomainEvent::new(tenant, EventKind::WebhookTest, data);
        self.transaction(async |conn| {
            let owned: Option<String> = webhooks::table
                .tenant_row(tenant, webhook.as_str())
                .select(webhooks::id)
                .first(conn)
                .await
                .optional()?;
            if owned.is_none() {
                return Ok(None);
            }
            insert_event(conn, &event).await?;
            let delivery = insert_delivery(conn, tenant, webhook, &event.id, event.kind.as_str()).await?;
            if let Some(d) = &delivery {
                let task = proto::DeliveryTask {
                    delivery_id: d.to_string(),
                    webhook_id: webhook.to_string(),
                    event_id: event.id.to_string(),
                    tenant_id: tenant.to_string(),
                    attempt: 0,
                };
                enqueue(conn, NewOutboxMessage::delivery(tenant, &task)).await?;
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
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.transaction(async |conn| {
            let Some(record) = requeue_delivery(conn, tenant, webhook, delivery).await? else { return Ok(None) };
            let task = proto::DeliveryTask {
                delivery_id: record.id.to_string(),
                webhook_id: record.webhook_id.to_string(),
                event_id: record.event_id.to_string(),
                tenant_id: tenant.to_string(),
                attempt: 0,
            };
            let mut message = NewOutboxMessage::delivery(tenant, &task);
            // A fresh message id: the broker-level dedup must not swallow a resend.
            message.message_id = format!("{}:resend:{}", record.id, Utc::now().timestamp_millis());
            enqueue(conn, message).await?;
            Ok(Some(record))
        })
        .await
    }

    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        filter: &DeliveryFilter,
        page: &PageRequest<DeliveryId>,
    ) -> Result<Page<DeliveryRecord>, StoreError> {
        let page = PageQuery::newest_first(page);
        list_page(&mut *self.conn().await?, webhook_deliveries::table, tenant, page, |mut query| {
            query = query.filter(webhook_deliveries::webhook_id.eq(webhook.as_str()));
            if let Some(status) = &filter.status {
                query = query.filter(webhook_deliveries::status.eq(status.as_str()));
            }
            if let Some(t) = &filter.event_type {
                query = query.filter(webhook_deliveries::event_type.eq(t.clone()));
            }
            query
        })
        .await
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
        Ok(found.map(|(delivery, webhook, envelope)| DeliveryContext { delivery, webhook, envelope, stored: true }))
    }
}
