use argus_types::{TenantId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::users;
use crate::{Store, StoreError, parse_id, unique_violation_to_conflict};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&r.id)?,
            tenant_id: parse_id(&r.tenant_id)?,
            email: r.email,
            password_hash: r.password_hash,
            created_at: r.created_at,
        })
    }
}

impl Store {
    /// Creates a user; `email` must already be normalised (lowercase).
    pub async fn create_user(
        &self,
        tenant: &TenantId,
        email: &str,
        password_hash: &str,
    ) -> Result<UserRecord, StoreError> {
        let mut conn = self.conn().await?;
        let row: UserRow = diesel::insert_into(users::table)
            .values((
                users::id.eq(UserId::generate().as_str()),
                users::tenant_id.eq(tenant.as_str()),
                users::email.eq(email),
                users::password_hash.eq(password_hash),
            ))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| unique_violation_to_conflict(e, "a user with that email exists in this tenant"))?;
        row.try_into()
    }

    pub async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        users::table
            .filter(users::tenant_id.eq(tenant.as_str()))
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }

    pub async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        users::table
            .filter(users::tenant_id.eq(tenant.as_str()))
            .filter(users::id.eq(id.as_str()))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }
}
