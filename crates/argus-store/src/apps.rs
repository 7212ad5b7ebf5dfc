//! Integration apps and their client secrets. Every function takes the
//! owning tenant: another tenant's app is simply not found.

use argus_types::app::{ClientType, Governance, GrantType};
use argus_types::pagination::fetch_limit;
use argus_types::{ClientId, SecretId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Map, Value};

use crate::schema::{apps, client_secrets};
use crate::stored_text::Stored;
use crate::{Page, Store, StoreError};

#[derive(Debug, Clone)]
pub struct AppRecord {
    pub client_id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    pub client_type: ClientType,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
    pub governance: Governance,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated registration, ready to store.
#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub client_type: ClientType,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = apps, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AppRow {
    #[diesel(deserialize_as = Stored<ClientId>)]
    client_id: ClientId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    tenant_id: TenantId,
    name: String,
    client_type: String,
    grant_types: Vec<String>,
    redirect_uris: Vec<String>,
    requested_scopes: Vec<String>,
    approved_scopes: Vec<String>,
    governance: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AppRow> for AppRecord {
    type Error = StoreError;

    fn try_from(r: AppRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("app {}: {what}", r.client_id));
        Ok(Self {
            client_type: r.client_type.parse().map_err(|()| corrupt("client_type"))?,
            grant_types: r
                .grant_types
                .iter()
                .map(|g| g.parse().map_err(|()| corrupt("grant_types")))
                .collect::<Result<_, _>>()?,
            governance: serde_json::from_value(r.governance.clone()).map_err(|_| corrupt("governance"))?,
            client_id: r.client_id,
            tenant_id: r.tenant_id,
            name: r.name,
            redirect_uris: r.redirect_uris,
            requested_scopes: r.requested_scopes,
            approved_scopes: r.approved_scopes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn governance_json(g: &Governance) -> Result<Value, StoreError> {
    serde_json::to_value(g).map_err(|e| StoreError::Corrupt(format!("governance: {e}")))
}

impl Store {
    /// Stores the app and, for a confidential client, the keyed hash of its
    /// first secret, in one transaction.
    pub async fn create_app(
        &self,
        tenant: &TenantId,
        new: NewApp,
        secret_hash: Option<Vec<u8>>,
    ) -> Result<AppRecord, StoreError> {
        let client_id = ClientId::generate();
        let grant_types: Vec<&str> = new.grant_types.iter().map(|g| g.as_str()).collect();
        let governance = governance_json(&Governance::default())?;
        let mut conn = self.conn().await?;
        let row = conn
            .transaction::<AppRow, StoreError, _>(async |conn| {
                let row: AppRow = diesel::insert_into(apps::table)
                    .values((
                        apps::client_id.eq(client_id.as_str()),
                        apps::tenant_id.eq(tenant.as_str()),
                        apps::name.eq(&new.name),
                        apps::client_type.eq(new.client_type.as_str()),
                        apps::grant_types.eq(&grant_types),
                        apps::redirect_uris.eq(&new.redirect_uris),
                        apps::requested_scopes.eq(&new.requested_scopes),
                        apps::approved_scopes.eq(&new.approved_scopes),
                        apps::governance.eq(&governance),
                    ))
                    .returning(AppRow::as_returning())
                    .get_result(conn)
                    .await?;
                if let Some(hash) = &secret_hash {
                    diesel::insert_into(client_secrets::table)
                        .values((
                            client_secrets::id.eq(SecretId::generate().as_str()),
                            client_secrets::client_id.eq(client_id.as_str()),
                            client_secrets::tenant_id.eq(tenant.as_str()),
                            client_secrets::secret_hash.eq(hash),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok(row)
            })
            .await?;
        row.try_into()
    }

    pub async fn get_app(&self, tenant: &TenantId, client_id: &ClientId) -> Result<Option<AppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        apps::table
            .filter(apps::tenant_id.eq(tenant.as_str()))
            .filter(apps::client_id.eq(client_id.as_str()))
            .select(AppRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }

    /// The tenant's apps in creation order, `limit` at a time, starting after
    /// the `after` cursor.
    pub async fn list_apps(
        &self,
        tenant: &TenantId,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Page<AppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = apps::table
            .filter(apps::tenant_id.eq(tenant.as_str()))
            .order(apps::client_id)
            .limit(fetch_limit(limit))
            .select(AppRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(apps::client_id.gt(after.as_str()));
        }
        let rows: Vec<AppRow> = query.load(&mut conn).await?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<AppRecord>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |a| a.client_id.to_string()))
    }

    /// Merges a governance patch (see [`Governance::merged`]) under a row
    /// lock, so concurrent patches cannot lose each other's flags. `None`
    /// when the tenant has no such app; a refused patch changes nothing.
    pub async fn patch_governance(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
        patch: &Map<String, Value>,
    ) -> Result<Option<AppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<Option<AppRecord>, StoreError, _>(async |conn| {
            let Some(row) = apps::table
                .filter(apps::tenant_id.eq(tenant.as_str()))
                .filter(apps::client_id.eq(client_id.as_str()))
                .select(AppRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let app = AppRecord::try_from(row)?;
            let merged = app.governance.merged(patch, &app.approved_scopes, &app.redirect_uris)?;
            let row: AppRow = diesel::update(apps::table)
                .filter(apps::tenant_id.eq(tenant.as_str()))
                .filter(apps::client_id.eq(client_id.as_str()))
                .set((apps::governance.eq(governance_json(&merged)?), apps::updated_at.eq(diesel::dsl::now)))
                .returning(AppRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(row.try_into()?))
        })
        .await
    }
}
