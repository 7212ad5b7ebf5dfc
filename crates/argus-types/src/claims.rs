//! JWT access-token claims, in the RFC 9068 profile plus `tid` for the tenant.

use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::scopes::ScopeSet;

/// The `typ` header of every access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The audience of tokens for the live API.
pub const LIVE_AUDIENCE: &str = "api.knogin.com";
/// The audience of sandbox tokens, which only the sandbox API accepts.
pub const SANDBOX_AUDIENCE: &str = "sandbox";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    /// Space-separated, as RFC 9068 §2.2.3 says.
    pub scope: String,
    pub tid: TenantId,
}

impl AccessClaims {
    pub fn scopes(&self) -> ScopeSet {
        ScopeSet::from_space_separated(&self.scope)
    }
}
