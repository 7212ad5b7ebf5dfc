//! The entity graph: entities and the relationships between them.

use argus_domain::EntityKind;
use argus_types::{EntityId, RelationshipId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;

use crate::schema::{entities, relationships};
use crate::stored_text::{AsText, Stored};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = entities, check_for_backend(diesel::pg::Pg))]
pub struct EntityRecord {
    #[diesel(deserialize_as = Stored<EntityId>)]
    pub id: EntityId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<EntityKind>)]
    pub kind: EntityKind,
    pub name: String,
    pub attributes: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = relationships, check_for_backend(diesel::pg::Pg))]
pub struct RelationshipRecord {
    #[diesel(deserialize_as = Stored<RelationshipId>)]
    pub id: RelationshipId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<EntityId>)]
    pub source_id: EntityId,
    #[diesel(deserialize_as = Stored<EntityId>)]
    pub target_id: EntityId,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

tenant_table!(entities);
tenant_table!(relationships);

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = entities)]
pub struct NewEntity {
    #[diesel(serialize_as = AsText)]
    pub kind: EntityKind,
    pub name: String,
    pub attributes: Value,
}

#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    pub kind: Option<EntityKind>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

async fn insert_entity(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    new: NewEntity,
) -> Result<EntityRecord, StoreError> {
    Ok(diesel::insert_into(entities::table)
        .values((
            entities::id.eq(stamp.id::<EntityId>("entity", 0).as_str()),
            entities::tenant_id.eq(tenant.as_str()),
            new,
            entities::created_at.eq(stamp.sql_time()),
            entities::updated_at.eq(stamp.sql_time()),
        ))
        .returning(EntityRecord::as_returning())
        .get_result(conn)
        .await?)
}

impl Store {
    pub async fn create_entity(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        new: NewEntity,
    ) -> Result<EntityRecord, StoreError> {
        self.single_statement_write(stamp, tenant, async |conn, stamp| insert_entity(conn, stamp, tenant, new).await)
            .await
    }

    pub async fn get_entity(&self, tenant: &TenantId, id: &EntityId) -> Result<Option<EntityRecord>, StoreError> {
        find_row(&mut *self.conn().await?, entities::table.tenant_row(tenant, id.as_str())).await
    }

    /// Entities in creation order, a page at a time.
    pub async fn list_entities(
        &self,
        tenant: &TenantId,
        filter: &EntityFilter,
        page: &PageRequest<EntityId>,
    ) -> Result<Page<EntityRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, entities::table, tenant, page, |mut query| {
            if let Some(kind) = &filter.kind {
                query = query.filter(entities::kind.eq(kind.as_str()));
            }
            if let Some(part) = &filter.name_contains {
                // LIKE metacharacters in the input match literally.
                let escaped = part.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                query = query.filter(entities::name.ilike(format!("%{escaped}%")));
            }
            query
        })
        .await
    }

    /// Links two entities of this tenant (idempotent on source, target and
    /// kind). `NotFound` when either is not an entity of this tenant.
    pub async fn link_entities(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        source: &EntityId,
        target: &EntityId,
        kind: &str,
    ) -> Result<RelationshipRecord, StoreError> {
        self.transaction(async |conn| {
            let wanted = [source.as_str(), target.as_str()];
            let found: Vec<String> = entities::table
                .of_tenant(tenant)
                .filter(entities::id.eq_any(wanted))
                .select(entities::id)
                .load(conn)
                .await?;
            if let Some(missing) = wanted.iter().find(|w| !found.iter().any(|f| f == *w)) {
                return Err(StoreError::NotFound(format!("entity {missing}")));
            }
            let stamp = stamp.take(conn, tenant).await?;
            diesel::insert_into(relationships::table)
                .values((
                    relationships::id.eq(stamp.id::<RelationshipId>("relationship", 0).as_str()),
                    relationships::tenant_id.eq(tenant.as_str()),
                    relationships::source_id.eq(source.as_str()),
                    relationships::target_id.eq(target.as_str()),
                    relationships::kind.eq(kind),
                    relationships::created_at.eq(stamp.sql_time()),
                ))
                .on_conflict((relationships::source_id, relationships::target_id, relationships::kind))
                .do_nothing()
                .execute(conn)
                .await?;
            Ok(relationships::table
                .of_tenant(tenant)
                .filter(relationships::source_id.eq(source.as_str()))
                .filter(relationships::target_id.eq(target.as_str()))
                .filter(relationships::kind.eq(kind))
                .select(RelationshipRecord::as_select())
                .first(conn)
                .await?)
        })
        .await
    }

    /// The relationships from or to an entity, oldest first, at most `limit`.
    pub async fn entity_relationships(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
    ) -> Result<Vec<RelationshipRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(relationships::table
            .of_tenant(tenant)
            .filter(relationships::source_id.eq(entity.as_str()).or(relationships::target_id.eq(entity.as_str())))
            .order(relationships::id)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(RelationshipRecord::as_select())
            .load(&mut conn)
            .await?)
    }
}
