//! `GET /api/v1/epcr/encounters/{encounterId}/fhir-bundle`: a patient care
//! record as a FHIR R4 `document` Bundle (`application/fhir+json`), built
//! by `argus_domain::epcr::fhir` from the record read through
//! `Store::read_encounter`, so the export is access-logged like any read,
//! with the device observations linked to it and their devices.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_authn::{EpcrRead, TenantScoped};
use argus_domain::epcr::codes::Code;
use argus_domain::epcr::devices::ObservationValue;
use argus_domain::epcr::fhir::{
    CodedTerm, DeviceObservation, EncounterExport, ExportDevice, Measurement, ObservedComponent, ObservedValue,
    document_bundle,
};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::Store;
use argus_store::devices::{DeviceRecord, ObservationRecord};

use super::epcr::read_logged;

use crate::error::ApiError;

const PATH: &str = "/api/v1/epcr/encounters/{encounterId}/fhir-bundle";
/// The route as the access log names it.
const ROUTE: &str = "GET /api/v1/epcr/encounters/{encounterId}/fhir-bundle";
/// FHIR's JSON media type (R4 §3.1.0.1.9).
pub const FHIR_JSON: &str = "application/fhir+json";

/// Export an encounter as a FHIR R4 document
///
/// A `document` Bundle: the Composition first (its sections list the
/// timeline, vital signs, procedures, medications, working impressions,
/// devices and device observations), then the Patient, the crew
/// (Practitioner), the Encounter (class EMER), vital-sign Observations
/// (LOINC, UCUM, category `vital-signs`), Procedures,
/// MedicationAdministrations, Conditions (encounter-diagnosis) and
/// Devices. Every `fullUrl` is a `urn:uuid:` derived from the record, and
/// every reference resolves inside the Bundle. The read is written to the
/// record's access log.
#[utoipa::path(
    get,
    path = "/api/v1/epcr/encounters/{encounterId}/fhir-bundle",
    tag = "ePCR",
    security(("bearer" = ["epcr:read"])),
    params(("encounterId" = String, Path, description = "The encounter's id (`enc_…`)"), TenantHeader),
    responses(
        (status = 200, description = "The record as a FHIR R4 document Bundle", content_type = "application/fhir+json",
         body = Object, example = json!({
            "resourceType": "Bundle",
            "id": "0f6a8e0e-2b1c-5d8e-9a4f-3c2b1a0d9e8f",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:0f6a8e0e-2b1c-5d8e-9a4f-3c2b1a0d9e8f"},
            "type": "document",
            "timestamp": "2026-05-01T11:45:00Z",
            "entry": [
                {"fullUrl": "urn:uuid:4735bd37-ea87-51ec-9b4d-f436843adaa2", "resource": {
                    "resourceType": "Composition", "id": "4735bd37-ea87-51ec-9b4d-f436843adaa2", "status": "final",
                    "type": {"coding": [{"system": "http://loinc.org", "code": "67796-3",
                        "display": "EMS patient care report - version 3 Document NEMSIS"}],
                        "text": "Ambulance patient care record"},
                    "subject": {"reference": "urn:uuid:7d1c3a52-94e1-5b0f-8f1e-2a7c6b5d4e3f"},
                    "encounter": {"reference": "urn:uuid:c9333f5a-3a7e-591d-a921-089a6fdfdb5f"},
                    "date": "2026-05-01T11:45:00Z",
                    "author": [{"reference": "urn:uuid:dd5b859a-0e9d-5d8b-97a3-d55956280b2a", "display": "Sam Medic"}],
                    "title": "Ambulance patient care record",
                    "section": [{"title": "Vital signs",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8716-3", "display": "Vital signs"}]},
                        "entry": [{"reference": "urn:uuid:1b2c3d4e-5f60-5718-8293-a4b5c6d7e8f9"}]}]}},
                {"fullUrl": "urn:uuid:7d1c3a52-94e1-5b0f-8f1e-2a7c6b5d4e3f", "resource": {
                    "resourceType": "Patient", "id": "7d1c3a52-94e1-5b0f-8f1e-2a7c6b5d4e3f",
                    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
                    "name": [{"family": "Lovelace", "given": ["Ada"]}], "gender": "female", "birthDate": "1956-03-14"}},
                {"fullUrl": "urn:uuid:dd5b859a-0e9d-5d8b-97a3-d55956280b2a", "resource": {
                    "resourceType": "Practitioner", "id": "dd5b859a-0e9d-5d8b-97a3-d55956280b2a",
                    "name": [{"text": "Sam Medic"}]}},
                {"fullUrl": "urn:uuid:c9333f5a-3a7e-591d-a921-089a6fdfdb5f", "resource": {
                    "resourceType": "Encounter", "id": "c9333f5a-3a7e-591d-a921-089a6fdfdb5f",
                    "identifier": [{"system": "https://api.knogin.com/fhir/Id/encounter", "value": "enc_01jz0000000000000000000000"}],
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
                    "subject": {"reference": "urn:uuid:7d1c3a52-94e1-5b0f-8f1e-2a7c6b5d4e3f"},
                    "participant": [{"type": [{"coding": [{"system": "https://api.knogin.com/fhir/CodeSystem/epcr", "code": "paramedic"}], "text": "paramedic"}],
                        "individual": {"reference": "urn:uuid:dd5b859a-0e9d-5d8b-97a3-d55956280b2a", "display": "Sam Medic"}}],
                    "period": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T11:20:00Z"},
                    "hospitalization": {"destination": {"display": "Royal Infirmary, cath lab"}}}},
                {"fullUrl": "urn:uuid:1b2c3d4e-5f60-5718-8293-a4b5c6d7e8f9", "resource": {
                    "resourceType": "Observation", "id": "1b2c3d4e-5f60-5718-8293-a4b5c6d7e8f9", "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}], "text": "Heart rate"},
                    "subject": {"reference": "urn:uuid:7d1c3a52-94e1-5b0f-8f1e-2a7c6b5d4e3f"},
                    "encounter": {"reference": "urn:uuid:c9333f5a-3a7e-591d-a921-089a6fdfdb5f"},
                    "effectiveDateTime": "2026-05-01T10:10:00Z",
                    "valueQuantity": {"value": 96.0, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}}
            ]
        })),
        (status = 404, description = "No such encounter in the tenant"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn encounter_fhir_bundle(
    caller: TenantScoped<EpcrRead>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stored = read_logged(&caller, &store, &path, ROUTE).await?;
    // Recorded after the record's read: a device observation linked a
    // moment later may be in or out, as with any read.
    let linked = store.encounter_devices_and_observations(&stored).await?;
    let devices: Vec<ExportDevice> = linked.devices.iter().map(export_device).collect();
    let observations: Vec<DeviceObservation> = linked.observations.iter().map(export_observation).collect();
    let bundle = document_bundle(EncounterExport {
        id: &stored.id,
        record: &stored.record,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        devices: &devices,
        observations: &observations,
    });
    let body = serde_json::to_vec(&bundle).map_err(|e| ApiError::Internal(format!("writing a FHIR bundle: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, FHIR_JSON))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

fn term(code: Code) -> CodedTerm {
    CodedTerm { code: code.code.to_owned(), display: code.display.to_owned() }
}

fn export_device(device: &DeviceRecord) -> ExportDevice {
    ExportDevice {
        id: device.id.clone(),
        serial: device.serial_number.clone(),
        manufacturer: device.manufacturer.clone(),
        model: device.model.clone(),
        device_type: term(device.device_type.coding()),
    }
}

/// A stored PHD observation: its MDC code, and LOINC where the code has an
/// equivalent in the observation's unit; a compound value's parts share it.
fn export_observation(o: &ObservationRecord) -> DeviceObservation {
    let measured = |value: f64| Measurement { value, unit: o.unit.clone() };
    DeviceObservation {
        id: o.id.to_string(),
        code: term(o.code.coding()),
        loinc: o.code.loinc(&o.unit).map(term),
        value: match &o.value {
            ObservationValue::Quantity(value) => ObservedValue::Quantity(measured(*value)),
            ObservationValue::Components(parts) => ObservedValue::Components(
                parts
                    .iter()
                    .map(|c| ObservedComponent {
                        code: term(c.code.coding()),
                        loinc: c.code.loinc(&o.unit).map(term),
                        value: measured(c.value),
                    })
                    .collect(),
            ),
        },
        effective: o.effective_at,
        device_id: o.device_id.clone(),
    }
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(PATH).get(encounter_fhir_bundle));
}
