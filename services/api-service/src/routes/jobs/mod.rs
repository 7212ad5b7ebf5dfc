//! Async jobs: `/v1/jobs…` (contract 2026.4, "Async jobs").
//!
//! `POST /v1/jobs` (`create`) streams the body in (`body`), storing an
//! `import.bulk`'s NDJSON chunk by chunk as it arrives, validates the
//! kind's input, then writes the job and its work task (and the response
//! kept for an `Idempotency-Key`) in the same transaction as the input;
//! the delivery worker runs it. Every route takes a bearer
//! token with `jobs:read` or `jobs:write` and `X-Tenant-ID` equal to the
//! token's tenant; another tenant's job is "not found".

use std::sync::Arc;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use argus_authn::{JobsRead, JobsWrite, Principal, TenantScoped};
use argus_crypto::webhook::SecretBox;
use argus_domain::{JobKind, JobOutcome, JobStatus};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_http::pagination::page_request;
use argus_store::Store;
use argus_store::jobs::{CancelOutcome, JobFilter, JobRecord};
use argus_types::{JobId, parse_one_of};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub mod body;
pub mod create;

/// What the job routes share.
pub struct JobsState {
    pub store: Store,
    pub sealer: SecretBox,
    pub allow_private_callbacks: bool,
    pub max_body: usize,
    /// `ARGUS_JOBS_TENANT_QUOTA_BYTES`.
    pub tenant_quota_bytes: u64,
    /// `ARGUS_JOB_MAX_ROWS`: lines one `import.bulk` may hold.
    pub max_rows: u64,
    /// Permits for large bodies being read (`ARGUS_JOBS_MAX_BODIES_IN_FLIGHT`).
    pub bodies_in_flight: Arc<Semaphore>,
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
    /// Where the result is, once the job has succeeded, until its
    /// retention runs out.
    pub result_url: Option<String>,
    /// When the result is deleted (`ARGUS_JOB_RESULT_RETENTION_DAYS` after
    /// the job finished); from then on its URL answers 410.
    pub result_expires_at: Option<DateTime<Utc>>,
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
            result_url: (j.status == JobStatus::Succeeded && !result_expired(&j))
                .then(|| format!("/v1/jobs/{}/result", j.id)),
            result_expires_at: j.result_expires_at,
            id: j.id.into(),
            kind: j.kind.to_string(),
            status: j.status.to_string(),
            progress: j.progress,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            error: j.error,
            cancel_requested: j.cancel_requested,
            callback_url: j.callback_url,
            callback_status: j.callback_status.map(|s| s.to_string()),
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
    path = "/v1/jobs/{id}",
    tag = "Async jobs",
    security(("bearer" = ["jobs:read"])),
    params(("id" = String, Path, description = "The job's id (`job_…`)"), TenantHeader),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job in the tenant"),
        TenantScopedErrors,
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
/// `intelligence.enrich.bulk`'s suggestions). Kept until the job's
/// `result_expires_at`; a 410 after that.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/result",
    tag = "Async jobs",
    security(("bearer" = ["jobs:read"])),
    params(("id" = String, Path, description = "The job's id (`job_…`)"), TenantHeader),
    responses(
        (status = 200, description = "The result (application/json or application/x-ndjson)"),
        (status = 404, description = "No such job in the tenant"),
        (status = 409, description = "The job has not succeeded (yet)"),
        (status = 410, description = "The result was deleted when its retention ran out"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn job_result(
    caller: TenantScoped<JobsRead>,
    state: web::Data<JobsState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = load(&state, caller.principal(), &path).await?;
    match job.status.outcome() {
        Some(JobOutcome::Succeeded) => {}
        None => {
            return Err(ApiError::Conflict(format!("the job is {}; its result is ready once it succeeds", job.status)));
        }
        Some(other) => return Err(ApiError::Conflict(format!("the job {}; it has no result", other.status()))),
    }
    if result_expired(&job) {
        let at = job.result_expires_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        return Err(ApiError::Gone(format!(
            "the job's result was deleted at {}, when its retention ran out; run the job again",
            at.unwrap_or_default()
        )));
    }
    let (Some(content_type), Some(len)) = (job.result_content_type.clone(), job.result_bytes) else {
        return Err(ApiError::Store(argus_store::StoreError::Corrupt(format!("job {} has no result", job.id))));
    };
    let id = job.id.clone();
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

/// Whether a result's retention has run out (deleted, or about to be by the
/// worker's next sweep).
fn result_expired(job: &JobRecord) -> bool {
    job.result_expires_at.is_some_and(|at| at <= Utc::now())
}

/// Cancel a job
///
/// A queued job is cancelled at once; a running one stops at its next
/// checkpoint (the response shows `cancel_requested`). Both are 202; a
/// finished job is a 409.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    tag = "Async jobs",
    security(("bearer" = ["jobs:write"])),
    params(("id" = String, Path, description = "The job's id (`job_…`)"), TenantHeader),
    responses(
        (status = 202, description = "Cancelled or cancelling", body = JobView),
        (status = 404, description = "No such job in the tenant"),
        (status = 409, description = "The job has finished"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn cancel_job(
    caller: TenantScoped<JobsWrite>,
    state: web::Data<JobsState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = job_id(&path)?;
    match state.store.cancel_job(caller.principal().write_stamp(), caller.tenant(), &id).await? {
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
    params(ListQuery, TenantHeader),
    responses(
        (status = 200, description = "One page, oldest first", body = JobList),
        (status = 400, description = "Unknown status or kind, bad limit or cursor"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_jobs(
    caller: TenantScoped<JobsRead>,
    state: web::Data<JobsState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = page_request::<JobId>(query.limit, query.cursor.as_deref())?;
    let status = query.status.as_deref().map(|s| parse_one_of("status", s, JobStatus::NAMES)).transpose();
    let kind = query.kind.as_deref().map(|k| parse_one_of("kind", k, JobKind::NAMES)).transpose();
    let filter = JobFilter { status: status.map_err(ApiError::Validation)?, kind: kind.map_err(ApiError::Validation)? };
    let page = state.store.list_jobs(caller.tenant(), &filter, &request).await?;
    let (jobs, next_cursor) = page.into_listing::<JobView>();
    Ok(HttpResponse::Ok().json(JobList { jobs, next_cursor }))
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/v1/jobs").post(create::create_job).get(list_jobs))
        .service(Endpoint::new("/v1/jobs/{id}").get(get_job).delete(cancel_job))
        .service(Endpoint::new("/v1/jobs/{id}/result").get(job_result));
}
