//! The service's one error type, and its mapping to HTTP in one place.

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use argus_authn::AuthnError;
use argus_store::StoreError;
use argus_types::ProblemKind;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many requests of this kind; try again in `retry_after` seconds.
    #[error("{what}; try again in {retry_after} s")]
    RateLimited { what: &'static str, retry_after: u64 },
    #[error(transparent)]
    Authn(#[from] AuthnError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn kind(&self) -> ProblemKind {
        match self {
            Self::Validation(_) => ProblemKind::Validation,
            Self::Malformed(_) => ProblemKind::MalformedRequest,
            Self::Forbidden(_) => ProblemKind::Forbidden,
            Self::NotFound(_) => ProblemKind::NotFound,
            Self::Conflict(_) => ProblemKind::Conflict,
            Self::RateLimited { .. } => ProblemKind::RateLimited,
            Self::Authn(_) => ProblemKind::Unauthenticated,
            Self::Store(StoreError::Pool(_)) => ProblemKind::Unavailable,
            Self::Store(StoreError::Conflict(_)) => ProblemKind::Conflict,
            Self::Store(StoreError::Governance(_)) => ProblemKind::Validation,
            Self::Store(_) | Self::Internal(_) => ProblemKind::Internal,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::Authn(e) => e.status_code(),
            other => argus_telemetry::http::problem_status(other.kind()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Authn(e) = self {
            return e.error_response();
        }
        let mut response = argus_telemetry::http::problem_response(self.kind(), self);
        if let Self::RateLimited { retry_after, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after));
        }
        response
    }
}
