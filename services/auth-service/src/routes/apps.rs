//! App registration and governance: `/v1/platform/apps…`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_authn::{PlatformAdmin, Scoped};
use argus_http::openapi::ScopedErrors;
use argus_http::pagination::PageQuery;
use argus_store::apps::{AppRecord, NewApp};
use argus_types::app::{ClientType, Governance, GrantType};
use argus_types::scopes::PLATFORM_ADMIN;
use argus_types::{ClientId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// Client secrets are `cs_` + 256 random bits, so they are recognisable in
/// secret scanners.
pub const CLIENT_SECRET_PREFIX: &str = "cs_";
const MAX_NAME_CHARS: usize = 200;
const MAX_REDIRECT_URIS: usize = 20;
const MAX_REDIRECT_URI_LEN: usize = 2048;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// 1 to 200 characters.
    pub name: String,
    /// Any of `authorization_code`, `client_credentials`, `refresh_token`.
    pub grant_types: Vec<String>,
    /// Absolute `https` URIs without a fragment (`http` only for localhost
    /// and 127.0.0.1). Required for `authorization_code`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scope names from `GET /v1/platform/scopes`.
    pub requested_scopes: Vec<String>,
    /// `confidential` (default; gets a secret) or `public` (PKCE only).
    #[serde(default)]
    pub client_type: Option<String>,
}

/// An app's metadata and governance; never a secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    pub client_id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    pub client_type: ClientType,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub approved_scopes: Vec<String>,
    pub governance: Governance,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AppRecord> for AppView {
    fn from(a: AppRecord) -> Self {
        Self {
            client_id: a.client_id,
            tenant_id: a.tenant_id,
            name: a.name,
            client_type: a.client_type,
            grant_types: a.grant_types,
            redirect_uris: a.redirect_uris,
            requested_scopes: a.requested_scopes,
            approved_scopes: a.approved_scopes,
            governance: a.governance,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// The create response: the app, plus its secret this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: AppView,
    /// Shown only here, for confidential clients. Store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GovernanceView {
    pub client_id: ClientId,
    pub governance: Governance,
}

/// Create a platform app
///
/// Registers an external integration app for the caller's tenant. The
/// requested scopes are approved at registration (the caller is a tenant
/// admin); governance can narrow them later.
#[utoipa::path(
    post,
    path = "/v1/platform/apps",
    tag = "Identity and app registration",
    security(("bearer" = ["platform:admin"])),
    request_body = CreateAppRequest,
    responses(
        (status = 201, description = "Registered; `client_secret` is shown this once", body = CreatedApp),
        (status = 400, description = "Invalid registration"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant()))]
pub async fn create_app(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    body: web::Json<CreateAppRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = validate_registration(body.into_inner())?;
    if new.requested_scopes.iter().any(|s| s == PLATFORM_ADMIN) {
        return Err(admin_scope_refused());
    }
    let unknown = state.store.unknown_scopes(&new.requested_scopes).await?;
    if !unknown.is_empty() {
        return Err(ApiError::Validation(format!("unknown scopes: {}", unknown.join(", "))));
    }
    let secret =
        (new.client_type == ClientType::Confidential).then(|| argus_crypto::generate_secret(CLIENT_SECRET_PREFIX));
    let hash = secret.as_deref().map(|s| state.secrets.hash(s));
    let app = state.store.create_app(admin.tenant(), new, hash).await?;
    tracing::info!(client_id = %app.client_id, "app registered");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/platform/apps/{}", app.client_id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedApp { app: app.into(), client_secret: secret }))
}

/// List platform apps
///
/// The caller's tenant's apps, oldest first, cursor-paginated.
#[utoipa::path(
    get,
    path = "/v1/platform/apps",
    tag = "Identity and app registration",
    security(("bearer" = ["platform:admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of apps", body = AppList),
        (status = 400, description = "Bad limit or cursor"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant()))]
pub async fn list_apps(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<ClientId>()?;
    let page = state.store.list_apps(admin.tenant(), &request).await?;
    let (apps, next_cursor) = page.into_listing::<AppView>();
    Ok(HttpResponse::Ok().json(AppList { apps, next_cursor }))
}

/// Inspect an integration app
///
/// Metadata and governance of one of the tenant's apps. Never a secret.
#[utoipa::path(
    get,
    path = "/v1/platform/apps/{client_id}",
    tag = "Identity and app registration",
    security(("bearer" = ["platform:admin"])),
    params(("client_id" = String, Path, description = "The app's client id (`app_…`)")),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 404, description = "No such app in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant(), client_id = %client_id))]
pub async fn get_app(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_client_id(&client_id)?;
    let app = state.store.get_app(admin.tenant(), &id).await?.ok_or_else(|| not_found(&client_id))?;
    Ok(HttpResponse::Ok().json(AppView::from(app)))
}

/// Update app governance
///
/// Merges the given flags into the app's governance (JSON merge patch:
/// `null` resets a flag to its default). Known flags:
/// `allow_service_tokens`, `enforce_pkce`, `max_token_lifetime_seconds`
/// (60 to 86400), `allowed_scopes` (a subset of the approved scopes) and
/// `allowed_redirect_uris` (a subset of the registered URIs). An unknown flag
/// or a wrong type is a 400 and changes nothing.
#[utoipa::path(
    patch,
    path = "/v1/platform/apps/{client_id}/governance",
    tag = "Identity and app registration",
    security(("bearer" = ["platform:admin"])),
    params(("client_id" = String, Path, description = "The app's client id (`app_…`)")),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "The merged governance", body = GovernanceView),
        (status = 400, description = "Unknown flag or wrong type"),
        (status = 404, description = "No such app in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %admin.tenant(), client_id = %client_id))]
pub async fn patch_governance(
    admin: Scoped<PlatformAdmin>,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_client_id(&client_id)?;
    let Value::Object(patch) = body.into_inner() else {
        return Err(ApiError::Validation("the body must be a JSON object of governance flags".into()));
    };
    let patch: Map<String, Value> = patch;
    let names_admin_scope = |v: &Value| v.as_array().is_some_and(|a| a.iter().any(|s| s == PLATFORM_ADMIN));
    if patch.get("allowed_scopes").is_some_and(names_admin_scope) {
        return Err(admin_scope_refused());
    }
    let app = state.store.patch_governance(admin.tenant(), &id, &patch).await?.ok_or_else(|| not_found(&client_id))?;
    state.clients.forget(app.client_id.as_str());
    tracing::info!(flags = ?patch.keys().collect::<Vec<_>>(), "governance updated");
    Ok(HttpResponse::Ok().json(GovernanceView { client_id: app.client_id, governance: app.governance }))
}

fn admin_scope_refused() -> ApiError {
    ApiError::Validation(format!(
        "`{PLATFORM_ADMIN}` is the tenant admin's scope, not an integration scope: no app may hold it \
         (admin tokens come from `argusctl token admin`)"
    ))
}

fn not_found(client_id: &str) -> ApiError {
    ApiError::NotFound(format!("no app `{client_id}` in this tenant"))
}

/// A malformed id names no app: 404, like an unknown one.
fn parse_client_id(raw: &str) -> Result<ClientId, ApiError> {
    raw.parse().map_err(|_| not_found(raw))
}

fn validate_registration(req: CreateAppRequest) -> Result<NewApp, ApiError> {
    let invalid = |m: String| Err(ApiError::Validation(m));
    let name = req.name.trim().to_owned();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return invalid(format!("name must be 1 to {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return invalid("name must not contain control characters".into());
    }

    let client_type = match req.client_type.as_deref() {
        None => ClientType::Confidential,
        Some(t) => match t.parse() {
            Ok(t) => t,
            Err(_) => return invalid(format!("client_type `{t}` is not `confidential` or `public`")),
        },
    };

    if req.grant_types.is_empty() {
        return invalid("grant_types must name at least one grant".into());
    }
    let unknown: Vec<&str> =
        req.grant_types.iter().filter(|g| g.parse::<GrantType>().is_err()).map(String::as_str).collect();
    if !unknown.is_empty() {
        return invalid(format!(
            "unknown grant types: {} (known: authorization_code, client_credentials, refresh_token)",
            unknown.join(", ")
        ));
    }
    let mut grant_types: Vec<GrantType> = req.grant_types.iter().filter_map(|g| g.parse().ok()).collect();
    grant_types.sort();
    grant_types.dedup();
    let has = |g: GrantType| grant_types.contains(&g);
    if has(GrantType::AuthorizationCode) && req.redirect_uris.is_empty() {
        return invalid("authorization_code needs at least one redirect URI".into());
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
        return invalid("refresh_token is only issued with authorization_code".into());
    }
    if client_type == ClientType::Public && has(GrantType::ClientCredentials) {
        return invalid("a public client has no secret, so it cannot use client_credentials".into());
    }

    if req.redirect_uris.len() > MAX_REDIRECT_URIS {
        return invalid(format!("at most {MAX_REDIRECT_URIS} redirect URIs"));
    }
    for uri in &req.redirect_uris {
        validate_redirect_uri(uri).map_err(|why| ApiError::Validation(format!("redirect URI `{uri}` {why}")))?;
    }
    let mut redirect_uris = req.redirect_uris;
    redirect_uris.dedup();

    if req.requested_scopes.is_empty() {
        return invalid("requested_scopes must name at least one scope".into());
    }
    let mut scopes = req.requested_scopes;
    scopes.sort();
    scopes.dedup();

    Ok(NewApp {
        name,
        client_type,
        grant_types,
        redirect_uris,
        approved_scopes: scopes.clone(),
        requested_scopes: scopes,
    })
}

/// RFC 6749 §3.1.2 and the OAuth 2.0 Security BCP: absolute, no fragment,
/// TLS except on the loopback interface.
fn validate_redirect_uri(raw: &str) -> Result<(), &'static str> {
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err("is too long");
    }
    if raw.contains('#') {
        return Err("must not contain a fragment");
    }
    let url = url::Url::parse(raw).map_err(|_| "is not an absolute URI")?;
    let host = url.host_str().ok_or("has no host")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => Ok(()),
        "http" => Err("must use https (plain http only for localhost or 127.0.0.1)"),
        _ => Err("must use https"),
    }
}

#[cfg(test)]
mod tests {
    use super::validate_redirect_uri;

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://integrator.example/callback").is_ok());
        assert!(validate_redirect_uri("http://localhost:8000/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1/cb").is_ok());
        assert!(validate_redirect_uri("http://integrator.example/cb").is_err());
        assert!(validate_redirect_uri("https://integrator.example/cb#frag").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("myapp://cb").is_err());
        assert!(validate_redirect_uri("https://user:pw@integrator.example/cb").is_err());
    }
}
