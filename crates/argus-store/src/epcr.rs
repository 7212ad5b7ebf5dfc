//! ePCR encounters: create, read (each read written to the access log)
//! and list.
//!
//! The record is health data, so its events carry no clinical content: a
//! receiver is told which record changed and reads it with `epcr:read`,
//! and that read is logged.

use argus_domain::epcr::Encounter;
use argus_domain::{EventKind, FieldErrors};
use argus_types::{EncounterId, IncidentId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::devices::unknown_devices;
use crate::domain::announce;
use crate::schema::{encounter_access_log, encounters, incidents};
use crate::stored_text::{Stored, StoredJson};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = encounters, check_for_backend(diesel::pg::Pg))]
pub struct EncounterRecord {
    #[diesel(deserialize_as = Stored<EncounterId>)]
    pub id: EncounterId,
    #[serde(skip)]
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = StoredJson<Encounter>)]
    #[serde(flatten)]
    pub record: Encounter,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an `epcr.*` event says of a record: which one, and when.
#[derive(Debug, Serialize)]
struct EncounterChanged<'a> {
    id: &'a EncounterId,
    incident_id: Option<&'a IncidentId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EncounterRecord {
    async fn announce(&self, conn: &mut AsyncPgConnection, stamp: &Stamp, kind: EventKind) -> Result<(), StoreError> {
        let changed = EncounterChanged {
            id: &self.id,
            incident_id: self.record.incident_id.as_ref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        announce(conn, stamp, &self.tenant_id, kind, &changed).await
    }
}

/// Marks the tenant's record `id` changed (something linked to it, such as
/// a device's observation, was added) and announces `epcr.updated`, in the
/// caller's transaction; `false` when the tenant has no such record.
pub(crate) async fn encounter_changed(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    id: &EncounterId,
) -> Result<bool, StoreError> {
    let changed: Option<EncounterRecord> = diesel::update(encounters::table.tenant_row(tenant, id.as_str()))
        .set(encounters::updated_at.eq(stamp.sql_time()))
        .returning(EncounterRecord::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    let Some(record) = changed else { return Ok(false) };
    record.announce(conn, stamp, EventKind::EpcrUpdated).await?;
    Ok(true)
}

/// Who read a record, and through which route: one access-log entry.
#[derive(Debug, Clone)]
pub struct EncounterAccess<'a> {
    /// The token's subject (a user's or an app's id).
    pub actor: &'a str,
    pub client_id: &'a str,
    /// The route's method and template (`GET /api/v1/epcr/encounters/{encounterId}`)
    /// or the GraphQL operation.
    pub route: &'a str,
    pub trace_id: Option<&'a str>,
}

/// One access-log entry, as `encounter_access_log` holds it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = encounter_access_log, check_for_backend(diesel::pg::Pg))]
pub struct EncounterAccessRecord {
    pub encounter_id: String,
    pub actor: String,
    pub client_id: String,
    pub route: String,
    pub trace_id: Option<String>,
    pub read_at: DateTime<Utc>,
}

tenant_table!(encounters);

impl Store {
    /// Stores a checked record and announces `epcr.created`. The incident and
    /// the devices it names must be the tenant's: otherwise a 400 naming
    /// `incident_id` and each unknown `devices[i]`.
    pub async fn create_encounter(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        record: Encounter,
        created_by: &str,
    ) -> Result<EncounterRecord, StoreError> {
        let document = serde_json::to_value(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.transaction(async |conn| {
            let mut errors = FieldErrors::default();
            if let Some(incident) = &record.incident_id {
                let found: Option<String> = incidents::table
                    .tenant_row(tenant, incident.as_str())
                    .select(incidents::id)
                    .first(conn)
                    .await
                    .optional()?;
                if found.is_none() {
                    errors.push("incident_id", format!("no incident {incident} in this tenant"));
                }
            }
            for (i, device) in unknown_devices(conn, tenant, &record.devices).await? {
                errors.push(format!("devices[{i}]"), format!("no device {device} enrolled in this tenant"));
            }
            if !errors.is_empty() {
                return Err(StoreError::Invalid(errors));
            }
            let stamp = stamp.take(conn, tenant).await?;
            let stored = diesel::insert_into(encounters::table)
                .values((
                    encounters::id.eq(stamp.id::<EncounterId>("encounter", 0).as_str()),
                    encounters::tenant_id.eq(tenant.as_str()),
                    encounters::incident_id.eq(record.incident_id.as_ref().map(IncidentId::as_str)),
                    encounters::record.eq(&document),
                    encounters::call_received_at.eq(record.timeline.call_received),
                    encounters::created_by.eq(created_by),
                    encounters::created_at.eq(stamp.sql_time()),
                    encounters::updated_at.eq(stamp.sql_time()),
                ))
                .returning(EncounterRecord::as_returning())
                .get_result(conn)
                .await?;
            stored.announce(conn, &stamp, EventKind::EpcrCreated).await?;
            Ok(stored)
        })
        .await
    }

    /// The record, and an access-log entry for this read in the same
    /// transaction (a read that is not logged does not happen); `None`
    /// when the tenant has no such record (nothing is logged).
    pub async fn read_encounter(
        &self,
        tenant: &TenantId,
        id: &EncounterId,
        access: &EncounterAccess<'_>,
    ) -> Result<Option<EncounterRecord>, StoreError> {
        self.transaction(async |conn| {
            let Some(record): Option<EncounterRecord> =
                find_row(conn, encounters::table.tenant_row(tenant, id.as_str())).await?
            else {
                return Ok(None);
            };
            diesel::insert_into(encounter_access_log::table)
                .values((
                    encounter_access_log::tenant_id.eq(tenant.as_str()),
                    encounter_access_log::encounter_id.eq(id.as_str()),
                    encounter_access_log::actor.eq(access.actor),
                    encounter_access_log::client_id.eq(access.client_id),
                    encounter_access_log::route.eq(access.route),
                    encounter_access_log::trace_id.eq(access.trace_id),
                ))
                .execute(conn)
                .await?;
            Ok(Some(record))
        })
        .await
    }

    /// A record's access log, oldest first (at most `limit` entries).
    pub async fn encounter_access_log(
        &self,
        tenant: &TenantId,
        id: &EncounterId,
        limit: i64,
    ) -> Result<Vec<EncounterAccessRecord>, StoreError> {
        Ok(encounter_access_log::table
            .filter(encounter_access_log::tenant_id.eq(tenant.as_str()))
            .filter(encounter_access_log::encounter_id.eq(id.as_str()))
            .order(encounter_access_log::id.asc())
            .limit(limit)
            .select(EncounterAccessRecord::as_select())
            .load(&mut *self.conn().await?)
            .await?)
    }

    /// The tenant's records whose call was received in `[from, to)`, a page
    /// at a time in id order: what aggregate reports (ACQI) fold over without
    /// holding a whole range in memory. Not access-logged: a report reads
    /// figures, not a record.
    pub async fn list_encounters_received(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest<EncounterId>,
    ) -> Result<Page<EncounterRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, encounters::table, tenant, page, |query| {
            query.filter(encounters::call_received_at.ge(from)).filter(encounters::call_received_at.lt(to))
        })
        .await
    }
}
