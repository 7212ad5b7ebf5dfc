//! Issuing RS256 access tokens in the RFC 9068 profile.

use argus_types::claims::ACCESS_TOKEN_TYP;
use argus_types::{AccessClaims, ScopeSet, TenantId};
use chrono::{DateTime, Duration, Utc};

use crate::secrets::random_bytes;
use crate::{CryptoError, SigningKey, hex};

/// What a token is for; the issuer fills in times and the id.
#[derive(Debug, Clone)]
pub struct TokenGrant<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub tenant: &'a TenantId,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub lifetime: Duration,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: AccessClaims,
    pub expires_at: DateTime<Utc>,
}

/// Signs a fresh access token with `key`.
pub fn issue_access_token(key: &SigningKey, grant: &TokenGrant<'_>) -> Result<IssuedToken, CryptoError> {
    let now = Utc::now();
    let expires_at = now + grant.lifetime;
    let claims = AccessClaims {
        iss: grant.issuer.to_owned(),
        sub: grant.subject.to_owned(),
        aud: grant.audience.to_owned(),
        exp: expires_at.timestamp(),
        iat: now.timestamp(),
        nbf: None,
        jti: hex(&random_bytes::<16>()),
        client_id: grant.client_id.to_owned(),
        scope: grant.scopes.to_string(),
        tid: grant.tenant.clone(),
    };
    let token = key.sign(ACCESS_TOKEN_TYP, &claims)?;
    Ok(IssuedToken { token, claims, expires_at })
}
