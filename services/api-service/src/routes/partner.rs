//! The partner contract files (docs index 2026.4, `partnerPortal`):
//! `GET /partners/contract/v2026.4/external-openapi.json` and
//! `GET /partners/contract/v2026.4/external.graphql`, for approved partners
//! only: a token with `schemas:read` of a tenant that `argusctl tenant
//! entitle --partner` entitled. Any other tenant gets a 403 saying how to
//! request access.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use argus_authn::{SchemasRead, TenantScoped};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::Store;
use argus_types::TenantId;

use crate::error::ApiError;
use crate::partner::{PartnerFiles, REQUEST_ACCESS_URL};

const OPENAPI_PATH: &str = "/partners/contract/v2026.4/external-openapi.json";
const GRAPHQL_PATH: &str = "/partners/contract/v2026.4/external.graphql";

/// What `external.graphql` is served as: GraphQL SDL, as text.
const SDL_TYPE: &str = "text/plain; charset=utf-8";

/// The same for every partner, but only for partners.
const PRIVATE: &str = "private, max-age=300";

/// Refuses a tenant that is not an approved partner, saying how to become one.
async fn entitled(store: &Store, tenant: &TenantId) -> Result<(), ApiError> {
    if store.is_partner(tenant).await? {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "the partner contract files are for approved partners, and this tenant is not one: request access at \
         {REQUEST_ACCESS_URL}; once approved, the tenant is entitled and the same token works"
    )))
}

/// Partner contract: merged OpenAPI document
///
/// Both hosts' public OpenAPI documents (api.knogin.com with its sandbox,
/// and auth.knogin.com) merged into one OpenAPI 3.1 document: `servers`
/// names each host, and every path carries the servers of the host that
/// serves it. For approved partners' tenants only.
#[utoipa::path(
    get,
    path = "/partners/contract/v2026.4/external-openapi.json",
    tag = "Partner contract",
    security(("bearer" = ["schemas:read"])),
    params(TenantHeader),
    responses(
        (status = 200, description = "The merged document", content_type = "application/json", body = Object, example = json!({
            "openapi": "3.1.0",
            "info": { "title": "Argus external API (partner contract)", "version": "2026.4.0" },
            "servers": [
                { "url": "https://api.knogin.com", "description": "api: the GraphQL transport and the REST API" },
                { "url": "https://auth.knogin.com", "description": "auth: app registration, scopes, OAuth 2.0, JWKS and webhooks" }
            ],
            "paths": {
                "/v1/jobs": { "servers": [{ "url": "https://api.knogin.com" }], "get": { "summary": "List jobs" } },
                "/v1/oauth/token": { "servers": [{ "url": "https://auth.knogin.com" }], "post": { "summary": "Exchange or mint access tokens" } }
            }
        })),
        TenantScopedErrors,
        (status = 403, description = "The token lacks `schemas:read`, or its tenant is not an approved partner: the problem's detail says how to request access", example = json!({
            "type": "https://knogin.com/api/problems/forbidden",
            "title": "The token does not allow this",
            "status": 403,
            "detail": "the partner contract files are for approved partners, and this tenant is not one: request access at https://knogin.com/en/docs/integration-guide#vendor-contact; once approved, the tenant is entitled and the same token works"
        })),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn external_openapi(
    caller: TenantScoped<SchemasRead>,
    store: web::Data<Store>,
    files: web::Data<PartnerFiles>,
) -> Result<HttpResponse, ApiError> {
    entitled(&store, caller.tenant()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, PRIVATE))
        .body(files.openapi.clone()))
}

/// Partner contract: GraphQL SDL
///
/// The schema language of the types and operations the curated bundles
/// use (docs/bundles): the `Query` and `Mutation` fields their operations
/// call, the fields they select on each object type, and the enums,
/// scalars and input objects those take, whole. A comment names each
/// bundle's operations. For approved partners' tenants only.
#[utoipa::path(
    get,
    path = "/partners/contract/v2026.4/external.graphql",
    tag = "Partner contract",
    security(("bearer" = ["schemas:read"])),
    params(TenantHeader),
    responses(
        (status = 200, description = "The SDL", content_type = "text/plain", body = String, example = "schema {\n  query: Query\n  mutation: Mutation\n}\n\ntype Incident {\n  id: ID!\n  title: String!\n}\n"),
        TenantScopedErrors,
        (status = 403, description = "The token lacks `schemas:read`, or its tenant is not an approved partner: the problem's detail says how to request access"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn external_graphql(
    caller: TenantScoped<SchemasRead>,
    store: web::Data<Store>,
    files: web::Data<PartnerFiles>,
) -> Result<HttpResponse, ApiError> {
    entitled(&store, caller.tenant()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, SDL_TYPE))
        .insert_header((CACHE_CONTROL, PRIVATE))
        .body(files.sdl.clone()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(OPENAPI_PATH).get(external_openapi))
        .service(Endpoint::new(GRAPHQL_PATH).get(external_graphql));
}
