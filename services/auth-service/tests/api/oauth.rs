//! The OAuth endpoints driven over HTTP, step by step, as a client and a
//! browser would.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, ISSUER, TestApp, expect_oauth_error, expect_problem, hidden_field, location_params};

const REDIRECT: &str = "https://integrator.example/callback";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub fn pkce_pair() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(argus_crypto::secrets::random_bytes::<48>());
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

pub fn authorize_query(client_id: &str, challenge: Option<&str>, scope: &str, state: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", state);
    if let Some(c) = challenge {
        q.append_pair("code_challenge", c).append_pair("code_challenge_method", "S256");
    }
    q.finish()
}

/// The authorization page of `query` as `browser` opens it.
async fn authorize_page(app: &TestApp, browser: &reqwest::Client, query: &str) -> String {
    browser.get(app.url(&format!("/v1/oauth/authorize?{query}"))).send().await.unwrap().text().await.unwrap()
}

/// Posts the sign-in form of `page` (its CSRF token and request) as
/// `browser`.
async fn post_sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let form = [
        ("email", email),
        ("password", password),
        ("csrf", &hidden_field(page, "csrf")),
        ("request", &hidden_field(page, "request")),
    ];
    browser.post(app.url("/v1/oauth/sign-in")).form(&form).send().await.unwrap()
}

/// Posts the consent form: `decision` on `request`, with `csrf`.
async fn post_consent(
    app: &TestApp,
    browser: &reqwest::Client,
    request: &str,
    decision: &str,
    csrf: &str,
) -> reqwest::Response {
    let form = [("request", request), ("decision", decision), ("csrf", csrf)];
    browser.post(app.url("/v1/oauth/consent")).form(&form).send().await.unwrap()
}

/// Signs in as the dispatcher in a fresh browser and consents to `scope`
/// for `s`'s app (PKCE `challenge`, `state`); returns the final response
/// (302 to the client).
async fn sign_in_and_consent(s: &Setup, challenge: &str, scope: &str, state: &str) -> reqwest::Response {
    let (app, browser) = (&s.app, &s.app.browserless());
    let query = authorize_query(&s.client_id, Some(challenge), scope, state);
    let page = browser.get(app.url(&format!("/v1/oauth/authorize?{query}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in"), "{html}");
    let signed_in = post_sign_in(app, browser, &html, "dispatcher@example.com", PASSWORD).await;
    assert_eq!(signed_in.status(), 303, "{}", signed_in.text().await.unwrap());
    let next = signed_in.headers()["location"].to_str().unwrap().to_owned();
    let consent = browser.get(app.url(&next)).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(html.contains("Read incidents through the GraphQL transport"), "scopes in words: {html}");
    post_consent(app, browser, &hidden_field(&html, "request"), "approve", &hidden_field(&html, "csrf")).await
}

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    admin: String,
    pub(crate) client_id: String,
    pub(crate) secret: String,
}

/// An app with the code, refresh and client-credentials grants, and a user
/// (`dispatcher@example.com`, [`PASSWORD`]) who can sign in.
pub(crate) async fn confidential_code_client() -> Setup {
    let app = TestApp::spawn().await;
    let (tenant, admin) = app.tenant("A").await;
    app.user(&tenant, "dispatcher@example.com", PASSWORD).await;
    let (client_id, secret) = app
        .register(
            &admin,
            json!({
                "name": "Dispatch console",
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "redirect_uris": [REDIRECT],
                "requested_scopes": ["incidents:read", "incidents:write", "webhooks:write"]
            }),
        )
        .await;
    Setup { app, admin, client_id, secret: secret.unwrap() }
}

async fn code_and_tokens(s: &Setup, scope: &str) -> (HashMap<String, String>, Value, String) {
    let (verifier, challenge) = pkce_pair();
    let done = sign_in_and_consent(s, &challenge, scope, "xyz").await;
    assert_eq!(done.status(), 302);
    let params = location_params(&done);
    let tokens = s
        .app
        .form(
            "/v1/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
            Some((&s.client_id, &s.secret)),
        )
        .await;
    assert_eq!(tokens.status(), 200);
    (params, tokens.json().await.unwrap(), verifier)
}

async fn introspect(s: &Setup, token: &str) -> Value {
    s.app.form("/v1/oauth/introspect", &[("token", token)], Some((&s.client_id, &s.secret))).await.json().await.unwrap()
}

#[tokio::test]
async fn client_credentials_issues_an_rfc9068_token_that_verifies_against_the_jwks() {
    let s = confidential_code_client().await;
    for basic in [true, false] {
        let r = if basic {
            s.app
                .form(
                    "/v1/oauth/token",
                    &[("grant_type", "client_credentials"), ("scope", "webhooks:write")],
                    Some((&s.client_id, &s.secret)),
                )
                .await
        } else {
            s.app
                .form(
                    "/v1/oauth/token",
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &s.client_id),
                        ("client_secret", &s.secret),
                        ("scope", "webhooks:write"),
                    ],
                    None,
                )
                .await
        };
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "webhooks:write");
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwks: JwkSet =
            s.app.http.get(s.app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        let claims: Value = jsonwebtoken::decode(token, &key, &v).unwrap().claims;
        assert_eq!(claims["sub"], s.client_id.as_str());
        assert_eq!(claims["client_id"], s.client_id.as_str());
        assert!(claims["tid"].as_str().unwrap().starts_with("ten_"));
        assert!(claims["jti"].as_str().unwrap().len() >= 32);
    }
    // No scope asked: every approved scope.
    let r =
        s.app.form("/v1/oauth/token", &[("grant_type", "client_credentials")], Some((&s.client_id, &s.secret))).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "incidents:read incidents:write webhooks:write");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc6749() {
    let s = confidential_code_client().await;
    let app = &s.app;
    let cc = [("grant_type", "client_credentials")];

    let r = app.form("/v1/oauth/token", &cc, Some((&s.client_id, "cs_wrong"))).await;
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    expect_oauth_error(r, 401, "invalid_client").await;
    expect_oauth_error(
        app.form("/v1/oauth/token", &cc, Some(("app_00000000000000000000000000", "x"))).await,
        401,
        "invalid_client",
    )
    .await;
    expect_oauth_error(app.form("/v1/oauth/token", &cc, None).await, 401, "invalid_client").await;
    expect_oauth_error(
        app.form(
            "/v1/oauth/token",
            &[("grant_type", "client_credentials"), ("scope", "jobs:write")],
            Some((&s.client_id, &s.secret)),
        )
        .await,
        400,
        "invalid_scope",
    )
    .await;
    expect_oauth_error(
        app.form("/v1/oauth/token", &[("grant_type", "password")], Some((&s.client_id, &s.secret))).await,
        400,
        "unsupported_grant_type",
    )
    .await;
    expect_oauth_error(
        app.form("/v1/oauth/token", &[("scope", "x")], Some((&s.client_id, &s.secret))).await,
        400,
        "invalid_request",
    )
    .await;
    expect_oauth_error(
        app.form(
            "/v1/oauth/token",
            &[("grant_type", "client_credentials"), ("client_secret", &s.secret)],
            Some((&s.client_id, &s.secret)),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    let repeated = app
        .http
        .post(app.url("/v1/oauth/token"))
        .basic_auth(&s.client_id, Some(&s.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=a&scope=b")
        .send()
        .await
        .unwrap();
    expect_oauth_error(repeated, 400, "invalid_request").await;
    let as_json = app
        .http
        .post(app.url("/v1/oauth/token"))
        .basic_auth(&s.client_id, Some(&s.secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    expect_oauth_error(as_json, 400, "invalid_request").await;

    // An app without the client_credentials grant.
    let (code_only, secret) = app
        .register(&s.admin, json!({"name": "c", "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "requested_scopes": ["incidents:read"]}))
        .await;
    expect_oauth_error(
        app.form("/v1/oauth/token", &cc, Some((&code_only, &secret.unwrap()))).await,
        400,
        "unauthorized_client",
    )
    .await;
}

#[tokio::test]
async fn authorization_code_with_pkce_then_refresh_rotation_and_replay_revocation() {
    let s = confidential_code_client().await;
    let (params, tokens, _) = code_and_tokens(&s, "incidents:read").await;
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
    assert_eq!(tokens["scope"], "incidents:read");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&access).unwrap().claims;
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"), "the user is the subject");
    assert_eq!(introspect(&s, &access).await["active"], true);

    let basic = Some((s.client_id.as_str(), s.secret.as_str()));
    let r =
        s.app.form("/v1/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh1)], basic).await;
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2, "each use returns a new refresh token");
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();

    // Scope escalation on refresh is refused and leaves the token unspent.
    let r = s
        .app
        .form(
            "/v1/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh2), ("scope", "incidents:write")],
            basic,
        )
        .await;
    expect_oauth_error(r, 400, "invalid_scope").await;

    // Replaying the spent refresh token revokes the whole family.
    let r =
        s.app.form("/v1/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh1)], basic).await;
    expect_oauth_error(r, 400, "invalid_grant").await;
    let r =
        s.app.form("/v1/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh2)], basic).await;
    expect_oauth_error(r, 400, "invalid_grant").await;
    assert_eq!(introspect(&s, &access).await["active"], false);
    assert_eq!(introspect(&s, &access2).await["active"], false);
    // The family's access tokens are refused by the resource routes too.
    let r = s.app.get(&access2, "/v1/webhooks").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let s = confidential_code_client().await;
    let (verifier, challenge) = pkce_pair();
    let done = sign_in_and_consent(&s, &challenge, "incidents:read", "s1").await;
    let code = location_params(&done)["code"].clone();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let basic = Some((s.client_id.as_str(), s.secret.as_str()));
    let first: Value = s.app.form("/v1/oauth/token", &exchange, basic).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    expect_oauth_error(s.app.form("/v1/oauth/token", &exchange, basic).await, 400, "invalid_grant").await;
    assert_eq!(introspect(&s, access).await["active"], false);
    assert_eq!(introspect(&s, refresh).await["active"], false);
}

#[tokio::test]
async fn wrong_verifier_and_redirect_mismatch_are_invalid_grant() {
    let s = confidential_code_client().await;
    let basic = Some((s.client_id.as_str(), s.secret.as_str()));
    for case in ["verifier", "missing verifier", "redirect"] {
        let (verifier, challenge) = pkce_pair();
        let done = sign_in_and_consent(&s, &challenge, "incidents:read", "s").await;
        let code = location_params(&done)["code"].clone();
        let wrong = pkce_pair().0;
        let form: Vec<(&str, &str)> = match case {
            "verifier" => vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &wrong),
            ],
            "missing verifier" => {
                vec![("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]
            }
            _ => vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://integrator.example/other"),
                ("code_verifier", &verifier),
            ],
        };
        expect_oauth_error(s.app.form("/v1/oauth/token", &form, basic).await, 400, "invalid_grant").await;
        // The code is spent either way.
        let retry = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        expect_oauth_error(s.app.form("/v1/oauth/token", &retry, basic).await, 400, "invalid_grant").await;
    }
}

#[tokio::test]
async fn authorize_refuses_bad_requests_by_page_or_redirect() {
    let s = confidential_code_client().await;
    let get = |q: String| {
        let browser = s.app.browserless();
        let url = s.app.url(&format!("/v1/oauth/authorize?{q}"));
        async move { browser.get(url).send().await.unwrap() }
    };
    // Never redirected to: unknown client, unregistered redirect URI.
    let r =
        get("response_type=code&client_id=app_00000000000000000000000000&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
            .into())
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let r = get(format!(
        "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s",
        s.client_id
    ))
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("not registered"));

    let (_, challenge) = pkce_pair();
    let cases = [
        (
            authorize_query(&s.client_id, Some(&challenge), "incidents:read", "st").replace("S256", "plain"),
            "invalid_request",
        ),
        (authorize_query(&s.client_id, Some(&challenge), "jobs:write", "st"), "invalid_scope"),
        (
            authorize_query(&s.client_id, Some(&challenge), "incidents:read", "st")
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (authorize_query(&s.client_id, Some("too-short"), "incidents:read", "st"), "invalid_request"),
    ];
    for (query, error) in cases {
        let r = get(query.clone()).await;
        assert_eq!(r.status(), 302, "{query}");
        let p = location_params(&r);
        assert!(r.headers()["location"].to_str().unwrap().starts_with(REDIRECT));
        assert_eq!(p["error"], error, "{query}");
        assert_eq!(p["state"], "st");
        assert_eq!(p["iss"], ISSUER);
        assert!(!p.contains_key("code"));
    }

    // A public client must use PKCE; so must a confidential one under enforce_pkce.
    let (public_id, _) = s
        .app
        .register(&s.admin, json!({"name": "spa", "client_type": "public", "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "requested_scopes": ["incidents:read"]}))
        .await;
    let p = location_params(&get(authorize_query(&public_id, None, "incidents:read", "st")).await);
    assert_eq!(p["error"], "invalid_request");
    let without_pkce = get(authorize_query(&s.client_id, None, "incidents:read", "st")).await;
    assert_eq!(without_pkce.status(), 200, "a confidential client may skip PKCE unless governance enforces it");
    s.app
        .patch_json(&s.admin, &format!("/v1/platform/apps/{}/governance", s.client_id), json!({"enforce_pkce": true}))
        .await;
    let p = location_params(&get(authorize_query(&s.client_id, None, "incidents:read", "st")).await);
    assert_eq!(p["error"], "invalid_request");
}

#[tokio::test]
async fn consent_without_its_csrf_token_is_refused_and_issues_no_code() {
    let s = confidential_code_client().await;
    let (_, challenge) = pkce_pair();
    let query = authorize_query(&s.client_id, Some(&challenge), "incidents:read", "s");
    let browser = s.app.browserless();
    let html = authorize_page(&s.app, &browser, &query).await;

    // Sign-in from another site: no CSRF cookie.
    let stranger = s.app.browserless();
    let r = post_sign_in(&s.app, &stranger, &html, "dispatcher@example.com", PASSWORD).await;
    assert_eq!(r.status(), 403);

    let r = post_sign_in(&s.app, &browser, &html, "dispatcher@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let consent_html = authorize_page(&s.app, &browser, &query).await;
    let request = hidden_field(&consent_html, "request");
    for csrf in ["", "forged", &hidden_field(&html, "csrf")] {
        let r = post_consent(&s.app, &browser, &request, "approve", csrf).await;
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
        assert!(r.headers().get("location").is_none());
    }
    // Deny sends the client access_denied.
    let r = post_consent(&s.app, &browser, &request, "deny", &hidden_field(&consent_html, "csrf")).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location_params(&r)["error"], "access_denied");
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_account_for_a_while() {
    let s = confidential_code_client().await;
    let (_, challenge) = pkce_pair();
    let query = authorize_query(&s.client_id, Some(&challenge), "incidents:read", "s");
    let browser = s.app.browserless();
    let mut last = None;
    for attempt in 0..7 {
        let html = authorize_page(&s.app, &browser, &query).await;
        let password = if attempt == 6 { PASSWORD } else { "wrong password" };
        let r = post_sign_in(&s.app, &browser, &html, "dispatcher@example.com", password).await;
        if attempt < 5 {
            assert_eq!(r.status(), 401, "attempt {attempt}");
        }
        last = Some(r);
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429, "even the right password waits out the lock");
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
}

#[tokio::test]
async fn secret_rotation_keeps_the_old_secret_for_its_grace_period_only() {
    let s = confidential_code_client().await;
    let cc = [("grant_type", "client_credentials")];
    let path = format!("/v1/platform/apps/{}/rotate-secret", s.client_id);

    let r = s.app.http.post(s.app.url(&path)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let second = rotated["client_secret"].as_str().unwrap().to_owned();
    let until = chrono::DateTime::parse_from_rfc3339(rotated["previous_secret_expires_at"].as_str().unwrap()).unwrap();
    let left = until.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((86_390..=86_400).contains(&left), "default grace is 24 h: {left}");
    assert_eq!(
        s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &s.secret))).await.status(),
        200,
        "old still works"
    );
    assert_eq!(s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &second))).await.status(), 200, "new works");

    let r = s.app.post_json(&s.admin, &path, json!({"grace_period_seconds": 1})).await;
    let third = r.json::<Value>().await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    expect_oauth_error(
        s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &s.secret))).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(
        s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &second))).await.status(),
        200,
        "in its 1 s grace"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    expect_oauth_error(s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &second))).await, 401, "invalid_client")
        .await;
    assert_eq!(s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &third))).await.status(), 200);

    let r = s.app.post_json(&s.admin, &path, json!({"grace_period_seconds": 0})).await;
    let fourth = r.json::<Value>().await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    expect_oauth_error(s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &third))).await, 401, "invalid_client")
        .await;
    assert_eq!(s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &fourth))).await.status(), 200);

    expect_problem(
        s.app.post_json(&s.admin, &path, json!({"grace_period_seconds": -1})).await,
        400,
        "malformed-request",
    )
    .await;
    expect_problem(s.app.post_json(&s.admin, &path, json!({"grace": 5})).await, 400, "malformed-request").await;
    let (_, other_admin) = s.app.tenant("B").await;
    expect_problem(s.app.http.post(s.app.url(&path)).bearer_auth(&other_admin).send().await.unwrap(), 404, "not-found")
        .await;
    assert_eq!(
        s.app.form("/v1/oauth/token", &cc, Some((&s.client_id, &fourth))).await.status(),
        200,
        "B changed nothing"
    );
}

#[tokio::test]
async fn service_tokens_need_governance_and_stay_within_it() {
    let s = confidential_code_client().await;
    let path = format!("/v1/platform/apps/{}/service-token", s.client_id);
    expect_problem(s.app.post_json(&s.admin, &path, json!({"scopes": ["webhooks:write"]})).await, 403, "forbidden")
        .await;
    let gov = format!("/v1/platform/apps/{}/governance", s.client_id);
    s.app.patch_json(&s.admin, &gov, json!({"allow_service_tokens": true, "max_token_lifetime_seconds": 600})).await;

    let r = s.app.post_json(&s.admin, &path, json!({"scopes": ["webhooks:write"]})).await;
    assert_eq!(r.status(), 200);
    let minted: Value = r.json().await.unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(minted["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&left), "capped by governance: {left}");
    assert_eq!(introspect(&s, minted["token"].as_str().unwrap()).await["scope"], "webhooks:write");

    expect_problem(s.app.post_json(&s.admin, &path, json!({"scopes": ["jobs:write"]})).await, 400, "validation-failed")
        .await;
    expect_problem(
        s.app.post_json(&s.admin, &path, json!({"scopes": ["webhooks:write"], "expires_in": 601})).await,
        400,
        "validation-failed",
    )
    .await;
    let not_admin = s.app.token(&"ten_00000000000000000000000000".parse().unwrap(), &["webhooks:write"]).await;
    expect_problem(s.app.post_json(&not_admin, &path, json!({"scopes": ["webhooks:write"]})).await, 403, "forbidden")
        .await;
}

#[tokio::test]
async fn sandbox_tokens_carry_the_sandbox_audience_and_the_live_routes_refuse_them() {
    let s = confidential_code_client().await;
    let path = format!("/v1/platform/apps/{}/sandbox-token", s.client_id);
    let r = s.app.post_json(&s.admin, &path, json!({"scopes": ["incidents:read"]})).await;
    assert_eq!(r.status(), 200);
    let minted: Value = r.json().await.unwrap();
    assert_eq!(minted["audience"], "sandbox");
    let token = minted["token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token).unwrap().claims;
    assert_eq!(claims["aud"], "sandbox");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 3600);
    assert_eq!(s.app.get(token, "/v1/platform/scopes").await.status(), 401, "the live audience refuses it");
    assert_eq!(introspect(&s, token).await["aud"], "sandbox");
    expect_problem(s.app.post_json(&s.admin, &path, json!({"scopes": ["jobs:write"]})).await, 400, "validation-failed")
        .await;
    expect_problem(s.app.post_json(&s.admin, &path, json!({})).await, 400, "malformed-request").await;
}

#[tokio::test]
async fn revocation_and_introspection() {
    let s = confidential_code_client().await;
    let (_, tokens, _) = code_and_tokens(&s, "incidents:read webhooks:write").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let basic = Some((s.client_id.as_str(), s.secret.as_str()));

    let active = introspect(&s, refresh).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["token_type"], "refresh_token");

    // Another tenant's client learns nothing.
    let (_, other_admin) = s.app.tenant("B").await;
    let (other_id, other_secret) = s.app.register(&other_admin, crate::helpers::confidential_app()).await;
    let other: Value = s
        .app
        .form("/v1/oauth/introspect", &[("token", access)], Some((&other_id, &other_secret.unwrap())))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!({"active": false}));
    assert_eq!(introspect(&s, "garbage").await, json!({"active": false}));

    assert_eq!(s.app.get(access, "/v1/webhooks").await.status(), 200);
    assert_eq!(s.app.form("/v1/oauth/revoke", &[("token", access)], basic).await.status(), 200);
    assert_eq!(introspect(&s, access).await["active"], false);
    // Revoked is refused on every route at once, not only by introspection.
    let r = s.app.get(access, "/v1/webhooks").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("the token was revoked"));
    assert_eq!(
        s.app
            .form("/v1/oauth/revoke", &[("token", refresh), ("token_type_hint", "refresh_token")], basic)
            .await
            .status(),
        200
    );
    expect_oauth_error(
        s.app.form("/v1/oauth/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh)], basic).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        s.app.form("/v1/oauth/revoke", &[("token", "unknown")], basic).await.status(),
        200,
        "unknown tokens are fine"
    );
    expect_oauth_error(
        s.app.form("/v1/oauth/revoke", &[("token", "x")], Some((&s.client_id, "wrong"))).await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn metadata_documents_describe_the_endpoints() {
    let app = TestApp::spawn().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let doc: Value = app.http.get(app.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["issuer"], ISSUER);
        assert_eq!(doc["token_endpoint"], format!("{ISSUER}/v1/oauth/token"));
        assert_eq!(doc["authorization_endpoint"], format!("{ISSUER}/v1/oauth/authorize"));
        assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!("webhooks:write")));
    }
}

#[tokio::test]
async fn the_token_endpoint_is_rate_limited_per_client() {
    let app = TestApp::spawn_with(|c| c.oauth.token_rate_per_client = 2).await;
    let (_, admin) = app.tenant("A").await;
    let (id, secret) = app.register(&admin, crate::helpers::confidential_app()).await;
    let secret = secret.unwrap();
    let cc = [("grant_type", "client_credentials")];
    let mut limited = None;
    for _ in 0..6 {
        let r = app.form("/v1/oauth/token", &cc, Some((&id, &secret))).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst beyond the limit is refused");
    let retry_after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after));
    expect_oauth_error(r, 429, "slow_down").await;
}

/// A browser that has opened the sign-in page: the form's fields and the
/// CSRF cookie to send them with.
pub(crate) async fn sign_in_form(app: &TestApp, client_id: &str) -> (reqwest::Client, String, String) {
    let (_, challenge) = pkce_pair();
    let query = authorize_query(client_id, Some(&challenge), "incidents:read", "s");
    let browser = app.browserless();
    let html = authorize_page(app, &browser, &query).await;
    (browser, hidden_field(&html, "csrf"), hidden_field(&html, "request"))
}

#[tokio::test]
async fn concurrent_guesses_at_one_account_get_only_the_free_password_checks() {
    let s = confidential_code_client().await;
    // A lock-out long enough that the whole burst falls inside it, and no
    // per-address limit in the way.
    let app = TestApp::spawn_on(s.app.database_url(), |c| {
        c.oauth.sign_in_rate_per_ip_per_minute = 10_000;
        c.oauth.sign_in_lockout_seconds = 60;
        c.password_checks = 32;
    })
    .await;
    let (browser, csrf, request) = sign_in_form(&app, &s.client_id).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (browser, url) = (browser.clone(), app.url("/v1/oauth/sign-in"));
        let form = [
            ("email", "dispatcher@example.com".to_owned()),
            ("password", format!("guess {i}")),
            ("csrf", csrf.clone()),
            ("request", request.clone()),
        ];
        guesses.spawn(async move { browser.post(url).form(&form).send().await.unwrap().status().as_u16() });
    }
    let statuses = guesses.join_all().await;
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    let locked = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((checked, locked), (5, 15), "{statuses:?}");
}

#[tokio::test]
async fn client_sent_forwarding_headers_do_not_change_the_per_address_limit() {
    let s = confidential_code_client().await;
    let app = TestApp::spawn_on(s.app.database_url(), |c| c.oauth.sign_in_rate_per_ip_per_minute = 3).await;
    // Each attempt on a fresh form: a failed sign-in renews the CSRF cookie.
    let attempt = async |forwarded_for: &str, forwarded: &str| {
        let (browser, csrf, request) = sign_in_form(&app, &s.client_id).await;
        let form = [("email", "nobody@example.com"), ("password", "x"), ("csrf", &csrf), ("request", &request)];
        let r = browser
            .post(app.url("/v1/oauth/sign-in"))
            .header("X-Forwarded-For", forwarded_for)
            .header("Forwarded", forwarded)
            .form(&form)
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    };
    for i in 0..3 {
        assert_eq!(attempt(&format!("198.51.100.{i}"), &format!("for=198.51.100.{i}")).await, 401);
    }
    // A fourth from the same peer is limited, whatever it claims to be.
    assert_eq!(attempt("203.0.113.77", "for=203.0.113.77").await, 429);

    // Behind a trusted proxy, the right-most entry the proxy appended is the
    // client: a spoofed left-most entry changes nothing.
    let proxied = TestApp::spawn_on(s.app.database_url(), |c| {
        c.oauth.sign_in_rate_per_ip_per_minute = 3;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let attempt = async |forwarded_for: &str| {
        let (browser, csrf, request) = sign_in_form(&proxied, &s.client_id).await;
        let form = [("email", "someone@example.com"), ("password", "x"), ("csrf", &csrf), ("request", &request)];
        let r = browser.post(proxied.url("/v1/oauth/sign-in")).header("X-Forwarded-For", forwarded_for).form(&form);
        r.send().await.unwrap().status().as_u16()
    };
    for i in 0..3 {
        assert_eq!(attempt(&format!("10.0.0.{i}, 192.0.2.1")).await, 401);
    }
    assert_eq!(attempt("10.0.0.99, 192.0.2.1").await, 429);
    assert_eq!(attempt("10.0.0.99, 192.0.2.2").await, 401, "another client behind the proxy has its own limit");
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_and_what_they_granted_is_revoked() {
    let s = confidential_code_client().await;
    let (_, tokens, _) = code_and_tokens(&s, "incidents:read").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&s, access).await["active"], true);
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(access).unwrap().claims;
    let tenant: argus_types::TenantId = claims["tid"].as_str().unwrap().parse().unwrap();
    let user: argus_types::UserId = claims["sub"].as_str().unwrap().parse().unwrap();

    let disabled = s.app.store.disable_user(&tenant, &user).await.unwrap().unwrap();
    assert_eq!(disabled.grants_revoked, 1);
    assert!(!disabled.revoked.is_empty());
    // Within a second every replica refuses the access token; the refresh
    // token is spent for good.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while introspect(&s, access).await["active"] != false {
        assert!(std::time::Instant::now() < deadline, "the disabled user's token still works");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = s
        .app
        .form(
            "/v1/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some((&s.client_id, &s.secret)),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // The right password is now as good as a wrong one.
    let (_, challenge) = pkce_pair();
    let query = authorize_query(&s.client_id, Some(&challenge), "incidents:read", "s");
    let browser = s.app.browserless();
    let html = authorize_page(&s.app, &browser, &query).await;
    let r = post_sign_in(&s.app, &browser, &html, "dispatcher@example.com", PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("The email or password is not correct."));
    assert!(s.app.store.disable_user(&tenant, &argus_types::UserId::generate()).await.unwrap().is_none());
}
