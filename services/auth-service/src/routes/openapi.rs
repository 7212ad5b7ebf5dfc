//! The OpenAPI document, generated from the handlers, at
//! `/.well-known/openapi.json` (RFC 8615) and `.yaml`.

use argus_http::openapi::{BearerAuth, CommonPaths, ProblemResponses};
use utoipa::OpenApi;

use super::webhooks::WebhookPaths;
use super::{apps, authorize, credentials, jwks, metadata, oauth, scopes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Argus auth-service (auth.knogin.com)",
        description = "App registration, scopes, governance, OAuth 2.0 and JWKS for Argus external integrations."
    ),
    servers((url = "https://auth.knogin.com", description = "auth: app registration, scopes, OAuth 2.0, JWKS and webhooks")),
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
        jwks::well_known_jwks,
        jwks::versioned_jwks,
        jwks::sandbox_jwks,
        jwks::sandbox_revocations,
    ),
    modifiers(&WebhookPaths, &CommonPaths, &BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;
