use argus_store::PageRequest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, confidential_app, expect_problem};

#[tokio::test]
async fn malformed_requests_are_4xx_problems_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant("A").await;
    let post = |body: reqwest::Body, content_type: &'static str| {
        app.http.post(app.url("/v1/platform/apps")).bearer_auth(&token).header("content-type", content_type).body(body)
    };

    let r = post("{not json".into(), "application/json").send().await.unwrap();
    expect_problem(r, 400, "malformed-request").await;

    let r = post(confidential_app().to_string().into(), "text/plain").send().await.unwrap();
    expect_problem(r, 415, "unsupported-media-type").await;

    let huge = json!({"name": "x".repeat(70_000), "grant_types": [], "requested_scopes": []});
    let r = post(huge.to_string().into(), "application/json").send().await.unwrap();
    expect_problem(r, 413, "payload-too-large").await;

    let mut extra = confidential_app();
    extra["is_admin"] = json!(true);
    let r = post(extra.to_string().into(), "application/json").send().await.unwrap();
    let problem = expect_problem(r, 400, "malformed-request").await;
    assert!(problem["detail"].as_str().unwrap().contains("unknown field `is_admin`"));

    let r = post(json!({"name": 5}).to_string().into(), "application/json").send().await.unwrap();
    expect_problem(r, 400, "malformed-request").await;

    let r = post(json!([1, 2]).to_string().into(), "application/json").send().await.unwrap();
    expect_problem(r, 400, "malformed-request").await;

    let r = post("\u{0}\u{1}\u{2}".into(), "application/json").send().await.unwrap();
    expect_problem(r, 400, "malformed-request").await;

    assert!(app.store.list_apps(&tenant, &PageRequest { after: None, limit: 10 }).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/v1/nothing-here")).send().await.unwrap();
    expect_problem(r, 404, "not-found").await;
    let r = app.http.delete(app.url("/v1/platform/apps")).send().await.unwrap();
    expect_problem(r, 405, "method-not-allowed").await;
    let r = app.http.post(app.url("/.well-known/jwks.json")).send().await.unwrap();
    expect_problem(r, 405, "method-not-allowed").await;
}

/// RFC 9110, 15.5.6: a 405 names the methods the path does serve.
#[tokio::test]
async fn a_method_a_path_does_not_serve_is_405_with_allow() {
    let app = TestApp::spawn().await;
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/v1/oauth/token", "POST"),
        (reqwest::Method::DELETE, "/v1/platform/apps", "GET, POST"),
        (reqwest::Method::PATCH, "/v1/webhooks/wh_1", "GET, PUT, DELETE"),
        (reqwest::Method::POST, "/healthz", "GET"),
    ] {
        let r = app.http.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(r.headers().get("allow").map(|v| v.to_str().unwrap()), Some(allow), "{method} {path}");
        let problem = expect_problem(r, 405, "method-not-allowed").await;
        assert_eq!(problem["detail"], format!("{path} does not take {method}"));
    }
}

#[tokio::test]
async fn scope_catalog_lists_the_contract_scopes_for_any_valid_token() {
    let app = TestApp::spawn().await;
    let (tenant, _) = app.tenant("A").await;
    let token = app.token(&tenant, &["webhooks:read"]).await;
    let r = app.get(&token, "/v1/platform/scopes").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let scopes = body["scopes"].as_array().unwrap();
    let names: Vec<&str> = scopes.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"platform:admin"), "the tenant admin's scope is not requestable: {names:?}");
    for expected in [
        "webhooks:read",
        "webhooks:write",
        "incidents:read",
        "cases:write",
        "jobs:write",
        "epcr:read",
        "devices:write",
        "evidence:read",
        "traces:read",
        "schemas:read",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let write = scopes.iter().find(|s| s["name"] == "webhooks:write").unwrap();
    assert_eq!(write["description"], "Create and update outbound webhook subscriptions");

    let r = app.http.get(app.url("/v1/platform/scopes")).send().await.unwrap();
    expect_problem(r, 401, "unauthenticated").await;
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/.well-known/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/platform/scopes", "get"),
        ("/v1/platform/apps", "get"),
        ("/v1/platform/apps", "post"),
        ("/v1/platform/apps/{client_id}", "get"),
        ("/v1/platform/apps/{client_id}/governance", "patch"),
        ("/.well-known/jwks.json", "get"),
        ("/v1/auth/jwks.json", "get"),
        ("/.well-known/sandbox/jwks.json", "get"),
        ("/.well-known/sandbox/revocations.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/.well-known/openapi.json", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} undocumented");
    }
    assert!(doc["components"]["schemas"]["CreateAppRequest"].is_object());
    let yaml = app.http.get(app.url("/.well-known/openapi.yaml")).send().await.unwrap().text().await.unwrap();
    assert!(yaml.contains("/v1/platform/apps/{client_id}/governance"));
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
}

#[test]
fn the_binary_answers_version_and_help_listing_its_variables() {
    argus_http::testing::assert_binary_answers_flags(
        env!("CARGO_BIN_EXE_auth-service"),
        "auth-service",
        env!("CARGO_PKG_VERSION"),
    );
}
