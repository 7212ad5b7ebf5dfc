use argus_types::TenantId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::tenants;
use crate::{Store, StoreError, parse_id};

#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
struct TenantRow {
    id: String,
    name: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for TenantRecord {
    type Error = StoreError;

    fn try_from(r: TenantRow) -> Result<Self, StoreError> {
        Ok(Self { id: parse_id(&r.id)?, name: r.name, created_at: r.created_at })
    }
}

impl Store {
    pub async fn create_tenant(&self, name: &str) -> Result<TenantRecord, StoreError> {
        let mut conn = self.conn().await?;
        let row: TenantRow = diesel::insert_into(tenants::table)
            .values((tenants::id.eq(TenantId::generate().as_str()), tenants::name.eq(name)))
            .returning(TenantRow::as_returning())
            .get_result(&mut conn)
            .await?;
        row.try_into()
    }

    /// Every tenant, oldest first (for operators).
    pub async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        tenants::table
            .order((tenants::created_at, tenants::id))
            .select(TenantRow::as_select())
            .load(&mut conn)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    pub async fn get_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        tenants::table
            .find(id.as_str())
            .select(TenantRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }
}
