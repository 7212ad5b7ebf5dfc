//! Health, readiness, problem+json and the OpenAPI document.

use api_service::config::Environment;
use argus_store::testing::TestDatabase;
use serde_json::Value;

use crate::helpers::{ISSUER, api_config, spawn_api, spawn_auth};

#[tokio::test]
async fn health_readiness_and_unknown_routes() {
    let db = TestDatabase::create().await;
    let base = spawn_api(api_config(db.url(), "http://127.0.0.1:1/jwks.json", Environment::Live)).await;
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["version"], env!("CARGO_PKG_VERSION"));
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "ok");
    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let wrong_method = reqwest::Client::new().delete(format!("{base}/graphql")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
}

/// RFC 9110, 15.5.6: a 405 names the methods the path does serve.
#[tokio::test]
async fn a_method_a_path_does_not_serve_is_405_with_allow() {
    let db = TestDatabase::create().await;
    let base = spawn_api(api_config(db.url(), "http://127.0.0.1:1/jwks.json", Environment::Live)).await;
    let http = reqwest::Client::new();
    for (method, path, allow) in [
        (reqwest::Method::PATCH, "/v1/jobs", "POST, GET"),
        (reqwest::Method::PUT, "/v1/jobs/job_1", "GET, DELETE"),
        (reqwest::Method::DELETE, "/graphql", "POST, GET"),
        (reqwest::Method::POST, "/readyz", "GET"),
    ] {
        let r = http.request(method.clone(), format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(r.headers().get("allow").map(|v| v.to_str().unwrap()), Some(allow), "{method} {path}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["type"], "https://knogin.com/api/problems/method-not-allowed");
        assert_eq!(problem["detail"], format!("{path} does not take {method}"));
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_transport() {
    let db = TestDatabase::create().await;
    let base = spawn_api(api_config(db.url(), "http://127.0.0.1:1/jwks.json", Environment::Live)).await;
    let doc: Value = reqwest::get(format!("{base}/.well-known/openapi.json")).await.unwrap().json().await.unwrap();
    let post = &doc["paths"]["/graphql"]["post"];
    assert!(post["responses"]["401"].is_object(), "{post}");
    assert!(post["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "X-Tenant-ID"));
    assert!(doc["paths"]["/healthz"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
    assert_eq!(flows["clientCredentials"]["tokenUrl"], "https://auth.knogin.com/v1/oauth/token");
    assert_eq!(flows["authorizationCode"]["authorizationUrl"], "https://auth.knogin.com/v1/oauth/authorize");
    for scope in ["jobs:read", "epcr:read", "evidence:verify"] {
        assert!(flows["clientCredentials"]["scopes"][scope].is_string(), "{scope} in {flows}");
    }
    // The async jobs routes.
    let jobs = &doc["paths"]["/v1/jobs"];
    assert!(jobs["post"]["responses"]["202"].is_object() && jobs["post"]["responses"]["422"].is_object(), "{jobs}");
    assert!(jobs["post"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
    assert!(jobs["get"].is_object());
    let one = &doc["paths"]["/v1/jobs/{id}"];
    assert!(one["get"].is_object() && one["delete"]["responses"]["409"].is_object());
    assert!(doc["paths"]["/v1/jobs/{id}/result"]["get"]["responses"]["409"].is_object());
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_unreachable() {
    let base =
        spawn_api(api_config("postgres://postgres@127.0.0.1:1/argus", "http://127.0.0.1:1/j", Environment::Live)).await;
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "unreachable");
}

/// RFC 9727: both hosts answer `/.well-known/api-catalog` with a linkset
/// of both APIs, `HEAD` with only the `api-catalog` link, and the status
/// the catalog links to is public.
#[tokio::test]
async fn both_hosts_serve_the_api_catalog_and_a_public_status() {
    let db = TestDatabase::create().await;
    let api = spawn_api(api_config(db.url(), "http://127.0.0.1:1/jwks.json", Environment::Live)).await;
    let (auth, _handle) = spawn_auth(db.url()).await;
    let http = reqwest::Client::new();
    for (base, host) in [(&api, "https://api.knogin.com"), (&auth, ISSUER)] {
        let r = http.get(format!("{base}/.well-known/api-catalog")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            r#"application/linkset+json; profile="https://www.rfc-editor.org/info/rfc9727""#
        );
        assert_eq!(
            r.headers()["link"].to_str().unwrap(),
            format!(r#"<{host}/.well-known/api-catalog>; rel="api-catalog""#)
        );
        let catalog: Value = r.json().await.unwrap();
        let anchors: Vec<&str> =
            catalog["linkset"].as_array().unwrap().iter().map(|i| i["anchor"].as_str().unwrap()).collect();
        assert_eq!(anchors, ["https://api.knogin.com/", &format!("{ISSUER}/")]);
        let item = &catalog["linkset"][0];
        assert_eq!(item["service-desc"][0]["href"], "https://api.knogin.com/.well-known/openapi.json");
        assert_eq!(item["status"][0]["href"], "https://api.knogin.com/v1/status");
        assert!(item["service-doc"][0]["href"].as_str().unwrap().starts_with("https://knogin.com/api/docs"));

        let head = http.head(format!("{base}/.well-known/api-catalog")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(
            head.headers()["link"].to_str().unwrap(),
            format!(r#"<{host}/.well-known/api-catalog>; rel="api-catalog""#)
        );
        assert!(head.bytes().await.unwrap().is_empty());
        let post = http.post(format!("{base}/.well-known/api-catalog")).send().await.unwrap();
        assert_eq!((post.status().as_u16(), post.headers()["allow"].to_str().unwrap()), (405, "GET, HEAD"));

        // Every link the catalog gives for this host's OpenAPI answers.
        for doc in ["openapi.json", "openapi.yaml"] {
            assert_eq!(
                http.get(format!("{base}/.well-known/{doc}")).send().await.unwrap().status(),
                200,
                "{base} {doc}"
            );
        }
        let status = http.get(format!("{base}/v1/status")).send().await.unwrap();
        assert_eq!(status.status(), 200);
        let status: Value = status.json().await.unwrap();
        assert_eq!(status["status"], "operational");
        assert!(status.get("checks").is_none(), "the public status names no dependency: {status}");
    }
    let doc: Value = http.get(format!("{api}/.well-known/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(
        doc["paths"]["/.well-known/api-catalog"]["get"].is_object() && doc["paths"]["/v1/status"]["get"].is_object()
    );
}

#[tokio::test]
async fn the_public_status_is_degraded_while_the_database_is_unreachable() {
    let base =
        spawn_api(api_config("postgres://postgres@127.0.0.1:1/argus", "http://127.0.0.1:1/j", Environment::Live)).await;
    let status = reqwest::get(format!("{base}/v1/status")).await.unwrap();
    assert_eq!(status.status(), 503);
    assert_eq!(
        status.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "degraded", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[test]
fn the_binary_answers_version_and_help_listing_its_variables() {
    argus_http::testing::assert_binary_answers_flags(
        env!("CARGO_BIN_EXE_api-service"),
        "api-service",
        env!("CARGO_PKG_VERSION"),
    );
}
