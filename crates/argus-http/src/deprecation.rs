//! The deprecation matrix (`docs/deprecations.yaml`): routes being retired
//! announce it on every answer (`Deprecation`, RFC 9745; `Sunset`, RFC 8594;
//! `Link` rels `deprecation`, `sunset` and `successor-version`) and answer
//! 410 naming the replacement once their sunset has passed.
//!
//! The file is checked when a service starts (a sunset never before its
//! deprecation, every route one the service serves); a bad file stops it.

use std::path::Path;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use argus_types::ProblemKind;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::openapi::path::PathItem;

use crate::problem::problem_response;

/// The project's matrix, as shipped.
pub const MATRIX: &str = include_str!("../../../docs/deprecations.yaml");

/// `Deprecation` (RFC 9745).
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
/// `Sunset` (RFC 8594).
const SUNSET: HeaderName = HeaderName::from_static("sunset");

/// One row of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Row {
    service: String,
    method: String,
    route: String,
    deprecated_at: DateTime<Utc>,
    sunset_at: Option<DateTime<Utc>>,
    replacement: String,
    link: String,
}

/// A route of this service being retired, its headers made once.
#[derive(Debug)]
struct Retiring {
    method: Method,
    route: ResourceDef,
    sunset_at: Option<DateTime<Utc>>,
    replacement: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// This service's retiring routes, and the clock their sunsets are read by.
#[derive(Clone)]
pub struct Deprecations {
    routes: Arc<Vec<Retiring>>,
    now: fn() -> DateTime<Utc>,
}

impl std::fmt::Debug for Deprecations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deprecations").field("routes", &self.routes).finish_non_exhaustive()
    }
}

/// What is wrong with a matrix: the row (from 1) and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deprecation matrix: {0}")]
pub struct MatrixError(String);

impl Deprecations {
    /// The matrix in `file` (default: the shipped [`MATRIX`]), the rows of
    /// `service`, each checked against `served` (the service's OpenAPI
    /// document: every route it serves).
    pub fn load(file: Option<&Path>, service: &str, served: &utoipa::openapi::OpenApi) -> Result<Self, MatrixError> {
        match file {
            None => Self::parse(MATRIX, service, served),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| MatrixError(format!("cannot read {}: {e}", path.display())))?;
                Self::parse(&text, service, served)
            }
        }
    }

    /// The rows of `text` for `service`, checked.
    pub fn parse(text: &str, service: &str, served: &utoipa::openapi::OpenApi) -> Result<Self, MatrixError> {
        let rows: Vec<Row> = yaml_serde::from_str(text).map_err(|e| MatrixError(e.to_string()))?;
        let mut routes = Vec::new();
        for (i, row) in rows.into_iter().enumerate().map(|(i, r)| (i + 1, r)) {
            if row.sunset_at.is_some_and(|s| s < row.deprecated_at) {
                return Err(MatrixError(format!("row {i}: sunset-at is before deprecated-at")));
            }
            if row.service != service {
                continue;
            }
            let method = Method::from_bytes(row.method.as_bytes())
                .map_err(|_| MatrixError(format!("row {i}: `{}` is not a method", row.method)))?;
            if !served.paths.paths.get(&row.route).is_some_and(|item| serves(item, &method)) {
                return Err(MatrixError(format!("row {i}: {service} does not serve {} {}", row.method, row.route)));
            }
            let value = |text: String| {
                HeaderValue::from_str(&text).map_err(|_| MatrixError(format!("row {i}: `{text}` cannot be a header")))
            };
            let mut links = vec![
                format!(r#"<{}>; rel="deprecation"; type="text/html""#, row.link),
                format!(r#"<{}>; rel="successor-version""#, row.replacement),
            ];
            let mut headers = vec![(DEPRECATION, value(format!("@{}", row.deprecated_at.timestamp()))?)];
            if let Some(sunset) = row.sunset_at {
                headers.push((SUNSET, value(http_date(sunset))?));
                links.push(format!(r#"<{}>; rel="sunset"; type="text/html""#, row.link));
            }
            headers.push((header::LINK, value(links.join(", "))?));
            routes.push(Retiring {
                method,
                route: ResourceDef::new(row.route.as_str()),
                sunset_at: row.sunset_at,
                replacement: row.replacement,
                headers,
            });
        }
        Ok(Self { routes: Arc::new(routes), now: Utc::now })
    }

    /// The same matrix read by another clock (tests of a sunset).
    #[must_use]
    pub fn with_clock(self, now: fn() -> DateTime<Utc>) -> Self {
        Self { now, ..self }
    }

    fn find(&self, method: &Method, path: &str) -> Option<&Retiring> {
        self.routes.iter().find(|r| r.method == method && r.route.is_match(path))
    }
}

/// Whether the document's path item has an operation for `method`.
fn serves(item: &PathItem, method: &Method) -> bool {
    let operation = match *method {
        Method::GET => &item.get,
        Method::POST => &item.post,
        Method::PUT => &item.put,
        Method::PATCH => &item.patch,
        Method::DELETE => &item.delete,
        Method::HEAD => &item.head,
        Method::OPTIONS => &item.options,
        Method::TRACE => &item.trace,
        _ => &None,
    };
    operation.is_some()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 IMF-fixdate).
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The middleware: a retiring route's answer gets its headers; after its
/// sunset it answers 410 instead. Without [`Deprecations`] in the app data
/// every request passes untouched.
pub async fn announce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let found = req.app_data::<web::Data<Deprecations>>().and_then(|d| {
        let retiring = d.find(req.method(), req.path())?;
        let gone = retiring.sunset_at.is_some_and(|s| (d.now)() >= s);
        Some((retiring.headers.clone(), gone.then(|| retiring.replacement.clone())))
    });
    let Some((headers, gone)) = found else { return Ok(next.call(req).await?.map_into_boxed_body()) };
    let mut response = match gone {
        Some(replacement) => {
            let detail = format!("{} {} has passed its sunset; use {replacement}", req.method(), req.path());
            req.into_response(problem_response(ProblemKind::Gone, &detail))
        }
        None => next.call(req).await?.map_into_boxed_body(),
    };
    for (name, value) in headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[utoipa::path(get, path = "/v1/old/{id}", responses((status = 200)))]
    #[allow(dead_code)]
    async fn old() {}

    #[derive(OpenApi)]
    #[openapi(paths(old))]
    struct Doc;

    const ROW: &str = "- service: svc\n  method: GET\n  route: /v1/old/{id}\n  deprecated-at: 2026-01-01T00:00:00Z\n  sunset-at: 2026-07-01T00:00:00Z\n  replacement: /v2/new/{id}\n  link: https://docs.example/old\n";

    #[test]
    fn the_shipped_matrix_holds_for_the_auth_service_only_routes() {
        // Parsed here for a service with no rows: the file's shape and dates hold.
        let doc = Doc::openapi();
        assert!(Deprecations::parse(MATRIX, "no-such-service", &doc).unwrap().routes.is_empty());
    }

    #[test]
    fn a_row_gives_its_headers_and_matches_its_route_template() {
        let d = Deprecations::parse(ROW, "svc", &Doc::openapi()).unwrap();
        let r = d.find(&Method::GET, "/v1/old/abc").unwrap();
        assert!(d.find(&Method::POST, "/v1/old/abc").is_none());
        assert!(d.find(&Method::GET, "/v1/old/abc/more").is_none());
        let h: Vec<(String, String)> =
            r.headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned())).collect();
        assert_eq!(h[0], ("deprecation".into(), "@1767225600".into()));
        assert_eq!(h[1], ("sunset".into(), "Wed, 01 Jul 2026 00:00:00 GMT".into()));
        assert_eq!(
            h[2].1,
            r#"<https://docs.example/old>; rel="deprecation"; type="text/html", </v2/new/{id}>; rel="successor-version", <https://docs.example/old>; rel="sunset"; type="text/html""#
        );
    }

    #[test]
    fn bad_matrices_are_refused_with_their_row() {
        let doc = Doc::openapi();
        let early = ROW.replace("sunset-at: 2026-07-01", "sunset-at: 2025-07-01");
        assert_eq!(
            Deprecations::parse(&early, "svc", &doc).unwrap_err().to_string(),
            "deprecation matrix: row 1: sunset-at is before deprecated-at"
        );
        let unknown = ROW.replace("/v1/old/{id}\n  deprecated", "/v1/gone\n  deprecated");
        assert!(Deprecations::parse(&unknown, "svc", &doc).unwrap_err().0.contains("does not serve GET /v1/gone"));
        let wrong_method = ROW.replace("method: GET", "method: DELETE");
        assert!(Deprecations::parse(&wrong_method, "svc", &doc).is_err());
        assert!(Deprecations::parse("- service: svc\n  colour: red\n", "svc", &doc).is_err());
        assert!(Deprecations::parse("not: [a list", "svc", &doc).is_err());
    }
}
