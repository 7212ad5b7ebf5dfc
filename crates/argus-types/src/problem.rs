//! RFC 9457 problem details with stable `type` URIs, shared by every service
//! so an integrator can switch on `type` whichever host answered.

use http_api_problem::{HttpApiProblem, StatusCode};

const TYPE_BASE: &str = "https://knogin.com/api/problems/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The body or query parsed but a value is not acceptable.
    Validation,
    /// The body is not well-formed (bad JSON, wrong shape, unknown field).
    MalformedRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// It existed, and was deleted as its retention ran out.
    Gone,
    /// Well-formed, but cannot be processed as sent (e.g. an
    /// `Idempotency-Key` reused with another request).
    Unprocessable,
    /// Too many requests of this kind for now; see `Retry-After`.
    RateLimited,
    Unavailable,
    Internal,
}

impl ProblemKind {
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation | Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Self::Validation => "validation-failed",
            Self::MalformedRequest => "malformed-request",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge => "payload-too-large",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::Gone => "gone",
            Self::Unprocessable => "unprocessable",
            Self::RateLimited => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Validation => "The request has invalid values",
            Self::MalformedRequest => "The request body is malformed",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "The request body is too large",
            Self::Unauthenticated => "A valid bearer token is required",
            Self::Forbidden => "The token does not allow this",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "Conflict",
            Self::Gone => "No longer available",
            Self::Unprocessable => "The request cannot be processed",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Temporarily unavailable",
            Self::Internal => "Internal error",
        }
    }

    pub fn type_uri(self) -> String {
        format!("{TYPE_BASE}{}", self.slug())
    }

    pub fn problem(self, detail: impl Into<String>) -> HttpApiProblem {
        HttpApiProblem::new(self.status()).type_url(self.type_uri()).title(self.title()).detail(detail)
    }
}
