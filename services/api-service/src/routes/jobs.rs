//! Async jobs: `/v1/jobs…` (contract 2026.4, "Async jobs").
//!
//! `POST /v1/jobs` validates the kind's input, then writes the job and its
//! work task (and the response kept for an `Idempotency-Key`) in one
//! transaction; the delivery worker runs it. Every route takes a bearer
//! token with `jobs:read` or `jobs:write` and `X-Tenant-ID` equal to the
//! token's tenant; another tenant's job is "not found".

use std::collections::BTreeMap;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use argus_analytics::enrich::EnrichInput;
use argus_analytics::graph::GraphComputeInput;
use argus_authn::{JobsRead, JobsWrite, Principal, TenantScoped};
use argus_bus::proto;
use argus_crypto::webhook::SecretBox;
use argus_store::Store;
use argus_store::idempotency::{Begin, IdempotencyKey, StoredResponse, fingerprint};
use argus_store::job_input::{ExportInput, ImportInput};
use argus_store::jobs::{CancelOutcome, JobFilter, JobRecord, NewJob};
use argus_types::JobId;
use argus_types::jobs::{ENRICH_BULK, EXPORT_BULK, GRAPH_COMPUTE, IMPORT_BULK, JOB_KINDS, JOB_STATUSES};
use argus_types::pagination::{decode_cursor, encode_cursor, page_limit};
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::graphql::{BodyError, is_json, read_body};

/// The header that marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest Idempotency-Key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What the job routes share.
pub struct JobsState {
    pub store: Store,
    pub sealer: SecretBox,
    pub allow_private_callbacks: bool,
    pub max_body: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// `import.bulk`, `export.bulk`, `intelligence.enrich.bulk` or `graph.compute`.
    pub kind: String,
    /// The kind's input: `import.bulk` `{"ndjson": "…"}` (one entity,
    /// relationship or incident per line, each with a `type` and an
    /// `external_id`); `export.bulk` `{"types"?, "incident_status"?,
    /// "incident_severity"?, "created_after"?, "created_before"?,
    /// "case_status"?, "entity_kind"?, "relationship_kind"?}`; `graph.compute`
    /// `{"algorithms": ["pagerank", "connected_components", "degree",
    /// "betweenness", "shortest_paths"], "directed"?, "relationship_kinds"?,
    /// "entity_kinds"?, "pagerank"?, "betweenness"?, "shortest_paths"?,
    /// "top"?}`; `intelligence.enrich.bulk` `{"entity_ids"?, "entity_kinds"?,
    /// "default_region"?, "min_score"?, "min_link_score"?,
    /// "max_suggestions"?}`.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub input: Value,
    /// Where to POST the finished job, signed with Standard Webhooks
    /// headers and the `callback_secret` of the response (`https`).
    pub callback_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// 0 to 1.
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `{"code","message"}` when the job failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Set once a cancel was asked for a running job.
    pub cancel_requested: bool,
    /// Where the result is, once the job has succeeded.
    pub result_url: Option<String>,
    pub callback_url: Option<String>,
    /// `pending`, `succeeded` or `failed` once the job has finished.
    pub callback_status: Option<String>,
    /// The callback's signing secret (`whsec_…`): only in the response that
    /// created the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        Self {
            result_url: (j.status == "succeeded").then(|| format!("/v1/jobs/{}/result", j.id)),
            id: j.id,
            kind: j.kind,
            status: j.status,
            progress: j.progress,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            error: j.error,
            cancel_requested: j.cancel_requested,
            callback_url: j.callback_url,
            callback_status: j.callback_status,
            callback_secret: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    pub kind: Option<String>,
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The `Idempotency-Key` header: a structured-field string (`"…"`) as the
/// IETF draft has it, or the bare token many clients send; 1 to 255
/// printable ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all("idempotency-key");
    let Some(value) = values.next() else { return Ok(None) };
    let malformed = || {
        ApiError::Validation(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters, sent once"
        ))
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let raw = value.to_str().map_err(|_| malformed())?.trim();
    let key = match raw.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(malformed)?,
        None => raw,
    };
    let printable = key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
        return Err(malformed());
    }
    Ok(Some(key.to_owned()))
}

/// A job's input, checked for its kind.
struct CheckedInput {
    /// What the job row keeps as `input`.
    input: Value,
    /// A large input kept apart (import.bulk's NDJSON).
    payload: Option<Vec<u8>>,
    /// Entity ids the input names, which must be the tenant's.
    entities: Vec<String>,
}

fn validate_input(kind: &str, input: Value) -> Result<CheckedInput, ApiError> {
    let invalid = ApiError::Validation;
    match kind {
        IMPORT_BULK => {
            let parsed: ImportInput =
                serde_json::from_value(input).map_err(|e| invalid(format!("input for {IMPORT_BULK}: {e}")))?;
            parsed.validate().map_err(invalid)?;
            let lines = parsed.ndjson.lines().filter(|l| !l.trim().is_empty()).count();
            Ok(CheckedInput {
                input: json!({ "lines": lines, "bytes": parsed.ndjson.len() }),
                payload: Some(parsed.ndjson.into_bytes()),
                entities: Vec::new(),
            })
        }
        EXPORT_BULK => {
            let parsed: ExportInput =
                serde_json::from_value(input.clone()).map_err(|e| invalid(format!("input for {EXPORT_BULK}: {e}")))?;
            parsed.validate().map_err(invalid)?;
            Ok(CheckedInput { input, payload: None, entities: Vec::new() })
        }
        GRAPH_COMPUTE => {
            let parsed = GraphComputeInput::from_json(input.clone()).map_err(|e| invalid(e.to_string()))?;
            let entities =
                parsed.shortest_paths.iter().flatten().flat_map(|q| [q.from.clone(), q.to.clone()]).collect();
            Ok(CheckedInput { input, payload: None, entities })
        }
        ENRICH_BULK => {
            let parsed = EnrichInput::from_json(input.clone()).map_err(|e| invalid(e.to_string()))?;
            let entities = parsed.entity_ids().map(<[String]>::to_vec).unwrap_or_default();
            Ok(CheckedInput { input, payload: None, entities })
        }
        other => Err(invalid(format!("kind must be one of {}, not `{other}`", JOB_KINDS.join(", ")))),
    }
}

/// The job (and its response) for a parsed request.
async fn enqueue(
    state: &JobsState,
    principal: &Principal,
    body: &[u8],
    key: Option<&IdempotencyKey>,
) -> Result<HttpResponse, ApiError> {
    let request: CreateJob =
        serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("the body is not a job: {e}")))?;
    if !JOB_KINDS.contains(&request.kind.as_str()) {
        return Err(ApiError::Validation(format!("kind must be one of {}", JOB_KINDS.join(", "))));
    }
    let CheckedInput { input, payload, entities } = validate_input(&request.kind, request.input)?;
    if !entities.is_empty() {
        let ids: Vec<&str> = entities.iter().map(String::as_str).collect();
        let missing = state.store.missing_entities(&principal.tenant, &ids).await?;
        if !missing.is_empty() {
            return Err(ApiError::Validation(format!("input names unknown entities: {}", missing.join(", "))));
        }
    }
    let callback_url = request
        .callback_url
        .as_deref()
        .map(|u| {
            argus_types::ssrf::validate_target_url(u, state.allow_private_callbacks)
                .map_err(|why| ApiError::Validation(format!("callback_url {why}")))
        })
        .transpose()?;
    let secret = callback_url.as_ref().map(|_| argus_crypto::webhook::generate_webhook_secret());
    let id = JobId::generate();
    // Microseconds, as the database keeps it, so this view and later reads agree.
    let created_at = Utc::now().trunc_subsecs(6);
    let view = JobView {
        id: id.to_string(),
        kind: request.kind.clone(),
        status: "queued".into(),
        progress: 0.0,
        created_at,
        started_at: None,
        finished_at: None,
        error: None,
        cancel_requested: false,
        result_url: None,
        callback_url: callback_url.clone(),
        callback_status: None,
        callback_secret: secret.clone(),
    };
    let body = serde_json::to_vec(&view).map_err(|e| ApiError::Malformed(e.to_string()))?;
    let location = format!("/v1/jobs/{id}");
    let stored = key.map(|k| StoredResponse {
        key: k.clone(),
        status: 202,
        location: Some(location.clone()),
        body: state.sealer.seal(&body),
    });
    let task = argus_bus::outbox::job(
        &principal.tenant,
        &proto::JobTask {
            job_id: id.to_string(),
            tenant_id: principal.tenant.to_string(),
            kind: request.kind.clone(),
            attempt: 1,
        },
        BTreeMap::new(),
    );
    let new = NewJob {
        id,
        client_id: principal.client_id.clone(),
        kind: request.kind,
        input,
        payload,
        callback_url,
        callback_secret_sealed: secret.map(|s| state.sealer.seal(s.as_bytes())),
        created_at,
    };
    let job = state.store.create_job(&principal.tenant, new, task, stored.as_ref()).await?;
    tracing::info!(job_id = %job.id, kind = %job.kind, "job queued");
    Ok(accepted(&location, body))
}

fn accepted(location: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(mime::APPLICATION_JSON)
        .body(body)
}

/// The kept first response, marked as replayed.
fn replay(state: &JobsState, status: i32, location: Option<String>, sealed: &[u8]) -> Result<HttpResponse, ApiError> {
    let body = state.sealer.open(sealed).map_err(|e| ApiError::Store(e.into()))?;
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((REPLAYED_HEADER, "true"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(content_type);
    if let Some(l) = location {
        response.insert_header((header::LOCATION, l));
    }
    Ok(response.body(body))
}

/// Enqueue an async job
///
/// Validates the kind's input and queues the job; the response (202) has
/// the job and its `Location`. With `Idempotency-Key`, the first response
/// to a key (success or error) is kept for 24 hours and replayed, with
/// `Idempotent-Replayed: true`, for the same request; the same key with
/// another request is a 422, and a request while the first is in flight a
/// 409. When `callback_url` is given, the response holds the callback's
/// signing secret, once.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "Async jobs",
    security(("bearer" = ["jobs:write"])),
    params(
        ("X-Tenant-ID" = String, Header, description = "The caller's tenant; must equal the token's `tid`"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 printable ASCII characters, optionally as a quoted structured-field string"),
    ),
    request_body(content = CreateJob, content_type = "application/json"),
    responses(
        (status = 202, description = "Queued", body = JobView, headers(("Location" = String), ("Idempotent-Replayed" = String))),
        (status = 400, description = "Unknown kind, invalid input or callback_url, malformed Idempotency-Key", content_type = "application/problem+json"),
        (status = 403, description = "Missing scope, or X-Tenant-ID not the token's tenant", content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is in flight", content_type = "application/problem+json"),
        (status = 413, description = "Body over ARGUS_JOBS_MAX_BODY_BYTES", content_type = "application/problem+json"),
        (status = 415, description = "Body not application/json", content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key used with another request", content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn create_job(
    req: HttpRequest,
    caller: TenantScoped<JobsWrite>,
    state: web::Data<JobsState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal();
    let key = idempotency_key(&req)?;
    if !is_json(&req) {
        return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
    }
    let body = read_body(&req, payload, state.max_body).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::PayloadTooLarge(format!("the body must be at most {} bytes", state.max_body)),
        BodyError::Read => ApiError::Malformed("the request body could not be read".into()),
    })?;
    let Some(key) = key else { return enqueue(&state, principal, &body, None).await };
    let key = IdempotencyKey {
        client_id: principal.client_id.clone(),
        key,
        fingerprint: fingerprint(&[b"POST /v1/jobs".as_slice(), &body[..]]),
    };
    match state.store.idempotency_begin(&principal.tenant, &key).await? {
        Begin::Mismatch => {
            Err(ApiError::Unprocessable("this Idempotency-Key was used with a different request".into()))
        }
        Begin::InFlight => {
            Err(ApiError::Conflict("a request with this Idempotency-Key is still being processed; retry later".into()))
        }
        Begin::Replay { status, location, body } => replay(&state, status, location, &body),
        Begin::Proceed => match enqueue(&state, principal, &body, Some(&key)).await {
            Ok(response) => Ok(response),
            Err(e) => {
                let response = e.error_response();
                if response.status().is_server_error() {
                    // Our failure, not the request's: let a retry run again.
                    state.store.idempotency_release(&principal.tenant, &key).await?;
                    return Ok(response);
                }
                let status = i32::from(response.status().as_u16());
                let bytes = actix_web::body::to_bytes(response.into_body()).await.unwrap_or_default();
                let stored = StoredResponse { key, status, location: None, body: state.sealer.seal(&bytes) };
                state.store.idempotency_complete(&principal.tenant, &stored).await?;
                Ok(HttpResponse::build(e.status_code())
                    .content_type("application/problem+json")
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .body(bytes))
            }
        },
    }
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("no job {raw}")))
}

async fn load(state: &JobsState, principal: &Principal, raw: &str) -> Result<JobRecord, ApiError> {
    let id = job_id(raw)?;
    state.store.get_job(&principal.tenant, &id).await?.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// Get job status
#[utoipa::path(
    get,
    path = "/v1/jobs/{job_id}",
    tag = "Async jobs",
    security(("bearer" = ["jobs:read"])),
    params(("job_id" = String, Path), ("X-Tenant-ID" = String, Header)),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job in the tenant", content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_job(
    caller: TenantScoped<JobsRead>,
    state: web::Data<JobsState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = load(&state, caller.principal(), &path).await?;
    Ok(HttpResponse::Ok().json(JobView::from(job)))
}

/// Get job result
///
/// 409 until the job has succeeded; then the result, streamed:
/// `application/x-ndjson` for kinds that produce rows (`export.bulk`, and
/// `graph.compute`: a `summary` line, then a `node` line per entity),
/// `application/json` otherwise (`import.bulk`'s report,
/// `intelligence.enrich.bulk`'s suggestions).
#[utoipa::path(
    get,
    path = "/v1/jobs/{job_id}/result",
    tag = "Async jobs",
    security(("bearer" = ["jobs:read"])),
    params(("job_id" = String, Path), ("X-Tenant-ID" = String, Header)),
    responses(
        (status = 200, description = "The result (application/json or application/x-ndjson)"),
        (status = 404, description = "No such job in the tenant", content_type = "application/problem+json"),
        (status = 409, description = "The job has not succeeded (yet)", content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn job_result(
    caller: TenantScoped<JobsRead>,
    state: web::Data<JobsState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = load(&state, caller.principal(), &path).await?;
    match job.status.as_str() {
        "succeeded" => {}
        "queued" | "running" => {
            return Err(ApiError::Conflict(format!("the job is {}; its result is ready once it succeeds", job.status)));
        }
        other => return Err(ApiError::Conflict(format!("the job {other}; it has no result"))),
    }
    let (Some(content_type), Some(len)) = (job.result_content_type.clone(), job.result_bytes) else {
        return Err(ApiError::Store(argus_store::StoreError::Corrupt(format!("job {} has no result", job.id))));
    };
    let id = job_id(&job.id)?;
    let tenant = caller.tenant().clone();
    let store = state.store.clone();
    let attempt = job.attempts;
    let chunks = futures_util::stream::unfold(Some(0i32), move |seq| {
        let (store, tenant, id) = (store.clone(), tenant.clone(), id.clone());
        async move {
            let seq = seq?;
            match store.job_result_chunk(&tenant, &id, attempt, seq).await {
                Ok(Some(data)) => Some((Ok(web::Bytes::from(data)), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, "reading a job result failed");
                    Some((Err(std::io::Error::other("result read failed")), None))
                }
            }
        }
    });
    let mut response = HttpResponse::Ok();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.insert_header((header::CONTENT_TYPE, v));
    }
    Ok(response.body(SizedStream::new(u64::try_from(len).unwrap_or(0), chunks.boxed_local())))
}

/// Cancel a job
///
/// A queued job is cancelled at once; a running one stops at its next
/// checkpoint (the response shows `cancel_requested`). Both are 202; a
/// finished job is a 409.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{job_id}",
    tag = "Async jobs",
    security(("bearer" = ["jobs:write"])),
    params(("job_id" = String, Path), ("X-Tenant-ID" = String, Header)),
    responses(
        (status = 202, description = "Cancelled or cancelling", body = JobView),
        (status = 404, description = "No such job in the tenant", content_type = "application/problem+json"),
        (status = 409, description = "The job has finished", content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn cancel_job(
    caller: TenantScoped<JobsWrite>,
    state: web::Data<JobsState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = job_id(&path)?;
    let announce =
        |finished: &argus_store::jobs::JobFinished| argus_bus::outbox::job_finished(finished, BTreeMap::new());
    match state.store.cancel_job(caller.tenant(), &id, &announce).await? {
        None => Err(ApiError::NotFound(format!("no job {id}"))),
        Some(CancelOutcome::Finished(job)) => Err(ApiError::Conflict(format!("the job has already {}", job.status))),
        Some(CancelOutcome::Cancelled(job) | CancelOutcome::Requested(job)) => {
            tracing::info!(job_id = %job.id, status = %job.status, "job cancel");
            Ok(HttpResponse::Accepted().json(JobView::from(job)))
        }
    }
}

/// List jobs
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "Async jobs",
    security(("bearer" = ["jobs:read"])),
    params(ListQuery, ("X-Tenant-ID" = String, Header)),
    responses(
        (status = 200, description = "One page, oldest first", body = JobList),
        (status = 400, description = "Unknown status or kind, bad limit or cursor", content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_jobs(
    caller: TenantScoped<JobsRead>,
    state: web::Data<JobsState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit).map_err(ApiError::Validation)?;
    let after: Option<JobId> = query.cursor.as_deref().map(decode_cursor).transpose().map_err(ApiError::Validation)?;
    if let Some(s) = &query.status
        && !JOB_STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::Validation(format!("status must be one of {}", JOB_STATUSES.join(", "))));
    }
    if let Some(k) = &query.kind
        && !JOB_KINDS.contains(&k.as_str())
    {
        return Err(ApiError::Validation(format!("kind must be one of {}", JOB_KINDS.join(", "))));
    }
    let filter = JobFilter { status: query.status, kind: query.kind };
    let page = state.store.list_jobs(caller.tenant(), &filter, after.as_ref(), limit).await?;
    Ok(HttpResponse::Ok().json(JobList {
        jobs: page.items.into_iter().map(JobView::from).collect(),
        next_cursor: encode_cursor(page.next_cursor),
    }))
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(argus_telemetry::http::method_not_allowed));
    cfg.service(resource("/v1/jobs").route(web::post().to(create_job)).route(web::get().to(list_jobs)))
        .service(resource("/v1/jobs/{job_id}").route(web::get().to(get_job)).route(web::delete().to(cancel_job)))
        .service(resource("/v1/jobs/{job_id}/result").route(web::get().to(job_result)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(value: &str) -> Result<Option<String>, ApiError> {
        let req = actix_web::test::TestRequest::default().insert_header(("Idempotency-Key", value)).to_http_request();
        idempotency_key(&req)
    }

    #[test]
    fn idempotency_keys_are_strings_or_tokens() {
        assert_eq!(key_of("abc-123").unwrap().as_deref(), Some("abc-123"));
        assert_eq!(key_of("\"8e03978e-40d5\"").unwrap().as_deref(), Some("8e03978e-40d5"));
        assert!(key_of("").is_err());
        assert!(key_of("\"unterminated").is_err());
        assert!(key_of(&"k".repeat(256)).is_err());
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert!(idempotency_key(&none).unwrap().is_none());
    }
}
