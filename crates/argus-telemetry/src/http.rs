//! Request-parsing rules shared by every route: JSON body limits and content
//! types, and problem+json for every way a request can be malformed.

use actix_web::error::{InternalError, JsonPayloadError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};
use argus_types::ProblemKind;

/// Bodies on this API are small JSON documents.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// How long an idle keep-alive connection is held open. Longer than the
/// idle timeouts of the proxies and client pools in front of us (ingress-nginx
/// keeps upstream connections 60 s), so the client side always closes first:
/// a server that closes first races the client's next request on that
/// connection, which then fails with a truncated response (actix's default
/// is 5 s, short enough for a client pausing between calls to hit it).
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BODY)
        .content_type_required(true)
        .content_type(|mime| {
            // application/json, and RFC 7396 merge patches for PATCH.
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.subtype().as_str() == "merge-patch+json")
        })
        .error_handler(json_error)
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let problem = match &err {
        JsonPayloadError::ContentType => ProblemKind::UnsupportedMediaType.problem("send the body as application/json"),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ProblemKind::PayloadTooLarge.problem(format!("the body must be at most {limit} bytes"))
        }
        JsonPayloadError::Deserialize(e) => ProblemKind::MalformedRequest.problem(format!("invalid JSON body: {e}")),
        _ => ProblemKind::MalformedRequest.problem("the body could not be read as JSON"),
    };
    InternalError::from_response(err, problem.to_actix_response()).into()
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        let problem = ProblemKind::Validation.problem(format!("invalid query string: {err}"));
        InternalError::from_response(err, problem.to_actix_response()).into()
    })
}

/// The HTTP status of an error of `kind`, as actix-web's type.
pub fn problem_status(kind: ProblemKind) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(kind.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// The problem+json response of an error of `kind`: its message as the
/// detail, except for internal errors and unavailable dependencies, whose
/// detail stays in the log and never reaches the caller.
pub fn problem_response(kind: ProblemKind, error: &dyn std::fmt::Display) -> HttpResponse {
    let detail = match kind {
        ProblemKind::Internal => {
            tracing::error!(error = %error, "request failed");
            "an internal error occurred; it has been logged".to_owned()
        }
        ProblemKind::Unavailable => {
            tracing::warn!(error = %error, "dependency unavailable");
            "the service is temporarily unavailable; retry shortly".to_owned()
        }
        _ => error.to_string(),
    };
    kind.problem(detail).to_actix_response()
}

/// For paths no route matches.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ProblemKind::NotFound.problem(format!("no route for {}", req.path())).to_actix_response()
}

/// For a known path with a method it does not take.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ProblemKind::MethodNotAllowed.problem(format!("{} does not take {}", req.path(), req.method())).to_actix_response()
}
