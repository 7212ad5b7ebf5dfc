//! Webhook subscriptions, the events they receive, deliveries and attempts.
//! Functions that must share a transaction with an outbox write take the
//! connection; the rest go through the pool. All are tenant-scoped.

mod attempts;
mod deliveries;

pub use attempts::{AttemptRecord, AttemptRow, Attempted, DeliveryKey};
pub use deliveries::{DeliveryContext, DeliveryFilter, DeliveryRecord, FanOut};

use argus_types::{TenantId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::{delivery_attempts, tenants, webhook_deliveries, webhooks};
use crate::stored_text::Stored;
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page};
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};

/// The channel the webhooks' triggers notify with a tenant's id when one
/// of its webhooks is added, deleted, or changed in what a delivery needs
/// (its URL, events, state or secrets); the same changes count in
/// [`TenantWebhooks::version`].
pub const WEBHOOK_CHANGED_CHANNEL: &str = "argus_webhook_changed";

/// A tenant's enabled webhooks as of a count of changes to its webhooks
/// (`tenants.webhooks_version`, which every event's message carries as
/// [`crate::outbox::WEBHOOKS_VERSION_HEADER`]).
#[derive(Debug, Clone, Default)]
pub struct TenantWebhooks {
    pub version: i64,
    pub enabled: Vec<WebhookRecord>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
pub struct WebhookRow {
    #[diesel(deserialize_as = Stored<WebhookId>)]
    pub id: WebhookId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
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

impl TenantTable for webhooks::table {
    type TenantId = webhooks::tenant_id;
    type Id = webhooks::id;
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhooks)]
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

impl Store {
    /// Creates a webhook unless the tenant has `max_per_tenant` already (a
    /// [`StoreError::Conflict`]). Creates of one tenant take turns on its
    /// row (`FOR NO KEY UPDATE`, which leaves inserts referencing the tenant
    /// alone), so concurrent ones cannot count the same free place.
    pub async fn create_webhook(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        new: NewWebhook,
        max_per_tenant: usize,
    ) -> Result<WebhookRecord, StoreError> {
        self.transaction(async |conn| {
            tenants::table
                .filter(tenants::id.eq(tenant.as_str()))
                .select(tenants::id)
                .for_no_key_update()
                .first::<String>(conn)
                .await
                .optional()?;
            let existing: i64 = webhooks::table.of_tenant(tenant).count().get_result(conn).await?;
            if usize::try_from(existing).unwrap_or(usize::MAX) >= max_per_tenant {
                return Err(StoreError::Conflict(format!(
                    "the tenant has {existing} webhooks, the most allowed is {max_per_tenant}; delete one first"
                )));
            }
            let stamp = stamp.take(conn, tenant).await?;
            Ok(diesel::insert_into(webhooks::table)
                .values((
                    webhooks::id.eq(stamp.id::<WebhookId>("webhook", 0).as_str()),
                    webhooks::tenant_id.eq(tenant.as_str()),
                    &new,
                    webhooks::created_at.eq(stamp.sql_time()),
                    webhooks::updated_at.eq(stamp.sql_time()),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?)
        })
        .await
    }

    pub async fn get_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError> {
        find_row(&mut *self.conn().await?, webhooks::table.tenant_row(tenant, id.as_str())).await
    }

    /// The tenant's enabled webhooks (at most the per-tenant cap), what a
    /// fan-out sends to, with the count of changes they reflect, in one
    /// statement (one snapshot); `None` for no such tenant.
    pub async fn enabled_webhooks(&self, tenant: &TenantId) -> Result<Option<TenantWebhooks>, StoreError> {
        let rows: Vec<(i64, Option<WebhookRow>)> = tenants::table
            .left_join(webhooks::table.on(webhooks::tenant_id.eq(tenants::id).and(webhooks::enabled.eq(true))))
            .filter(tenants::id.eq(tenant.as_str()))
            .order(webhooks::id)
            .select((tenants::webhooks_version, Option::<WebhookRow>::as_select()))
            .load(&mut *self.conn().await?)
            .await?;
        let Some(&(version, _)) = <[_]>::first(&rows) else { return Ok(None) };
        Ok(Some(TenantWebhooks { version, enabled: rows.into_iter().filter_map(|(_, w)| w).collect() }))
    }

    /// The tenant's webhooks in creation order, a page at a time.
    pub async fn list_webhooks(
        &self,
        tenant: &TenantId,
        page: &PageRequest<WebhookId>,
    ) -> Result<Page<WebhookRecord>, StoreError> {
        list_page(&mut *self.conn().await?, webhooks::table, tenant, PageQuery::oldest_first(page), |q| q).await
    }

    pub async fn update_webhook(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &WebhookId,
        changes: WebhookChanges,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let webhook = webhooks::table.tenant_row(tenant, id.as_str());
        self.transaction(async |conn| {
            let Some(current): Option<WebhookRow> = find_row(conn, webhook.for_update()).await? else {
                return Ok(None);
            };
            let stamp = stamp.take(conn, tenant).await?;
            // The old secret's overlap runs on the clock: the worker signs
            // with both until then, in a scenario too.
            let now = Utc::now();
            let (secret, previous, previous_until) = match changes.secret_sealed {
                Some(new) => (new, Some(current.secret_sealed.clone()), Some(now + changes.secret_overlap)),
                None => {
                    (current.secret_sealed.clone(), current.previous_secret_sealed, current.previous_secret_expires_at)
                }
            };
            let enabled = changes.enabled.unwrap_or(current.enabled);
            let re_enabled = enabled && !current.enabled;
            let row = diesel::update(webhook)
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
                    webhooks::updated_at.eq(stamp.time()),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(row))
        })
        .await
    }

    /// How many delivery rows and attempt rows a webhook has, whatever the
    /// tenant (tests of deletion).
    #[cfg(feature = "testing")]
    pub async fn delivery_rows_of(&self, webhook: &WebhookId) -> Result<(i64, i64), StoreError> {
        let mut conn = self.conn().await?;
        let deliveries = webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(webhook.as_str()));
        let attempts = delivery_attempts::table
            .filter(delivery_attempts::delivery_id.eq_any(deliveries.select(webhook_deliveries::id)))
            .count()
            .get_result(&mut conn)
            .await?;
        Ok((deliveries.count().get_result(&mut conn).await?, attempts))
    }

    /// Deletes a webhook with its deliveries and their attempts (no foreign
    /// key cascades there: the delivery path would pay for its checks on
    /// every record).
    pub async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool, StoreError> {
        self.transaction(async |conn| {
            let n = diesel::delete(webhooks::table.tenant_row(tenant, id.as_str())).execute(conn).await?;
            if n == 0 {
                return Ok(false);
            }
            let deliveries = webhook_deliveries::table
                .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
                .filter(webhook_deliveries::webhook_id.eq(id.as_str()))
                .select(webhook_deliveries::id);
            diesel::delete(delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(deliveries)))
                .execute(conn)
                .await?;
            diesel::delete(
                webhook_deliveries::table
                    .filter(webhook_deliveries::tenant_id.eq(tenant.as_str()))
                    .filter(webhook_deliveries::webhook_id.eq(id.as_str())),
            )
            .execute(conn)
            .await?;
            Ok(true)
        })
        .await
    }
}
