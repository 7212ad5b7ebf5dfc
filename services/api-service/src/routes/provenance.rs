//! Evidence provenance (contract 2026.4, "Provenance and compliance"):
//! `GET /v1/evidence/{evidence_id}/provenance`,
//! `POST /v1/evidence/{evidence_id}/provenance/verify` and
//! `GET /.well-known/provenance-keys/{algorithm}`.
//!
//! A transcript is an RFC 9162 Merkle log of every operation on an item,
//! each entry followed by a tree head signed with the tenant's key:
//! HMAC-SHA256 by default, ML-DSA-65 for a tenant that opted in. Reading
//! it is itself an operation: the GET appends a `VIEW` in its transaction
//! and answers with the transcript that includes it.

use actix_web::http::header::{self, Accept, Header};
use actix_web::{HttpRequest, HttpResponse, web};
use argus_authn::{EvidenceRead, EvidenceVerify, TenantScoped};
use argus_crypto::provenance::ProvenanceSealer;
use argus_domain::prov_o::{self, ItemFacts};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_provenance::merkle::Hash;
use argus_provenance::transcript::ConsistencyProof;
use argus_provenance::verify::{self, Verification};
use argus_provenance::{Algorithm, EarlierHead, Jwk, JwkSet, Transcript};
use argus_store::Store;
use argus_store::domain::{EntryRecord, EvidenceActor, EvidenceRecord};
use argus_types::{EvidenceId, TenantId};
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
/// answer carries the RFC 9162 consistency proof from size N. With
/// `Accept: application/ld+json` the answer is W3C PROV-O in JSON-LD (the
/// item a `prov:Entity`, each operation a `prov:Activity` with
/// `prov:startedAtTime`, `prov:used` and `prov:wasAssociatedWith` its
/// agents, each entry a `prov:Entity` `prov:wasGeneratedBy` its activity
/// and `prov:wasDerivedFrom` the entry before, with the hashes, proofs and
/// signed tree heads), its `@context` inline. The item's id comes from the
/// GraphQL mutation `createEvidence` (bundle `evidence-custody`).
#[utoipa::path(
    get,
    path = "/v1/evidence/{evidence_id}/provenance",
    tag = "Provenance",
    security(("bearer" = ["evidence:read"])),
    params(("evidence_id" = EvidenceId, Path), ProvenanceQuery, TenantHeader),
    responses(
        (status = 200, description = "The transcript", content(
            (ProvenanceView = "application/json"),
            (Object = "application/ld+json"),
        )),
        (status = 400, description = "`since_size` outside 1 to the transcript's size"),
        (status = 404, description = "No such item in the tenant"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_provenance(
    request: HttpRequest,
    caller: TenantScoped<EvidenceRead>,
    store: web::Data<Store>,
    sealer: web::Data<ProvenanceSealer>,
    path: web::Path<String>,
    query: web::Query<ProvenanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = evidence_id(&path)?;
    let not_found = || ApiError::NotFound(format!("no evidence {id}"));
    let current = store.peek_evidence(caller.tenant(), &id).await?.ok_or_else(not_found)?;
    // A read is recorded as a VIEW, except in a sandbox scenario, whose
    // transcripts stay as seeded (the same read, the same answer).
    let recorded = caller.principal().scenario.is_none();
    // The size this read makes: a proof from any size up to it exists.
    let size_after_read = current.transcript_size + i64::from(recorded);
    if query.since_size.is_some_and(|m| !(1..=size_after_read).contains(&m)) {
        return Err(ApiError::Validation(format!("since_size must be from 1 to {size_after_read}")));
    }
    let principal = caller.principal();
    let actor = EvidenceActor { subject: &principal.subject, client_id: &principal.client_id };
    let read = format!("GET {PROVENANCE}");
    if recorded {
        store.view_evidence(caller.tenant(), &id, actor, &read, &sealer).await?.ok_or_else(not_found)?;
    }
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
    let mut answer = HttpResponse::Ok();
    answer.insert_header((header::VARY, "Accept"));
    if wants_json_ld(&request) {
        let facts = ItemFacts {
            name: &item.name,
            media_type: &item.media_type,
            size_bytes: item.size_bytes,
            sha256: &item.sha256,
        };
        return Ok(answer.content_type(prov_o::JSON_LD).json(prov_o::document(facts, &transcript)));
    }
    Ok(answer.json(ProvenanceView { evidence: item.into(), transcript, consistency_proof }))
}

/// Whether the caller ranks PROV-O JSON-LD above plain JSON (the default,
/// for no or an unreadable `Accept`).
fn wants_json_ld(request: &HttpRequest) -> bool {
    let Ok(accept) = Accept::parse(request) else { return false };
    accept
        .ranked()
        .into_iter()
        .find(|m| matches!(m.essence_str(), prov_o::JSON_LD | "application/json" | "application/*" | "*/*"))
        .is_some_and(|m| m.essence_str() == prov_o::JSON_LD)
}

/// Verify a provenance transcript
///
/// Checks a transcript (the body's `transcript`, as `GET …/provenance`
/// answered it; the stored one when the body is empty or has none):
/// every entry's leaf hash against its content, the hash chain, the
/// entries against those recorded, every tree head's root and signature
/// (HMAC-SHA256 or ML-DSA-65, retired keys included), the inclusion proofs, and, with
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
    let verification = verify::verify(&id, &transcript, Some(&stored), request.earlier_tree_head.as_ref(), key);
    Ok(HttpResponse::Ok().json(verification))
}

/// The tenant whose ML-DSA-65 keys to publish.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// The tenant's id (`ten_…`): every transcript entry names its tenant
    /// (`tenant_id`), so a verifier holding a transcript knows it.
    pub tenant: Option<String>,
}

/// How long a verifier may cache a key set: a rotation's new key signs
/// heads at once, and a verifier that misses it refetches.
const KEYS_MAX_AGE_SECONDS: u32 = 300;

/// Fetch a provenance verify key
///
/// The public keys that verify a tenant's tree heads, for an algorithm
/// that has them. `ml-dsa-65` (a tenant's opt-in): the tenant's keys,
/// current and retired (heads they signed stay verifiable), as a JWK-style
/// set (`kty: "AKP"`, `alg: "ML-DSA-65"`, `pub` the FIPS 204 encoded public
/// key in base64url, `kid` the `key_id` tree heads name); `tenant` is
/// required, and a tenant without ML-DSA-65 keys has an empty set. Per
/// tenant rather than one set of every tenant's keys: a key verifies only
/// its tenant's transcripts, each entry names its tenant, and one set of
/// all would grow by ~2.6 kB with every tenant and rotation, fetched whole
/// for one key. `hmac-sha256` (the default) is a shared secret: never
/// published, so a 404 says so; the tenant admin fetches the tenant's key
/// with `argusctl provenance keys`.
#[utoipa::path(
    get,
    path = "/.well-known/provenance-keys/{algorithm}",
    tag = "Provenance",
    params(("algorithm" = String, Path, example = "ml-dsa-65"), KeysQuery),
    responses(
        (status = 200, description = "The tenant's ML-DSA-65 public keys", body = JwkSet),
        (status = 400, description = "No `tenant`, or not a tenant id"),
        (status = 404, description = "No published keys for the algorithm, and why"),
    )
)]
pub async fn provenance_keys(
    store: web::Data<Store>,
    path: web::Path<String>,
    query: web::Query<KeysQuery>,
) -> Result<HttpResponse, ApiError> {
    match path.parse::<Algorithm>() {
        Ok(Algorithm::MlDsa65) => {
            let tenant = query.tenant.as_deref().ok_or_else(|| {
                ApiError::Validation("tenant is required: the tenant whose keys (each transcript entry's tenant_id)".into())
            })?;
            let tenant: TenantId =
                tenant.parse().map_err(|_| ApiError::Validation(format!("tenant `{tenant}` is not a tenant id")))?;
            let keys = store.ml_dsa_public_keys(&tenant).await?;
            let set = JwkSet { keys: keys.iter().map(|(kid, public)| Jwk::ml_dsa_65(kid, public)).collect() };
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, format!("public, max-age={KEYS_MAX_AGE_SECONDS}")))
                .json(set))
        }
        Ok(Algorithm::HmacSha256) => Err(ApiError::NotFound(
            "hmac-sha256 keys are shared secrets and are never published; the tenant admin fetches the tenant's key with argusctl".to_owned(),
        )),
        Err(unknown) => Err(ApiError::NotFound(unknown.to_string())),
    }
}

/// The routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(PROVENANCE).get(get_provenance))
        .service(Endpoint::new(VERIFY).post(verify_provenance))
        .service(Endpoint::new(KEYS).get(provenance_keys));
}
