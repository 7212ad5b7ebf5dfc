//! Health, readiness, problem+json and the OpenAPI document.

use api_service::config::Environment;
use argus_store::testing::TestDatabase;
use serde_json::Value;

use crate::helpers::{api_config, spawn_api};

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
    // The async jobs routes.
    let jobs = &doc["paths"]["/v1/jobs"];
    assert!(jobs["post"]["responses"]["202"].is_object() && jobs["post"]["responses"]["422"].is_object(), "{jobs}");
    assert!(jobs["post"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
    assert!(jobs["get"].is_object());
    let one = &doc["paths"]["/v1/jobs/{job_id}"];
    assert!(one["get"].is_object() && one["delete"]["responses"]["409"].is_object());
    assert!(doc["paths"]["/v1/jobs/{job_id}/result"]["get"]["responses"]["409"].is_object());
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

#[test]
fn the_binary_answers_version_and_help_listing_its_variables() {
    argus_http::testing::assert_binary_answers_flags(
        env!("CARGO_BIN_EXE_api-service"),
        "api-service",
        env!("CARGO_PKG_VERSION"),
    );
}
