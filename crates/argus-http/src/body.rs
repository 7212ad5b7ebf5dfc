//! Request bodies and query strings: size limits, the content types each
//! body is read as, and problem+json for every way one can be malformed.

use actix_web::error::{InternalError, JsonPayloadError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use argus_types::ProblemKind;
use argus_types::problem::actix_response;
use futures_util::StreamExt;

/// Bodies on this API are small JSON documents (or forms).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// The media types a body is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl MediaType {
    /// Whether `mime` is this type, whatever its parameters (`charset`).
    pub fn matches(self, mime: &mime::Mime) -> bool {
        mime.type_() == mime::APPLICATION
            && match self {
                Self::Json => mime.subtype() == mime::JSON,
                Self::Form => mime.subtype() == mime::WWW_FORM_URLENCODED,
            }
    }
}

/// Whether the request's `Content-Type` says its body is `media`: the one
/// content-type rule of every route that reads a body by hand.
pub fn has_media_type(req: &HttpRequest, media: MediaType) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| media.matches(&m))
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit, declared (`Content-Length`) or as read.
    TooLarge,
    /// The connection failed while the body came in.
    Read,
}

/// The request body, refused once it passes `max` bytes (declared or read).
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload, max: usize) -> Result<web::BytesMut, BodyError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Read)?;
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `web::Json` extractor's rules: at most [`MAX_JSON_BODY`], errors as
/// problem+json, and a JSON content type, which actix takes to be any
/// `*/json` or `*+json` (so RFC 7396 merge patches too, for PATCH).
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_JSON_BODY).content_type_required(true).error_handler(json_error)
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
    InternalError::from_response(err, actix_response(&problem)).into()
}

/// The `web::Query` extractor's rules: a bad query string is a validation
/// problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        let problem = ProblemKind::Validation.problem(format!("invalid query string: {err}"));
        InternalError::from_response(err, actix_response(&problem)).into()
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn typed(value: &str) -> HttpRequest {
        TestRequest::default().insert_header((header::CONTENT_TYPE, value)).to_http_request()
    }

    #[actix_web::test]
    async fn json_bodies_take_json_and_merge_patches_and_refuse_others_as_problems() {
        use actix_web::{App, HttpResponse, test};
        let app = test::init_service(App::new().app_data(json_config()).route(
            "/",
            web::patch().to(|_: web::Json<serde_json::Value>| async { HttpResponse::NoContent().finish() }),
        ))
        .await;
        let send = |content_type: &'static str| {
            test::TestRequest::patch().uri("/").insert_header((header::CONTENT_TYPE, content_type)).set_payload("{}")
        };
        for accepted in ["application/json", "application/merge-patch+json"] {
            let response = test::call_service(&app, send(accepted).to_request()).await;
            assert_eq!(response.status(), 204, "{accepted}");
        }
        let refused = test::call_service(&app, send("text/plain").to_request()).await;
        assert_eq!(refused.status(), 415);
        assert_eq!(refused.headers().get(header::CONTENT_TYPE).unwrap(), "application/problem+json");
    }

    #[test]
    fn media_types_match_whatever_their_parameters() {
        assert!(has_media_type(&typed("application/json"), MediaType::Json));
        assert!(has_media_type(&typed("Application/JSON; charset=utf-8"), MediaType::Json));
        assert!(has_media_type(&typed("application/x-www-form-urlencoded; charset=utf-8"), MediaType::Form));
        assert!(!has_media_type(&typed("application/merge-patch+json"), MediaType::Json));
        assert!(!has_media_type(&typed("text/json"), MediaType::Json));
        assert!(!has_media_type(&typed("application/json"), MediaType::Form));
        assert!(!has_media_type(&typed("not a type"), MediaType::Json));
        assert!(!has_media_type(&TestRequest::default().to_http_request(), MediaType::Json));
    }
}
