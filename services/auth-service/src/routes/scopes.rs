//! `GET /v1/platform/scopes`: the scope catalog.

use actix_web::{HttpResponse, web};
use argus_authn::Principal;
use argus_http::openapi::BearerErrors;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeView {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeCatalog {
    pub scopes: Vec<ScopeView>,
}

/// List available scopes
///
/// The scope catalog that external apps can request during registration and
/// token issuance. Any valid access token may read it.
#[utoipa::path(
    get,
    path = "/v1/platform/scopes",
    tag = "Identity and app registration",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The catalog", body = ScopeCatalog),
        BearerErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_scopes(_caller: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let scopes = state
        .store
        .published_scopes()
        .await?
        .into_iter()
        .map(|s| ScopeView { name: s.name, description: s.description })
        .collect();
    Ok(HttpResponse::Ok().json(ScopeCatalog { scopes }))
}
