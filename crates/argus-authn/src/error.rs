use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use argus_types::ProblemKind;
use argus_types::problem::actix_response;
use jsonwebtoken::errors::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("no bearer token was sent")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token is not an access token (typ must be at+jwt)")]
    NotAnAccessToken,
    #[error("the token was not signed by a known key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token lacks a required claim or has a malformed one")]
    Claims,
    #[error("the token was revoked")]
    Revoked,
    /// The revocation set could not be read (its listener is down and so is
    /// the database): answered 503, never served as valid.
    #[error("cannot check the token now")]
    RevocationUnknown,
    #[error("the token lacks the scope `{0}`")]
    InsufficientScope(&'static str),
    #[error("send X-Tenant-ID equal to the token's tenant")]
    TenantMismatch,
    #[error("the verifier is not configured")]
    NotConfigured,
    /// Fetching the remote key set failed (never sent to a caller: the
    /// verifier keeps its cached keys and reports `UnknownKey` if need be).
    #[error("key set at {url}: {reason}")]
    KeySet { url: String, reason: String },
}

impl AuthnError {
    pub(crate) fn from_jwt(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::Algorithm,
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => Self::Claims,
            _ => Self::Malformed,
        }
    }

    /// RFC 6750 §3: the challenge sent with the error.
    fn challenge(&self) -> String {
        match self {
            Self::InsufficientScope(scope) => format!(
                "Bearer realm=\"argus\", error=\"insufficient_scope\", error_description=\"{self}\", scope=\"{scope}\""
            ),
            _ => format!("Bearer realm=\"argus\", error=\"invalid_token\", error_description=\"{self}\""),
        }
    }
}

impl ResponseError for AuthnError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::InsufficientScope(_) | Self::TenantMismatch => actix_web::http::StatusCode::FORBIDDEN,
            Self::NotConfigured | Self::KeySet { .. } => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::RevocationUnknown => actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            _ => actix_web::http::StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let kind = match self {
            Self::InsufficientScope(_) | Self::TenantMismatch => ProblemKind::Forbidden,
            Self::NotConfigured | Self::KeySet { .. } => ProblemKind::Internal,
            Self::RevocationUnknown => ProblemKind::Unavailable,
            _ => ProblemKind::Unauthenticated,
        };
        let mut response = actix_response(&kind.problem(self.to_string()));
        if matches!(self, Self::RevocationUnknown) {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if !matches!(kind, ProblemKind::Internal | ProblemKind::Unavailable)
            && !matches!(self, Self::TenantMismatch)
            && let Ok(value) = header::HeaderValue::from_str(&self.challenge())
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
