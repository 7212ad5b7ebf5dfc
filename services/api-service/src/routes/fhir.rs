//! `GET /api/v1/epcr/encounters/{encounterId}/fhir-bundle`: a patient care
//! record as a FHIR R4 `document` Bundle (`application/fhir+json`), built
//! by `argus_domain::epcr::fhir` from the record read through
//! `Store::read_encounter`, so the export is access-logged like any read.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_authn::{EpcrRead, TenantScoped};
use argus_domain::epcr::fhir::{EncounterExport, document_bundle};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::Store;
use argus_store::epcr::EncounterAccess;
use argus_types::EncounterId;

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
    let not_found = || ApiError::NotFound(format!("no encounter {path}"));
    let id: EncounterId = path.parse().map_err(|_| not_found())?;
    let principal = caller.principal();
    let trace_id = argus_telemetry::propagation::ids_of(&tracing::Span::current()).map(|(trace, _)| trace);
    let access = EncounterAccess {
        actor: &principal.subject,
        client_id: &principal.client_id,
        route: ROUTE,
        trace_id: trace_id.as_deref(),
    };
    let stored = store.read_encounter(caller.tenant(), &id, &access).await?.ok_or_else(not_found)?;
    // Devices and their observations join the export once the device
    // routes store them; the record's own device ids are exported already.
    let bundle = document_bundle(EncounterExport {
        id: &stored.id,
        record: &stored.record,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        devices: &[],
        observations: &[],
    });
    let body = serde_json::to_vec(&bundle).map_err(|e| ApiError::Internal(format!("writing a FHIR bundle: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, FHIR_JSON))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(PATH).get(encounter_fhir_bundle));
}
