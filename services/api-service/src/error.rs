//! The REST routes' one error type, and its mapping to problem+json in one
//! place. (The GraphQL transport answers in GraphQL's own error format.)

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
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Deleted when its retention ran out (410).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Unprocessable(String),
    /// A quota is used up (429).
    #[error("{0}")]
    QuotaExceeded(String),
    /// Too much in flight right now: 503 with `Retry-After` (seconds).
    #[error("{message}")]
    Busy { message: String, retry_after_seconds: u32 },
    /// A failure of ours that is not the database's.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Authn(#[from] AuthnError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn kind(&self) -> ProblemKind {
        match self {
            Self::Validation(_) => ProblemKind::Validation,
            Self::Malformed(_) => ProblemKind::MalformedRequest,
            Self::UnsupportedMediaType(_) => ProblemKind::UnsupportedMediaType,
            Self::PayloadTooLarge(_) => ProblemKind::PayloadTooLarge,
            Self::Forbidden(_) => ProblemKind::Forbidden,
            Self::NotFound(_) => ProblemKind::NotFound,
            Self::Conflict(_) => ProblemKind::Conflict,
            Self::Gone(_) => ProblemKind::Gone,
            Self::Unprocessable(_) => ProblemKind::Unprocessable,
            Self::QuotaExceeded(_) => ProblemKind::RateLimited,
            Self::Busy { .. } => ProblemKind::Unavailable,
            Self::Internal(_) => ProblemKind::Internal,
            Self::Authn(_) => ProblemKind::Unauthenticated,
            Self::Store(StoreError::Pool(_)) => ProblemKind::Unavailable,
            Self::Store(StoreError::NotFound(_)) => ProblemKind::NotFound,
            Self::Store(_) => ProblemKind::Internal,
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
        if let Self::Busy { message, retry_after_seconds } = self {
            // The detail is ours (no dependency's text), so it is shown.
            let mut response = ProblemKind::Unavailable.problem(message.clone()).to_actix_response();
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*retry_after_seconds),
            );
            return response;
        }
        argus_telemetry::http::problem_response(self.kind(), self)
    }
}
