//! `/.well-known/api-catalog` (RFC 9727) and the public status document
//! its `status` links name: the same on both hosts, each listing both APIs.

use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use argus_types::env::{ConfigError, var_or};
use serde_json::{Value, json};

use crate::endpoint::Endpoint;
use crate::health::{Readiness, public_status};

/// The API catalog's media type, with the RFC 9727 profile.
pub const API_CATALOG_TYPE: &str = r#"application/linkset+json; profile="https://www.rfc-editor.org/info/rfc9727""#;

/// Where the docs index is unless `ARGUS_DOCS_URL` says otherwise.
pub const DEFAULT_DOCS_URL: &str = "https://knogin.com/api/docs";

/// The variables [`PublicUrls::from_environment`] reads, for `--help`.
pub const DISCOVERY_ENVIRONMENT: &str = "\
  ARGUS_API_URL                  the API host's public URL, for the API catalog (default https://api.knogin.com; https://sandbox-api.knogin.com in the sandbox)
  ARGUS_DOCS_URL                 the docs index's public URL (default https://knogin.com/api/docs)
  ARGUS_DEPRECATIONS_FILE        the deprecation matrix (default the shipped docs/deprecations.yaml); a bad one stops the service";

/// The public addresses the catalog links to (no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    /// `ARGUS_API_URL`: the API host (default `https://api.knogin.com`, or
    /// `https://sandbox-api.knogin.com` in the sandbox).
    pub api: String,
    /// `ARGUS_ISSUER`: the auth host, which is the token issuer.
    pub auth: String,
    /// `ARGUS_DOCS_URL` (default `https://knogin.com/api/docs`): the docs
    /// index (JSON, or Markdown with `?format=markdown`).
    pub docs: String,
}

impl PublicUrls {
    /// `api` and `auth` with the default docs address.
    pub fn new(api: &str, auth: &str) -> Self {
        Self {
            api: api.trim_end_matches('/').to_owned(),
            auth: auth.trim_end_matches('/').to_owned(),
            docs: DEFAULT_DOCS_URL.to_owned(),
        }
    }

    /// Read with `issuer` (each service reads `ARGUS_ISSUER` already) and
    /// the API host's default for the environment.
    pub fn from_environment(issuer: &str, default_api: &str) -> Result<Self, ConfigError> {
        let url = |name: &'static str, value: String| {
            let value = value.trim_end_matches('/').to_owned();
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value)
            } else {
                Err(ConfigError { name, reason: format!("`{value}` is not an http(s) URL") })
            }
        };
        Ok(Self {
            api: url("ARGUS_API_URL", var_or("ARGUS_API_URL", default_api))?,
            auth: url("ARGUS_ISSUER", issuer.to_owned())?,
            docs: url("ARGUS_DOCS_URL", var_or("ARGUS_DOCS_URL", DEFAULT_DOCS_URL))?,
        })
    }

    /// The linkset: one item per API, anchored at its host.
    pub fn catalog(&self) -> Value {
        let link = |href: String, media: &str| json!({ "href": href, "type": media });
        let item = |host: &str, meta: Vec<Value>| {
            json!({
                "anchor": format!("{host}/"),
                "service-desc": [
                    link(format!("{host}/.well-known/openapi.json"), "application/openapi+json"),
                    link(format!("{host}/.well-known/openapi.yaml"), "application/openapi+yaml"),
                ],
                "service-doc": [link(format!("{}?format=markdown", self.docs), "text/markdown")],
                "service-meta": meta,
                "status": [link(format!("{host}/v1/status"), "application/json")],
            })
        };
        let docs_index = link(self.docs.clone(), "application/json");
        let oauth_metadata = link(format!("{}/.well-known/oauth-authorization-server", self.auth), "application/json");
        json!({ "linkset": [item(&self.api, vec![docs_index.clone()]), item(&self.auth, vec![oauth_metadata, docs_index])] })
    }

    /// `Link: <…/.well-known/api-catalog>; rel="api-catalog"` of `host`.
    fn catalog_link(host: &str) -> String {
        format!(r#"<{host}/.well-known/api-catalog>; rel="api-catalog""#)
    }
}

/// The catalog of both APIs, and, on `HEAD`, only the link to it.
#[utoipa::path(
    get,
    path = "/.well-known/api-catalog",
    tag = "Discovery",
    responses((status = 200, description = "RFC 9727 API catalog: both APIs with their OpenAPI documents, docs, metadata and status", content_type = "application/linkset+json"))
)]
pub async fn api_catalog(urls: web::Data<CatalogOf>) -> HttpResponse {
    catalog_head(&urls).json(urls.urls.catalog())
}

async fn api_catalog_head(urls: web::Data<CatalogOf>) -> HttpResponse {
    catalog_head(&urls).finish()
}

/// The headers `GET` and `HEAD` share: the media type and the link.
fn catalog_head(urls: &CatalogOf) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, API_CATALOG_TYPE))
        .insert_header((header::LINK, PublicUrls::catalog_link(&urls.host)));
    response
}

/// The catalog as one host serves it: the host whose `Link` it answers with.
#[derive(Debug, Clone)]
pub struct CatalogOf {
    pub urls: PublicUrls,
    pub host: String,
}

/// Public status
///
/// Whether the service can serve: `operational` or `degraded`, checked at
/// most every few seconds whatever the request rate, naming no dependency.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "Discovery",
    responses(
        (status = 200, description = "Operational", content_type = "application/json", example = json!({"status": "operational", "version": "0.1.0"})),
        (status = 503, description = "Degraded", content_type = "application/json", example = json!({"status": "degraded", "version": "0.1.0"})),
    )
)]
pub async fn status(readiness: web::Data<Readiness>) -> HttpResponse {
    let body = |status: &str| json!({ "status": status, "version": env!("CARGO_PKG_VERSION") });
    if public_status(&readiness).await {
        HttpResponse::Ok().json(body("operational"))
    } else {
        HttpResponse::ServiceUnavailable().json(body("degraded"))
    }
}

/// Registers `/.well-known/api-catalog` (GET and HEAD) and `/v1/status`;
/// `catalog` is the serving host's view.
pub fn configure(catalog: CatalogOf) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(catalog))
            .service(Endpoint::new("/.well-known/api-catalog").get(api_catalog).head(api_catalog_head))
            .service(Endpoint::new("/v1/status").get(status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_links_its_openapi_docs_metadata_and_status() {
        let urls = PublicUrls {
            api: "https://api.example".into(),
            auth: "https://auth.example".into(),
            docs: "https://example/api/docs".into(),
        };
        let catalog = urls.catalog();
        let items = catalog["linkset"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["anchor"], "https://api.example/");
        assert_eq!(items[0]["service-desc"][0]["href"], "https://api.example/.well-known/openapi.json");
        assert_eq!(items[1]["status"][0]["href"], "https://auth.example/v1/status");
        assert_eq!(items[1]["service-meta"][0]["href"], "https://auth.example/.well-known/oauth-authorization-server");
        for item in items {
            for rel in ["service-desc", "service-doc", "service-meta", "status"] {
                assert!(item[rel].as_array().is_some_and(|links| links.iter().all(|l| l["href"].is_string())), "{rel}");
            }
        }
        assert_eq!(
            PublicUrls::catalog_link("https://api.example"),
            r#"<https://api.example/.well-known/api-catalog>; rel="api-catalog""#
        );
    }
}
