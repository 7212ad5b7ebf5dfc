//! The authorization-code flow with PKCE in a real browser: headless
//! Chromium, driven over WebDriver, signs in and consents; the test then
//! exchanges the code and verifies the token against the JWKS.

use std::process::Stdio;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use argus_http::testing::TestProcess;
use fantoccini::{ClientBuilder, Locator};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{AUDIENCE, ISSUER, TestApp};
use crate::oauth::pkce_pair;

/// chromedriver on a free port, killed when dropped.
struct ChromeDriver {
    _process: TestProcess,
    url: String,
}

impl ChromeDriver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = TestProcess::spawn(
            std::process::Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("chromedriver is installed (Debian packages chromium and chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { _process: process, url }
    }
}

/// The integrator's redirect endpoint: records each callback's query.
async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let base = argus_http::testing::serve_route("/callback", move || {
        let tx = tx.clone();
        web::get().to(move |req: actix_web::HttpRequest| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(req.query_string().to_owned());
                HttpResponse::Ok().content_type("text/html").body("<p id=done>received</p>")
            }
        })
    });
    (format!("{base}/callback"), rx)
}

#[tokio::test]
async fn authorization_code_with_pkce_in_headless_chromium() {
    let app = TestApp::spawn().await;
    let (tenant, admin) = app.tenant("A").await;
    app.user(&tenant, "dispatcher@example.com", "correct horse battery staple").await;
    let (redirect_uri, mut callbacks) = receiver().await;
    let (client_id, secret) = app
        .register(
            &admin,
            json!({
                "name": "Dispatch console",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri],
                "requested_scopes": ["incidents:read", "incidents:write"]
            }),
        )
        .await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce_pair();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "incidents:read")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let authorize_url = app.url(&format!("/v1/oauth/authorize?{}", query.finish()));

    let driver = ChromeDriver::start().await;
    let profile = std::env::temp_dir().join(format!("argus-chromium-{}", std::process::id()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let browser =
        ClientBuilder::rustls().unwrap().capabilities(caps).connect(&driver.url).await.expect("Chromium starts");

    browser.goto(&authorize_url).await.unwrap();
    browser.wait().for_element(Locator::Id("email")).await.unwrap().send_keys("dispatcher@example.com").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys("correct horse battery staple").await.unwrap();
    browser.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    let approve = browser.wait().for_element(Locator::Id("approve")).await.unwrap();
    let page = browser.source().await.unwrap();
    assert!(page.contains("Read incidents through the GraphQL transport"), "consent lists scopes in words");
    approve.click().await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();
    let landed = browser.current_url().await.unwrap();
    browser.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(landed.as_str().starts_with(&redirect_uri), "{landed}");

    let callback = tokio::time::timeout(Duration::from_secs(5), callbacks.recv()).await.unwrap().unwrap();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(callback.as_bytes()).into_owned().collect();
    assert_eq!(params["state"], "browser-state");
    assert_eq!(params["iss"], ISSUER);

    let r = app
        .form(
            "/v1/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", &verifier),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let access = tokens["access_token"].as_str().unwrap();
    let jwks: JwkSet = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims: Value = jsonwebtoken::decode(access, &key, &validation).unwrap().claims;
    assert_eq!(claims["scope"], "incidents:read");
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
}
