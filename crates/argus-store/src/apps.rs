//! Integration apps and their client secrets. Every function takes the
//! owning tenant: another tenant's app is simply not found.

use argus_types::app::{ClientType, Governance, GrantType};
use argus_types::{ClientId, SecretId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Map, Value};

use crate::schema::{apps, client_secrets};
use crate::stored_text::{Stored, StoredJson};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::{Page, PageRequest, Store, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = apps, check_for_backend(diesel::pg::Pg))]
pub struct AppRecord {
    #[diesel(deserialize_as = Stored<ClientId>)]
    pub client_id: ClientId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    pub name: String,
    #[diesel(deserialize_as = Stored<ClientType>)]
    pub client_type: ClientType,
    #[diesel(deserialize_as = Stored<Vec<GrantType>>)]
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
    #[diesel(deserialize_as = StoredJson<Governance>)]
    pub governance: Governance,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

tenant_table!(apps, client_id);

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

/// Stores the keyed hash of a new secret of the app (in the caller's
/// transaction).
pub(crate) async fn insert_client_secret(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    client_id: &ClientId,
    secret_hash: &[u8],
) -> Result<(), StoreError> {
    diesel::insert_into(client_secrets::table)
        .values((
            client_secrets::id.eq(SecretId::generate().as_str()),
            client_secrets::client_id.eq(client_id.as_str()),
            client_secrets::tenant_id.eq(tenant.as_str()),
            client_secrets::secret_hash.eq(secret_hash),
        ))
        .execute(conn)
        .await?;
    Ok(())
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
        self.transaction(async |conn| {
            let app = diesel::insert_into(apps::table)
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
                .returning(AppRecord::as_returning())
                .get_result(conn)
                .await?;
            if let Some(hash) = &secret_hash {
                insert_client_secret(conn, tenant, &client_id, hash).await?;
            }
            Ok(app)
        })
        .await
    }

    pub async fn get_app(&self, tenant: &TenantId, client_id: &ClientId) -> Result<Option<AppRecord>, StoreError> {
        find_row(&mut *self.conn().await?, apps::table.tenant_row(tenant, client_id.as_str())).await
    }

    /// The tenant's apps in creation order, a page at a time.
    pub async fn list_apps(
        &self,
        tenant: &TenantId,
        page: &PageRequest<ClientId>,
    ) -> Result<Page<AppRecord>, StoreError> {
        list_page(&mut *self.conn().await?, apps::table, tenant, PageQuery::oldest_first(page), |q| q).await
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
        let row = apps::table.tenant_row(tenant, client_id.as_str());
        self.transaction(async |conn| {
            let Some(app) = row.select(AppRecord::as_select()).for_update().first(conn).await.optional()? else {
                return Ok(None);
            };
            let merged = app.governance.merged(patch, &app.approved_scopes, &app.redirect_uris)?;
            let app = diesel::update(row)
                .set((apps::governance.eq(governance_json(&merged)?), apps::updated_at.eq(diesel::dsl::now)))
                .returning(AppRecord::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(app))
        })
        .await
    }
}
