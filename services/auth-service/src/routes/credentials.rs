//! Admin-minted credentials for an app: service tokens, sandbox tokens and
//! client-secret rotation.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use argus_authn::{PlatformAdmin, Scoped};
use argus_http::body::{MediaType, has_media_type};
use argus_http::openapi::ScopedErrors;
use argus_store::apps::AppRecord;
use argus_types::app::ClientType;
use argus_types::{ClientId, Environment, ScopeSet};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

const CLIENT_SECRET_PREFIX: &str = crate::routes::apps::CLIENT_SECRET_PREFIX;
const DEFAULT_GRACE_SECONDS: u32 = 86_400;
const MAX_GRACE_SECONDS: u32 = 30 * 86_400;
const SANDBOX_MAX_SECONDS: i64 = 3600;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenRequest {
    /// Within the app's approved (and governance-allowed) scopes.
    pub scopes: Vec<String>,
    /// Lifetime in seconds; at most the governance cap (default: the
    /// service default, capped).
    #[serde(default)]
    pub expires_in: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxTokenRequest {
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MintedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub scope: String,
    /// `api.knogin.com`, or `sandbox` for sandbox tokens.
    pub audience: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the previous secret keeps working: default 86400 (24 h),
    /// 0 = it stops at once, at most 30 days.
    pub grace_period_seconds: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: ClientId,
    /// Shown only here. Store it now.
    pub client_secret: String,
    /// When the previous secret stops working (absent if there was none).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// An optional JSON body: empty means the defaults.
fn optional_json<T: DeserializeOwned + Default>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if !has_media_type(req, MediaType::Json) {
        return Err(ApiError::Malformed("send the body as application/json".into()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("invalid JSON body: {e}")))
}

async fn tenant_app(state: &AppState, admin: &Scoped<PlatformAdmin>, raw: &str) -> Result<AppRecord, ApiError> {
    let missing = || ApiError::NotFound(format!("no app `{raw}` in this tenant"));
    let id: ClientId = raw.parse().map_err(|_| missing())?;
    state.store.get_app(admin.tenant(), &id).await?.ok_or_else(missing)
}

fn grantable_subset(app: &AppRecord, requested: &[String]) -> Result<ScopeSet, ApiError> {
    if requested.is_empty() {
        return Err(ApiError::Validation("scopes must name at least one scope".into()));
    }
    let grantable: Vec<&String> = app.governance.grantable_scopes(&app.approved_scopes).collect();
    let mut outside: Vec<&str> = requested.iter().filter(|s| !grantable.contains(s)).map(String::as_str).collect();
    outside.sort_unstable();
    outside.dedup();
    if !outside.is_empty() {
        return Err(ApiError::Validation(format!("scopes not approved for this app: {}", outside.join(", "))));
    }
    Ok(requested.iter().cloned().collect())
}

fn minted(issued: argus_crypto::IssuedToken, scopes: &ScopeSet) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(MintedToken {
        token: issued.token,
        expires_at: issued.expires_at,
        scope: scopes.to_string(),
        audience: issued.claims.aud,
    })
}

/// Mint a service token
///
/// A token for machine-to-machine automation, minted by a tenant admin. Only
/// when the app's governance has `allow_service_tokens`; scopes within the
/// approved set; lifetime within the governance cap.
#[utoipa::path(
    post,
    path = "/v1/platform/apps/{client_id}/service-token",
    tag = "OAuth and service tokens",
    security(("bearer" = ["platform:admin"])),
    params(("client_id" = String, Path)),
    request_body = ServiceTokenRequest,
    responses(
        (status = 200, description = "The token", body = MintedToken),
        (status = 400, description = "Scope outside the approved set, or lifetime over the cap"),
        (status = 404, description = "No such app in this tenant"),
        ScopedErrors,
        (status = 403, description = "The token lacks platform:admin, or governance forbids service tokens for this app"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant(), client_id = %client_id))]
pub async fn service_token(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    body: web::Json<ServiceTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let app = tenant_app(&state, &admin, &client_id).await?;
    if !app.governance.allow_service_tokens {
        return Err(ApiError::Forbidden("governance does not allow service tokens for this app".into()));
    }
    let scopes = grantable_subset(&app, &body.scopes)?;
    let cap = app.governance.max_token_lifetime_seconds;
    let lifetime = match body.expires_in {
        Some(s) if s == 0 || s > cap => {
            return Err(ApiError::Validation(format!(
                "expires_in must be between 1 and the governance cap of {cap} seconds"
            )));
        }
        Some(s) => Duration::seconds(i64::from(s)),
        None => state.tokens.lifetime_for(&app, None),
    };
    let issued = state.tokens.app_token(&app, &scopes, lifetime, Environment::Live)?;
    tracing::info!(jti = %issued.claims.jti, "service token minted");
    Ok(minted(issued, &scopes))
}

/// Issue a sandbox token
///
/// A token of at most one hour with `aud` = `sandbox`, signed by the
/// sandbox key set (published at `/.well-known/sandbox/jwks.json`): the
/// sandbox API (sandbox-api.knogin.com) accepts it, and the live API refuses
/// it twice over, for its audience and for its key.
#[utoipa::path(
    post,
    path = "/v1/platform/apps/{client_id}/sandbox-token",
    tag = "Sandbox environment",
    security(("bearer" = ["platform:admin"])),
    params(("client_id" = String, Path)),
    request_body = SandboxTokenRequest,
    responses(
        (status = 200, description = "The token", body = MintedToken),
        (status = 400, description = "Scope outside the approved set"),
        (status = 404, description = "No such app in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant(), client_id = %client_id))]
pub async fn sandbox_token(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    body: web::Json<SandboxTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let app = tenant_app(&state, &admin, &client_id).await?;
    let scopes = grantable_subset(&app, &body.scopes)?;
    let lifetime = state.tokens.lifetime_for(&app, Some(Duration::seconds(SANDBOX_MAX_SECONDS)));
    let issued = state.tokens.app_token(&app, &scopes, lifetime, Environment::Sandbox)?;
    Ok(minted(issued, &scopes))
}

/// Rotate an app secret
///
/// Returns a new client secret, once. The previous secret keeps working for
/// the grace period (default 24 h; `{"grace_period_seconds": 0}` stops it at
/// once); the response says until when.
#[utoipa::path(
    post,
    path = "/v1/platform/apps/{client_id}/rotate-secret",
    tag = "OAuth and service tokens",
    security(("bearer" = ["platform:admin"])),
    params(("client_id" = String, Path)),
    request_body(content = Option<RotateSecretRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        (status = 400, description = "Public client, or a bad grace period"),
        (status = 404, description = "No such app in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant(), client_id = %client_id))]
pub async fn rotate_secret(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: RotateSecretRequest = optional_json(&req, &body)?;
    let grace = request.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if grace > MAX_GRACE_SECONDS {
        return Err(ApiError::Validation(format!("grace_period_seconds must be at most {MAX_GRACE_SECONDS}")));
    }
    let app = tenant_app(&state, &admin, &client_id).await?;
    if app.client_type == ClientType::Public {
        return Err(ApiError::Validation("a public client has no secret to rotate".into()));
    }
    let secret = argus_crypto::generate_secret(CLIENT_SECRET_PREFIX);
    let previous = state
        .store
        .rotate_client_secret(
            admin.tenant(),
            &app.client_id,
            state.secrets.hash(&secret),
            Duration::seconds(i64::from(grace)),
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no app `{client_id}` in this tenant")))?;
    state.clients.forget(app.client_id.as_str());
    tracing::info!(grace_seconds = grace, "client secret rotated");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(RotatedSecret {
        client_id: app.client_id,
        client_secret: secret,
        previous_secret_expires_at: previous,
    }))
}
