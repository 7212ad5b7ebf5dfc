//! Serving a service's OpenAPI document, the same way on every service.

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Adds the `bearer` (JWT) security scheme the routes refer to.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document as JSON.
pub fn json_response(doc: &OpenApi) -> HttpResponse {
    match doc.to_json() {
        Ok(body) => HttpResponse::Ok().content_type("application/json").body(body),
        Err(e) => {
            tracing::error!(error = %e, "openapi serialisation failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The document as YAML.
pub fn yaml_response(doc: &OpenApi) -> HttpResponse {
    match doc.to_yaml() {
        Ok(body) => HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/yaml")).body(body),
        Err(e) => {
            tracing::error!(error = %e, "openapi serialisation failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
