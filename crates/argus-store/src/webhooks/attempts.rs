//! Delivery attempts and what they do to a webhook's health.

use argus_domain::DeliveryStatus;
use argus_types::{DeliveryId, EventId, TenantId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Double, Jsonb, Text};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde_json::Value;

use crate::prepared::{no_such_parameter, prepared_statement, push_sql_with_binds};
use crate::schema::{delivery_attempts, webhook_deliveries};
use crate::{Store, StoreError};

/// `last_success_at` is kept to this many seconds, to spare writes.
const HEALTH_RESOLUTION_SECONDS: f64 = 10.0;

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

/// Which delivery, with what its row needs should the fan-out not have
/// stored it yet: a first attempt's delivery is written with its result.
#[derive(Debug, Clone)]
pub struct DeliveryKey {
    pub id: DeliveryId,
    /// Whether the row exists; if not, the record of the first attempt (or
    /// of the postponement) writes it.
    pub stored: bool,
    pub webhook: WebhookId,
    pub event: EventId,
    pub event_type: String,
}

/// One attempt at one delivery, for [`Store::record_attempts`].
#[derive(Debug, Clone)]
pub struct Attempted {
    pub delivery: DeliveryKey,
    pub record: AttemptRecord,
}

/// Deliveries' rows, attempt rows and deliveries' state in one statement,
/// prepared once per connection ([`crate::prepared`]). A delivery without
/// a row is created with its state (a fan-out's first attempts, and the
/// deliveries it postponed, `attempt` 0). An attempt is recorded once: a
/// delivery whose attempt row exists already (a redelivered message) is
/// not updated again, and only the tenant's deliveries are. The webhooks'
/// health follows the attempts recorded.
struct RecordDeliveries<'a> {
    tenant: &'a str,
    /// Whether the deliveries' rows exist: which statement to run.
    stored: bool,
    /// The rows as one JSON array, not an array per column: PostgreSQL
    /// plans `unnest` of a parameter for its actual length, so a statement
    /// of arrays is planned anew on every call (0.8 ms, more than it takes
    /// to run), while `jsonb_to_recordset` has one estimate and the plan is
    /// made once.
    rows: Value,
    disable_after_seconds: f64,
    disabled_reason: String,
}

/// One row of [`RecordDeliveries`]: a delivery and, unless it was
/// postponed, its attempt.
#[derive(Serialize)]
struct DeliveryRow<'a> {
    id: &'a str,
    webhook_id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    status: DeliveryStatus,
    attempt: i32,
    attempted_at: Option<DateTime<Utc>>,
    response_status: Option<i32>,
    duration_ms: Option<i32>,
    next_attempt_at: Option<DateTime<Utc>>,
    error: Option<&'a str>,
    response_body: Option<&'a str>,
    disable: Option<&'a str>,
}

/// The rows of a [`RecordDeliveries`], as a table `v`.
macro_rules! rows_sql {
    () => {
        "WITH v AS (
             SELECT * FROM jsonb_to_recordset($2)
                 AS v(id text, webhook_id text, event_id text, event_type text, status text, attempt int4,
                      attempted_at timestamptz, response_status int4, duration_ms int4,
                      next_attempt_at timestamptz, error text, response_body text, disable text)
         )"
    };
}

/// What the attempts recorded (`recorded`) do to their webhooks' health.
macro_rules! health_sql {
    () => {
        ", health AS (
             -- Per webhook: whether its latest recorded attempt succeeded,
             -- when that was, and why a 410 disables it.
             SELECT v.webhook_id,
                    (array_agg(v.status = 'succeeded' ORDER BY v.attempted_at DESC))[1] AS ok,
                    max(v.attempted_at) AS at, max(v.disable) AS gone
             FROM v JOIN recorded r ON r.delivery_id = v.id
             GROUP BY v.webhook_id
         ), failing AS (
             SELECT h.*, coalesce(w.failing_since, h.at) AS since
             FROM health h JOIN webhooks w ON w.tenant_id = $1 AND w.id = h.webhook_id
         ), healed AS (
             -- Written only when something changes (`last_success_at` to
             -- within the resolution), so concurrent deliveries to one
             -- webhook do not queue on its row lock. (No placeholder may be
             -- written in a comment: each is bound to a parameter.)
             UPDATE webhooks w
             SET last_success_at = CASE WHEN f.ok THEN f.at ELSE w.last_success_at END,
                 failing_since = CASE WHEN f.ok THEN NULL ELSE f.since END,
                 enabled = w.enabled AND f.gone IS NULL AND (f.ok OR f.since > f.at - $4 * interval '1 second'),
                 disabled_reason = CASE
                     WHEN NOT w.enabled THEN w.disabled_reason
                     WHEN f.gone IS NOT NULL THEN f.gone
                     WHEN NOT f.ok AND f.since <= f.at - $4 * interval '1 second' THEN $5
                     ELSE w.disabled_reason END
             FROM failing f
             WHERE w.tenant_id = $1 AND w.id = f.webhook_id
               AND ((f.ok AND (w.failing_since IS NOT NULL OR w.last_success_at IS NULL
                               OR w.last_success_at < f.at - $3 * interval '1 second'))
                    OR (NOT f.ok AND w.failing_since IS NULL)
                    OR (w.enabled AND f.gone IS NOT NULL)
                    OR (w.enabled AND NOT f.ok AND f.since <= f.at - $4 * interval '1 second'))
         )
         SELECT count(*) FROM recorded"
    };
}

impl<'a> RecordDeliveries<'a> {
    /// Deliveries the fan-out did not store: their rows, with their state,
    /// and their attempts. No join touches `webhook_deliveries`, so the
    /// plan, made once, stays right however the table grows.
    const UNSTORED_SQL: &'static str = concat!(
        rows_sql!(),
        ", created AS (
             INSERT INTO webhook_deliveries
                 (id, tenant_id, webhook_id, event_id, event_type, status, attempts, attempted_at,
                  response_status, duration_ms, next_attempt_at, error, response_body)
             SELECT v.id, $1, v.webhook_id, v.event_id, v.event_type, v.status, v.attempt, v.attempted_at,
                    v.response_status, v.duration_ms, v.next_attempt_at, v.error, v.response_body
             FROM v
             ON CONFLICT DO NOTHING
             RETURNING id
         ), recorded AS (
             INSERT INTO delivery_attempts
                 (delivery_id, attempt, attempted_at, response_status, duration_ms, error, response_body)
             SELECT v.id, v.attempt, v.attempted_at, v.response_status, v.duration_ms, v.error, v.response_body
             FROM v JOIN created c ON c.id = v.id
             WHERE v.attempt > 0
             ON CONFLICT DO NOTHING
             RETURNING delivery_id
         )",
        health_sql!()
    );

    /// Attempts at stored deliveries (retries, resends): planned on every
    /// call (these are few), as a plan kept from when the table was small
    /// would scan it whole.
    const STORED_SQL: &'static str = concat!(
        rows_sql!(),
        ", recorded AS (
             INSERT INTO delivery_attempts
                 (delivery_id, attempt, attempted_at, response_status, duration_ms, error, response_body)
             SELECT v.id, v.attempt, v.attempted_at, v.response_status, v.duration_ms, v.error, v.response_body
             FROM v
             WHERE v.attempt > 0
               AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.id AND d.tenant_id = $1)
             ON CONFLICT DO NOTHING
             RETURNING delivery_id
         ), updated AS (
             UPDATE webhook_deliveries d
             SET status = v.status, attempts = v.attempt, attempted_at = v.attempted_at,
                 response_status = v.response_status, duration_ms = v.duration_ms,
                 next_attempt_at = v.next_attempt_at, error = v.error, response_body = v.response_body,
                 updated_at = now()
             FROM v
             WHERE d.tenant_id = $1 AND d.id = v.id AND d.id IN (SELECT delivery_id FROM recorded)
         )",
        health_sql!()
    );

    fn new(
        tenant: &'a TenantId,
        stored: bool,
        attempts: &[&'a Attempted],
        postponed: &'a [DeliveryKey],
        disable_after: Duration,
    ) -> Result<RecordDeliveries<'a>, StoreError> {
        let attempted = attempts.iter().map(|a| (&a.delivery, Some(&a.record)));
        let rows: Vec<DeliveryRow<'_>> = attempted
            .chain(postponed.iter().map(|key| (key, None)))
            .map(|(key, record)| DeliveryRow {
                id: key.id.as_str(),
                webhook_id: key.webhook.as_str(),
                event_id: key.event.as_str(),
                event_type: &key.event_type,
                status: record.map_or(DeliveryStatus::Queued, |r| r.status),
                attempt: record.map_or(0, |r| r.attempt),
                attempted_at: record.map(|r| r.attempted_at),
                response_status: record.and_then(|r| r.response_status),
                duration_ms: record.map(|r| r.duration_ms),
                next_attempt_at: record.and_then(|r| r.next_attempt_at),
                error: record.and_then(|r| r.error.as_deref()),
                response_body: record.and_then(|r| r.response_body.as_deref()),
                disable: record.and_then(|r| r.disable.as_deref()),
            })
            .collect();
        Ok(RecordDeliveries {
            tenant: tenant.as_str(),
            stored,
            rows: serde_json::to_value(rows).map_err(|e| StoreError::Corrupt(format!("attempt rows: {e}")))?,
            disable_after_seconds: disable_after.num_seconds() as f64,
            disabled_reason: format!("no successful delivery for {} days", disable_after.num_days()),
        })
    }
}

impl QueryFragment<Pg> for RecordDeliveries<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let sql = if self.stored {
            out.unsafe_to_cache_prepared();
            Self::STORED_SQL
        } else {
            Self::UNSTORED_SQL
        };
        push_sql_with_binds(&mut out, sql, |out, n| match n {
            1 => out.push_bind_param::<Text, _>(self.tenant),
            2 => out.push_bind_param::<Jsonb, _>(&self.rows),
            3 => out.push_bind_param::<Double, _>(&HEALTH_RESOLUTION_SECONDS),
            4 => out.push_bind_param::<Double, _>(&self.disable_after_seconds),
            5 => out.push_bind_param::<Text, _>(&self.disabled_reason),
            n => Err(no_such_parameter(n)),
        })
    }
}

prepared_statement!(RecordDeliveries);

impl Store {
    /// Records attempts (at most one per delivery) and their consequences
    /// in a statement or two, whatever their number: the
    /// rows of deliveries the fan-out did not store before attempting them
    /// and of those it `postponed`, the attempt rows (once each, even if a
    /// message is redelivered), the deliveries' state, and the webhooks'
    /// health (a webhook failing without a success for `disable_after` is
    /// disabled; a 410 disables it at once). Deliveries of other tenants
    /// are left alone.
    pub async fn record_attempts(
        &self,
        tenant: &TenantId,
        attempts: &[Attempted],
        postponed: &[DeliveryKey],
        disable_after: Duration,
    ) -> Result<(), StoreError> {
        if attempts.is_empty() && postponed.is_empty() {
            return Ok(());
        }
        // One statement, so no transaction is needed around it.
        let (stored, unstored): (Vec<&Attempted>, Vec<&Attempted>) = attempts.iter().partition(|a| a.delivery.stored);
        let mut conn = self.conn().await?;
        // One statement each, so no transaction is needed around them: a
        // failure of the second leaves the first's attempts recorded, and
        // the caller's retry finds them.
        if !unstored.is_empty() || !postponed.is_empty() {
            RecordDeliveries::new(tenant, false, &unstored, postponed, disable_after)?.execute(&mut conn).await?;
        }
        if !stored.is_empty() {
            RecordDeliveries::new(tenant, true, &stored, &[], disable_after)?.execute(&mut conn).await?;
        }
        Ok(())
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
