//! The OpenAPI document, generated from the handlers, at
//! `/.well-known/openapi.json` (RFC 8615) and `.yaml`.

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use argus_telemetry::health;

use super::{apps, authorize, credentials, jwks, metadata, oauth, scopes, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Argus auth-service (auth.knogin.com)",
        description = "App registration, scopes, governance, OAuth 2.0 and JWKS for Argus external integrations."
    ),
    servers((url = "https://auth.knogin.com")),
    paths(
        scopes::list_scopes,
        apps::create_app,
        apps::list_apps,
        apps::get_app,
        apps::patch_governance,
        credentials::service_token,
        credentials::sandbox_token,
        credentials::rotate_secret,
        authorize::authorize,
        oauth::token,
        oauth::revoke,
        oauth::introspect,
        metadata::oauth_metadata,
        metadata::openid_configuration,
        webhooks::event_types,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::get_webhook,
        webhooks::update_webhook,
        webhooks::delete_webhook,
        webhooks::list_deliveries,
        webhooks::test_webhook,
        webhooks::retry_delivery,
        jwks::well_known_jwks,
        jwks::versioned_jwks,
        health::healthz,
        health::readyz,
        openapi_json,
        openapi_yaml,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// OpenAPI document (JSON)
#[utoipa::path(get, path = "/.well-known/openapi.json", tag = "Discovery", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> HttpResponse {
    match ApiDoc::openapi().to_json() {
        Ok(body) => HttpResponse::Ok().content_type("application/json").body(body),
        Err(e) => {
            tracing::error!(error = %e, "openapi serialisation failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// OpenAPI document (YAML)
#[utoipa::path(get, path = "/.well-known/openapi.yaml", tag = "Discovery", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_yaml() -> HttpResponse {
    match ApiDoc::openapi().to_yaml() {
        Ok(body) => HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/yaml")).body(body),
        Err(e) => {
            tracing::error!(error = %e, "openapi serialisation failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
