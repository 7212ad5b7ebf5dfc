//! `just demo`: the integration guide's public flow against a running
//! stack, through the SDK. Registers an app, mints a token, verifies it
//! with only the JWKS, creates a webhook pointing at a receiver this
//! program runs, sends a test delivery and prints the signed request that
//! arrived, verified.
//!
//! Reads `ARGUS_AUTH_URL` (default `http://127.0.0.1:8080`), `ARGUS_ISSUER`
//! (default the same) and `ARGUS_ADMIN_TOKEN` (a `platform:admin` token).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use argus_client::{
    ArgusClient, Credentials, DeliveryFilter, DeliveryStatus, GrantType, JwtVerifier, NewApp, NewWebhook,
    WebhookVerifier,
};
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

fn fail(what: &str, detail: impl std::fmt::Display) -> ! {
    eprintln!("\nThe demo stopped: {what}: {detail}");
    std::process::exit(1)
}

/// A request the receiver got: its headers and body.
type Received = (Vec<(String, String)>, Vec<u8>);

#[tokio::main]
async fn main() {
    let auth = std::env::var("ARGUS_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let issuer = std::env::var("ARGUS_ISSUER").unwrap_or_else(|_| auth.clone());
    let admin_token =
        std::env::var("ARGUS_ADMIN_TOKEN").unwrap_or_else(|_| fail("no admin token", "set ARGUS_ADMIN_TOKEN"));
    let admin = ArgusClient::builder()
        .auth_url(&auth)
        .credentials(Credentials::Bearer(admin_token))
        .build()
        .unwrap_or_else(|e| fail("configuring the SDK", e));

    step(1, "Register an external integration app (POST /v1/platform/apps)");
    let created = admin
        .create_app(&NewApp {
            name: "Case sync connector (demo)".into(),
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            requested_scopes: vec!["webhooks:read".into(), "webhooks:write".into()],
            client_type: None,
        })
        .await
        .unwrap_or_else(|e| fail("registering the app (is the stack running? try `just up`)", e));
    let client_id = created.app.client_id.clone();
    let client_secret = created.client_secret.unwrap_or_else(|| fail("registering the app", "no client_secret"));
    println!("   client_id {client_id}; the client_secret was shown once, in this response");

    step(2, "Exchange the client credentials for a bearer token (POST /v1/oauth/token)");
    let token = admin
        .client_credentials_token(&client_id, &client_secret, Some("webhooks:read webhooks:write"))
        .await
        .unwrap_or_else(|e| fail("minting a token", e));
    println!("   {} token, expires in {} s, scope \"{}\"", token.token_type, token.expires_in, token.scope);
    // From here on the SDK mints and renews the app's tokens itself.
    let app = admin.with_credentials(Credentials::ClientCredentials {
        client_id: client_id.clone(),
        client_secret,
        scope: Some("webhooks:read webhooks:write".into()),
    });

    step(3, "Verify the token using only the public JWKS (GET /.well-known/jwks.json)");
    let verifier =
        JwtVerifier::new(&format!("{auth}/.well-known/jwks.json"), &issuer, argus_client::jwt::LIVE_AUDIENCE)
            .unwrap_or_else(|e| fail("configuring the verifier", e));
    let claims = verifier.verify(&token.access_token).await.unwrap_or_else(|e| fail("verifying the token", e));
    println!(
        "   verified: iss {}, tenant {}, client {}, expires {}",
        claims.iss, claims.tid, claims.client_id, claims.exp
    );

    step(4, "Start a local webhook receiver and subscribe it (POST /v1/webhooks)");
    let (tx, mut rx) = mpsc::unbounded_channel::<Received>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail("binding the receiver", e));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| fail("binding the receiver", e));
    let receiver_url = format!("http://127.0.0.1:{port}/webhooks/argus");
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
                // The demo reads one delivery; later ones have no reader.
                let _ = tx.send((headers, body.to_vec()));
                HttpResponse::Ok().body("thanks")
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap_or_else(|e| fail("starting the receiver", e))
    .run();
    tokio::spawn(server);
    let webhook = app
        .create_webhook(&NewWebhook {
            url: receiver_url.clone(),
            events: vec!["case.updated".into(), "incident.updated".into()],
            ..NewWebhook::default()
        })
        .await
        .unwrap_or_else(|e| {
            fail("creating the webhook (the stack must allow private URLs: `just up` sets ARGUS_WEBHOOK_ALLOW_PRIVATE=true)", e)
        });
    let secret = webhook.secret.clone().unwrap_or_else(|| fail("creating the webhook", "no generated secret"));
    println!("   webhook {} -> {receiver_url}; signing secret shown once: {}…", webhook.id, &secret[..12]);

    step(5, "Send a test delivery (POST /v1/webhooks/{id}/test)");
    let queued = app.test_webhook(&webhook.id).await.unwrap_or_else(|e| fail("queueing the test delivery", e));
    println!("   {} is {:?}", queued.delivery_id, queued.status);

    step(6, "The signed request the receiver got");
    let (headers, body) =
        tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.ok().flatten().unwrap_or_else(|| {
            fail("waiting for the delivery", "nothing arrived in 20 s (is the delivery-worker running?)")
        });
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    println!("   POST /webhooks/argus");
    for name in ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent"] {
        println!("   {name}: {}", header(name).unwrap_or_default());
    }
    println!("\n   {}", String::from_utf8_lossy(&body));
    let delivery = WebhookVerifier::new(&secret)
        .and_then(|verifier| verifier.verify(header, &body))
        .unwrap_or_else(|e| fail("verifying the webhook", e));
    println!("\n   The signature of {} verifies with the webhook's secret.", delivery.id);

    // The worker records the attempt just after the receiver answers.
    for _ in 0..20 {
        let deliveries: Vec<_> = app
            .list_deliveries(&webhook.id, &DeliveryFilter::default())
            .try_collect()
            .await
            .unwrap_or_else(|e| fail("reading the delivery history", e));
        if let Some(d) = deliveries.first().filter(|d| d.status != DeliveryStatus::Queued) {
            println!("   Delivery history: {} {:?} after {} attempt(s)", d.id, d.status, d.attempts);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("\nDone: app registered, token minted and verified, webhook created and delivered.");
}
