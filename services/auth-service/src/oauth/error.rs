//! RFC 6749 §5.2 error responses for the token, revocation and
//! introspection endpoints.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 6585 rate limiting, with `Retry-After`.
    SlowDown,
    ServerError,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    /// The RFC 6749 `error` value (what the body's `error` says).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::SlowDown => "slow_down",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl Serialize for OAuthErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {description}")]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    pub retry_after_seconds: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: OAuthErrorCode,
    error_description: &'a str,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), retry_after_seconds: None }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client() -> Self {
        Self::new(OAuthErrorCode::InvalidClient, "client authentication failed")
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, d)
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self {
            code: OAuthErrorCode::SlowDown,
            description: "too many requests; retry later".into(),
            retry_after_seconds: Some(retry_after_seconds),
        }
    }
}

impl From<crate::error::ApiError> for OAuthError {
    fn from(e: crate::error::ApiError) -> Self {
        if let crate::error::ApiError::Store(argus_store::StoreError::Pool(_)) = e {
            tracing::warn!(error = %e, "oauth: dependency unavailable");
            return Self::new(OAuthErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable");
        }
        tracing::error!(error = %e, "oauth: internal error");
        Self::new(OAuthErrorCode::ServerError, "an internal error occurred; it has been logged")
    }
}

impl From<argus_store::StoreError> for OAuthError {
    fn from(e: argus_store::StoreError) -> Self {
        crate::error::ApiError::from(e).into()
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
        if self.code == OAuthErrorCode::InvalidClient {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"argus\", charset=\"UTF-8\""));
        }
        if let Some(after) = self.retry_after_seconds {
            response.insert_header((header::RETRY_AFTER, after.to_string()));
        }
        response.json(Body { error: self.code, error_description: &self.description })
    }
}
