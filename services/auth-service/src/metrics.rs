//! The auth-service's own metrics (the HTTP ones come from the request
//! middleware): token requests by grant type and outcome, sign-ins by
//! outcome. Every label value is one of a fixed few.

use argus_telemetry::metrics::catalog::{OAUTH_TOKEN_REQUESTS, SIGN_INS};
use argus_types::app::GrantType;

use crate::oauth::OAuthErrorCode;

/// Counts one `POST /v1/oauth/token`: the grant type asked for (`none`
/// when the form had none, `unsupported` for any value Argus does not
/// know, which the caller chooses), and `issued` or the RFC 6749 error
/// code it was refused with.
pub fn token_request(grant_type: Option<&str>, refused: Option<OAuthErrorCode>) {
    let grant = match grant_type {
        None => "none",
        Some(asked) => asked.parse::<GrantType>().map_or("unsupported", GrantType::as_str),
    };
    let outcome = refused.map_or("issued", OAuthErrorCode::as_str);
    metrics::counter!(OAUTH_TOKEN_REQUESTS.name, "grant_type" => grant, "outcome" => outcome).increment(1);
}

/// How a sign-in attempt ended, as `argus_sign_ins_total` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    SignedIn,
    WrongCredentials,
    Locked,
    /// No password check could start in time.
    Busy,
    /// Refused before any check: too many attempts from the address.
    RateLimited,
    /// Something failed on our side.
    Error,
}

pub fn sign_in(outcome: SignIn) {
    let outcome = match outcome {
        SignIn::SignedIn => "signed_in",
        SignIn::WrongCredentials => "wrong_credentials",
        SignIn::Locked => "locked",
        SignIn::Busy => "busy",
        SignIn::RateLimited => "rate_limited",
        SignIn::Error => "error",
    };
    metrics::counter!(SIGN_INS.name, "outcome" => outcome).increment(1);
}
