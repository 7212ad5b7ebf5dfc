//! The two environments one installation runs: live (`api.knogin.com`)
//! and the sandbox (`sandbox-api.knogin.com`). Each has its own database,
//! AMQP vhost, token audience and token-signing key set; every process is
//! told which one it belongs to by `ARGUS_ENV` alone, and everything else
//! that tells the two apart follows from it here.

use serde::{Deserialize, Serialize};

use crate::claims::{LIVE_AUDIENCE, SANDBOX_AUDIENCE};

/// Where the auth-service publishes the live key set.
pub const LIVE_JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the auth-service publishes the sandbox key set.
pub const SANDBOX_JWKS_PATH: &str = "/.well-known/sandbox/jwks.json";
/// Where the auth-service publishes the sandbox tokens revoked before they
/// expire, beside the sandbox key set: the sandbox API's only source of
/// revocations, since it never reads the live database.
pub const SANDBOX_REVOCATIONS_PATH: &str = "/.well-known/sandbox/revocations.json";

/// The sandbox's revocation list, beside the sandbox key set at
/// `jwks_url` (same origin: the key set's path is checked at start).
pub fn sandbox_revocations_url(jwks_url: &str) -> Result<String, String> {
    let mut url = url::Url::parse(jwks_url).map_err(|e| format!("`{jwks_url}` is not a URL: {e}"))?;
    url.set_path(SANDBOX_REVOCATIONS_PATH);
    url.set_query(None);
    Ok(url.into())
}

/// The revoked sandbox tokens, as the auth-service publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({ "key_set": "sandbox", "revoked": [{ "jti": "01JEX3Y8W6M3V4T2Q9R7K5N1PB", "exp": 1796600000 }] }))]
pub struct RevocationList {
    /// Always `sandbox`: a list that says otherwise is never trusted.
    pub key_set: Environment,
    /// Every revoked sandbox token that has not expired yet, by `jti`.
    pub revoked: Vec<RevokedJti>,
}

/// One revoked token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevokedJti {
    /// The token's `jti` claim.
    pub jti: String,
    /// Its `exp` (Unix seconds): after it the token is refused anyway.
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Sandbox,
}

impl std::str::FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Self::Live),
            "sandbox" => Ok(Self::Sandbox),
            other => Err(format!("`{other}` is not `live` or `sandbox`")),
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Environment {
    pub const ALL: [Self; 2] = [Self::Live, Self::Sandbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Sandbox => "sandbox",
        }
    }

    /// The other one.
    pub fn other(self) -> Self {
        match self {
            Self::Live => Self::Sandbox,
            Self::Sandbox => Self::Live,
        }
    }

    /// The public URL of this environment's API host.
    pub fn default_api_url(self) -> &'static str {
        match self {
            Self::Live => "https://api.knogin.com",
            Self::Sandbox => "https://sandbox-api.knogin.com",
        }
    }

    /// The `aud` this environment's tokens carry, and the only one its API
    /// accepts.
    pub fn audience(self) -> &'static str {
        match self {
            Self::Live => LIVE_AUDIENCE,
            Self::Sandbox => SANDBOX_AUDIENCE,
        }
    }

    /// The path of the auth-service's JWKS of this environment's keys.
    pub fn jwks_path(self) -> &'static str {
        match self {
            Self::Live => LIVE_JWKS_PATH,
            Self::Sandbox => SANDBOX_JWKS_PATH,
        }
    }

    /// `Ok` if `jwks_url` can be this environment's key set: the sandbox
    /// takes only a URL whose path is [`SANDBOX_JWKS_PATH`], live any URL
    /// but one with that path. The start-up check of the key gate (the set
    /// itself says which it is too: see `JwkSet::key_set`).
    pub fn check_jwks_url(self, jwks_url: &str) -> Result<(), String> {
        let path = url::Url::parse(jwks_url).map_err(|e| format!("`{jwks_url}` is not a URL: {e}"))?.path().to_owned();
        let is_sandbox_set = path == SANDBOX_JWKS_PATH;
        match (self, is_sandbox_set) {
            (Self::Sandbox, false) => Err(format!(
                "`{jwks_url}` is not the sandbox key set: the sandbox trusts only the auth-service's {SANDBOX_JWKS_PATH}"
            )),
            (Self::Live, true) => Err(format!("`{jwks_url}` is the sandbox key set, which the live API never trusts")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_environment_takes_only_its_own_jwks() {
        let live = "https://auth.knogin.com/.well-known/jwks.json";
        let sandbox = "https://auth.knogin.com/.well-known/sandbox/jwks.json";
        assert!(Environment::Live.check_jwks_url(live).is_ok());
        assert!(Environment::Live.check_jwks_url("https://auth.knogin.com/v1/auth/jwks.json").is_ok());
        assert!(Environment::Live.check_jwks_url(sandbox).is_err());
        assert!(Environment::Sandbox.check_jwks_url(sandbox).is_ok());
        assert!(Environment::Sandbox.check_jwks_url(live).is_err());
        assert!(Environment::Sandbox.check_jwks_url("https://auth.knogin.com/v1/auth/jwks.json").is_err());
        assert!(Environment::Sandbox.check_jwks_url("not a url").is_err());
    }

    #[test]
    fn audiences_follow_the_environment() {
        assert_eq!(Environment::Live.audience(), "api.knogin.com");
        assert_eq!(Environment::Sandbox.audience(), "sandbox");
        assert_eq!("sandbox".parse::<Environment>(), Ok(Environment::Sandbox));
        assert!("staging".parse::<Environment>().is_err());
    }
}
