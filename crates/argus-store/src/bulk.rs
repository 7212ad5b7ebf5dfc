//! Bulk work for jobs, tenant-scoped: upserts by external id (one
//! statement per batch over `unnest`ed arrays), the rows of an export, and
//! the entity graph as compact lists.

use std::collections::HashMap;

use argus_domain::{EntityKind, IncidentStatus, Severity};
use argus_types::{EntityId, IncidentId, RelationshipId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::domain::{EntityRecord, RelationshipRecord};
use crate::schema::{entities, relationships};
use crate::stored_text::Stored;
use crate::tenant_rows::TenantTable;
use crate::tenant_rows::{PageQuery, list_page};
use crate::{Page, PageRequest, Store, StoreError};

#[derive(Debug, Clone)]
pub struct ImportEntity {
    pub external_id: String,
    pub kind: EntityKind,
    pub name: String,
    pub attributes: Value,
}

#[derive(Debug, Clone)]
pub struct ImportRelationship {
    pub external_id: String,
    /// Resolved from the importer's external ids.
    pub source_id: EntityId,
    pub target_id: EntityId,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct ImportIncident {
    pub external_id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub location: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// What one batch of upserts did. Rows neither created nor updated were
/// already as imported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    pub created: u64,
    pub updated: u64,
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

fn tally(rows: &[Inserted]) -> Upserted {
    let created = rows.iter().filter(|r| r.inserted).count() as u64;
    Upserted { created, updated: rows.len() as u64 - created }
}

impl Store {
    /// Creates or updates entities by external id. External ids must be
    /// distinct within one call.
    pub async fn upsert_entities(&self, tenant: &TenantId, rows: &[ImportEntity]) -> Result<Upserted, StoreError> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = rows.iter().map(|_| EntityId::generate().to_string()).collect();
        let result: Vec<Inserted> = diesel::sql_query(
            "INSERT INTO entities (id, tenant_id, external_id, kind, name, attributes) \
             SELECT i, $1, e, k, n, a FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) \
               AS t(i, e, k, n, a) \
             ON CONFLICT (tenant_id, external_id) DO UPDATE \
               SET kind = excluded.kind, name = excluded.name, attributes = excluded.attributes, updated_at = now() \
               WHERE (entities.kind, entities.name, entities.attributes) \
                 IS DISTINCT FROM (excluded.kind, excluded.name, excluded.attributes) \
             RETURNING (xmax = 0) AS inserted",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Array<Text>, _>(&ids)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.external_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(rows.iter().map(|r| &r.attributes).collect::<Vec<_>>())
        .load(&mut conn)
        .await?;
        Ok(tally(&result))
    }

    /// The entity ids of the given external ids (those that exist).
    pub async fn entity_ids_by_external_id(
        &self,
        tenant: &TenantId,
        external_ids: &[&str],
    ) -> Result<HashMap<String, EntityId>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(Option<String>, Stored<EntityId>)> = entities::table
            .of_tenant(tenant)
            .filter(entities::external_id.eq_any(external_ids))
            .select((entities::external_id, entities::id))
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().filter_map(|(external, id)| Some((external?, id.into_inner()))).collect())
    }

    /// Inserts relationships; one whose external id, or whose source,
    /// target and kind, exists already is left as it is (edges are
    /// immutable). Returns how many were created.
    pub async fn insert_relationships(
        &self,
        tenant: &TenantId,
        rows: &[ImportRelationship],
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = rows.iter().map(|_| RelationshipId::generate().to_string()).collect();
        let created = diesel::sql_query(
            "INSERT INTO relationships (id, tenant_id, external_id, source_id, target_id, kind) \
             SELECT i, $1, e, s, d, k FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
               AS t(i, e, s, d, k) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Array<Text>, _>(&ids)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.external_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.source_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.target_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .execute(&mut conn)
        .await?;
        Ok(created as u64)
    }

    /// Creates or updates incidents by external id (no events: a bulk load
    /// is not a stream of changes). External ids must be distinct.
    pub async fn upsert_incidents(
        &self,
        tenant: &TenantId,
        reporter: &str,
        rows: &[ImportIncident],
    ) -> Result<Upserted, StoreError> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = rows.iter().map(|_| IncidentId::generate().to_string()).collect();
        let result: Vec<Inserted> = diesel::sql_query(
            "INSERT INTO incidents (id, tenant_id, external_id, title, description, severity, status, location, \
                                    occurred_at, reporter, closed_at) \
             SELECT i, $1, e, ti, de, se, st, lo, oc, $2, CASE WHEN st = 'closed' THEN now() END \
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
                         $10::timestamptz[]) AS t(i, e, ti, de, se, st, lo, oc) \
             ON CONFLICT (tenant_id, external_id) DO UPDATE \
               SET title = excluded.title, description = excluded.description, severity = excluded.severity, \
                   status = excluded.status, location = excluded.location, occurred_at = excluded.occurred_at, \
                   closed_at = CASE WHEN excluded.status = 'closed' THEN coalesce(incidents.closed_at, now()) END, \
                   updated_at = now() \
               WHERE (incidents.title, incidents.description, incidents.severity, incidents.status, \
                      incidents.location, incidents.occurred_at) \
                 IS DISTINCT FROM (excluded.title, excluded.description, excluded.severity, excluded.status, \
                                   excluded.location, excluded.occurred_at) \
             RETURNING (xmax = 0) AS inserted",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Text, _>(reporter)
        .bind::<Array<Text>, _>(&ids)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.external_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.title.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.description.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.severity.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.location.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(rows.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .load(&mut conn)
        .await?;
        Ok(tally(&result))
    }

    /// The tenant's relationships in id order, optionally of one kind.
    pub async fn list_relationships(
        &self,
        tenant: &TenantId,
        kind: Option<&str>,
        page: &PageRequest<RelationshipId>,
    ) -> Result<Page<RelationshipRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, relationships::table, tenant, page, |query| match kind {
            Some(k) => query.filter(relationships::kind.eq(k.to_owned())),
            None => query,
        })
        .await
    }

    /// The tenant's entities in id order: those with these ids (others are
    /// skipped) or all, optionally only of `kinds`.
    pub async fn entities_matching(
        &self,
        tenant: &TenantId,
        ids: Option<&[String]>,
        kinds: Option<&[String]>,
    ) -> Result<Vec<EntityRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = entities::table.of_tenant(tenant).into_boxed();
        if let Some(ids) = ids {
            query = query.filter(entities::id.eq_any(ids.to_vec()));
        }
        if let Some(kinds) = kinds {
            query = query.filter(entities::kind.eq_any(kinds.to_vec()));
        }
        Ok(query.order(entities::id.asc()).select(EntityRecord::as_select()).load(&mut conn).await?)
    }

    /// Which of `ids` are not entities of the tenant.
    pub async fn missing_entities(&self, tenant: &TenantId, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let found: Vec<String> = entities::table
            .of_tenant(tenant)
            .filter(entities::id.eq_any(ids))
            .select(entities::id)
            .load(&mut conn)
            .await?;
        let found: std::collections::HashSet<&str> = found.iter().map(String::as_str).collect();
        let mut missing: Vec<String> = ids.iter().filter(|i| !found.contains(*i)).map(|i| (*i).to_owned()).collect();
        missing.sort_unstable();
        missing.dedup();
        Ok(missing)
    }

    /// The version of the tenant's entity graph: it changes with every
    /// committed write to the tenant's entities or relationships (statement
    /// triggers keep `graph_versions`), so a graph built at one version is
    /// current as long as this returns the same.
    pub async fn graph_version(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        graph_version(&mut conn, tenant).await
    }

    /// The tenant's entity graph at one version: entity ids (optionally only
    /// of `entity_kinds`) in id order, and the relationships between them
    /// (optionally only of `relationship_kinds`) as index pairs into it.
    /// One repeatable-read snapshot reads the version and the graph, so the
    /// version is exactly the graph's. The ids come as three arrays, so a
    /// million edges cost one row rather than a million; they are mapped to
    /// indexes here, which is cheaper than joining in the database.
    pub async fn entity_graph(
        &self,
        tenant: &TenantId,
        entity_kinds: Option<&[String]>,
        relationship_kinds: Option<&[String]>,
    ) -> Result<VersionedGraph, StoreError> {
        let mut conn = self.conn().await?;
        let (version, graph) = conn
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run(async |conn| {
                let version = graph_version(conn, tenant).await?;
                let graph: EdgeArrays = diesel::sql_query(
                    "SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM entities \
                             WHERE tenant_id = $1 AND ($2::text[] IS NULL OR kind = ANY($2::text[]))) AS nodes, \
                            coalesce(array_agg(source_id), '{}') AS sources, coalesce(array_agg(target_id), '{}') AS targets \
                     FROM relationships WHERE tenant_id = $1 AND ($3::text[] IS NULL OR kind = ANY($3::text[]))",
                )
                .bind::<Text, _>(tenant.as_str())
                .bind::<Nullable<Array<Text>>, _>(entity_kinds)
                .bind::<Nullable<Array<Text>>, _>(relationship_kinds)
                .get_result(conn)
                .await?;
                Ok::<_, StoreError>((version, graph))
            })
            .await?;
        let index: HashMap<&str, u32> =
            graph.nodes.iter().enumerate().map(|(i, id)| (id.as_str(), u32::try_from(i).unwrap_or(u32::MAX))).collect();
        // Relationships to entities outside the node set (filtered by kind)
        // are left out.
        let edges = graph
            .sources
            .iter()
            .zip(&graph.targets)
            .filter_map(|(s, t)| Some((*index.get(s.as_str())?, *index.get(t.as_str())?)))
            .collect();
        Ok(VersionedGraph { version, nodes: graph.nodes, edges })
    }
}

/// A tenant's entity graph as read at [`VersionedGraph::version`].
#[derive(Debug)]
pub struct VersionedGraph {
    pub version: i64,
    /// Entity ids in id order, as the text `argus-analytics` (which knows
    /// no typed ids) builds its graph from: up to millions, not records.
    pub nodes: Vec<String>,
    /// `(source, target)` indexes into `nodes`.
    pub edges: Vec<(u32, u32)>,
}

/// The tenant's graph version on `conn` (0 before its first write).
async fn graph_version(conn: &mut diesel_async::AsyncPgConnection, tenant: &TenantId) -> Result<i64, StoreError> {
    let version: Option<GraphVersion> = diesel::sql_query("SELECT version FROM graph_versions WHERE tenant_id = $1")
        .bind::<Text, _>(tenant.as_str())
        .get_result(conn)
        .await
        .optional()?;
    Ok(version.map_or(0, |v| v.version))
}

#[derive(QueryableByName)]
struct GraphVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

#[derive(QueryableByName)]
struct EdgeArrays {
    #[diesel(sql_type = Array<Text>)]
    nodes: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    sources: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    targets: Vec<String>,
}
