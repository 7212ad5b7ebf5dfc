//! `POST /v1/jobs`: the body streamed in (`body`), the input checked for
//! its kind, and the job written with its work task (and the response kept
//! for an `Idempotency-Key`) in the same transaction as the input.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use argus_authn::{JobsWrite, Principal, TenantScoped};
use argus_domain::jobs::enrich::EnrichInput;
use argus_domain::jobs::export::ExportInput;
use argus_domain::jobs::graph::GraphComputeInput;
use argus_domain::{JobKind, JobStatus};
use argus_http::body::{MediaType, has_media_type};
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::idempotency::{BodyFingerprint, IdempotencyKey, StoredResponse};
use argus_store::job_inputs::InputUpload;
use argus_store::jobs::NewJob;
use argus_store::write_stamp::Stamp;
use argus_types::{JobId, parse_one_of};
use chrono::SubsecRound;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::body::{self, BodyReader, MAX_FIELDS_BYTES, NdjsonChunk, NdjsonSummary, ParseError, ParsedJob};
use super::{JobView, JobsState};
use crate::error::ApiError;
use crate::idempotency::{self, Begun};

/// How long a caller turned away for too many large bodies should wait.
const BUSY_RETRY_SECONDS: u32 = 5;

/// The body of `POST /v1/jobs`, for the API description: it is read as a
/// stream (`body`), never deserialized whole.
#[derive(Debug, ToSchema)]
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
    pub input: Value,
    /// Where to POST the finished job, signed with Standard Webhooks
    /// headers and the `callback_secret` of the response (`https`).
    pub callback_url: Option<String>,
}

/// A job's input, checked for its kind.
struct CheckedInput {
    /// What the job row keeps as `input`.
    input: Value,
    /// Entity ids the input names, which must be the tenant's.
    entities: Vec<String>,
}

/// Checks `input` for `kind`; `ndjson` is what `input.ndjson` held (it was
/// streamed into storage and is not in `input`).
fn validate_input(kind: JobKind, input: Value, ndjson: Option<NdjsonSummary>) -> Result<CheckedInput, ApiError> {
    let invalid = ApiError::Validation;
    if kind != JobKind::ImportBulk && ndjson.is_some() {
        return Err(invalid(format!("input for {kind}: unknown field `ndjson`")));
    }
    match kind {
        JobKind::ImportBulk => {
            match &input {
                Value::Object(rest) => {
                    if let Some(field) = rest.keys().next() {
                        return Err(invalid(format!("input for {kind}: unknown field `{field}`")));
                    }
                }
                _ => return Err(invalid(format!("input for {kind}: expected an object with `ndjson`"))),
            }
            let Some(summary) = ndjson else {
                return Err(invalid(format!("input for {kind}: missing field `ndjson`")));
            };
            if summary.lines == 0 {
                return Err(invalid("input.ndjson holds no lines".into()));
            }
            Ok(CheckedInput { input: json!({ "lines": summary.lines, "bytes": summary.bytes }), entities: Vec::new() })
        }
        JobKind::ExportBulk => {
            let parsed: ExportInput =
                serde_json::from_value(input.clone()).map_err(|e| invalid(format!("input for {kind}: {e}")))?;
            parsed.validate().map_err(invalid)?;
            Ok(CheckedInput { input, entities: Vec::new() })
        }
        JobKind::GraphCompute => {
            let parsed = GraphComputeInput::from_json(input.clone()).map_err(|e| invalid(e.to_string()))?;
            let entities =
                parsed.shortest_paths.iter().flatten().flat_map(|q| [q.from.clone(), q.to.clone()]).collect();
            Ok(CheckedInput { input, entities })
        }
        JobKind::EnrichBulk => {
            let parsed = EnrichInput::from_json(input.clone()).map_err(|e| invalid(e.to_string()))?;
            let entities = parsed.entity_ids().map(<[String]>::to_vec).unwrap_or_default();
            Ok(CheckedInput { input, entities })
        }
    }
}

/// A checked job, ready to be written.
struct Prepared {
    new: NewJob,
    location: String,
    /// The 202's body.
    body: Vec<u8>,
}

/// Checks a parsed request and builds the job (and its response).
async fn prepare(
    state: &JobsState,
    principal: &Principal,
    id: JobId,
    stamp: &Stamp,
    request: ParsedJob,
) -> Result<Prepared, ApiError> {
    let kind: JobKind = parse_one_of("kind", &request.kind, JobKind::NAMES).map_err(ApiError::Validation)?;
    if let Some(summary) = request.ndjson
        && summary.lines > state.max_rows
    {
        return Err(ApiError::Validation(format!(
            "input.ndjson holds {} lines, more than the {} one import may hold: split it into several imports",
            summary.lines, state.max_rows
        )));
    }
    let CheckedInput { input, entities } = validate_input(kind, request.input, request.ndjson)?;
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
    // Microseconds, as the database keeps it, so this view and later reads agree.
    let created_at = stamp.time().trunc_subsecs(6);
    let view = JobView {
        id: id.to_string(),
        kind: kind.to_string(),
        status: JobStatus::Queued.to_string(),
        progress: 0.0,
        created_at,
        started_at: None,
        finished_at: None,
        error: None,
        cancel_requested: false,
        result_url: None,
        result_expires_at: None,
        callback_url: callback_url.clone(),
        callback_status: None,
        callback_secret: secret.clone(),
    };
    let body = serde_json::to_vec(&view).map_err(|e| ApiError::Internal(e.to_string()))?;
    let location = format!("/v1/jobs/{id}");
    let new = NewJob {
        id,
        client_id: principal.client_id.clone(),
        kind,
        input,
        callback_url,
        callback_secret_sealed: secret.map(|s| state.sealer.seal(s.as_bytes())),
        created_at,
    };
    Ok(Prepared { new, location, body })
}

/// Writes a prepared job (with its streamed input, if any) and answers 202.
async fn commit(
    state: &JobsState,
    principal: &Principal,
    upload: Option<InputUpload>,
    job: Prepared,
    stored: Option<&StoredResponse>,
) -> Result<HttpResponse, ApiError> {
    let record = match upload {
        Some(upload) => upload.commit_job(job.new, stored).await?,
        None => state.store.create_job(&principal.tenant, job.new, stored).await?,
    };
    tracing::info!(job_id = %record.id, kind = %record.kind, "job queued");
    Ok(accepted(&job.location, job.body))
}

async fn abandon(upload: Option<InputUpload>) {
    if let Some(u) = upload {
        u.abandon().await;
    }
}

/// A body read to its end: what it held (or why it is refused), the
/// input written so far (uncommitted) and the body's fingerprint.
struct Received {
    parsed: Result<ParsedJob, ApiError>,
    upload: Option<InputUpload>,
    digest: BodyFingerprint,
}

/// Reads the body as it arrives: hashes it, parses it on a blocking
/// thread and writes `input.ndjson`'s chunks to storage as the parser
/// produces them. An error that ends the request early (too large,
/// unreadable, storage) comes back with the upload rolled back; a bad body
/// is read to its end (for the fingerprint) without storing more.
async fn receive(
    state: &JobsState,
    tenant: &argus_types::TenantId,
    job: &JobId,
    used: u64,
    mut payload: web::Payload,
) -> Result<Received, ApiError> {
    // Small buffers both ways: the body in flight stays within a few MiB.
    let (body_tx, body_rx) = mpsc::channel::<web::Bytes>(16);
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<NdjsonChunk>(1);
    let parser = tokio::task::spawn_blocking(move || body::parse(BodyReader::new(body_rx), &chunk_tx));
    let max_body = state.max_body;
    let pump = async move {
        let mut body_tx = Some(body_tx);
        let mut digest = BodyFingerprint::new();
        let mut total = 0usize;
        while let Some(piece) = payload.next().await {
            let piece = piece.map_err(|_| ApiError::Malformed("the request body could not be read".into()))?;
            total += piece.len();
            if total > max_body {
                return Err(ApiError::PayloadTooLarge(format!("the body must be at most {max_body} bytes")));
            }
            digest.update(&piece);
            // Once the parser has stopped, the rest is only hashed.
            if let Some(tx) = &body_tx
                && tx.send(piece).await.is_err()
            {
                body_tx = None;
            }
        }
        Ok(digest)
    };
    let store = async move {
        let mut upload: Option<InputUpload> = None;
        while let Some(chunk) = chunk_rx.recv().await {
            let written = async {
                let up = match &mut upload {
                    Some(u) => u,
                    None => upload.insert(state.store.begin_job_input(tenant, job).await?),
                };
                up.write(chunk.first_line, &chunk.data).await?;
                if used.saturating_add(u64::try_from(up.bytes()).unwrap_or(0)) > state.tenant_quota_bytes {
                    return Err(quota_exceeded(state));
                }
                Ok::<_, ApiError>(())
            }
            .await;
            if let Err(e) = written {
                // Dropping the receiver stops the parser.
                return (upload, Err(e));
            }
        }
        (upload, Ok(()))
    };
    let (pumped, (upload, stored)) = tokio::join!(pump, store);
    let parsed = match parser.await {
        Ok(Ok(job)) => Ok(job),
        Ok(Err(ParseError::Rejected(e))) => Err(e),
        Ok(Err(ParseError::Abandoned)) => Err(ApiError::Internal("the body parser was abandoned".into())),
        Err(e) => Err(ApiError::Internal(format!("the body parser failed: {e}"))),
    };
    let digest = match (pumped, stored) {
        (Err(e), _) | (Ok(_), Err(e)) => {
            abandon(upload).await;
            return Err(e);
        }
        (Ok(digest), Ok(())) => digest,
    };
    if parsed.is_err() {
        abandon(upload).await;
        return Ok(Received { parsed, upload: None, digest });
    }
    Ok(Received { parsed, upload, digest })
}

fn quota_exceeded(state: &JobsState) -> ApiError {
    ApiError::QuotaExceeded(format!(
        "the tenant's stored job inputs and results would exceed its quota of {} bytes \
         (inputs are dropped as their jobs finish)",
        state.tenant_quota_bytes
    ))
}

fn accepted(location: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(mime::APPLICATION_JSON)
        .body(body)
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
        TenantHeader,
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 printable ASCII characters, optionally as a quoted structured-field string"),
    ),
    request_body(content = CreateJob, content_type = "application/json"),
    responses(
        (status = 202, description = "Queued", body = JobView, headers(("Location" = String), ("Idempotent-Replayed" = String))),
        (status = 400, description = "Unknown kind, invalid input or callback_url (an `input.ndjson` line that is not a JSON object is named by its 1-based number), malformed Idempotency-Key"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 413, description = "Body over ARGUS_JOBS_MAX_BODY_BYTES"),
        (status = 415, description = "Body not application/json"),
        (status = 422, description = "Idempotency-Key used with another request"),
        (status = 429, description = "The tenant's stored job inputs and results reached ARGUS_JOBS_TENANT_QUOTA_BYTES"),
        (status = 503, description = "Too many large bodies in flight (ARGUS_JOBS_MAX_BODIES_IN_FLIGHT); see Retry-After", headers(("Retry-After" = String))),
        TenantScopedErrors,
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
    let key = idempotency::key_of(&req)?;
    if !has_media_type(&req, MediaType::Json) {
        return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
    }
    let too_large = || ApiError::PayloadTooLarge(format!("the body must be at most {} bytes", state.max_body));
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return Err(too_large());
    }
    let used = u64::try_from(state.store.job_storage_bytes(&principal.tenant).await?).unwrap_or(0);
    if used >= state.tenant_quota_bytes {
        return Err(quota_exceeded(&state));
    }
    // A large body holds buffers and a database connection while it
    // streams in; a small one is read at once, like any other request.
    let _permit = match declared {
        Some(n) if n <= MAX_FIELDS_BYTES as u64 => None,
        _ => Some(state.bodies_in_flight.clone().try_acquire_owned().map_err(|_| ApiError::Busy {
            message: "too many large job bodies are being received; retry shortly".into(),
            retry_after_seconds: BUSY_RETRY_SECONDS,
        })?),
    };
    // The job's id names its input's chunks as they stream in, so it is
    // stamped before the body is read: under a sandbox scenario a
    // submission refused later has used up its write number all the same.
    let stamp = state.store.take_write_stamp(principal.write_stamp(), &principal.tenant).await?;
    let id: JobId = stamp.id("job", 0);
    let Received { parsed, upload, digest } = receive(&state, &principal.tenant, &id, used, payload).await?;
    let outcome = match parsed {
        Ok(request) => prepare(&state, principal, id, &stamp, request).await,
        Err(e) => Err(e),
    };
    let Some(key) = key else {
        return match outcome {
            Ok(job) => commit(&state, principal, upload, job, None).await,
            Err(e) => {
                abandon(upload).await;
                Err(e)
            }
        };
    };
    let key =
        IdempotencyKey { client_id: principal.client_id.clone(), key, fingerprint: digest.finish(b"POST /v1/jobs") };
    let claim = match idempotency::begin(&state.store, &state.sealer, &principal.tenant, key).await {
        Ok(Begun::Proceed(claim)) => claim,
        Ok(Begun::Answer(answer)) => {
            abandon(upload).await;
            return answer;
        }
        Err(e) => {
            abandon(upload).await;
            return Err(e);
        }
    };
    match outcome {
        Ok(job) => {
            // Kept in the job's own transaction: committed with it or not at all.
            let stored = claim.keep(202, Some(job.location.clone()), &job.body);
            match commit(&state, principal, upload, job, Some(&stored)).await {
                Ok(response) => Ok(response),
                Err(e) => claim.refused(e).await,
            }
        }
        Err(e) => {
            abandon(upload).await;
            claim.refused(e).await
        }
    }
}
