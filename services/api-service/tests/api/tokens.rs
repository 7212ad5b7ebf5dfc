//! Token verification against the auth-service's JWKS: unknown keys, and
//! serving from the cache while the auth-service is down (the sandbox's
//! gates are in `sandbox.rs`).

use std::time::Duration;

use serde_json::{Value, json};

use argus_store::bundles::BundleOperation;

use crate::helpers::{Stack, TestClient, code, op, post, sign};

/// A stack with the shipped `reporting` bundle, and a client of a new
/// tenant holding `scopes` and granted the bundle.
async fn reporting_client(scopes: &[&str]) -> (Stack, Vec<BundleOperation>, TestClient) {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("reporting").await;
    let client = stack.client(None, scopes).await;
    stack.grant(&client, "reporting").await;
    (stack, ops, client)
}

#[tokio::test]
async fn tokens_signed_by_a_key_outside_the_jwks_are_refused() {
    let stack = Stack::start().await;
    let client = stack.client(None, &["incidents:read"]).await;
    let tenant = client.tenant.clone();
    // A well-formed key with a plausible kid that the JWKS does not list.
    let pem = argus_crypto::generate_signing_key_pem().unwrap();
    let rogue = argus_crypto::SigningKey::from_pkcs8_pem(argus_types::KeyId::generate().as_str(), &pem).unwrap();
    let forged = sign(&rogue, &tenant, &client.client_id, "api.knogin.com", &["incidents:read"]);
    let r = post(&stack.http, &stack.api, Some(&forged), Some(tenant.as_str()), json!({ "query": "{ a }" })).await;
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "UNAUTHENTICATED");

    // The same key claiming the current kid fails on the signature.
    let current = argus_store::testing::current_signing_key(&stack.store).await;
    let impostor = argus_crypto::SigningKey::from_pkcs8_pem(current.kid(), &pem).unwrap();
    let forged = sign(&impostor, &tenant, &client.client_id, "api.knogin.com", &["incidents:read"]);
    let r = post(&stack.http, &stack.api, Some(&forged), Some(tenant.as_str()), json!({ "query": "{ a }" })).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_api_verifies_from_its_cache_while_the_auth_service_is_down() {
    let (stack, ops, client) = reporting_client(&["incidents:read"]).await;
    let token = stack.cc_token(&client, None).await;
    let tenant = client.tenant.to_string();
    let report = json!({ "id": format!("sha256:{}", op(&ops, "IncidentReport").sha256) });
    assert_eq!(post(&stack.http, &stack.api, Some(&token), Some(&tenant), report.clone()).await.status(), 200);

    stack.auth_server.stop(false).await;
    let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    assert!(probe.get(format!("{}/.well-known/jwks.json", stack.auth)).send().await.is_err(), "auth-service still up");

    // The token the auth-service issued, and a fresh one signed by the same
    // (cached) key, both verify.
    for t in [token, stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["incidents:read"]).await] {
        let r = post(&stack.http, &stack.api, Some(&t), Some(&tenant), report.clone()).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert!(body["errors"].is_null(), "{body}");
    }
    // An unknown kid is still refused, promptly, however often it is sent.
    let pem = argus_crypto::generate_signing_key_pem().unwrap();
    let rogue = argus_crypto::SigningKey::from_pkcs8_pem(argus_types::KeyId::generate().as_str(), &pem).unwrap();
    let forged = sign(&rogue, &client.tenant, &client.client_id, "api.knogin.com", &["incidents:read"]);
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let r = post(&stack.http, &stack.api, Some(&forged), Some(&tenant), report.clone()).await;
        assert_eq!(r.status(), 401);
        assert!(started.elapsed() < Duration::from_secs(6));
    }
}

/// Polls `status` until it answers 401, failing after a second.
async fn refused_within_a_second(what: &str, status: impl AsyncFn() -> u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        match status().await {
            401 => return,
            _ if std::time::Instant::now() >= deadline => panic!("{what} still accepts the revoked token after 1 s"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn a_token_revoked_at_the_auth_service_is_refused_by_the_api_within_a_second() {
    let (stack, ops, client) = reporting_client(&["incidents:read", "jobs:read"]).await;
    let token = stack.cc_token(&client, None).await;
    let kept = stack.cc_token(&client, None).await;
    let tenant = client.tenant.to_string();
    let report = json!({ "id": format!("sha256:{}", op(&ops, "IncidentReport").sha256), "variables": { "first": 5 } });
    let graphql = async |token: &str| post(&stack.http, &stack.api, Some(token), Some(&tenant), report.clone()).await;
    let jobs = async |token: &str| {
        let r = stack.http.get(format!("{}/v1/jobs", stack.api)).bearer_auth(token).header("X-Tenant-ID", &tenant);
        r.send().await.unwrap().status().as_u16()
    };
    // Both verified once, so GraphQL's verified-token cache holds them.
    assert_eq!(graphql(&token).await.status(), 200);
    assert_eq!(jobs(&token).await, 200);

    let r = stack
        .http
        .post(format!("{}/v1/oauth/revoke", stack.auth))
        .basic_auth(&client.client_id, Some(&client.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    refused_within_a_second("GraphQL", async || graphql(&token).await.status().as_u16()).await;
    let body: Value = graphql(&token).await.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED");
    refused_within_a_second("GET /v1/jobs", async || jobs(&token).await).await;
    assert_eq!(graphql(&kept).await.status(), 200, "another token of the same client still works");
    assert_eq!(jobs(&kept).await, 200);
}
