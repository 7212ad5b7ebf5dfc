//! Serving a service's OpenAPI document, the same way on every service,
//! and the parts of it every service shares: the bearer and OAuth 2.0
//! security schemes and the problem+json error responses.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_types::SCOPE_CATALOG;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::security::{
    AuthorizationCode, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::{IntoParams, IntoResponses, Modify, PartialSchema, ToSchema};

use crate::endpoint::Endpoint;

/// Where the contract's auth host issues tokens (the OAuth 2.0 flows'
/// URLs are absolute).
const AUTH_HOST: &str = "https://auth.knogin.com";

/// Adds the `bearer` (JWT) security scheme the routes refer to, and
/// `oauth2`: how such a token is obtained (client credentials, or the
/// authorization code with PKCE), with every scope of the catalog.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        let scopes = || Scopes::from_iter(SCOPE_CATALOG.iter().map(|s| (s.name, s.description)));
        let token_url = format!("{AUTH_HOST}/v1/oauth/token");
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [
                    Flow::ClientCredentials(ClientCredentials::new(&token_url, scopes())),
                    Flow::AuthorizationCode(AuthorizationCode::new(
                        format!("{AUTH_HOST}/v1/oauth/authorize"),
                        &token_url,
                        scopes(),
                    )),
                ],
                "Access tokens from auth.knogin.com (RFC 9068 JWTs, verified against its JWKS); the authorization \
                 code flow requires PKCE (S256). Send them as bearer tokens.",
            )),
        );
    }
}

/// An RFC 9457 problem document, the body of every REST error (`application/problem+json`).
// Only the document's description: `argus_types::ProblemKind` writes them.
#[derive(ToSchema)]
pub struct Problem {
    /// `https://knogin.com/api/problems/<slug>`, stable per kind of error.
    #[schema(rename = "type")]
    pub problem_type: String,
    pub title: String,
    /// The HTTP status, again.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
}

/// The 400 of a body with bad fields: a [`Problem`] whose `invalid-params`
/// (RFC 9457 §3.2) names every bad field, and whose `detail` lists them in
/// one line (`name: reason; name: reason`). A route answering it says so
/// with `body = InvalidParamsProblem, content_type = PROBLEM_JSON`. The
/// same status answers a body that is not well-formed JSON, as a plain
/// `malformed-request` problem without `invalid-params`.
// Only the document's description: `HttpError::InvalidFields` writes them.
#[derive(ToSchema)]
pub struct InvalidParamsProblem {
    /// `https://knogin.com/api/problems/validation-failed`, or
    /// `…/malformed-request` for a body that is not well-formed JSON.
    #[schema(rename = "type")]
    pub problem_type: String,
    pub title: String,
    /// 400.
    pub status: u16,
    /// Every bad field and why, in one line.
    pub detail: String,
    /// Every bad field, in body order: its path in the body
    /// (`vital_signs[2].value`) and why it is refused. Absent when the
    /// body is not well-formed JSON.
    #[schema(rename = "invalid-params")]
    pub invalid_params: Option<Vec<argus_domain::FieldError>>,
}

/// The media type of every problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Makes every error response (4xx, 5xx) that declares no content of its
/// own a [`Problem`] in `application/problem+json`, so a route's
/// `responses` name only the status and what it means there. A route whose
/// error is something else (an RFC 6749 error, an HTML page) says so with
/// its `content_type`.
pub struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(Problem::name().into_owned(), Problem::schema());
        let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build();
        let operations = openapi.paths.paths.values_mut().flat_map(|item| {
            let methods = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            methods.into_iter().flatten()
        });
        for operation in operations {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && (status.starts_with('4') || status.starts_with('5'))
                    && response.content.is_empty()
                {
                    response.content.insert(PROBLEM_JSON.to_owned(), problem.clone().into());
                }
            }
        }
    }
}

/// The `X-Tenant-ID` header of a REST route (`argus_authn::TenantScoped`):
/// optional, the tenant being the token's.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct TenantHeader {
    /// Optional: the tenant is the token's `tid`; when sent, it must equal it
    #[param(rename = "X-Tenant-ID")]
    pub tenant: Option<String>,
}

/// The `X-Tenant-ID` header of the GraphQL transport, which the contract
/// requires.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct RequiredTenantHeader {
    /// The caller's tenant; must equal the token's `tid`
    #[param(rename = "X-Tenant-ID")]
    pub tenant: String,
}

/// The errors of a route that takes any valid bearer token
/// (`argus_authn::Principal`).
#[derive(IntoResponses)]
pub enum BearerErrors {
    /// Missing or invalid bearer token
    #[response(status = 401)]
    Unauthenticated,
}

/// The errors of a route that takes a bearer token with its scope
/// (`argus_authn::Scoped`). A route that names one of these statuses
/// after this type in its `responses` says what it means there instead.
#[derive(IntoResponses)]
pub enum ScopedErrors {
    /// Missing or invalid bearer token
    #[response(status = 401)]
    Unauthenticated,
    /// The token lacks the route's scope
    #[response(status = 403)]
    Forbidden,
}

/// The errors of a route that takes a bearer token with its scope and
/// `X-Tenant-ID` (`argus_authn::TenantScoped`).
#[derive(IntoResponses)]
pub enum TenantScopedErrors {
    /// Missing or invalid bearer token
    #[response(status = 401)]
    Unauthenticated,
    /// The token lacks the route's scope, or X-Tenant-ID is not the token's tenant
    #[response(status = 403)]
    Forbidden,
}

/// Adds the paths every public service serves alike
/// ([`crate::serve::common_routes`]) to its document. Listed before
/// [`ProblemResponses`] in `modifiers`, so their errors get its content too.
pub struct CommonPaths;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    crate::health::healthz,
    crate::health::readyz,
    openapi_json,
    openapi_yaml,
    crate::discovery::api_catalog,
    crate::discovery::status,
))]
struct CommonDoc;

impl Modify for CommonPaths {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi.paths.paths.extend(<CommonDoc as utoipa::OpenApi>::openapi().paths.paths);
    }
}

/// A service's OpenAPI document, built once at start, as the two document
/// routes serve it.
pub struct ServedDocument(OpenApi);

/// The routes of a service's OpenAPI document (RFC 8615's `.well-known`):
/// [`openapi_json`] and [`openapi_yaml`], serving `doc`.
pub fn configure(doc: OpenApi) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(ServedDocument(doc)))
            .service(Endpoint::new("/.well-known/openapi.json").get(openapi_json))
            .service(Endpoint::new("/.well-known/openapi.yaml").get(openapi_yaml));
    }
}

/// OpenAPI document (JSON)
#[utoipa::path(get, path = "/.well-known/openapi.json", tag = "Discovery", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json(doc: web::Data<ServedDocument>) -> HttpResponse {
    match doc.0.to_json() {
        Ok(body) => HttpResponse::Ok().content_type("application/json").body(body),
        Err(e) => serialisation_failed(&e),
    }
}

/// OpenAPI document (YAML)
#[utoipa::path(get, path = "/.well-known/openapi.yaml", tag = "Discovery", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_yaml(doc: web::Data<ServedDocument>) -> HttpResponse {
    match doc.0.to_yaml() {
        Ok(body) => HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/yaml")).body(body),
        Err(e) => serialisation_failed(&e),
    }
}

fn serialisation_failed(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %error, "openapi serialisation failed");
    HttpResponse::InternalServerError().finish()
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    /// A route with the three kinds of error response the modifier meets.
    #[utoipa::path(
        get,
        path = "/things/{id}",
        responses(
            (status = 200, description = "The thing"),
            (status = 404, description = "No such thing"),
            (status = 400, description = "An HTML page", content_type = "text/html"),
            ScopedErrors,
        )
    )]
    #[allow(dead_code)]
    fn get_thing() {}

    #[derive(OpenApi)]
    #[openapi(paths(get_thing), modifiers(&ProblemResponses))]
    struct Doc;

    #[test]
    fn error_responses_without_content_are_problems() {
        let doc = serde_json::to_value(Doc::openapi()).unwrap_or_default();
        let responses = &doc["paths"]["/things/{id}"]["get"]["responses"];
        let problem = serde_json::json!({"schema": {"$ref": "#/components/schemas/Problem"}});
        for status in ["401", "403", "404"] {
            assert_eq!(responses[status]["content"][PROBLEM_JSON], problem, "{status}: {responses}");
        }
        assert_eq!(responses["403"]["description"], "The token lacks the route's scope");
        assert!(
            responses["400"]["content"][PROBLEM_JSON].is_null() && responses["400"]["content"]["text/html"].is_object()
        );
        assert!(responses["200"]["content"].is_null());
        assert!(doc["components"]["schemas"]["Problem"]["properties"]["type"].is_object());
    }
}
