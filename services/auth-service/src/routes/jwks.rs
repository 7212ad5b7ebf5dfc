//! The public signing keys, at the well-known and the versioned path.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_crypto::JwkSet;
use argus_types::Environment;
use argus_types::environment::{RevocationList, RevokedJti};

use crate::error::ApiError;
use crate::state::AppState;

/// How long verifiers may cache the key set. Rotation publishes the next
/// key a whole rotation ahead, so a cached set never lacks the signing key
/// for longer than this, and verifiers refresh on an unknown `kid` anyway.
const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// OpenID-compatible JWKS discovery
///
/// The public RSA keys that sign Argus access tokens: the current key, the
/// next key, and retired keys whose tokens may still be live. Select the key
/// by the `kid` in the token header.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "JWKS and token verification",
    responses((status = 200, description = "The key set", body = JwkSet))
)]
pub async fn well_known_jwks(state: web::Data<AppState>) -> HttpResponse {
    jwks_response(&state)
}

/// Versioned JWKS endpoint
///
/// The same key set as `/.well-known/jwks.json`.
#[utoipa::path(
    get,
    path = "/v1/auth/jwks.json",
    tag = "JWKS and token verification",
    responses((status = 200, description = "The key set", body = JwkSet))
)]
pub async fn versioned_jwks(state: web::Data<AppState>) -> HttpResponse {
    jwks_response(&state)
}

/// The sandbox key set
///
/// The public RSA keys that sign sandbox tokens (`aud` = `sandbox`, from
/// `POST /v1/platform/apps/{client_id}/sandbox-token`): a key set of their
/// own, rotated on its own, which only sandbox-api.knogin.com trusts. The
/// live API never trusts these keys, and the sandbox never trusts the live
/// ones. The set says which it is in `key_set`.
#[utoipa::path(
    get,
    path = "/.well-known/sandbox/jwks.json",
    tag = "Sandbox environment",
    responses((status = 200, description = "The sandbox key set", body = JwkSet))
)]
pub async fn sandbox_jwks(state: web::Data<AppState>) -> HttpResponse {
    set_response(state.sandbox_keys.jwks())
}

/// The revoked sandbox tokens
///
/// Every sandbox token revoked before it expires (RFC 7009 revocation at
/// `/v1/oauth/revoke`, `argusctl token revoke --environment sandbox`), by
/// `jti`, with its `exp`. The sandbox API, which never reads the live
/// database, polls this list every second and refuses what it names; when
/// it cannot fetch it for 10 s it answers 503 rather than serve a token
/// that may be revoked. Live revocations are never in it.
#[utoipa::path(
    get,
    path = "/.well-known/sandbox/revocations.json",
    tag = "Sandbox environment",
    responses((status = 200, description = "The revoked sandbox tokens", body = RevocationList))
)]
pub async fn sandbox_revocations(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let revoked = state.store.unexpired_revocations_of(Environment::Sandbox).await?;
    let list = RevocationList {
        key_set: Environment::Sandbox,
        revoked: revoked.into_iter().map(|r| RevokedJti { jti: r.jti, exp: r.expires_at.timestamp() }).collect(),
    };
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-cache")).json(list))
}

fn jwks_response(state: &AppState) -> HttpResponse {
    set_response(state.keys.jwks())
}

fn set_response(set: JwkSet) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={JWKS_MAX_AGE_SECONDS}")))
        .json(set)
}
