//! Delivery attempts and what they do to a webhook's health.

use argus_domain::DeliveryStatus;
use argus_types::{DeliveryId, TenantId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{delivery_attempts, webhook_deliveries, webhooks};
use crate::{Store, StoreError};

/// `last_success_at` is kept to this many seconds, to spare writes.
const HEALTH_RESOLUTION_SECONDS: i64 = 10;

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

impl Store {
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
        self.transaction(async |conn| {
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
