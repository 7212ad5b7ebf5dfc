//! ePCR encounters: `/api/v1/epcr/encounters…` (contract 2026.4, "ePCR").
//!
//! A record is checked whole on the way in (`Encounter::parse`: a 400 whose
//! `invalid-params` names every bad field) and stored with its
//! `epcr.created` event; every read of one is written to its access log in
//! the read's transaction. Both routes take a bearer token with
//! `epcr:write` or `epcr:read` (which `epcr:write` does not imply) and
//! `X-Tenant-ID` equal to the token's tenant; another tenant's record is
//! "not found".

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use argus_authn::{EpcrRead, EpcrWrite, TenantScoped};
use argus_domain::epcr::Encounter;
use argus_http::Endpoint;
use argus_http::openapi::{InvalidParamsProblem, PROBLEM_JSON, TenantHeader, TenantScopedErrors};
use argus_store::Store;
use argus_store::epcr::{EncounterAccess, EncounterRecord};
use argus_types::EncounterId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;

const ENCOUNTERS: &str = "/api/v1/epcr/encounters";
const ENCOUNTER: &str = "/api/v1/epcr/encounters/{encounterId}";
/// What a read through `GET …/{encounterId}` is logged as.
const READ_ROUTE: &str = "GET /api/v1/epcr/encounters/{encounterId}";

/// A stored record: its id and provenance beside the record as it was sent
/// (checked; blood glucose in mg/dL, units filled in).
#[derive(Debug, Serialize, ToSchema)]
pub struct EncounterView {
    pub id: EncounterId,
    #[serde(flatten)]
    pub record: Encounter,
    /// The subject of the token that created it (a user's or an app's id).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EncounterRecord> for EncounterView {
    fn from(r: EncounterRecord) -> Self {
        Self {
            id: r.id,
            record: r.record,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Health data: kept by no cache on the way.
fn not_stored(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]))
}

/// Create an ePCR encounter
///
/// Stores one ambulance patient care record and announces `epcr.created`
/// (the event names the record, never its clinical content). The record is
/// checked whole: a 400 names every bad field in `invalid-params`, among
/// them times out of order on the timeline, times in the future, codes
/// outside their lists, values outside a vital sign's range or in another
/// unit, and an `incident_id` that is not the tenant's. `devices` name
/// devices enrolled in the tenant.
#[utoipa::path(
    post,
    path = "/api/v1/epcr/encounters",
    tag = "ePCR",
    security(("bearer" = ["epcr:write"])),
    params(TenantHeader),
    request_body(
        content = Encounter,
        content_type = "application/json",
        example = json!({
            "patient": {
                "identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "4010232137"}],
                "name": {"given": ["Mary", "Jane"], "family": "Seacole"},
                "birth_date": "1948-11-23",
                "sex": "female"
            },
            "timeline": {
                "call_received": "2026-05-01T10:00:00Z",
                "dispatched": "2026-05-01T10:01:00Z",
                "mobile": "2026-05-01T10:02:00Z",
                "on_scene": "2026-05-01T10:09:00Z",
                "left_scene": "2026-05-01T10:40:00Z",
                "at_hospital": "2026-05-01T11:00:00Z",
                "handover": "2026-05-01T11:12:00Z"
            },
            "vital_signs": [
                {"type": "heart_rate", "value": 96, "unit": "/min", "at": "2026-05-01T10:10:00Z"},
                {"type": "pain_score", "value": 8, "at": "2026-05-01T10:10:00Z"},
                {"type": "blood_pressure", "systolic": 150, "diastolic": 90, "unit": "mm[Hg]", "at": "2026-05-01T10:11:00Z"},
                {"type": "blood_glucose", "value": 5.5, "unit": "mmol/L", "at": "2026-05-01T10:12:00Z"},
                {"type": "pain_score", "value": 3, "at": "2026-05-01T10:35:00Z"}
            ],
            "procedures": [{"procedure": "ecg_12_lead", "at": "2026-05-01T10:13:00Z"}],
            "medications": [
                {"medication": "aspirin", "dose": {"value": 300, "unit": "mg"}, "route": "oral", "at": "2026-05-01T10:15:00Z"},
                {"medication": "glyceryl_trinitrate", "dose": {"value": 400, "unit": "ug"}, "route": "sublingual", "at": "2026-05-01T10:16:00Z"},
                {"medication": "morphine", "dose": {"value": 5, "unit": "mg"}, "route": "intravenous", "at": "2026-05-01T10:20:00Z"}
            ],
            "impressions": ["stemi"],
            "outcome": "conveyed",
            "destination": "Royal Infirmary, cardiac catheter laboratory",
            "crew": [
                {"name": "Sam Medic", "role": "paramedic", "registration": "PA123456"},
                {"name": "Alex Tech", "role": "emt"}
            ]
        })
    ),
    responses(
        (status = 201, description = "Stored; `Location` is the record's URL", body = EncounterView,
            headers(("Location" = String, description = "/api/v1/epcr/encounters/{encounterId}"))),
        (status = 400, description = "Bad fields, each named in `invalid-params`",
            body = InvalidParamsProblem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body over 64 KiB"),
        (status = 415, description = "Body not application/json"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn create_encounter(
    caller: TenantScoped<EpcrWrite>,
    store: web::Data<Store>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let record = Encounter::parse(body.into_inner(), Utc::now()).map_err(ApiError::InvalidFields)?;
    let stored = store
        .create_encounter(caller.principal().write_stamp(), caller.tenant(), record, &caller.principal().subject)
        .await?;
    tracing::info!(encounter_id = %stored.id, "encounter created");
    let location = format!("{ENCOUNTERS}/{}", stored.id);
    Ok(not_stored(&mut HttpResponse::Created())
        .insert_header((header::LOCATION, location))
        .json(EncounterView::from(stored)))
}

/// Fetch an ePCR encounter
///
/// The record, as created. Every read is written to the record's access
/// log (who: the token's subject and app; when; which record; this route;
/// the trace id) in the read's transaction.
#[utoipa::path(
    get,
    path = "/api/v1/epcr/encounters/{encounterId}",
    tag = "ePCR",
    security(("bearer" = ["epcr:read"])),
    params(("encounterId" = EncounterId, Path), TenantHeader),
    responses(
        (status = 200, description = "The record", body = EncounterView),
        (status = 404, description = "No such record in the tenant"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_encounter(
    caller: TenantScoped<EpcrRead>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = read_logged(&caller, &store, &path, READ_ROUTE).await?;
    Ok(not_stored(&mut HttpResponse::Ok()).json(EncounterView::from(record)))
}

/// The tenant's record `raw_id`, its read written to the access log as
/// `route` by the caller; a 404 for an id that is not one of the tenant's.
pub(crate) async fn read_logged(
    caller: &TenantScoped<EpcrRead>,
    store: &Store,
    raw_id: &str,
    route: &str,
) -> Result<EncounterRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("no encounter {raw_id}"));
    let id: EncounterId = raw_id.parse().map_err(|_| not_found())?;
    let principal = caller.principal();
    let trace_id = argus_telemetry::propagation::ids_of(&tracing::Span::current()).map(|(trace, _)| trace);
    let access = EncounterAccess {
        actor: &principal.subject,
        client_id: &principal.client_id,
        route,
        trace_id: trace_id.as_deref(),
    };
    store.read_encounter(caller.tenant(), &id, &access).await?.ok_or_else(not_found)
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(ENCOUNTERS).post(create_encounter)).service(Endpoint::new(ENCOUNTER).get(get_encounter));
}
