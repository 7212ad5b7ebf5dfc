//! `just demo`: the integration guide's public flow against a running stack.
//! Registers an app, mints a token, verifies it with only the JWKS, creates
//! a webhook pointing at a receiver this program runs, sends a test delivery
//! and prints the signed request that arrived, verified.
//!
//! Reads `ARGUS_AUTH_URL` (default `http://127.0.0.1:8080`), `ARGUS_ISSUER`
//! (default the same) and `ARGUS_ADMIN_TOKEN` (a `platform:admin` token).

#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use argus_client::{TokenVerifier, verify_webhook};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

fn fail(what: &str, detail: impl std::fmt::Display) -> ! {
    eprintln!("\nThe demo stopped: {what}: {detail}");
    std::process::exit(1)
}

/// Sends `request` and returns its JSON body; stops the demo on a failure.
async fn expect_json(request: reqwest::RequestBuilder, what: &str) -> Value {
    let response =
        request.send().await.unwrap_or_else(|e| fail(what, format!("{e} (is the stack running? try `just up`)")));
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        fail(what, format!("HTTP {status}: {body}"));
    }
    body
}

/// A string field of a response, which the demo needs to go on.
fn text(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_else(|| fail("reading the response", format!("no `{field}` in {body}"))).to_owned()
}

#[tokio::main]
async fn main() {
    let auth = std::env::var("ARGUS_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let issuer = std::env::var("ARGUS_ISSUER").unwrap_or_else(|_| auth.clone());
    let admin = std::env::var("ARGUS_ADMIN_TOKEN").unwrap_or_else(|_| fail("no admin token", "set ARGUS_ADMIN_TOKEN"));
    let http = reqwest::Client::new();

    step(1, "Register an external integration app (POST /v1/platform/apps)");
    let app = expect_json(
        http.post(format!("{auth}/v1/platform/apps")).bearer_auth(&admin).json(&json!({
            "name": "Case sync connector (demo)",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "requested_scopes": ["webhooks:read", "webhooks:write"]
        })),
        "registering the app",
    )
    .await;
    let client_id = text(&app, "client_id");
    let client_secret = text(&app, "client_secret");
    println!("   client_id {client_id}; the client_secret was shown once, in this response");

    step(2, "Exchange the client credentials for a bearer token (POST /v1/oauth/token)");
    let token = expect_json(
        http.post(format!("{auth}/v1/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &client_secret),
            ("scope", "webhooks:read webhooks:write"),
        ]),
        "minting a token",
    )
    .await;
    let access_token = text(&token, "access_token");
    println!(
        "   {} token, expires in {} s, scope \"{}\"",
        token["token_type"],
        token["expires_in"],
        token["scope"].as_str().unwrap_or("")
    );

    step(3, "Verify the token using only the public JWKS (GET /.well-known/jwks.json)");
    let verifier = TokenVerifier::fetch(&format!("{auth}/.well-known/jwks.json"), &issuer, "api.knogin.com")
        .await
        .unwrap_or_else(|e| fail("fetching the JWKS", e));
    let claims = verifier.verify(&access_token).unwrap_or_else(|e| fail("verifying the token", e));
    println!(
        "   verified: iss {}, tenant {}, client {}, expires {}",
        claims["iss"], claims["tid"], claims["client_id"], claims["exp"]
    );

    step(4, "Start a local webhook receiver and subscribe it (POST /v1/webhooks)");
    let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<(String, String)>, Vec<u8>)>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver_url = format!("http://127.0.0.1:{}/webhooks/argus", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let tx = tx.clone();
            async move {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let _ = tx.send((headers, body.to_vec()));
                HttpResponse::Ok().body("thanks")
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let webhook = expect_json(
        http.post(format!("{auth}/v1/webhooks"))
            .bearer_auth(&access_token)
            .json(&json!({"url": receiver_url, "events": ["case.updated", "incident.updated"]})),
        "creating the webhook (the stack must allow private URLs: `just up` sets ARGUS_WEBHOOK_ALLOW_PRIVATE=true)",
    )
    .await;
    let webhook_id = text(&webhook, "id");
    let secret = text(&webhook, "secret");
    println!("   webhook {webhook_id} -> {receiver_url}; signing secret shown once: {}…", &secret[..12]);

    step(5, "Send a test delivery (POST /v1/webhooks/{id}/test)");
    let queued = expect_json(
        http.post(format!("{auth}/v1/webhooks/{webhook_id}/test")).bearer_auth(&access_token),
        "queueing the test delivery",
    )
    .await;
    println!("   {} is {}", queued["delivery_id"], queued["status"]);

    step(6, "The signed request the receiver got");
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap_or_else(|_| {
            fail("waiting for the delivery", "nothing arrived in 20 s (is the delivery-worker running?)")
        })
        .unwrap();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    println!("   POST /webhooks/argus");
    for name in ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent"] {
        println!("   {name}: {}", header(name));
    }
    println!("\n   {}", String::from_utf8_lossy(&body));
    verify_webhook(&secret, &header("webhook-id"), &header("webhook-timestamp"), &header("webhook-signature"), &body)
        .unwrap_or_else(|e| fail("verifying the webhook", e));
    println!("\n   The signature verifies with the webhook's secret.");

    // The worker records the attempt just after the receiver answers.
    for _ in 0..20 {
        let deliveries = expect_json(
            http.get(format!("{auth}/v1/webhooks/{webhook_id}/deliveries")).bearer_auth(&access_token),
            "reading the delivery history",
        )
        .await;
        if let Some(d) = deliveries["deliveries"].as_array().and_then(|d| d.first())
            && d["status"] != "queued"
        {
            println!("   Delivery history: {} {} after {} attempt(s)", d["id"], d["status"], d["attempts"]);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("\nDone: app registered, token minted and verified, webhook created and delivered.");
}
