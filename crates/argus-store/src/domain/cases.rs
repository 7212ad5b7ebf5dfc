//! Cases and the incidents linked to them.

use argus_domain::{CaseStatus, EventKind};
use argus_types::{CaseId, IncidentId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::{IncidentRecord, announce};
use crate::schema::{case_incidents, cases, incidents};
use crate::stored_text::{AsText, Stored};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cases, check_for_backend(diesel::pg::Pg))]
struct CaseRow {
    #[diesel(deserialize_as = Stored<CaseId>)]
    id: CaseId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    tenant_id: TenantId,
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
    pub id: CaseId,
    pub tenant_id: TenantId,
    pub title: String,
    pub description: String,
    pub status: CaseStatus,
    /// Whoever the caller names: free text, not user ids.
    pub assignees: Vec<String>,
    pub incident_ids: Vec<IncidentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl CaseRow {
    /// The case with the incidents linked to it now.
    async fn linked(self, conn: &mut AsyncPgConnection, tenant: &TenantId) -> Result<CaseRecord, StoreError> {
        let ids = case_incident_ids(conn, tenant, &self.id).await?;
        Ok(self.with_incidents(ids))
    }

    /// [`CaseRow::linked`], announced as `kind`.
    async fn announced(
        self,
        conn: &mut AsyncPgConnection,
        stamp: &Stamp,
        tenant: &TenantId,
        kind: EventKind,
    ) -> Result<CaseRecord, StoreError> {
        let record = self.linked(conn, tenant).await?;
        announce(conn, stamp, tenant, kind, &record).await?;
        Ok(record)
    }

    fn with_incidents(self, incident_ids: Vec<IncidentId>) -> CaseRecord {
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

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = cases)]
pub struct NewCase {
    pub title: String,
    pub description: String,
    pub assignees: Vec<String>,
    #[diesel(skip_insertion)]
    pub incident_ids: Vec<IncidentId>,
}

/// Each `Some` replaces that field; the incidents are linked and unlinked.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = cases)]
pub struct CaseChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `open` or `in_progress`; closing is its own mutation.
    #[diesel(serialize_as = AsText)]
    pub status: Option<CaseStatus>,
    pub assignees: Option<Vec<String>>,
    #[diesel(skip_update)]
    pub link_incidents: Vec<IncidentId>,
    #[diesel(skip_update)]
    pub unlink_incidents: Vec<IncidentId>,
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub assignee: Option<String>,
}

async fn case_incident_ids(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    case: &CaseId,
) -> Result<Vec<IncidentId>, StoreError> {
    let ids: Vec<Stored<IncidentId>> = case_incidents::table
        .filter(case_incidents::tenant_id.eq(tenant.as_str()))
        .filter(case_incidents::case_id.eq(case.as_str()))
        .order(case_incidents::incident_id)
        .select(case_incidents::incident_id)
        .load(conn)
        .await?;
    Ok(ids.into_iter().map(Stored::into_inner).collect())
}

/// Links incidents to a case; an id that is not an incident of this tenant
/// is `NotFound`, so another tenant's ids are indistinguishable from
/// missing ones.
async fn link_incidents(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    case: &CaseId,
    ids: &[IncidentId],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = ids.iter().map(IncidentId::as_str).collect();
    let found: Vec<String> = incidents::table
        .of_tenant(tenant)
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
                case_incidents::case_id.eq(case.as_str()),
                case_incidents::incident_id.eq(*i),
                case_incidents::linked_at.eq(stamp.sql_time()),
            )
        })
        .collect();
    diesel::insert_into(case_incidents::table).values(rows).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

tenant_table!(cases);

impl Store {
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
        stamp: WriteStamp,
        tenant: &TenantId,
        new: NewCase,
    ) -> Result<CaseRecord, StoreError> {
        self.transaction(async |conn| {
            let stamp = stamp.take(conn, tenant).await?;
            let row = diesel::insert_into(cases::table)
                .values((
                    cases::id.eq(stamp.id::<CaseId>("case", 0).as_str()),
                    cases::tenant_id.eq(tenant.as_str()),
                    &new,
                    cases::created_at.eq(stamp.sql_time()),
                    cases::updated_at.eq(stamp.sql_time()),
                ))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            link_incidents(conn, &stamp, tenant, &row.id, &new.incident_ids).await?;
            row.announced(conn, &stamp, tenant, EventKind::CaseCreated).await
        })
        .await
    }

    pub async fn update_case(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &CaseId,
        mut changes: CaseChanges,
    ) -> Result<Option<CaseRecord>, StoreError> {
        let case = cases::table.tenant_row(tenant, id.as_str());
        // The changeset takes `changes`; the links are rows of their own.
        let (link, unlink) =
            (std::mem::take(&mut changes.link_incidents), std::mem::take(&mut changes.unlink_incidents));
        self.transaction(async |conn| {
            let Some(current): Option<CaseRow> = find_row(conn, case.for_update()).await? else { return Ok(None) };
            if !current.status.accepts_changes() {
                return Err(StoreError::Conflict(format!("case {id} is closed")));
            }
            let stamp = stamp.take(conn, tenant).await?;
            let row = diesel::update(case)
                .set((changes, cases::updated_at.eq(stamp.sql_time())))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            link_incidents(conn, &stamp, tenant, &row.id, &link).await?;
            if !unlink.is_empty() {
                let unlink: Vec<&str> = unlink.iter().map(IncidentId::as_str).collect();
                diesel::delete(case_incidents::table)
                    .filter(case_incidents::tenant_id.eq(tenant.as_str()))
                    .filter(case_incidents::case_id.eq(row.id.as_str()))
                    .filter(case_incidents::incident_id.eq_any(unlink))
                    .execute(conn)
                    .await?;
            }
            Ok(Some(row.announced(conn, &stamp, tenant, EventKind::CaseUpdated).await?))
        })
        .await
    }

    pub async fn close_case(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &CaseId,
    ) -> Result<Option<CaseRecord>, StoreError> {
        let case = cases::table.tenant_row(tenant, id.as_str());
        self.transaction(async |conn| {
            let Some(current): Option<CaseRow> = find_row(conn, case.for_update()).await? else { return Ok(None) };
            let Some(closed) = current.status.close() else { return Ok(Some(current.linked(conn, tenant).await?)) };
            let stamp = stamp.take(conn, tenant).await?;
            let row = diesel::update(case)
                .set((
                    cases::status.eq(closed.as_str()),
                    cases::closed_at.eq(stamp.sql_time().nullable()),
                    cases::updated_at.eq(stamp.sql_time()),
                ))
                .returning(CaseRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(row.announced(conn, &stamp, tenant, EventKind::CaseClosed).await?))
        })
        .await
    }

    pub async fn get_case(&self, tenant: &TenantId, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<CaseRow> = find_row(&mut conn, cases::table.tenant_row(tenant, id.as_str())).await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(row.linked(&mut conn, tenant).await?)),
        }
    }

    /// Cases in creation order, a page at a time, each with its incidents.
    pub async fn list_cases(
        &self,
        tenant: &TenantId,
        filter: &CaseFilter,
        page: &PageRequest<CaseId>,
    ) -> Result<Page<CaseRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let page: Page<CaseRow> =
            list_page(&mut conn, cases::table, tenant, PageQuery::oldest_first(page), |mut query| {
                if let Some(status) = &filter.status {
                    query = query.filter(cases::status.eq(status.as_str()));
                }
                if let Some(assignee) = &filter.assignee {
                    query = query.filter(cases::assignees.contains(vec![assignee.clone()]));
                }
                query
            })
            .await?;
        let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
        let links: Vec<(Stored<CaseId>, Stored<IncidentId>)> = case_incidents::table
            .filter(case_incidents::tenant_id.eq(tenant.as_str()))
            .filter(case_incidents::case_id.eq_any(&ids))
            .order((case_incidents::case_id, case_incidents::incident_id))
            .select((case_incidents::case_id, case_incidents::incident_id))
            .load(&mut conn)
            .await?;
        let links: Vec<(CaseId, IncidentId)> =
            links.into_iter().map(|(c, i)| (c.into_inner(), i.into_inner())).collect();
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
}
