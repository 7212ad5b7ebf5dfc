//! Incidents: create, change, close, read and list.

use argus_domain::{EventKind, IncidentStatus, Severity};
use argus_types::{IncidentId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use super::announce;
use crate::schema::incidents;
use crate::stored_text::{AsText, Stored};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
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
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = incidents)]
pub struct IncidentChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    #[diesel(serialize_as = AsText)]
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

    /// `None` when there is no such incident in this tenant; a conflict when
    /// it is closed.
    pub async fn update_incident(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &IncidentId,
        changes: IncidentChanges,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let row = incidents::table.tenant_row(tenant, id.as_str());
        self.transaction(async |conn| {
            let Some(current): Option<IncidentRecord> = find_row(conn, row.for_update()).await? else {
                return Ok(None);
            };
            if !current.status.accepts_changes() {
                return Err(StoreError::Conflict(format!("incident {id} is closed")));
            }
            let stamp = stamp.take(conn, tenant).await?;
            let record = diesel::update(row)
                .set((changes, incidents::updated_at.eq(stamp.sql_time())))
                .returning(IncidentRecord::as_returning())
                .get_result(conn)
                .await?;
            announce(conn, &stamp, tenant, EventKind::IncidentUpdated, &record).await?;
            Ok(Some(record))
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
