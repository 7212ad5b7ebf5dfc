use argus_crypto::{SigningKey, generate_signing_key_pem};
use argus_store::PageRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, ISSUER, TestApp, expect_problem};

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let r = app.get(token, "/v1/platform/apps").await;
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let problem = expect_problem(r, 401, "unauthenticated").await;
    let challenge = challenge.unwrap_or_else(|| panic!("{why}: no WWW-Authenticate"));
    assert!(challenge.starts_with("Bearer "), "{why}: {challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{why}: {challenge}");
    assert!(problem["detail"].is_string(), "{why}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn claims_for(tenant: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER, "sub": "admin:x", "aud": AUDIENCE, "exp": now + 600, "iat": now,
        "jti": "j", "client_id": "argusctl", "scope": "platform:admin", "tid": tenant
    })
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (tenant, good) = app.tenant("A").await;
    assert_eq!(app.get(&good, "/v1/platform/apps").await.status(), 200, "control: the good token works");
    let key = app.current_key().await;
    let claims = claims_for(tenant.as_str());

    // alg: none, no signature.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()})), b64(&claims));
    assert_refused(&app, &none, "alg none").await;

    // HS256 keyed with the public key (the classic algorithm confusion).
    let public_key_json = serde_json::to_vec(key.jwk()).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(key.kid().to_owned());
    hs_header.typ = Some("at+jwt".into());
    for secret in [public_key_json.as_slice(), key.jwk().n.as_bytes()] {
        let hs = jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(secret)).unwrap();
        assert_refused(&app, &hs, "HS256 with the public key").await;
    }

    let expired = app.token_with(&tenant, &["platform:admin"], ISSUER, AUDIENCE, Duration::seconds(-120)).await;
    assert_refused(&app, &expired, "expired").await;

    let wrong_iss =
        app.token_with(&tenant, &["platform:admin"], "https://evil.example", AUDIENCE, Duration::hours(1)).await;
    assert_refused(&app, &wrong_iss, "wrong issuer").await;

    let sandbox = app.token_with(&tenant, &["platform:admin"], ISSUER, "sandbox", Duration::hours(1)).await;
    assert_refused(&app, &sandbox, "sandbox audience").await;

    // Signed by a key the service has never published.
    let stranger = SigningKey::from_pkcs8_pem(key.kid(), &generate_signing_key_pem().unwrap()).unwrap();
    let forged = stranger.sign("at+jwt", &claims).unwrap();
    assert_refused(&app, &forged, "unpublished key under a known kid").await;
    let unknown_kid = SigningKey::from_pkcs8_pem("key_unknown", &generate_signing_key_pem().unwrap()).unwrap();
    assert_refused(&app, &unknown_kid.sign("at+jwt", &claims).unwrap(), "unknown kid").await;

    // A correctly signed token that is not an access token.
    assert_refused(&app, &key.sign("JWT", &claims).unwrap(), "typ JWT").await;

    // A tampered payload under a valid signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut tampered_claims = claims.clone();
    tampered_claims["scope"] = json!("platform:admin webhooks:write");
    let tampered = format!("{}.{}.{}", parts[0], b64(&tampered_claims), parts[2]);
    assert_refused(&app, &tampered, "tampered payload").await;

    for garbage in ["", "x", "a.b.c", "....", "Bearer", &"A".repeat(10_000)] {
        assert_refused(&app, garbage, "garbage").await;
    }
}

#[tokio::test]
async fn missing_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/v1/platform/apps")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    expect_problem(r, 401, "unauthenticated").await;

    let r =
        app.http.get(app.url("/v1/platform/apps")).header("authorization", "Basic dXNlcjpwdw==").send().await.unwrap();
    expect_problem(r, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_token_without_platform_admin_is_403_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, _) = app.tenant("A").await;
    let token = app.token(&tenant, &["webhooks:write"]).await;
    let r = app.create_app(&token, crate::helpers::confidential_app()).await;
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"platform:admin\""));
    expect_problem(r, 403, "forbidden").await;
    assert!(app.store.list_apps(&tenant, &PageRequest { after: None, limit: 10 }).await.unwrap().items.is_empty());
}
