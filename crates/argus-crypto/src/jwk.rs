//! Public JSON Web Keys (RFC 7517, RFC 7518 §6.3.1 for RSA).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: String,
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Always `RS256`.
    pub alg: String,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Public exponent, base64url without padding.
    pub e: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
    /// Which environment's keys these are, `live` or `sandbox`: a member
    /// beside `keys` (RFC 7517 §5 lets a set carry more, which other
    /// verifiers ignore), so an Argus API can tell the other environment's
    /// set and refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_set: Option<argus_types::Environment>,
}
