//! The services' JWKS cache against a local JWKS endpoint that counts its fetches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use argus_authn::{AuthnError, JwksPolicy, KeySource, TokenVerifier, remote_jwks};
use argus_crypto::{JwkSet, SigningKey, generate_signing_key_pem};
use argus_types::{KeyId, TenantId};
use tracing::Instrument;

const ISSUER: &str = "https://auth.test.knogin.com";
const AUDIENCE: &str = "api.knogin.com";

struct Endpoint {
    url: String,
    fetches: Arc<AtomicUsize>,
    /// The `traceparent` of each fetch ("" when absent).
    traceparents: Arc<Mutex<Vec<String>>>,
    handle: actix_web::dev::ServerHandle,
}

async fn endpoint(keys: JwkSet, cache_control: &'static str) -> Endpoint {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let traceparents: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = traceparents.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (counter, keys, seen) = (counter.clone(), keys.clone(), seen.clone());
        App::new().route(
            "/jwks",
            web::get().to(move |req: HttpRequest| {
                counter.fetch_add(1, Ordering::SeqCst);
                let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default();
                seen.lock().unwrap().push(traceparent.to_owned());
                let keys = keys.clone();
                async move { HttpResponse::Ok().insert_header(("cache-control", cache_control)).json(keys) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Endpoint { url: format!("http://127.0.0.1:{port}/jwks"), fetches, traceparents, handle }
}

/// A key of `pem`'s material under a new kid.
fn key_of(pem: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(KeyId::generate().as_str(), pem).unwrap()
}

/// A new key (and its PEM) and an endpoint publishing it with
/// `cache_control`.
async fn published_key(cache_control: &'static str) -> (String, SigningKey, Endpoint) {
    let pem = generate_signing_key_pem().unwrap();
    let key = key_of(&pem);
    let server = endpoint(JwkSet { keys: vec![key.jwk().clone()], key_set: None }, cache_control).await;
    (pem, key, server)
}

fn token(key: &SigningKey) -> String {
    argus_crypto::testing::access_token(key, ISSUER, AUDIENCE, &TenantId::generate(), "app_x", &["incidents:read"])
}

#[tokio::test]
async fn unknown_kids_refresh_at_most_once_per_interval_and_the_cache_outlives_the_server() {
    let (pem, key, server) = published_key("public, max-age=300").await;
    let policy = JwksPolicy { min_refresh_interval: Duration::from_millis(500), ..JwksPolicy::default() };
    let jwks = remote_jwks(&server.url, policy).unwrap();
    let verifier = TokenVerifier::new(jwks.clone() as Arc<dyn KeySource>, ISSUER, AUDIENCE);

    // The first token fetches the set; the next ones use the cache.
    for _ in 0..3 {
        verifier.verify(&token(&key)).await.unwrap();
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);

    // A flood of unknown kids costs at most one fetch per interval (the
    // first fetch, just now, counts as this interval's).
    let stranger = key_of(&pem);
    for _ in 0..50 {
        assert!(matches!(verifier.verify(&token(&stranger)).await, Err(AuthnError::UnknownKey)));
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..20 {
        assert!(verifier.verify(&token(&stranger)).await.is_err());
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2);

    // With the server gone, a failed refresh keeps the cached keys.
    server.handle.stop(false).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(jwks.refresh().await.is_err());
    assert!(verifier.verify(&token(&stranger)).await.is_err());
    verifier.verify(&token(&key)).await.unwrap();
}

#[tokio::test]
async fn the_background_refresh_follows_max_age_within_bounds() {
    // max-age=0 is raised to the lower bound (here 200 ms, refreshed at 80%).
    let (_, key, server) = published_key("max-age=0").await;
    let policy = JwksPolicy { min_max_age: Duration::from_millis(200), ..JwksPolicy::default() };
    let jwks = remote_jwks(&server.url, policy).unwrap();
    jwks.refresh().await.unwrap();
    let task = jwks.spawn_background_refresh();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fetched = server.fetches.load(Ordering::SeqCst);
    assert!((4..=8).contains(&fetched), "{fetched} fetches in 1.1 s");
    assert_eq!(jwks.cached_kids(), vec![key.kid().to_owned()]);
    task.abort();
}

#[tokio::test]
async fn a_jwks_fetch_continues_the_callers_trace() {
    argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
    let (_, _, server) = published_key("max-age=300").await;
    let jwks = remote_jwks(&server.url, JwksPolicy::default()).unwrap();
    // Only Argus crates' spans are traced; this one borrows a traced target.
    let caller = tracing::info_span!(target: "argus_authn", "caller");
    let (trace_id, _) = argus_telemetry::propagation::ids_of(&caller).unwrap();
    jwks.refresh().instrument(caller).await.unwrap();
    let sent = server.traceparents.lock().unwrap().clone();
    let fields: Vec<&str> = sent[0].split('-').collect();
    assert!(argus_telemetry::propagation::is_valid_traceparent(&sent[0]), "{sent:?}");
    assert_eq!(fields[1], trace_id, "the fetch is a span of the caller's trace");
}
