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
    /// No representation the `Accept` header allows.
    NotAcceptable,
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
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
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
            Self::NotAcceptable => "not-acceptable",
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
            Self::NotAcceptable => "No acceptable representation",
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

/// `problem` as an actix-web response: its status (500 if it has none) and
/// its JSON body as `application/problem+json`. Hand-written because
/// http-api-problem's own `actix-web` feature links actix-web with its
/// default features (compression, websockets, the actix actor framework)
/// into every binary; this is the same few lines on our lean actix-web.
#[cfg(feature = "actix-web")]
pub fn actix_response(problem: &HttpApiProblem) -> actix_web::HttpResponse {
    // actix-web 4 has its own `http` version, hence the round trip by number.
    let status = problem
        .status
        .and_then(|status| actix_web::http::StatusCode::from_u16(status.as_u16()).ok())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    actix_web::HttpResponse::build(status)
        .insert_header((actix_web::http::header::CONTENT_TYPE, http_api_problem::PROBLEM_JSON_MEDIA_TYPE))
        .body(problem.json_bytes())
}

#[cfg(all(test, feature = "actix-web"))]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::http::header::CONTENT_TYPE;

    use super::*;

    #[test]
    fn actix_response_is_problem_json_with_the_kinds_status() {
        let response = actix_response(&ProblemKind::Conflict.problem("the name is taken"));
        assert_eq!(response.status().as_u16(), 409);
        assert_eq!(response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()), Some(&b"application/problem+json"[..]));
        let body = response.into_body().try_into_bytes().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(json["type"], "https://knogin.com/api/problems/conflict");
        assert_eq!(json["title"], "Conflict");
        assert_eq!(json["status"], 409);
        assert_eq!(json["detail"], "the name is taken");
    }

    #[test]
    fn actix_response_without_a_status_is_a_500() {
        assert_eq!(actix_response(&HttpApiProblem::empty()).status().as_u16(), 500);
    }
}
