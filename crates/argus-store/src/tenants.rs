use argus_types::TenantId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::tenants;
use crate::stored_text::Stored;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct TenantRecord {
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// An approved partner: may fetch the partner contract files
    /// (`argusctl tenant entitle --partner`).
    pub partner: bool,
}

impl Store {
    pub async fn create_tenant(&self, name: &str) -> Result<TenantRecord, StoreError> {
        let mut conn = self.conn().await?;
        Ok(diesel::insert_into(tenants::table)
            .values((tenants::id.eq(TenantId::generate().as_str()), tenants::name.eq(name)))
            .returning(TenantRecord::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    /// Makes sure the tenant `id` exists, as `name` if it is new. The
    /// sandbox's database holds no tenants of its own: a sandbox token
    /// names its live tenant, which the sandbox API provisions here on
    /// first use, empty.
    pub async fn ensure_tenant(&self, id: &TenantId, name: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(tenants::table)
            .values((tenants::id.eq(id.as_str()), tenants::name.eq(name)))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Every tenant, oldest first (for operators).
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(tenants::table
            .order((tenants::created_at, tenants::id))
            .select(TenantRecord::as_select())
            .load(&mut conn)
            .await?)
    }

    pub async fn get_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(tenants::table.find(id.as_str()).select(TenantRecord::as_select()).first(&mut conn).await.optional()?)
    }

    /// Sets the tenant's partner entitlement; the tenant as it now is, or
    /// `None` when there is no such tenant.
    pub async fn set_partner_entitlement(
        &self,
        id: &TenantId,
        partner: bool,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(diesel::update(tenants::table.find(id.as_str()))
            .set(tenants::partner.eq(partner))
            .returning(TenantRecord::as_returning())
            .get_result(&mut conn)
            .await
            .optional()?)
    }

    /// Whether the tenant is an approved partner (false for no such tenant).
    pub async fn is_partner(&self, id: &TenantId) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        Ok(tenants::table
            .find(id.as_str())
            .select(tenants::partner)
            .first(&mut conn)
            .await
            .optional()?
            .unwrap_or(false))
    }
}
