//! `POST /v1/oauth/token` (RFC 6749 §3.2, §4.1.3, §4.4, §6), `POST
//! /v1/oauth/revoke` (RFC 7009) and `POST /v1/oauth/introspect` (RFC 7662):
//! transport only; the protocol is in `crate::oauth`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use argus_http::body::{MediaType, has_media_type};

use crate::oauth::{AuthenticatedClient, OAuthError, Params, authenticate_client, grants, revocation};
use crate::state::AppState;

fn form_params(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    if !has_media_type(req, MediaType::Form) {
        return Err(OAuthError::invalid_request("send the parameters as application/x-www-form-urlencoded"));
    }
    Params::parse(body).map_err(OAuthError::invalid_request)
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// Authenticates the client after the per-address limit, then applies the
/// per-client limit to the client that proved who it is.
async fn rate_limited_client(
    req: &HttpRequest,
    params: &Params,
    state: &AppState,
) -> Result<AuthenticatedClient, OAuthError> {
    let ip = state.limits.source(req);
    state.limits.check_token(ip, None).map_err(OAuthError::rate_limited)?;
    let client = authenticate_client(req, params, state).await?;
    state.limits.check_token(ip, Some(client.app.client_id.as_str())).map_err(OAuthError::rate_limited)?;
    Ok(client)
}

/// What revocation and introspection both take: the form's `token`, and
/// the client, authenticated and rate-limited.
async fn client_and_token(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<(AuthenticatedClient, String), OAuthError> {
    let params = form_params(req, body)?;
    let token = params.require("token")?.to_owned();
    let client = rate_limited_client(req, &params, state).await?;
    Ok((client, token))
}

/// Exchange or mint access tokens
///
/// Form-encoded. Grants: `client_credentials`, `authorization_code` (with
/// the PKCE `code_verifier`) and `refresh_token` (rotating: each use returns
/// a new refresh token; reuse of a spent one revokes the whole grant).
/// Clients authenticate with `client_secret_basic` or `client_secret_post`;
/// public clients send only `client_id`.
#[utoipa::path(
    post,
    path = "/v1/oauth/token",
    tag = "OAuth and service tokens",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = grants::TokenResponse),
        (status = 400, description = "RFC 6749 error: invalid_request, invalid_grant, invalid_scope, unauthorized_client, unsupported_grant_type", content_type = "application/json"),
        (status = 401, description = "invalid_client", content_type = "application/json"),
        (status = 429, description = "Rate limited (`slow_down`); see Retry-After", content_type = "application/json"),
    )
)]
#[tracing::instrument(skip_all, fields(grant_type, client_id))]
pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    match form_params(&req, &body) {
        Ok(params) => {
            let answered = issue(&req, &params, &state).await;
            crate::metrics::token_request(params.get("grant_type"), answered.as_ref().err().map(|e| e.code));
            answered
        }
        Err(refused) => {
            crate::metrics::token_request(None, Some(refused.code));
            Err(refused)
        }
    }
}

async fn issue(req: &HttpRequest, params: &Params, state: &AppState) -> Result<HttpResponse, OAuthError> {
    let grant_type = params.require("grant_type")?;
    tracing::Span::current().record("grant_type", grant_type);
    let client = rate_limited_client(req, params, state).await?;
    tracing::Span::current().record("client_id", client.app.client_id.as_str());
    let response = grants::exchange(state, &client, grant_type, params).await?;
    Ok(no_store(HttpResponse::Ok().json(response)))
}

/// Revoke a token (RFC 7009)
///
/// Revokes a refresh token (and the whole grant it belongs to) or an access
/// token, if it was issued to the authenticated client. Unknown tokens are
/// not an error: the answer is 200 either way.
#[utoipa::path(
    post,
    path = "/v1/oauth/revoke",
    tag = "OAuth and service tokens",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request (RFC 6749 §5.2): no `token`, or a body that is not a form", content_type = "application/json"),
        (status = 401, description = "invalid_client", content_type = "application/json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = client_and_token(&req, &body, &state).await?;
    revocation::revoke(&state, &client, &token).await?;
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// Introspect a token (RFC 7662)
///
/// For confidential clients: whether a token of the client's own tenant is
/// active, and its claims. Anything else is `{"active": false}`.
#[utoipa::path(
    post,
    path = "/v1/oauth/introspect",
    tag = "OAuth and service tokens",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Introspection response"),
        (status = 400, description = "invalid_request (RFC 6749 §5.2): no `token`, or a body that is not a form", content_type = "application/json"),
        (status = 401, description = "invalid_client", content_type = "application/json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = client_and_token(&req, &body, &state).await?;
    let answer = revocation::introspect(&state, &client, &token).await?;
    Ok(no_store(HttpResponse::Ok().json(answer)))
}
