//! Data schemas (contract 2026.4, "Discovery and governance"):
//! `GET /v1/discovery/data-schemas` lists the JSON Schemas of the resource
//! types the caller can see, and `GET /v1/discovery/data-schemas/{name}`
//! answers one (`application/schema+json`). What a caller sees follows its
//! scopes and its tenant's configuration: the bundles granted to its app
//! (see `crate::data_schemas`).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use argus_authn::{Principal, SchemasRead, TenantScoped};
use argus_http::Endpoint;
use argus_http::openapi::{TenantHeader, TenantScopedErrors};
use argus_store::Store;

use crate::data_schemas::{DataSchemaList, DataSchemas};
use crate::error::ApiError;
use crate::graphql::surface::Usage;

/// The media type of one schema (draft 2020-12 §14.2).
pub const SCHEMA_JSON: &str = "application/schema+json";

/// Each caller's answer is its own.
const PRIVATE: &str = "private, no-cache";

/// What the bundles granted to the caller's app select.
async fn granted_usage(store: &Store, schemas: &DataSchemas, caller: &Principal) -> Result<Usage, ApiError> {
    let documents = store.granted_documents(&caller.tenant, &caller.client_id).await?;
    Ok(schemas.graphql().usage(documents.iter().map(String::as_str)))
}

/// List visible data schemas for the caller
///
/// The JSON Schemas (draft 2020-12) of the resource types the token's
/// scopes read: REST resources (named as the OpenAPI document's
/// components) by scope, GraphQL objects by scope and only when a bundle
/// granted to the calling app uses them, with the fields those bundles
/// select. Sorted by name.
#[utoipa::path(
    get,
    path = "/v1/discovery/data-schemas",
    tag = "Discovery",
    security(("bearer" = ["schemas:read"])),
    params(TenantHeader),
    responses(
        (status = 200, description = "The schemas the caller can see", body = DataSchemaList, example = json!({
            "schemas": [
                {
                    "name": "Incident",
                    "description": "An incident: something that happened, reported once and closed when dealt with.",
                    "surface": "graphql",
                    "scope": "incidents:read",
                    "url": "https://api.knogin.com/v1/discovery/data-schemas/Incident"
                },
                {
                    "name": "JobView",
                    "description": null,
                    "surface": "rest",
                    "scope": "jobs:read",
                    "url": "https://api.knogin.com/v1/discovery/data-schemas/JobView"
                }
            ]
        })),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_data_schemas(
    caller: TenantScoped<SchemasRead>,
    store: web::Data<Store>,
    schemas: web::Data<DataSchemas>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal();
    let usage = granted_usage(&store, &schemas, principal).await?;
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, PRIVATE)).json(schemas.list(|s| principal.has(s), &usage)))
}

/// Get a data schema
///
/// One resource type's JSON Schema (draft 2020-12), its `$id` this URL.
/// A name the caller cannot see (a scope it lacks, a GraphQL type no
/// bundle granted to its app uses) is a 404, like a name that does not
/// exist.
#[utoipa::path(
    get,
    path = "/v1/discovery/data-schemas/{name}",
    tag = "Discovery",
    security(("bearer" = ["schemas:read"])),
    params(("name" = String, Path, description = "A name from the list, e.g. `JobView` or `Incident`"), TenantHeader),
    responses(
        (status = 200, description = "The schema", content_type = "application/schema+json", body = Object, example = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://api.knogin.com/v1/discovery/data-schemas/Incident",
            "title": "Incident",
            "description": "An incident: something that happened, reported once and closed when dealt with.",
            "type": "object",
            "properties": {
                "id": { "type": "string" },
                "title": { "type": "string" },
                "status": { "type": "string", "enum": ["OPEN", "CLOSED"] },
                "closedAt": { "anyOf": [{ "type": "string", "format": "date-time" }, { "type": "null" }] }
            },
            "additionalProperties": false
        })),
        (status = 404, description = "No such schema, or not one the caller can see"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_data_schema(
    caller: TenantScoped<SchemasRead>,
    store: web::Data<Store>,
    schemas: web::Data<DataSchemas>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.principal();
    let usage = granted_usage(&store, &schemas, principal).await?;
    let schema = schemas.schema(&path, |s| principal.has(s), &usage).ok_or_else(|| {
        let shown: String = path.chars().take(64).collect();
        ApiError::NotFound(format!("no data schema `{}` for this caller", shown.escape_debug()))
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, SCHEMA_JSON))
        .insert_header((CACHE_CONTROL, PRIVATE))
        .body(schema.to_string()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/v1/discovery/data-schemas").get(list_data_schemas))
        .service(Endpoint::new("/v1/discovery/data-schemas/{name}").get(get_data_schema));
}
