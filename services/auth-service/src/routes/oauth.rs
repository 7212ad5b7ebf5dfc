//! `POST /v1/oauth/token` (RFC 6749 §3.2, §4.1.3, §4.4, §6), `POST
//! /v1/oauth/revoke` (RFC 7009) and `POST /v1/oauth/introspect` (RFC 7662).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use argus_http::body::{MediaType, has_media_type};
use argus_store::oauth::{CodeRedemption, RefreshGrant, RefreshRotation};
use argus_types::app::{ClientType, GrantType};
use argus_types::{AccessClaims, ScopeSet};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::oauth::{AuthenticatedClient, OAuthError, OAuthErrorCode, Params, authenticate_client, pkce};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Space-separated scopes granted.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

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

fn requested_scopes(params: &Params) -> Option<ScopeSet> {
    params.get("scope").map(ScopeSet::from_space_separated)
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
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: invalid_request, invalid_grant, invalid_scope, unauthorized_client, unsupported_grant_type"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "Rate limited; see Retry-After"),
    )
)]
#[tracing::instrument(skip_all, fields(grant_type, client_id))]
pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let grant_type = params.require("grant_type").map_err(OAuthError::invalid_request)?.to_owned();
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let client = rate_limited_client(&req, &params, &state).await?;
    tracing::Span::current().record("client_id", client.app.client_id.as_str());
    let grant = match grant_type.parse::<GrantType>() {
        Ok(g) => g,
        Err(()) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!("grant_type `{grant_type}` is not supported"),
            ));
        }
    };
    if !client.app.grant_types.contains(&grant) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client may not use the {grant} grant"),
        ));
    }
    let response = match grant {
        GrantType::ClientCredentials => client_credentials(&state, &client, &params)?,
        GrantType::AuthorizationCode => authorization_code(&state, &client, &params).await?,
        GrantType::RefreshToken => refresh_token(&state, &client, &params).await?,
    };
    Ok(no_store(HttpResponse::Ok().json(response)))
}

fn client_credentials(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if !client.confidential {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "client_credentials needs a confidential client",
        ));
    }
    let app = &client.app;
    let grantable: ScopeSet = app.governance.grantable_scopes(&app.approved_scopes).cloned().collect();
    let scopes = match requested_scopes(params) {
        Some(requested) if !requested.is_subset(&grantable) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds what the app is approved for",
            ));
        }
        Some(requested) => requested,
        None => grantable,
    };
    let lifetime = state.tokens.lifetime_for(app, None);
    let issued = state.tokens.app_token(app, &scopes, lifetime, None)?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: lifetime.num_seconds(),
        scope: scopes.to_string(),
        refresh_token: None,
    })
}

async fn authorization_code(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code").map_err(OAuthError::invalid_request)?;
    let redirect_uri = params.require("redirect_uri").map_err(OAuthError::invalid_request)?;
    let redeemed = match state.store.redeem_authorization_code(&state.secrets.hash(code)).await? {
        CodeRedemption::Redeemed(r) => r,
        CodeRedemption::Replayed { revoked } => {
            state.revoked.remember(&revoked);
            tracing::warn!("authorization code replayed; its grant is revoked");
            return Err(OAuthError::invalid_grant("the code was already used; what it issued is revoked"));
        }
        CodeRedemption::Expired | CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant("the code is invalid or expired"));
        }
    };
    let grant = &redeemed.grant;
    if grant.client_id != client.app.client_id {
        state.revoked.remember(&state.store.revoke_grant_family(&redeemed.family).await?);
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    if grant.redirect_uri != redirect_uri {
        state.revoked.remember(&state.store.revoke_grant_family(&redeemed.family).await?);
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    let verifier = params.get("code_verifier");
    let pkce_ok = match (&grant.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => pkce::verifier_matches(verifier, challenge),
        (None, None) => true,
        _ => false,
    };
    if !pkce_ok {
        state.revoked.remember(&state.store.revoke_grant_family(&redeemed.family).await?);
        return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
    }
    let app = &client.app;
    let scopes: ScopeSet = grant.scopes.iter().cloned().collect();
    let lifetime = state.tokens.lifetime_for(app, None);
    let issued = state.tokens.access_token(
        &grant.tenant_id,
        grant.user_id.as_str(),
        app.client_id.as_str(),
        &scopes,
        lifetime,
        None,
    )?;
    state.tokens.remember(&state.store, &issued, &redeemed.family).await?;
    let refresh_token = if app.grant_types.contains(&GrantType::RefreshToken) {
        let family = RefreshGrant {
            family: redeemed.family.clone(),
            tenant_id: grant.tenant_id.clone(),
            client_id: app.client_id.clone(),
            user_id: Some(grant.user_id.clone()),
            scopes: grant.scopes.clone(),
        };
        Some(state.tokens.refresh_token(&state.store, &state.secrets, &family).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: lifetime.num_seconds(),
        scope: scopes.to_string(),
        refresh_token,
    })
}

async fn refresh_token(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token").map_err(OAuthError::invalid_request)?;
    let requested = requested_scopes(params).map(ScopeSet::into_vec);
    let app = &client.app;
    let rotated = match state
        .store
        .spend_refresh_token(&state.secrets.hash(presented), &app.client_id, requested.as_deref())
        .await?
    {
        RefreshRotation::Rotated(g) => g,
        RefreshRotation::Replayed { revoked } => {
            state.revoked.remember(&revoked);
            tracing::warn!(client_id = %app.client_id, "refresh token replayed; its grant is revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used; the grant is revoked"));
        }
        RefreshRotation::ScopeExceeded => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds the original grant",
            ));
        }
        RefreshRotation::Invalid => return Err(OAuthError::invalid_grant("the refresh token is invalid or expired")),
    };
    // Governance may have narrowed the app since the grant.
    let grantable: Vec<&String> = app.governance.grantable_scopes(&app.approved_scopes).collect();
    let scopes: ScopeSet = rotated.scopes.iter().filter(|s| grantable.contains(s)).cloned().collect();
    let subject = rotated.user_id.as_ref().map_or(app.client_id.as_str(), |u| u.as_str()).to_owned();
    let lifetime = state.tokens.lifetime_for(app, None);
    let issued =
        state.tokens.access_token(&rotated.tenant_id, &subject, app.client_id.as_str(), &scopes, lifetime, None)?;
    state.tokens.remember(&state.store, &issued, &rotated.family).await?;
    let next = RefreshGrant { scopes: scopes.clone().into_vec(), ..rotated };
    let refresh_token = state.tokens.refresh_token(&state.store, &state.secrets, &next).await?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: lifetime.num_seconds(),
        scope: scopes.to_string(),
        refresh_token: Some(refresh_token),
    })
}

async fn verified_access_token(state: &AppState, token: &str) -> Option<AccessClaims> {
    state.any_audience.verify(token).await.ok()
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
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 401, description = "invalid_client"))
)]
#[tracing::instrument(skip_all)]
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let token = params.require("token").map_err(OAuthError::invalid_request)?;
    let client = rate_limited_client(&req, &params, &state).await?;
    if token.starts_with(crate::oauth::issue::REFRESH_TOKEN_PREFIX) {
        let revoked = state.store.revoke_refresh_token(&state.secrets.hash(token), &client.app.client_id).await?;
        state.revoked.remember(&revoked);
    } else if let Some(claims) = verified_access_token(&state, token).await
        && claims.client_id == client.app.client_id.as_str()
    {
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(chrono::Utc::now);
        state.revoked.revoke(&claims.jti, expires_at).await?;
    }
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
    responses((status = 200, description = "Introspection response"), (status = 401, description = "invalid_client"))
)]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let token = params.require("token").map_err(OAuthError::invalid_request)?;
    let client = rate_limited_client(&req, &params, &state).await?;
    if client.app.client_type != ClientType::Confidential {
        return Err(OAuthError::invalid_client());
    }
    let tenant = &client.app.tenant_id;
    let inactive = || no_store(HttpResponse::Ok().json(json!({ "active": false })));
    if token.starts_with(crate::oauth::issue::REFRESH_TOKEN_PREFIX) {
        return Ok(match state.store.live_refresh_token(&state.secrets.hash(token)).await? {
            Some((grant, expires_at)) if &grant.tenant_id == tenant => no_store(HttpResponse::Ok().json(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": grant.scopes.join(" "),
                "client_id": grant.client_id,
                "sub": grant.user_id.as_ref().map_or(grant.client_id.as_str(), |u| u.as_str()),
                "exp": expires_at.timestamp(),
                "tid": grant.tenant_id,
            }))),
            _ => inactive(),
        });
    }
    let Some(claims) = verified_access_token(&state, token).await else { return Ok(inactive()) };
    // A revoked token did not verify.
    if &claims.tid != tenant {
        return Ok(inactive());
    }
    Ok(no_store(HttpResponse::Ok().json(json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "tid": claims.tid,
    }))))
}
