//! Medical devices: enrol and list; and the PHD observations they submit,
//! an observation that names an encounter marking it changed
//! (`epcr.updated`) in the same transaction.

use argus_domain::FieldErrors;
use argus_domain::epcr::devices::{DeviceType, MdcCode, NewDevice, ObservationValue, PhdObservation};
use argus_types::{DeviceId, EncounterId, ObservationId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::epcr::{EncounterRecord, encounter_changed};
use crate::schema::{device_observations, devices};
use crate::stored_text::{Stored, StoredJson};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = devices, check_for_backend(diesel::pg::Pg))]
pub struct DeviceRecord {
    #[diesel(deserialize_as = Stored<DeviceId>)]
    pub id: DeviceId,
    #[serde(skip)]
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    pub serial_number: String,
    pub manufacturer: String,
    pub model: String,
    #[diesel(deserialize_as = Stored<DeviceType>)]
    pub device_type: DeviceType,
    pub enrolled_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = device_observations, check_for_backend(diesel::pg::Pg))]
pub struct ObservationRecord {
    #[diesel(deserialize_as = Stored<ObservationId>)]
    pub id: ObservationId,
    #[diesel(deserialize_as = Stored<DeviceId>)]
    pub device_id: DeviceId,
    #[diesel(deserialize_as = Stored<Option<EncounterId>>)]
    pub encounter_id: Option<EncounterId>,
    #[diesel(deserialize_as = Stored<MdcCode>)]
    pub code: MdcCode,
    pub unit: String,
    #[diesel(deserialize_as = StoredJson<ObservationValue>)]
    pub value: ObservationValue,
    pub effective_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// Each `Some` narrows the listing to devices with that value.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub device_type: Option<DeviceType>,
    pub manufacturer: Option<String>,
    pub serial_number: Option<String>,
}

/// What an encounter's FHIR export needs of devices: the observations
/// linked to it, oldest first, and every device it names or that observed
/// it.
#[derive(Debug, Clone, Default)]
pub struct EncounterDevices {
    pub devices: Vec<DeviceRecord>,
    pub observations: Vec<ObservationRecord>,
}

tenant_table!(devices);

/// The ids among `ids` that are not the tenant's enrolled devices, each
/// with its index.
pub(crate) async fn unknown_devices<'a>(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    ids: &'a [DeviceId],
) -> Result<Vec<(usize, &'a DeviceId)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<String> = devices::table
        .of_tenant(tenant)
        .filter(devices::id.eq_any(ids.iter().map(DeviceId::as_str)))
        .select(devices::id)
        .load(conn)
        .await?;
    Ok(ids.iter().enumerate().filter(|(_, id)| !found.iter().any(|f| f == id.as_str())).collect())
}

async fn insert_device(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    device: &NewDevice,
    enrolled_by: &str,
) -> Result<DeviceRecord, StoreError> {
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(stamp.id::<DeviceId>("device", 0).as_str()),
            devices::tenant_id.eq(tenant.as_str()),
            devices::serial_number.eq(&device.serial_number),
            devices::manufacturer.eq(&device.manufacturer),
            devices::model.eq(&device.model),
            devices::device_type.eq(device.device_type.as_str()),
            devices::enrolled_by.eq(enrolled_by),
            devices::created_at.eq(stamp.sql_time()),
        ))
        .returning(DeviceRecord::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            crate::unique_violation_to_conflict(
                e,
                &format!("a device with serial number {} is already enrolled", device.serial_number),
            )
        })
}

impl Store {
    /// Enrols a device; a serial number the tenant already enrolled is a
    /// conflict.
    pub async fn enrol_device(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        device: NewDevice,
        enrolled_by: &str,
    ) -> Result<DeviceRecord, StoreError> {
        self.single_statement_write(stamp, tenant, async |conn, stamp| {
            insert_device(conn, stamp, tenant, &device, enrolled_by).await
        })
        .await
    }

    /// Devices in enrolment order, a page at a time.
    pub async fn list_devices(
        &self,
        tenant: &TenantId,
        filter: &DeviceFilter,
        page: &PageRequest<DeviceId>,
    ) -> Result<Page<DeviceRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, devices::table, tenant, page, |mut query| {
            if let Some(device_type) = filter.device_type {
                query = query.filter(devices::device_type.eq(device_type.as_str()));
            }
            if let Some(manufacturer) = &filter.manufacturer {
                query = query.filter(devices::manufacturer.eq(manufacturer.clone()));
            }
            if let Some(serial) = &filter.serial_number {
                query = query.filter(devices::serial_number.eq(serial.clone()));
            }
            query
        })
        .await
    }

    /// Stores an observation of the tenant's device; `None` when the tenant
    /// has no such device. An encounter it names must be the tenant's (else
    /// a 400 naming `encounter_id`), and is marked changed, announcing
    /// `epcr.updated`, in the same transaction.
    pub async fn submit_observation(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        device: &DeviceId,
        observation: PhdObservation,
    ) -> Result<Option<ObservationRecord>, StoreError> {
        let value = serde_json::to_value(&observation.value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.transaction(async |conn| {
            let found: Option<DeviceRecord> =
                find_row(conn, devices::table.tenant_row(tenant, device.as_str())).await?;
            if found.is_none() {
                return Ok(None);
            }
            let stamp = stamp.take(conn, tenant).await?;
            if let Some(encounter) = &observation.encounter_id
                && !encounter_changed(conn, &stamp, tenant, encounter).await?
            {
                let mut errors = FieldErrors::default();
                errors.push("encounter_id", format!("no encounter {encounter} in this tenant"));
                return Err(StoreError::Invalid(errors));
            }
            let stored = diesel::insert_into(device_observations::table)
                .values((
                    device_observations::id.eq(stamp.id::<ObservationId>("observation", 0).as_str()),
                    device_observations::tenant_id.eq(tenant.as_str()),
                    device_observations::device_id.eq(device.as_str()),
                    device_observations::encounter_id.eq(observation.encounter_id.as_ref().map(EncounterId::as_str)),
                    device_observations::code.eq(observation.code.as_str()),
                    device_observations::unit.eq(&observation.unit),
                    device_observations::value.eq(&value),
                    device_observations::effective_at.eq(observation.effective),
                    device_observations::received_at.eq(stamp.sql_time()),
                ))
                .returning(ObservationRecord::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(stored))
        })
        .await
    }

    /// The devices and observations of an encounter already read (and
    /// access-logged) by its FHIR export, in its tenant. Taking the record
    /// spares a second read and parse of it: two queries, on one connection.
    pub async fn encounter_devices_and_observations(
        &self,
        encounter: &EncounterRecord,
    ) -> Result<EncounterDevices, StoreError> {
        let (tenant, id) = (&encounter.tenant_id, &encounter.id);
        let mut conn = self.conn().await?;
        let conn = &mut *conn;
        let observations: Vec<ObservationRecord> = device_observations::table
            .filter(device_observations::tenant_id.eq(tenant.as_str()))
            .filter(device_observations::encounter_id.eq(id.as_str()))
            .order((device_observations::effective_at.asc(), device_observations::id.asc()))
            .select(ObservationRecord::as_select())
            .load(conn)
            .await?;
        let mut ids: Vec<&str> = encounter.record.devices.iter().map(DeviceId::as_str).collect();
        ids.extend(observations.iter().map(|o| o.device_id.as_str()));
        let devices: Vec<DeviceRecord> = devices::table
            .of_tenant(tenant)
            .filter(devices::id.eq_any(ids))
            .order(devices::id.asc())
            .select(DeviceRecord::as_select())
            .load(conn)
            .await?;
        Ok(EncounterDevices { devices, observations })
    }
}
