use argus_types::{TenantId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::oauth::revoke_family;
use crate::revoked::RevokedToken;
use crate::schema::{grant_families, sessions, users};
use crate::stored_text::Stored;
use crate::tenant_rows::{TenantTable, find_row, tenant_table};
use crate::{Store, StoreError, unique_violation_to_conflict};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRecord {
    #[diesel(deserialize_as = Stored<UserId>)]
    pub id: UserId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Set once the user is disabled: they cannot sign in.
    pub disabled_at: Option<DateTime<Utc>>,
}

tenant_table!(users);

impl Store {
    /// Creates a user; `email` must already be normalised (lowercase).
    pub async fn create_user(
        &self,
        tenant: &TenantId,
        email: &str,
        password_hash: &str,
    ) -> Result<UserRecord, StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(users::table)
            .values((
                users::id.eq(UserId::generate().as_str()),
                users::tenant_id.eq(tenant.as_str()),
                users::email.eq(email),
                users::password_hash.eq(password_hash),
            ))
            .returning(UserRecord::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| unique_violation_to_conflict(e, "a user with that email exists in this tenant"))
    }

    pub async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(users::table
            .of_tenant(tenant)
            .filter(users::email.eq(email))
            .select(UserRecord::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    pub async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        find_row(&mut conn, users::table.tenant_row(tenant, id.as_str())).await
    }

    /// The tenant's users, oldest first (for operators).
    pub async fn list_users(&self, tenant: &TenantId) -> Result<Vec<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(users::table
            .of_tenant(tenant)
            .order((users::created_at, users::id))
            .select(UserRecord::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Disables a user in one transaction: they can no longer sign in,
    /// their sessions end, and every grant they gave is revoked (refresh
    /// tokens and the access tokens issued from them). `None` when the
    /// tenant has no such user; disabling twice changes nothing more.
    pub async fn disable_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<DisabledUser>, StoreError> {
        self.transaction(async |conn| {
            let user = users::table.tenant_row(tenant, id.as_str());
            let found: Option<Option<DateTime<Utc>>> =
                user.select(users::disabled_at).for_update().first(conn).await.optional()?;
            let Some(was_disabled) = found else { return Ok(None) };
            let disabled_at = match was_disabled {
                Some(at) => at,
                None => diesel::update(user)
                    .set(users::disabled_at.eq(Utc::now()))
                    .returning(users::disabled_at)
                    .get_result::<Option<DateTime<Utc>>>(conn)
                    .await?
                    .unwrap_or_else(Utc::now),
            };
            let sessions_ended = diesel::delete(
                sessions::table
                    .filter(sessions::tenant_id.eq(tenant.as_str()))
                    .filter(sessions::user_id.eq(id.as_str())),
            )
            .execute(conn)
            .await?;
            let families: Vec<String> = grant_families::table
                .filter(grant_families::tenant_id.eq(tenant.as_str()))
                .filter(grant_families::user_id.eq(id.as_str()))
                .filter(grant_families::revoked_at.is_null())
                .select(grant_families::id)
                .load(conn)
                .await?;
            let mut revoked = Vec::new();
            for family in &families {
                revoked.extend(revoke_family(conn, family).await?);
            }
            Ok(Some(DisabledUser { disabled_at, sessions_ended, grants_revoked: families.len(), revoked }))
        })
        .await
    }
}

/// What disabling a user did.
#[derive(Debug, Clone)]
pub struct DisabledUser {
    pub disabled_at: DateTime<Utc>,
    pub sessions_ended: usize,
    pub grants_revoked: usize,
    /// The access tokens revoked with the grants (every replica learns of
    /// them through the revocation notices).
    pub revoked: Vec<RevokedToken>,
}
