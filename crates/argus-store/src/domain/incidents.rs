//! Incidents: create, change, close, read and list.

use argus_domain::{EventKind, IncidentStatus, Severity};
use argus_types::{IncidentId, TenantId};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::result::QueryResult;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::{EventRows, announce, event_conflict, insert_event_sql, to_json};
use crate::prepared::{no_such_parameter, prepared_statement, push_sql_with_binds};
use crate::schema::incidents;
use crate::stored_text::{AsText, Stored};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = incidents, check_for_backend(diesel::pg::Pg))]
pub struct IncidentRecord {
    #[diesel(deserialize_as = Stored<IncidentId>)]
    pub id: IncidentId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = Stored<IncidentStatus>)]
    pub status: IncidentStatus,
    #[diesel(deserialize_as = Stored<Severity>)]
    pub severity: Severity,
    pub location: Option<String>,
    /// The subject of the token that reported it (a user's or an app's id)
    /// or `import:<job id>`: text of several kinds.
    pub reporter: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = incidents)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    #[diesel(serialize_as = AsText)]
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

tenant_table!(incidents);

impl Store {
    pub async fn create_incident(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        new: NewIncident,
    ) -> Result<IncidentRecord, StoreError> {
        self.transaction(async |conn| {
            let stamp = stamp.take(conn, tenant).await?;
            let record = diesel::insert_into(incidents::table)
                .values((
                    incidents::id.eq(stamp.id::<IncidentId>("incident", 0).as_str()),
                    incidents::tenant_id.eq(tenant.as_str()),
                    new,
                    incidents::created_at.eq(stamp.sql_time()),
                    incidents::updated_at.eq(stamp.sql_time()),
                ))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, &stamp, tenant, EventKind::IncidentCreated, &record).await?;
            Ok(record)
        })
        .await
    }

    /// Changes an open incident, given as the caller `seen` it (read from a
    /// cache, say). While the row still holds exactly what `seen` shows, one
    /// statement changes it and announces the change, with no lock and no
    /// transaction around it. When another writer came first, the change is
    /// made from the row as it is then, read under its lock; so is every
    /// change under a sandbox scenario, whose stamp is taken in the write's
    /// transaction. `None` when there is no such incident in this tenant (any
    /// more); a conflict when it is closed.
    pub async fn update_incident(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        seen: &IncidentRecord,
        changes: IncidentChanges,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        if stamp == WriteStamp::Now && seen.status.accepts_changes() {
            let changed = seen.changed(&changes, Utc::now());
            if update_unless_changed(&mut *self.conn().await?, &Stamp::Now, tenant, seen, &changed).await? {
                return Ok(Some(changed));
            }
        }
        let row = incidents::table.tenant_row(tenant, seen.id.as_str());
        self.transaction(async |conn| {
            let Some(current): Option<IncidentRecord> = find_row(conn, row.for_update()).await? else {
                return Ok(None);
            };
            if !current.status.accepts_changes() {
                return Err(StoreError::Conflict(format!("incident {} is closed", current.id)));
            }
            let stamp = stamp.take(conn, tenant).await?;
            let changed = current.changed(&changes, stamp.time());
            if update_unless_changed(conn, &stamp, tenant, &current, &changed).await? {
                Ok(Some(changed))
            } else {
                Err(StoreError::Corrupt(format!("incident {} changed under its lock", current.id)))
            }
        })
        .await
    }

    /// Closes an open incident; closing a closed one changes nothing and
    /// announces nothing.
    pub async fn close_incident(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let row = incidents::table.tenant_row(tenant, id.as_str());
        self.transaction(async |conn| {
            let Some(current): Option<IncidentRecord> = find_row(conn, row.for_update()).await? else {
                return Ok(None);
            };
            let Some(closed) = current.status.close() else { return Ok(Some(current)) };
            let stamp = stamp.take(conn, tenant).await?;
            let record = diesel::update(row)
                .set((
                    incidents::status.eq(closed.as_str()),
                    incidents::closed_at.eq(stamp.sql_time().nullable()),
                    incidents::updated_at.eq(stamp.sql_time()),
                ))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, &stamp, tenant, EventKind::IncidentClosed, &record).await?;
            Ok(Some(record))
        })
        .await
    }

    pub async fn get_incident(&self, tenant: &TenantId, id: &IncidentId) -> Result<Option<IncidentRecord>, StoreError> {
        find_row(&mut *self.conn().await?, incidents::table.tenant_row(tenant, id.as_str())).await
    }

    /// Incidents in creation order, a page at a time.
    pub async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
        page: &PageRequest<IncidentId>,
    ) -> Result<Page<IncidentRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, incidents::table, tenant, page, |mut query| {
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
            query
        })
        .await
    }
}

impl IncidentRecord {
    /// The incident as `changes` leave it, changed at `now` (or just after
    /// its last change, should this host's clock be behind the writer's
    /// before), with times as the database keeps them.
    fn changed(&self, changes: &IncidentChanges, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        if let Some(title) = &changes.title {
            next.title.clone_from(title);
        }
        if let Some(description) = &changes.description {
            next.description.clone_from(description);
        }
        if let Some(severity) = changes.severity {
            next.severity = severity;
        }
        if let Some(location) = &changes.location {
            next.location.clone_from(location);
        }
        if let Some(occurred_at) = changes.occurred_at {
            next.occurred_at = occurred_at.map(as_stored);
        }
        next.updated_at = as_stored(now.max(self.updated_at + TimeDelta::microseconds(1)));
        next
    }
}

/// `at` cut to whole microseconds, all a `timestamptz` keeps. The record a
/// change returns (and announces) is computed, not read back, so its times
/// must be exactly what the row will hold.
fn as_stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Writes `changed` over the incident and announces `incident.updated`, in
/// one statement, unless the row no longer holds `seen`: then nothing is
/// written and the answer is `false`.
async fn update_unless_changed(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    seen: &IncidentRecord,
    changed: &IncidentRecord,
) -> Result<bool, StoreError> {
    let event = stamp.event(tenant, EventKind::IncidentUpdated, to_json(changed)?);
    let statement = UpdateUnlessChanged { event: EventRows::new(&event), seen, changed };
    let written = statement.execute(conn).await.map_err(|e| event_conflict(e, &event))?;
    Ok(written == 1)
}

/// [`update_unless_changed`]'s statement, prepared once per connection
/// ([`crate::prepared`]). Every column a writer may change is compared, not
/// `updated_at` alone, so two changes within one microsecond cannot pass
/// for none.
struct UpdateUnlessChanged<'a> {
    event: EventRows<'a>,
    seen: &'a IncidentRecord,
    changed: &'a IncidentRecord,
}

impl UpdateUnlessChanged<'_> {
    const SQL: &'static str = concat!(
        "WITH changed AS (
             UPDATE incidents
             SET title = $12, description = $13, severity = $14, location = $15, occurred_at = $16, updated_at = $17
             WHERE tenant_id = $2 AND id = $18
               AND (title, description, status, severity, location, occurred_at, updated_at, closed_at)
                   IS NOT DISTINCT FROM ($19, $20, $21, $22, $23, $24, $25, $26)
             RETURNING id
         ), ",
        insert_event_sql!("FROM changed")
    );
}

impl QueryFragment<Pg> for UpdateUnlessChanged<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (seen, changed) = (self.seen, self.changed);
        push_sql_with_binds(&mut out, Self::SQL, |out, n| match n {
            1..=11 => self.event.bind(out, n),
            12 => out.push_bind_param::<Text, _>(&changed.title),
            13 => out.push_bind_param::<Text, _>(&changed.description),
            14 => out.push_bind_param::<Text, _>(changed.severity.as_str()),
            15 => out.push_bind_param::<Nullable<Text>, _>(&changed.location),
            16 => out.push_bind_param::<Nullable<Timestamptz>, _>(&changed.occurred_at),
            17 => out.push_bind_param::<Timestamptz, _>(&changed.updated_at),
            18 => out.push_bind_param::<Text, _>(seen.id.as_str()),
            19 => out.push_bind_param::<Text, _>(&seen.title),
            20 => out.push_bind_param::<Text, _>(&seen.description),
            21 => out.push_bind_param::<Text, _>(seen.status.as_str()),
            22 => out.push_bind_param::<Text, _>(seen.severity.as_str()),
            23 => out.push_bind_param::<Nullable<Text>, _>(&seen.location),
            24 => out.push_bind_param::<Nullable<Timestamptz>, _>(&seen.occurred_at),
            25 => out.push_bind_param::<Timestamptz, _>(&seen.updated_at),
            26 => out.push_bind_param::<Nullable<Timestamptz>, _>(&seen.closed_at),
            n => Err(no_such_parameter(n)),
        })
    }
}

prepared_statement!(UpdateUnlessChanged);
