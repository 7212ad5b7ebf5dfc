//! The error every REST route returns, and its mapping to problem+json in
//! one place. Each service names it `ApiError`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use argus_authn::AuthnError;
use argus_domain::FieldErrors;
use argus_store::StoreError;
use argus_types::ProblemKind;
use argus_types::problem::actix_response;

use crate::problem::{invalid_fields_problem, problem_response, problem_status};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Validation(String),
    /// Bad fields of a body, each named: a 400 whose `invalid-params` lists
    /// them (as does [`StoreError::Invalid`]).
    #[error("{0}")]
    InvalidFields(FieldErrors),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `Accept` allows none of the route's media types (406).
    #[error("{0}")]
    NotAcceptable(String),
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
    /// A quota is used up (429, no `Retry-After`: waiting does not help).
    #[error("{0}")]
    QuotaExceeded(String),
    /// Too many requests of this kind; try again in `retry_after` seconds
    /// (429 with `Retry-After`).
    #[error("{what}; try again in {retry_after} s")]
    RateLimited { what: &'static str, retry_after: u64 },
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

impl HttpError {
    /// The problem+json body `error_response` writes (its headers aside):
    /// what an idempotent write keeps, to replay it.
    pub fn problem_json(&self) -> Vec<u8> {
        match self.invalid_fields() {
            Some(errors) => invalid_fields_problem(errors).json_bytes(),
            None => crate::problem::problem_body(self.kind(), self),
        }
    }

    /// The fields named in the problem's `invalid-params`, if it has them.
    fn invalid_fields(&self) -> Option<&FieldErrors> {
        match self {
            Self::InvalidFields(errors) | Self::Store(StoreError::Invalid(errors)) => Some(errors),
            _ => None,
        }
    }

    fn kind(&self) -> ProblemKind {
        match self {
            Self::Validation(_) | Self::InvalidFields(_) => ProblemKind::Validation,
            Self::Malformed(_) => ProblemKind::MalformedRequest,
            Self::UnsupportedMediaType(_) => ProblemKind::UnsupportedMediaType,
            Self::NotAcceptable(_) => ProblemKind::NotAcceptable,
            Self::PayloadTooLarge(_) => ProblemKind::PayloadTooLarge,
            Self::Forbidden(_) => ProblemKind::Forbidden,
            Self::NotFound(_) => ProblemKind::NotFound,
            Self::Conflict(_) => ProblemKind::Conflict,
            Self::Gone(_) => ProblemKind::Gone,
            Self::Unprocessable(_) => ProblemKind::Unprocessable,
            Self::QuotaExceeded(_) | Self::RateLimited { .. } => ProblemKind::RateLimited,
            Self::Busy { .. } => ProblemKind::Unavailable,
            Self::Internal(_) => ProblemKind::Internal,
            Self::Authn(_) => ProblemKind::Unauthenticated,
            Self::Store(e) => store_kind(e),
        }
    }
}

/// What a store error means to the caller. Only the pool's failure is the
/// dependency's; the rest are ours, or the caller's.
fn store_kind(error: &StoreError) -> ProblemKind {
    match error {
        StoreError::Pool(_) => ProblemKind::Unavailable,
        StoreError::NotFound(_) => ProblemKind::NotFound,
        StoreError::Conflict(_) => ProblemKind::Conflict,
        StoreError::Governance(_) | StoreError::Invalid(_) => ProblemKind::Validation,
        _ => ProblemKind::Internal,
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Authn(e) => e.status_code(),
            other => problem_status(other.kind()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(errors) = self.invalid_fields() {
            return actix_response(&invalid_fields_problem(errors));
        }
        match self {
            Self::Authn(e) => e.error_response(),
            Self::Busy { message, retry_after_seconds } => {
                // The detail is ours (no dependency's text), so it is shown.
                let mut response = actix_response(&ProblemKind::Unavailable.problem(message.clone()));
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
                response
            }
            Self::RateLimited { retry_after, .. } => {
                let mut response = problem_response(self.kind(), self);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                response
            }
            other => problem_response(other.kind(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_what_the_caller_can_do() {
        let status = |e: StoreError| HttpError::from(e).status_code();
        assert_eq!(status(StoreError::Pool("down".into())), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(StoreError::NotFound("app".into())), StatusCode::NOT_FOUND);
        assert_eq!(status(StoreError::Conflict("app".into())), StatusCode::CONFLICT);
        assert_eq!(status(StoreError::Corrupt("row".into())), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn bad_fields_are_each_named_in_invalid_params() {
        use actix_web::body::MessageBody;
        let mut errors = FieldErrors::default();
        errors.push("patient.sex", "is required");
        errors.push("timeline.on_scene", "must not be before timeline.dispatched");
        for error in [HttpError::InvalidFields(errors.clone()), HttpError::Store(StoreError::Invalid(errors))] {
            let kept: serde_json::Value = serde_json::from_slice(&error.problem_json()).unwrap();
            let response = error.error_response();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let body = response.into_body().try_into_bytes().unwrap();
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(problem, kept, "the kept replay is the response");
            assert_eq!(problem["type"], "https://knogin.com/api/problems/validation-failed");
            assert_eq!(
                problem["invalid-params"],
                serde_json::json!([
                    {"name": "patient.sex", "reason": "is required"},
                    {"name": "timeline.on_scene", "reason": "must not be before timeline.dispatched"},
                ])
            );
            assert_eq!(
                problem["detail"],
                "patient.sex: is required; timeline.on_scene: must not be before timeline.dispatched"
            );
        }
    }

    #[test]
    fn waits_are_named_in_retry_after() {
        let limited = HttpError::RateLimited { what: "too many test sends", retry_after: 7 }.error_response();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers().get(header::RETRY_AFTER).unwrap(), "7");
        let busy = HttpError::Busy { message: "busy".into(), retry_after_seconds: 2 }.error_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers().get(header::RETRY_AFTER).unwrap(), "2");
        let quota = HttpError::QuotaExceeded("full".into()).error_response();
        assert_eq!(quota.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(quota.headers().get(header::RETRY_AFTER).is_none());
    }
}
