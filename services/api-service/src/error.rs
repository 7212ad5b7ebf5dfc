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
    #[error("{0}")]
    Unprocessable(String),
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
            Self::Unprocessable(_) => ProblemKind::Unprocessable,
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
        argus_telemetry::http::problem_response(self.kind(), self)
    }
}
