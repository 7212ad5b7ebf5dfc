//! Authorization server metadata (RFC 8414), also at the OpenID discovery
//! path so OIDC-minded client libraries find the endpoints. Argus issues no
//! ID tokens, so the document claims no OpenID Connect features.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

async fn document(state: &AppState) -> Result<Value, ApiError> {
    let issuer = state.tokens.issuer.trim_end_matches('/');
    let scopes: Vec<String> = state.store.published_scopes().await?.into_iter().map(|s| s.name).collect();
    Ok(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/v1/oauth/authorize"),
        "token_endpoint": format!("{issuer}/v1/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/v1/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/v1/oauth/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": "https://knogin.com/api/docs",
    }))
}

fn respond(doc: Result<Value, ApiError>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=3600")).json(doc?))
}

/// OAuth 2.0 authorization server metadata (RFC 8414)
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "Discovery", responses((status = 200, description = "Metadata")))]
pub async fn oauth_metadata(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    respond(document(&state).await)
}

/// The same metadata at the OpenID discovery path
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "Discovery", responses((status = 200, description = "Metadata")))]
pub async fn openid_configuration(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    respond(document(&state).await)
}
