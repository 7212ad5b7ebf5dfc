//! Evidence provenance (contract 2026.4, "Provenance and compliance"):
//! `GET /v1/evidence/{evidence_id}/provenance`,
//! `POST /v1/evidence/{evidence_id}/provenance/verify` and
//! `GET /.well-known/provenance-keys/{algorithm}`.
//!
//! A transcript is an RFC 9162 Merkle log of every operation on an item,
//! each entry followed by a tree head signed with the tenant's HMAC-SHA256
//! key. Reading it is itself an operation: the GET appends a `VIEW` in its
//! transaction and answers with the transcript that includes it.

use actix_web::{HttpResponse, web};
use argus_authn::{EvidenceRead, EvidenceVerify, TenantScoped};
use argus_crypto::merkle::Hash;
use argus_crypto::provenance::ProvenanceSealer;
use argus_domain::provenance::{self, ConsistencyProof, EarlierHead, Transcript, Verification};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::Store;
use argus_store::domain::{EntryRecord, EvidenceActor, EvidenceRecord};
use argus_types::EvidenceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

const PROVENANCE: &str = "/v1/evidence/{evidence_id}/provenance";
const VERIFY: &str = "/v1/evidence/{evidence_id}/provenance/verify";
const KEYS: &str = "/.well-known/provenance-keys/{algorithm}";

/// The item a transcript is of.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceSummary {
    pub id: EvidenceId,
    pub incident_id: Option<String>,
    pub case_id: Option<String>,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub sealed_at: Option<DateTime<Utc>>,
}

impl From<EvidenceRecord> for EvidenceSummary {
    fn from(r: EvidenceRecord) -> Self {
        Self {
            id: r.id,
            incident_id: r.incident_id.map(String::from),
            case_id: r.case_id.map(String::from),
            name: r.name,
            media_type: r.media_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            created_by: r.created_by,
            created_at: r.created_at,
            sealed_at: r.sealed_at,
        }
    }
}

/// An item, its transcript, and (with `since_size`) the consistency proof
/// from that size. POSTed back to `…/provenance/verify` as it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvenanceView {
    pub evidence: EvidenceSummary,
    pub transcript: Transcript,
    pub consistency_proof: Option<ConsistencyProof>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProvenanceQuery {
    /// The size of a tree head you hold: the answer carries the
    /// consistency proof from it to the current tree.
    pub since_size: Option<i64>,
}

/// What to verify: a transcript (the stored one when absent) and a tree
/// head held earlier that it must extend.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerifyRequest {
    pub transcript: Option<Transcript>,
    pub earlier_tree_head: Option<EarlierHead>,
}

fn evidence_id(path: &str) -> Result<EvidenceId, ApiError> {
    path.parse().map_err(|_| ApiError::NotFound(format!("no evidence {path}")))
}

fn leaves(entries: &[EntryRecord]) -> Result<Vec<Hash>, ApiError> {
    Ok(entries.iter().map(EntryRecord::leaf).collect::<Result<_, _>>()?)
}

fn transcript_of(id: &EvidenceId, entries: &[EntryRecord]) -> Result<Transcript, ApiError> {
    let signed = entries
        .iter()
        .map(|e| Ok((e.entry(), e.leaf()?, e.tree_head())))
        .collect::<Result<Vec<_>, argus_store::StoreError>>()?;
    Ok(Transcript::of(id.clone(), signed))
}

/// Get evidence provenance transcript
///
/// The item and its whole transcript: every operation (who, when, the
/// content digest, details, the previous entry's hash), each entry's leaf
/// hash, the signed tree head after it and its inclusion proof in the
/// current tree. The read is itself recorded: a `VIEW` is appended in the
/// read's transaction, and the answer includes it. With `since_size=N` the
/// answer carries the RFC 9162 consistency proof from size N. The item's id
/// comes from the GraphQL mutation `createEvidence` (bundle
/// `evidence-custody`).
#[utoipa::path(
    get,
    path = "/v1/evidence/{evidence_id}/provenance",
    tag = "Provenance",
    security(("bearer" = ["evidence:read"])),
    params(("evidence_id" = EvidenceId, Path), ProvenanceQuery, TenantHeader),
    responses(
        (status = 200, description = "The transcript", body = ProvenanceView),
        (status = 400, description = "`since_size` outside 1 to the transcript's size"),
        (status = 404, description = "No such item in the tenant"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_provenance(
    caller: TenantScoped<EvidenceRead>,
    store: web::Data<Store>,
    sealer: web::Data<ProvenanceSealer>,
    path: web::Path<String>,
    query: web::Query<ProvenanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = evidence_id(&path)?;
    let not_found = || ApiError::NotFound(format!("no evidence {id}"));
    let current = store.peek_evidence(caller.tenant(), &id).await?.ok_or_else(not_found)?;
    // The size this read's VIEW makes: a proof from any size up to it exists.
    let size_after_read = current.transcript_size + 1;
    if query.since_size.is_some_and(|m| !(1..=size_after_read).contains(&m)) {
        return Err(ApiError::Validation(format!("since_size must be from 1 to {size_after_read}")));
    }
    let principal = caller.principal();
    let actor = EvidenceActor { subject: &principal.subject, client_id: &principal.client_id };
    let read = format!("GET {PROVENANCE}");
    store.view_evidence(caller.tenant(), &id, actor, &read, &sealer).await?.ok_or_else(not_found)?;
    let (item, entries) = store.evidence_transcript(caller.tenant(), &id).await?.ok_or_else(not_found)?;
    let consistency_proof = match query.since_size.map(usize::try_from) {
        None => None,
        Some(from) => {
            let from = from.map_err(|_| ApiError::Internal("since_size was checked".into()))?;
            let proof = ConsistencyProof::of(&leaves(&entries)?, from);
            Some(proof.ok_or_else(|| ApiError::Internal("a checked since_size has a proof".into()))?)
        }
    };
    let transcript = transcript_of(&id, &entries)?;
    Ok(HttpResponse::Ok().json(ProvenanceView { evidence: item.into(), transcript, consistency_proof }))
}

/// Verify a provenance transcript
///
/// Checks a transcript (the body's `transcript`, as `GET …/provenance`
/// answered it; the stored one when the body is empty or has none):
/// every entry's leaf hash against its content, the hash chain, the
/// entries against those recorded, every tree head's root and HMAC
/// signature (retired keys included), the inclusion proofs, and, with
/// `earlier_tree_head`, that the transcript extends it. The answer lists
/// each check and names every failure and its entry: a changed, dropped,
/// inserted or reordered entry, a wrong root, a bad signature, an unknown
/// key, a broken consistency. The body is at most 256 KiB; verify a longer
/// transcript as stored (no body). The example verifies the stored
/// transcript of an item whose id comes from `createEvidence`.
#[utoipa::path(
    post,
    path = "/v1/evidence/{evidence_id}/provenance/verify",
    tag = "Provenance",
    security(("bearer" = ["evidence:verify"])),
    params(("evidence_id" = EvidenceId, Path), TenantHeader),
    request_body(content = VerifyRequest, content_type = "application/json", example = json!({})),
    responses(
        (status = 200, description = "What passed and what failed (`valid` is false if anything did)", body = Verification),
        (status = 400, description = "The body is not a transcript"),
        (status = 404, description = "No such item in the tenant"),
        (status = 413, description = "Body over 256 KiB"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn verify_provenance(
    caller: TenantScoped<EvidenceVerify>,
    store: web::Data<Store>,
    sealer: web::Data<ProvenanceSealer>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = evidence_id(&path)?;
    let request: VerifyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Malformed(format!("not a verify request: {e}")))?
    };
    let (_, entries) = store
        .evidence_transcript(caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no evidence {id}")))?;
    let stored = leaves(&entries)?;
    let transcript = match request.transcript {
        Some(t) => t,
        None => transcript_of(&id, &entries)?,
    };
    let keys = store.provenance_keys(caller.tenant(), &sealer).await?;
    let key = |kid: &str| keys.iter().find(|(id, _)| id == kid).map(|(_, key)| key.clone());
    let verification = provenance::verify(&id, &transcript, &stored, request.earlier_tree_head.as_ref(), key);
    Ok(HttpResponse::Ok().json(verification))
}

/// Fetch a provenance verify key
///
/// The public keys that verify tree heads, for an algorithm that has them.
/// `hmac-sha256` (the default) is a shared secret: never published, so a
/// 404 says so; the tenant admin fetches the tenant's key with `argusctl`.
/// `ml-dsa-65` is not offered yet.
#[utoipa::path(
    get,
    path = "/.well-known/provenance-keys/{algorithm}",
    tag = "Provenance",
    params(("algorithm" = String, Path, example = "hmac-sha256")),
    responses((status = 404, description = "No published keys for the algorithm, and why"))
)]
pub async fn provenance_keys(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(match path.as_str() {
        argus_crypto::provenance::HMAC_SHA256 => {
            "hmac-sha256 keys are shared secrets and are never published; the tenant admin fetches the tenant's key with argusctl".to_owned()
        }
        "ml-dsa-65" => "ml-dsa-65 tree heads are not offered yet".to_owned(),
        other => format!("no provenance algorithm {other}"),
    }))
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(PROVENANCE).get(get_provenance))
        .service(Endpoint::new(VERIFY).post(verify_provenance))
        .service(Endpoint::new(KEYS).get(provenance_keys));
}
