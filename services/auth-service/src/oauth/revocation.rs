//! Token revocation (RFC 7009) and introspection (RFC 7662) for an
//! authenticated client: protocol decisions only; `routes::oauth` reads the
//! form and writes the answer.

use argus_types::app::ClientType;
use argus_types::claims::SANDBOX_AUDIENCE;
use argus_types::{AccessClaims, Environment};
use serde::Serialize;

use crate::oauth::issue::REFRESH_TOKEN_PREFIX;
use crate::oauth::{AuthenticatedClient, OAuthError};
use crate::state::AppState;

async fn verified_access_token(state: &AppState, token: &str) -> Option<AccessClaims> {
    state.any_audience.verify(token).await.ok()
}

/// Revokes `token` if it was issued to `client`: a refresh token with its
/// whole grant, an access token by its `jti`. Anything else is no error
/// (RFC 7009 §2.2).
pub async fn revoke(state: &AppState, client: &AuthenticatedClient, token: &str) -> Result<(), OAuthError> {
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        let revoked = state.store.revoke_refresh_token(&state.secrets.hash(token), &client.app.client_id).await?;
        state.revoked.remember(&revoked);
    } else if let Some(claims) = verified_access_token(state, token).await
        && claims.client_id == client.app.client_id.as_str()
    {
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(chrono::Utc::now);
        // Only sandbox tokens carry the sandbox audience (and the live one
        // may be configured): the sandbox's are published for its API.
        let environment = if claims.aud == SANDBOX_AUDIENCE { Environment::Sandbox } else { Environment::Live };
        state.revoked.revoke(&claims.jti, expires_at, environment).await?;
    }
    Ok(())
}

/// An introspection answer (RFC 7662 §2.2); only `active` when inactive.
/// Fields in name order, as the endpoint has always written them.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

/// Whether `token`, of the client's own tenant, is active, and its claims.
/// Only confidential clients may ask.
pub async fn introspect(
    state: &AppState,
    client: &AuthenticatedClient,
    token: &str,
) -> Result<Introspection, OAuthError> {
    if client.app.client_type != ClientType::Confidential {
        return Err(OAuthError::invalid_client());
    }
    let tenant = &client.app.tenant_id;
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        return Ok(match state.store.live_refresh_token(&state.secrets.hash(token)).await? {
            Some((grant, expires_at)) if &grant.tenant_id == tenant => Introspection {
                active: true,
                token_type: Some("refresh_token"),
                scope: Some(grant.scopes.join(" ")),
                sub: Some(grant.user_id.as_ref().map_or(grant.client_id.as_str(), |u| u.as_str()).to_owned()),
                client_id: Some(grant.client_id.to_string()),
                exp: Some(expires_at.timestamp()),
                tid: Some(grant.tenant_id.to_string()),
                ..Introspection::default()
            },
            _ => Introspection::default(),
        });
    }
    // A revoked token does not verify.
    match verified_access_token(state, token).await {
        Some(claims) if &claims.tid == tenant => Ok(Introspection {
            active: true,
            token_type: Some("Bearer"),
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            jti: Some(claims.jti),
            tid: Some(claims.tid.to_string()),
        }),
        _ => Ok(Introspection::default()),
    }
}
