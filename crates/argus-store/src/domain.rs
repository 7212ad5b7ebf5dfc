//! The incident and case domain and the entity graph, tenant-scoped.
//!
//! Every mutation of an incident or a case stores its event (the webhook
//! envelope) and the event's outbox message in the transaction of the
//! change, so a committed change is always announced and a rolled-back one
//! never is. The store does not know the bus's wire format: the caller
//! passes an [`Announce`] that turns a [`DomainEvent`] into the outbox row.

use argus_domain::events::envelope;
use argus_domain::{CaseStatus, EntityKind, IncidentStatus, Severity};
use argus_types::pagination::fetch_limit;
use argus_types::{CaseId, EntityId, EventId, IncidentId, RelationshipId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;

use crate::outbox::{NewOutboxMessage, enqueue};
use crate::schema::{case_incidents, cases, entities, incidents, relationships};
use crate::stored_text::Stored;
use crate::webhooks::insert_event;
use crate::{Page, Store, StoreError};

/// An event a mutation announces, before it becomes an outbox row.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    pub id: EventId,
    pub tenant: TenantId,
    pub event_type: &'static str,
    pub created_at: DateTime<Utc>,
    /// The envelope's `data`: the changed record.
    pub data: Value,
}

/// Builds the outbox message of an event (the bus crate's `outbox::event`).
pub type Announce = dyn Fn(&DomainEvent) -> NewOutboxMessage + Send + Sync;

/// The channel the incidents' triggers notify with `tenant_id/id` (or
/// `tenant_id/*`) whenever incidents are updated or deleted.
pub const INCIDENT_CHANGED_CHANNEL: &str = "argus_incident_changed";

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = incidents, check_for_backend(diesel::pg::Pg))]
pub struct IncidentRecord {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = Stored<IncidentStatus>)]
    pub status: IncidentStatus,
    #[diesel(deserialize_as = Stored<Severity>)]
    pub severity: Severity,
    pub location: Option<String>,
    pub reporter: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cases, check_for_backend(diesel::pg::Pg))]
struct CaseRow {
    id: String,
    tenant_id: String,
    title: String,
    description: String,
    #[diesel(deserialize_as = Stored<CaseStatus>)]
    status: CaseStatus,
    assignees: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

/// A case with the ids of its linked incidents.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
    pub description: String,
    pub status: CaseStatus,
    pub assignees: Vec<String>,
    pub incident_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl CaseRow {
    fn with_incidents(self, incident_ids: Vec<String>) -> CaseRecord {
        CaseRecord {
            id: self.id,
            tenant_id: self.tenant_id,
            title: self.title,
            description: self.description,
            status: self.status,
            assignees: self.assignees,
            incident_ids,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = entities, check_for_backend(diesel::pg::Pg))]
pub struct EntityRecord {
    pub id: String,
    pub tenant_id: String,
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
    pub id: String,
    pub tenant_id: String,
    pub source_id: String,
    pub target_id: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub location: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub reporter: String,
}

/// Each `Some` replaces that field (`location: Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct IncidentChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub location: Option<Option<String>>,
    pub occurred_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewCase {
    pub title: String,
    pub description: String,
    pub assignees: Vec<String>,
    pub incident_ids: Vec<IncidentId>,
}

#[derive(Debug, Clone, Default)]
pub struct CaseChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `open` or `in_progress`; closing is its own mutation.
    pub status: Option<CaseStatus>,
    pub assignees: Option<Vec<String>>,
    pub link_incidents: Vec<IncidentId>,
    pub unlink_incidents: Vec<IncidentId>,
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub assignee: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewEntity {
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

/// Stores the event and enqueues its message, in the caller's transaction.
async fn announce(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    event_type: &'static str,
    data: Value,
    announce: &Announce,
) -> Result<(), StoreError> {
    let event =
        DomainEvent { id: EventId::generate(), tenant: tenant.clone(), event_type, created_at: Utc::now(), data };
    let body = envelope(&event.id, event_type, event.created_at, tenant, event.data.clone());
    insert_event(conn, &event.id, tenant, event_type, &body).await?;
    enqueue(conn, announce(&event)).await
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn load_incident_for_update(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    id: &IncidentId,
) -> Result<Option<IncidentRecord>, StoreError> {
    Ok(incidents::table
        .filter(incidents::tenant_id.eq(tenant.as_str()))
        .filter(incidents::id.eq(id.as_str()))
        .select(IncidentRecord::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

async fn case_incident_ids(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    case: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(case_incidents::table
        .filter(case_incidents::tenant_id.eq(tenant.as_str()))
        .filter(case_incidents::case_id.eq(case))
        .order(case_incidents::incident_id)
        .select(case_incidents::incident_id)
        .load(conn)
        .await?)
}

/// Links incidents to a case; an id that is not an incident of this tenant
/// is `NotFound`, so another tenant's ids are indistinguishable from
/// missing ones.
async fn link_incidents(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    case: &str,
    ids: &[IncidentId],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = ids.iter().map(IncidentId::as_str).collect();
    let found: Vec<String> = incidents::table
        .filter(incidents::tenant_id.eq(tenant.as_str()))
        .filter(incidents::id.eq_any(&wanted))
        .select(incidents::id)
        .load(conn)
        .await?;
    if let Some(missing) = wanted.iter().find(|w| !found.iter().any(|f| f == *w)) {
        return Err(StoreError::NotFound(format!("incident {missing}")));
    }
    let rows: Vec<_> = wanted
        .iter()
        .map(|i| {
            (
                case_incidents::tenant_id.eq(tenant.as_str()),
                case_incidents::case_id.eq(case),
                case_incidents::incident_id.eq(*i),
            )
        })
        .collect();
    diesel::insert_into(case_incidents::table).values(rows).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

impl Store {
    pub async fn create_incident(
        &self,
        tenant: &TenantId,
        new: NewIncident,
        on_event: &Announce,
    ) -> Result<IncidentRecord, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let record = diesel::insert_into(incidents::table)
                .values((
                    incidents::id.eq(IncidentId::generate().as_str()),
                    incidents::tenant_id.eq(tenant.as_str()),
                    incidents::title.eq(&new.title),
                    incidents::description.eq(&new.description),
                    incidents::severity.eq(new.severity.as_str()),
                    incidents::location.eq(&new.location),
                    incidents::occurred_at.eq(new.occurred_at),
                    incidents::reporter.eq(&new.reporter),
                ))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, tenant, "incident.created", to_json(&record)?, on_event).await?;
            Ok(record)
        })
        .await
    }

    /// `None` when there is no such incident in this tenant; a conflict when
    /// it is closed.
    pub async fn update_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
        changes: IncidentChanges,
        on_event: &Announce,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(current) = load_incident_for_update(conn, tenant, id).await? else { return Ok(None) };
            if !current.status.accepts_changes() {
                return Err(StoreError::Conflict(format!("incident {id} is closed")));
            }
            let record = diesel::update(incidents::table)
                .filter(incidents::tenant_id.eq(tenant.as_str()))
                .filter(incidents::id.eq(id.as_str()))
                .set((
                    incidents::title.eq(changes.title.unwrap_or(current.title)),
                    incidents::description.eq(changes.description.unwrap_or(current.description)),
                    incidents::severity.eq(changes.severity.unwrap_or(current.severity).as_str()),
                    incidents::location.eq(changes.location.unwrap_or(current.location)),
                    incidents::occurred_at.eq(changes.occurred_at.unwrap_or(current.occurred_at)),
                    incidents::updated_at.eq(diesel::dsl::now),
                ))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, tenant, "incident.updated", to_json(&record)?, on_event).await?;
            Ok(Some(record))
        })
        .await
    }

    /// Closes an open incident; closing a closed one changes nothing and
    /// announces nothing.
    pub async fn close_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
        on_event: &Announce,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(current) = load_incident_for_update(conn, tenant, id).await? else { return Ok(None) };
            let Some(closed) = current.status.close() else { return Ok(Some(current)) };
            let record = diesel::update(incidents::table)
                .filter(incidents::tenant_id.eq(tenant.as_str()))
                .filter(incidents::id.eq(id.as_str()))
                .set((
                    incidents::status.eq(closed.as_str()),
                    incidents::closed_at.eq(diesel::dsl::now),
                    incidents::updated_at.eq(diesel::dsl::now),
                ))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, tenant, "incident.closed", to_json(&record)?, on_event).await?;
            Ok(Some(record))
        })
        .await
    }

    pub async fn get_incident(&self, tenant: &TenantId, id: &IncidentId) -> Result<Option<IncidentRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(incidents::table
            .filter(incidents::tenant_id.eq(tenant.as_str()))
            .filter(incidents::id.eq(id.as_str()))
            .select(IncidentRecord::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Incidents in creation order, after the cursor `after` (an incident id).
    pub async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
        after: Option<&IncidentId>,
        limit: usize,
    ) -> Result<Page<IncidentRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = incidents::table
            .filter(incidents::tenant_id.eq(tenant.as_str()))
            .order(incidents::id)
            .limit(fetch_limit(limit))
            .select(IncidentRecord::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(incidents::id.gt(after.as_str()));
        }
        if let Some(status) = &filter.status {
            query = query.filter(incidents::status.eq(status.as_str()));
        }
        if let Some(severity) = &filter.severity {
            query = query.filter(incidents::severity.eq(severity.as_str()));
        }
        if let Some(t) = filter.created_after {
            query = query.filter(incidents::created_at.ge(t));
        }
        if let Some(t) = filter.created_before {
            query = query.filter(incidents::created_at.lt(t));
        }
        let rows = query.load(&mut conn).await?;
        Ok(Page::from_overfetch(rows, limit, |r| r.id.clone()))
    }

    /// The incidents linked to a case.
    pub async fn case_incidents(&self, tenant: &TenantId, case: &CaseId) -> Result<Vec<IncidentRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(incidents::table
            .inner_join(case_incidents::table.on(case_incidents::incident_id.eq(incidents::id)))
            .filter(case_incidents::tenant_id.eq(tenant.as_str()))
            .filter(case_incidents::case_id.eq(case.as_str()))
            .filter(incidents::tenant_id.eq(tenant.as_str()))
            .order(incidents::id)
            .select(IncidentRecord::as_select())
            .load(&mut conn)
            .await?)
    }

    pub async fn create_case(
        &self,
        tenant: &TenantId,
        new: NewCase,
        on_event: &Announce,
    ) -> Result<CaseRecord, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let row = diesel::insert_into(cases::table)
                .values((
                    cases::id.eq(CaseId::generate().as_str()),
                    cases::tenant_id.eq(tenant.as_str()),
                    cases::title.eq(&new.title),
                    cases::description.eq(&new.description),
                    cases::assignees.eq(&new.assignees),
                ))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            link_incidents(conn, tenant, &row.id, &new.incident_ids).await?;
            let ids = case_incident_ids(conn, tenant, &row.id).await?;
            let record = row.with_incidents(ids);
            announce(conn, tenant, "case.created", to_json(&record)?, on_event).await?;
            Ok(record)
        })
        .await
    }

    pub async fn update_case(
        &self,
        tenant: &TenantId,
        id: &CaseId,
        changes: CaseChanges,
        on_event: &Announce,
    ) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(current) = load_case_for_update(conn, tenant, id).await? else { return Ok(None) };
            if !current.status.accepts_changes() {
                return Err(StoreError::Conflict(format!("case {id} is closed")));
            }
            let row = diesel::update(cases::table)
                .filter(cases::tenant_id.eq(tenant.as_str()))
                .filter(cases::id.eq(id.as_str()))
                .set((
                    cases::title.eq(changes.title.unwrap_or(current.title)),
                    cases::description.eq(changes.description.unwrap_or(current.description)),
                    cases::status.eq(changes.status.unwrap_or(current.status).as_str()),
                    cases::assignees.eq(changes.assignees.unwrap_or(current.assignees)),
                    cases::updated_at.eq(diesel::dsl::now),
                ))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            link_incidents(conn, tenant, &row.id, &changes.link_incidents).await?;
            if !changes.unlink_incidents.is_empty() {
                let unlink: Vec<&str> = changes.unlink_incidents.iter().map(IncidentId::as_str).collect();
                diesel::delete(case_incidents::table)
                    .filter(case_incidents::tenant_id.eq(tenant.as_str()))
                    .filter(case_incidents::case_id.eq(&row.id))
                    .filter(case_incidents::incident_id.eq_any(unlink))
                    .execute(conn)
                    .await?;
            }
            let ids = case_incident_ids(conn, tenant, &row.id).await?;
            let record = row.with_incidents(ids);
            announce(conn, tenant, "case.updated", to_json(&record)?, on_event).await?;
            Ok(Some(record))
        })
        .await
    }

    pub async fn close_case(
        &self,
        tenant: &TenantId,
        id: &CaseId,
        on_event: &Announce,
    ) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let Some(current) = load_case_for_update(conn, tenant, id).await? else { return Ok(None) };
            let Some(closed) = current.status.close() else {
                let ids = case_incident_ids(conn, tenant, &current.id).await?;
                return Ok(Some(current.with_incidents(ids)));
            };
            let row = diesel::update(cases::table)
                .filter(cases::tenant_id.eq(tenant.as_str()))
                .filter(cases::id.eq(id.as_str()))
                .set((
                    cases::status.eq(closed.as_str()),
                    cases::closed_at.eq(diesel::dsl::now),
                    cases::updated_at.eq(diesel::dsl::now),
                ))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            let ids = case_incident_ids(conn, tenant, &row.id).await?;
            let record = row.with_incidents(ids);
            announce(conn, tenant, "case.closed", to_json(&record)?, on_event).await?;
            Ok(Some(record))
        })
        .await
    }

    pub async fn get_case(&self, tenant: &TenantId, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<CaseRow> = cases::table
            .filter(cases::tenant_id.eq(tenant.as_str()))
            .filter(cases::id.eq(id.as_str()))
            .select(CaseRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        match row {
            None => Ok(None),
            Some(row) => {
                let ids = case_incident_ids(&mut conn, tenant, &row.id).await?;
                Ok(Some(row.with_incidents(ids)))
            }
        }
    }

    pub async fn list_cases(
        &self,
        tenant: &TenantId,
        filter: &CaseFilter,
        after: Option<&CaseId>,
        limit: usize,
    ) -> Result<Page<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = cases::table
            .filter(cases::tenant_id.eq(tenant.as_str()))
            .order(cases::id)
            .limit(fetch_limit(limit))
            .select(CaseRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(cases::id.gt(after.as_str()));
        }
        if let Some(status) = &filter.status {
            query = query.filter(cases::status.eq(status.as_str()));
        }
        if let Some(assignee) = &filter.assignee {
            query = query.filter(cases::assignees.contains(vec![assignee.clone()]));
        }
        let rows: Vec<CaseRow> = query.load(&mut conn).await?;
        let page = Page::from_overfetch(rows, limit, |r| r.id.clone());
        let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
        let links: Vec<(String, String)> = case_incidents::table
            .filter(case_incidents::tenant_id.eq(tenant.as_str()))
            .filter(case_incidents::case_id.eq_any(&ids))
            .order((case_incidents::case_id, case_incidents::incident_id))
            .select((case_incidents::case_id, case_incidents::incident_id))
            .load(&mut conn)
            .await?;
        let items = page
            .items
            .into_iter()
            .map(|row| {
                let linked = links.iter().filter(|(c, _)| *c == row.id).map(|(_, i)| i.clone()).collect();
                row.with_incidents(linked)
            })
            .collect();
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    pub async fn create_entity(&self, tenant: &TenantId, new: NewEntity) -> Result<EntityRecord, StoreError> {
        let mut conn = self.conn().await?;
        Ok(diesel::insert_into(entities::table)
            .values((
                entities::id.eq(EntityId::generate().as_str()),
                entities::tenant_id.eq(tenant.as_str()),
                entities::kind.eq(new.kind.as_str()),
                entities::name.eq(&new.name),
                entities::attributes.eq(&new.attributes),
            ))
            .returning(EntityRecord::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    pub async fn get_entity(&self, tenant: &TenantId, id: &EntityId) -> Result<Option<EntityRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(entities::table
            .filter(entities::tenant_id.eq(tenant.as_str()))
            .filter(entities::id.eq(id.as_str()))
            .select(EntityRecord::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    pub async fn list_entities(
        &self,
        tenant: &TenantId,
        filter: &EntityFilter,
        after: Option<&EntityId>,
        limit: usize,
    ) -> Result<Page<EntityRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = entities::table
            .filter(entities::tenant_id.eq(tenant.as_str()))
            .order(entities::id)
            .limit(fetch_limit(limit))
            .select(EntityRecord::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(entities::id.gt(after.as_str()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(entities::kind.eq(kind.as_str()));
        }
        if let Some(part) = &filter.name_contains {
            // LIKE metacharacters in the input match literally.
            let escaped = part.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            query = query.filter(entities::name.ilike(format!("%{escaped}%")));
        }
        let rows = query.load(&mut conn).await?;
        Ok(Page::from_overfetch(rows, limit, |r| r.id.clone()))
    }

    /// Links two entities of this tenant (idempotent on source, target and
    /// kind). `NotFound` when either is not an entity of this tenant.
    pub async fn link_entities(
        &self,
        tenant: &TenantId,
        source: &EntityId,
        target: &EntityId,
        kind: &str,
    ) -> Result<RelationshipRecord, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let wanted = [source.as_str(), target.as_str()];
            let found: Vec<String> = entities::table
                .filter(entities::tenant_id.eq(tenant.as_str()))
                .filter(entities::id.eq_any(wanted))
                .select(entities::id)
                .load(conn)
                .await?;
            if let Some(missing) = wanted.iter().find(|w| !found.iter().any(|f| f == *w)) {
                return Err(StoreError::NotFound(format!("entity {missing}")));
            }
            diesel::insert_into(relationships::table)
                .values((
                    relationships::id.eq(RelationshipId::generate().as_str()),
                    relationships::tenant_id.eq(tenant.as_str()),
                    relationships::source_id.eq(source.as_str()),
                    relationships::target_id.eq(target.as_str()),
                    relationships::kind.eq(kind),
                ))
                .on_conflict((relationships::source_id, relationships::target_id, relationships::kind))
                .do_nothing()
                .execute(conn)
                .await?;
            Ok(relationships::table
                .filter(relationships::tenant_id.eq(tenant.as_str()))
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
            .filter(relationships::tenant_id.eq(tenant.as_str()))
            .filter(relationships::source_id.eq(entity.as_str()).or(relationships::target_id.eq(entity.as_str())))
            .order(relationships::id)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(RelationshipRecord::as_select())
            .load(&mut conn)
            .await?)
    }
}

async fn load_case_for_update(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    id: &CaseId,
) -> Result<Option<CaseRow>, StoreError> {
    Ok(cases::table
        .filter(cases::tenant_id.eq(tenant.as_str()))
        .filter(cases::id.eq(id.as_str()))
        .select(CaseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}
