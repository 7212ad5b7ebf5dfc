//! The `VerifiedWebhook` extractors: actix-web over HTTP, axum through its
//! `FromRequest` (axum's router is not in the workspace; axum-core is).

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use argus_client::{VerifiedWebhook, WebhookVerifier};
use base64::Engine as _;
use hmac::{KeyInit, Mac};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A signature of `body` as a sender makes it, now.
fn signed(id: &str, body: &[u8]) -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
    let key = base64::engine::general_purpose::STANDARD.decode(&SECRET["whsec_".len()..]).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{now}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (now, format!("v1,{signature}"))
}

#[tokio::test]
async fn the_actix_extractor_runs_the_handler_only_for_verified_deliveries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let verifier = web::Data::new(WebhookVerifier::new(SECRET).unwrap());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().app_data(verifier.clone()).route(
            "/hook",
            web::post().to(|VerifiedWebhook(delivery): VerifiedWebhook| async move {
                HttpResponse::Ok().body(format!("{} {}", delivery.id, String::from_utf8_lossy(&delivery.body)))
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    let http = reqwest::Client::new();
    let body = br#"{"type":"incident.created"}"#;
    let (ts, signature) = signed("evt_1", body);
    let send = |signature: String, body: &'static [u8]| {
        http.post(format!("{base}/hook"))
            .header("webhook-id", "evt_1")
            .header("webhook-timestamp", &ts)
            .header("webhook-signature", signature)
            .body(body)
            .send()
    };
    let ok = send(signature.clone(), body).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), r#"evt_1 {"type":"incident.created"}"#);
    assert_eq!(send(signature, b"{}").await.unwrap().status(), 401, "another body");
    assert_eq!(send("v1,AAAA".into(), body).await.unwrap().status(), 401);
    let unsigned = http.post(format!("{base}/hook")).body(&body[..]).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
}

#[tokio::test]
async fn the_axum_extractor_verifies_through_the_state() {
    use axum_core::extract::{FromRef, FromRequest};

    #[derive(Clone)]
    struct State(WebhookVerifier);
    impl FromRef<State> for WebhookVerifier {
        fn from_ref(state: &State) -> Self {
            state.0.clone()
        }
    }
    let state = State(WebhookVerifier::new(SECRET).unwrap());
    let request = |signature: &str, ts: &str, body: &'static [u8]| {
        http::Request::post("/hook")
            .header("webhook-id", "evt_2")
            .header("webhook-timestamp", ts)
            .header("webhook-signature", signature)
            .body(axum_core::body::Body::from(body))
            .unwrap()
    };
    let body = br#"{"type":"job.succeeded"}"#;
    let (ts, signature) = signed("evt_2", body);
    let VerifiedWebhook(delivery) =
        VerifiedWebhook::from_request(request(&signature, &ts, body), &state).await.unwrap();
    assert_eq!((delivery.id.as_str(), delivery.body.as_slice()), ("evt_2", &body[..]));
    let refused = VerifiedWebhook::from_request(request(&signature, &ts, b"{}"), &state).await.unwrap_err();
    assert_eq!(refused.status(), 401);
    let refused = VerifiedWebhook::from_request(request(&signature, "1", body), &state).await.unwrap_err();
    assert_eq!(refused.status(), 401, "outside the tolerance");
}
