//! Client authentication: an app found by its `client_id` (whichever
//! tenant owns it), its secrets' keyed hashes, and secret rotation.

use argus_types::{ClientId, TenantId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::apps::{AppRecord, insert_client_secret};
use crate::schema::{apps, client_secrets};
use crate::tenant_rows::TenantTable;
use crate::{Store, StoreError};

/// The channel the `argus_client_changed` trigger notifies, with the
/// `client_id`, whenever an app or one of its secrets changes.
pub const CLIENT_CHANGED_CHANNEL: &str = "argus_client_changed";

/// What authenticating a client needs: the app and its secrets' keyed hashes.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub app: AppRecord,
    pub secrets: Vec<ClientSecretHash>,
}

#[derive(Debug, Clone)]
pub struct ClientSecretHash {
    pub hash: Vec<u8>,
    /// When a rotated-out secret stops working; `None` for the current one.
    pub expires_at: Option<DateTime<Utc>>,
}

impl ClientSecretHash {
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

impl Store {
    /// The app behind a `client_id`, whichever tenant owns it: the token
    /// endpoint learns the tenant from the client that authenticates.
    pub async fn app_for_client(&self, client_id: &ClientId) -> Result<Option<AppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(apps::table.find(client_id.as_str()).select(AppRecord::as_select()).first(&mut conn).await.optional()?)
    }

    /// The app behind a `client_id` and its unexpired secrets, in one round
    /// trip: the token endpoint's hot path.
    pub async fn client_for_authentication(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<ClientCredentials>, StoreError> {
        let mut conn = self.conn().await?;
        type SecretColumns = (Vec<u8>, Option<DateTime<Utc>>);
        let rows: Vec<(AppRecord, Option<SecretColumns>)> = apps::table
            .left_join(
                client_secrets::table.on(client_secrets::client_id
                    .eq(apps::client_id)
                    .and(client_secrets::expires_at.is_null().or(client_secrets::expires_at.gt(diesel::dsl::now)))),
            )
            .filter(apps::client_id.eq(client_id.as_str()))
            .select((AppRecord::as_select(), (client_secrets::secret_hash, client_secrets::expires_at).nullable()))
            .load(&mut conn)
            .await?;
        let mut rows = rows.into_iter();
        let Some((app, first)) = rows.next() else { return Ok(None) };
        let secrets = first
            .into_iter()
            .chain(rows.filter_map(|(_, s)| s))
            .map(|(hash, expires_at)| ClientSecretHash { hash, expires_at })
            .collect();
        Ok(Some(ClientCredentials { app, secrets }))
    }

    /// Adds a new secret; the newest previous one stays valid for `grace`,
    /// any older one stops now, so a client never holds more than two.
    /// Returns when the previous secret stops working, or `None` when the
    /// tenant has no such app.
    pub async fn rotate_client_secret(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
        new_hash: Vec<u8>,
        grace: Duration,
    ) -> Result<Option<Option<DateTime<Utc>>>, StoreError> {
        self.transaction(async |conn| {
            let app = apps::table.tenant_row(tenant, client_id.as_str());
            let owned: Option<String> = app.select(apps::client_id).for_update().first(conn).await.optional()?;
            if owned.is_none() {
                return Ok(None);
            }
            let now = Utc::now();
            let active: Vec<(String, Option<DateTime<Utc>>)> = client_secrets::table
                .filter(client_secrets::client_id.eq(client_id.as_str()))
                .filter(client_secrets::expires_at.is_null().or(client_secrets::expires_at.gt(now)))
                .order(client_secrets::created_at.desc())
                .select((client_secrets::id, client_secrets::expires_at))
                .load(conn)
                .await?;
            let mut previous_until = None;
            for (i, (id, expires_at)) in active.iter().enumerate() {
                let until = if i == 0 { expires_at.map_or(now + grace, |e| e.min(now + grace)) } else { now };
                if i == 0 {
                    previous_until = Some(until);
                }
                diesel::update(client_secrets::table.find(id))
                    .set(client_secrets::expires_at.eq(until))
                    .execute(conn)
                    .await?;
            }
            diesel::delete(client_secrets::table.filter(client_secrets::client_id.eq(client_id.as_str())))
                .filter(client_secrets::expires_at.le(now))
                .execute(conn)
                .await?;
            insert_client_secret(conn, tenant, client_id, &new_hash).await?;
            Ok(Some(previous_until))
        })
        .await
    }
}
