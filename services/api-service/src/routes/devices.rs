//! Medical devices: `/api/v1/devices…` (contract 2026.4, "ePCR / FHIR").
//!
//! Enrol a device by its IEEE 11073 device type, list the tenant's
//! devices, and take the Personal Health Device observations a device
//! submits, shaped as the HL7 PHD implementation guide shapes them. Every
//! route takes a bearer token with `devices:read` or `devices:write` and
//! `X-Tenant-ID` equal to the token's tenant; another tenant's device is
//! "not found".

use actix_web::{HttpResponse, web};
use argus_authn::{DevicesRead, DevicesWrite, TenantScoped};
use argus_domain::epcr::codes::{Code, UCUM};
use argus_domain::epcr::devices::{DeviceType, MdcCode, NewDevice, ObservationValue, PhdObservation};
use argus_http::Endpoint;
use argus_http::openapi::{InvalidParamsProblem, PROBLEM_JSON, TenantHeader, TenantScopedErrors};
use argus_http::pagination::page_request;
use argus_store::Store;
use argus_store::devices::{DeviceFilter, DeviceRecord, ObservationRecord};
use argus_types::DeviceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// A code of a terminology (FHIR `Coding`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Coding {
    /// `urn:iso:std:iso:11073:10101` (IEEE 11073 MDC) or `http://loinc.org`.
    pub system: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl From<Code> for Coding {
    fn from(c: Code) -> Self {
        Self { system: c.system.to_owned(), code: c.code.to_owned(), display: Some(c.display.to_owned()) }
    }
}

/// A coded concept (FHIR `CodeableConcept`): the MDC coding, and the LOINC
/// one where the code has one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Concept {
    pub coding: Vec<Coding>,
}

impl Concept {
    fn of(code: MdcCode, unit: &str) -> Self {
        Self { coding: std::iter::once(code.coding()).chain(code.loinc(unit)).map(Coding::from).collect() }
    }
}

/// A measured value (FHIR `Quantity`): `unit` is a UCUM code; `system`
/// (`http://unitsofmeasure.org`) and `code` (the same UCUM code) are
/// optional in a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Quantity {
    pub value: f64,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Quantity {
    fn ucum(value: f64, unit: &str) -> Self {
        Self { value, unit: unit.to_owned(), system: Some(UCUM.to_owned()), code: Some(unit.to_owned()) }
    }
}

/// One component of a compound observation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Component {
    pub code: Concept,
    pub value_quantity: Quantity,
}

/// The body of `POST /api/v1/devices/enrol`.
#[derive(Debug, ToSchema)]
pub struct EnrolDevice {
    /// Unique in the tenant; at most 64 characters.
    pub serial_number: String,
    pub manufacturer: String,
    pub model: String,
    /// The IEEE 11073 device specialization (`system`
    /// `urn:iso:std:iso:11073:10101`): 528385 generic (multi-parameter),
    /// 528388 pulse oximeter, 528390 electrocardiograph, 528391 blood
    /// pressure monitor, 528392 thermometer, 528397 respiration rate
    /// monitor, 528399 weighing scale, 528401 glucose meter.
    #[schema(rename = "type")]
    pub device_type: Coding,
}

/// The body of `POST /api/v1/devices/{deviceId}/observations`: a PHD
/// observation with either `value_quantity` or, for a compound (150020
/// non-invasive blood pressure: components 150021 systolic and 150022
/// diastolic, 150023 mean optional, all in one unit), `component`.
#[derive(Debug, ToSchema)]
pub struct SubmitObservation {
    /// The MDC code (147842 heart rate, 149530 pulse rate, 150020 blood
    /// pressure, 150364 body temperature, 150456 SpO2, 151562 respiration
    /// rate, 160184 capillary blood glucose, 188736 body mass), and its
    /// LOINC code if you send one (it must be the code's in the unit).
    pub code: Concept,
    /// Units by code: /min; %; Cel or [degF]; mg/dL or mmol/L; kg or
    /// [lb_av]; mm[Hg] or kPa.
    pub value_quantity: Option<Quantity>,
    pub component: Option<Vec<Component>>,
    /// When it was measured (no later than now, give or take 5 minutes).
    pub effective_date_time: DateTime<Utc>,
    /// An encounter of the tenant the observation belongs to: it is then
    /// marked changed (`epcr.updated`) and its FHIR export holds the
    /// observation.
    pub encounter_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub serial_number: String,
    pub manufacturer: String,
    pub model: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub device_type: Coding,
    /// The subject of the token that enrolled it.
    pub enrolled_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        Self {
            id: d.id.into(),
            serial_number: d.serial_number,
            manufacturer: d.manufacturer,
            model: d.model,
            device_type: d.device_type.coding().into(),
            enrolled_by: d.enrolled_by,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
    pub next_cursor: Option<String>,
}

/// A stored observation, shaped as it was submitted, with its codings
/// completed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObservationView {
    pub id: String,
    pub device_id: String,
    pub encounter_id: Option<String>,
    pub code: Concept,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Vec<Component>>,
    pub effective_date_time: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl From<ObservationRecord> for ObservationView {
    fn from(o: ObservationRecord) -> Self {
        let (value_quantity, component) = match &o.value {
            ObservationValue::Quantity(v) => (Some(Quantity::ucum(*v, &o.unit)), None),
            ObservationValue::Components(components) => {
                let component = components
                    .iter()
                    .map(|c| Component {
                        code: Concept::of(c.code, &o.unit),
                        value_quantity: Quantity::ucum(c.value, &o.unit),
                    })
                    .collect();
                (None, Some(component))
            }
        };
        Self {
            id: o.id.into(),
            device_id: o.device_id.into(),
            encounter_id: o.encounter_id.map(Into::into),
            code: Concept::of(o.code, &o.unit),
            value_quantity,
            component,
            effective_date_time: o.effective_at,
            received_at: o.received_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A device type code (528388...).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub device_type: Option<String>,
    /// Exactly this manufacturer.
    pub manufacturer: Option<String>,
    /// Exactly this serial number.
    pub serial_number: Option<String>,
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List medical devices
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "Devices",
    security(("bearer" = ["devices:read"])),
    params(ListQuery, TenantHeader),
    responses(
        (status = 200, description = "One page, in enrolment order", body = DeviceList),
        (status = 400, description = "Unknown device type, bad limit or cursor"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_devices(
    caller: TenantScoped<DevicesRead>,
    store: web::Data<Store>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = page_request::<DeviceId>(query.limit, query.cursor.as_deref())?;
    let device_type = query
        .device_type
        .as_deref()
        .map(|t| t.parse::<DeviceType>().map_err(|e| ApiError::Validation(format!("type: {e}"))))
        .transpose()?;
    let filter = DeviceFilter { device_type, manufacturer: query.manufacturer, serial_number: query.serial_number };
    let page = store.list_devices(caller.tenant(), &filter, &request).await?;
    let (devices, next_cursor) = page.into_listing::<DeviceView>();
    Ok(HttpResponse::Ok().json(DeviceList { devices, next_cursor }))
}

/// Enrol a medical device
///
/// A serial number already enrolled in the tenant is a 409.
#[utoipa::path(
    post,
    path = "/api/v1/devices/enrol",
    tag = "Devices",
    security(("bearer" = ["devices:write"])),
    params(TenantHeader),
    request_body(
        content = EnrolDevice,
        example = json!({
            "serial_number": "PO-2026-000417",
            "manufacturer": "Nonin Medical",
            "model": "Onyx Vantage 9590",
            "type": { "system": "urn:iso:std:iso:11073:10101", "code": "528388" }
        })
    ),
    responses(
        (status = 201, description = "Enrolled", body = DeviceView),
        (status = 400, description = "Bad fields, each named in `invalid-params`", body = InvalidParamsProblem, content_type = PROBLEM_JSON),
        (status = 415, description = "Body not application/json"),
        (status = 409, description = "The serial number is already enrolled in the tenant"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn enrol_device(
    caller: TenantScoped<DevicesWrite>,
    store: web::Data<Store>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let device = NewDevice::parse(body.into_inner()).map_err(ApiError::InvalidFields)?;
    let stored = store
        .enrol_device(caller.principal().write_stamp(), caller.tenant(), device, &caller.principal().subject)
        .await?;
    tracing::info!(device_id = %stored.id, "device enrolled");
    Ok(HttpResponse::Created().json(DeviceView::from(stored)))
}

/// Submit a PHD observation
///
/// The path's `deviceId` is the `id` that enrolling the device answered
/// (`POST /api/v1/devices/enrol`); the example body needs nothing else. A
/// compound observation sends `component` instead of `value_quantity`:
/// `{"code": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code":
/// "150020"}]}, "component": [{"code": {"coding": [{"system":
/// "urn:iso:std:iso:11073:10101", "code": "150021"}]}, "value_quantity":
/// {"value": 128, "unit": "mm[Hg]"}}, {"code": {"coding": [{"system":
/// "urn:iso:std:iso:11073:10101", "code": "150022"}]}, "value_quantity":
/// {"value": 84, "unit": "mm[Hg]"}}], "effective_date_time": "…"}`. An
/// unknown code, or a unit that does not fit the code, is a 400.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{deviceId}/observations",
    tag = "Devices",
    security(("bearer" = ["devices:write"])),
    params(("deviceId" = String, Path, description = "The device's id, from its enrolment"), TenantHeader),
    request_body(
        content = SubmitObservation,
        example = json!({
            "code": { "coding": [
                { "system": "urn:iso:std:iso:11073:10101", "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2" },
                { "system": "http://loinc.org", "code": "59408-5" }
            ] },
            "value_quantity": { "value": 97, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" },
            "effective_date_time": "2026-05-08T09:30:00Z"
        })
    ),
    responses(
        (status = 201, description = "Stored", body = ObservationView),
        (status = 400, description = "Unknown code, a unit that does not fit it, an encounter_id the tenant does not \
                                      have, or another bad field, each named in `invalid-params`",
            body = InvalidParamsProblem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such device in the tenant"),
        (status = 415, description = "Body not application/json"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn submit_observation(
    caller: TenantScoped<DevicesWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no device {path}"));
    let device: DeviceId = path.parse().map_err(|_| not_found())?;
    let observation = PhdObservation::parse(body.into_inner(), Utc::now()).map_err(ApiError::InvalidFields)?;
    let stored = store
        .submit_observation(caller.principal().write_stamp(), caller.tenant(), &device, observation)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Created().json(ObservationView::from(stored)))
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/api/v1/devices").get(list_devices))
        .service(Endpoint::new("/api/v1/devices/enrol").post(enrol_device))
        .service(Endpoint::new("/api/v1/devices/{deviceId}/observations").post(submit_observation));
}
