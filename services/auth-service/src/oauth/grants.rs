//! The token endpoint's grants (RFC 6749 §4.1.3 authorization code with
//! PKCE, §4.4 client credentials, §6 refresh with rotation): protocol
//! decisions only; `routes::oauth` reads the form and writes the answer.

use argus_store::oauth::{CodeRedemption, RefreshGrant, RefreshRotation};
use argus_types::app::GrantType;
use argus_types::{Environment, ScopeSet};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oauth::{AuthenticatedClient, OAuthError, OAuthErrorCode, Params, pkce};
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

/// Runs the grant `grant_type` names for an authenticated `client`.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    grant_type: &str,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let Ok(grant) = grant_type.parse::<GrantType>() else {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type `{grant_type}` is not supported"),
        ));
    };
    if !client.app.grant_types.contains(&grant) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client may not use the {grant} grant"),
        ));
    }
    match grant {
        GrantType::ClientCredentials => client_credentials(state, client, params),
        GrantType::AuthorizationCode => authorization_code(state, client, params).await,
        GrantType::RefreshToken => refresh_token(state, client, params).await,
    }
}

fn requested_scopes(params: &Params) -> Option<ScopeSet> {
    params.get("scope").map(ScopeSet::from_space_separated)
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
    let issued = state.tokens.app_token(app, &scopes, lifetime, Environment::Live)?;
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
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
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
        Environment::Live,
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
    let presented = params.require("refresh_token")?;
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
    let issued = state.tokens.access_token(
        &rotated.tenant_id,
        &subject,
        app.client_id.as_str(),
        &scopes,
        lifetime,
        Environment::Live,
    )?;
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
