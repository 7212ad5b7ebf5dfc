//! problem+json (RFC 9457) responses: for an error of a [`ProblemKind`], and
//! for requests no route takes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use argus_domain::FieldErrors;
use argus_types::ProblemKind;
use argus_types::problem::actix_response;
use http_api_problem::HttpApiProblem;

/// The extension member of a 400 that lists every bad field (RFC 9457 §3.2).
pub const INVALID_PARAMS: &str = "invalid-params";

/// The HTTP status of an error of `kind`, as actix-web's type.
pub fn problem_status(kind: ProblemKind) -> StatusCode {
    StatusCode::from_u16(kind.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The problem+json response of an error of `kind`: its message as the
/// detail, except for internal errors and unavailable dependencies, whose
/// detail stays in the log and never reaches the caller.
pub fn problem_response(kind: ProblemKind, error: &dyn std::fmt::Display) -> HttpResponse {
    actix_response(&kind.problem(problem_detail(kind, error)))
}

/// The body [`problem_response`] writes, as bytes.
pub fn problem_body(kind: ProblemKind, error: &dyn std::fmt::Display) -> Vec<u8> {
    kind.problem(problem_detail(kind, error)).json_bytes()
}

fn problem_detail(kind: ProblemKind, error: &dyn std::fmt::Display) -> String {
    match kind {
        ProblemKind::Internal => {
            tracing::error!(error = %error, "request failed");
            "an internal error occurred; it has been logged".to_owned()
        }
        ProblemKind::Unavailable => {
            tracing::warn!(error = %error, "dependency unavailable");
            "the service is temporarily unavailable; retry shortly".to_owned()
        }
        _ => error.to_string(),
    }
}

/// The 400 of a body with bad fields: each named in `invalid-params`
/// (`{"name", "reason"}`), and all of them in one line as the `detail`.
pub(crate) fn invalid_fields_problem(errors: &FieldErrors) -> HttpApiProblem {
    ProblemKind::Validation.problem(errors.to_string()).value(INVALID_PARAMS, &errors.0)
}

/// For paths no route matches.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    actix_response(&ProblemKind::NotFound.problem(format!("no route for {}", req.path())))
}

/// For a known path called with a method it does not take: 405 with the
/// `Allow` header listing the methods it does (RFC 9110, 15.5.6).
pub fn method_not_allowed(req: &HttpRequest, allow: &HeaderValue) -> HttpResponse {
    let problem = ProblemKind::MethodNotAllowed.problem(format!("{} does not take {}", req.path(), req.method()));
    let mut response = actix_response(&problem);
    response.headers_mut().insert(header::ALLOW, allow.clone());
    response
}
