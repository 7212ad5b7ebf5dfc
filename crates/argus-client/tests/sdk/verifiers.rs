//! The JWT verifier against the stack's real tokens across key rotations,
//! its JWKS refresh policy against a counting JWKS server, and an `https`
//! JWKS behind a TLS front with a test CA.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use argus_client::{ClientAuth, Error, JwksPolicy, JwtVerifier};
use argus_http::testing::serve_route;
use argus_telemetry::testing::TlsFront;
use argus_types::Environment;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::stack::{ISSUER, Stack};

/// A verifier refetching at most every `min_refresh_interval`, which is
/// also the shortest a key set is fresh (the default 30 s would outlast
/// the tests' `max-age`).
fn verifier(jwks_url: &str, min_refresh_interval: Duration) -> JwtVerifier {
    let policy = JwksPolicy { min_refresh_interval, min_max_age: min_refresh_interval, ..JwksPolicy::default() };
    JwtVerifier::with_policy(jwks_url, ISSUER, "api.knogin.com", policy, reqwest::Client::new()).unwrap()
}

/// `token` with its header's `kid` replaced (the signature no longer fits).
fn with_kid(token: &str, kid: &str) -> String {
    let mut parts = token.splitn(2, '.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"] = kid.into();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()), parts.next().unwrap())
}

/// A JWKS server serving the stack's key set with `cache_control`: its URL
/// and the count of fetches.
async fn counting_jwks(stack: &Stack, cache_control: &'static str) -> (String, Arc<AtomicUsize>) {
    let jwks = stack.http.get(stack.jwks_url()).send().await.unwrap().text().await.unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let base = serve_route("/jwks.json", move || {
        let (counter, jwks) = (counter.clone(), jwks.clone());
        web::get().to(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { HttpResponse::Ok().insert_header(("Cache-Control", cache_control)).body(jwks) }
        })
    });
    (format!("{base}/jwks.json"), fetches)
}

#[tokio::test]
async fn tokens_verify_across_two_key_rotations_without_a_restart() {
    let stack = Stack::start().await;
    let app = stack.client(None, &["webhooks:read"]).await;
    let sdk = crate::app_client(&stack, &app);
    let verifier = verifier(&stack.jwks_url(), Duration::from_millis(200));

    let first = sdk.access_token().await.unwrap().unwrap();
    let claims = verifier.verify(&first).await.unwrap();
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISSUER, "api.knogin.com"));
    assert_eq!((claims.client_id.as_str(), &claims.tid), (app.client_id.as_str(), &app.tenant));
    assert!(claims.scopes().contains("webhooks:read"));

    let auth = ClientAuth::Secret { client_id: &app.client_id, client_secret: &app.secret };
    let (sealer, publish) = (argus_crypto::KeySealer::development(), chrono::Duration::hours(1));
    for rotation in 1..=2 {
        let rotated = stack.store.rotate_signing_keys(&sealer, Environment::Live, publish).await.unwrap();
        let token = stack.mint(&app.tenant, &app.client_id, "api.knogin.com", &["webhooks:read"]).await;
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        assert_eq!(kid, rotated.current.as_str(), "rotation {rotation}: signed with the new current key");
        // The auth-service learns the new key on demand (a token naming it).
        let introspection = sdk.introspect_token(auth, &token).await.unwrap();
        assert!(introspection.active, "rotation {rotation}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let claims = verifier.verify(&token).await.unwrap_or_else(|e| panic!("rotation {rotation}: {e}"));
        assert_eq!(claims.client_id, app.client_id);
        // Tokens of the retired key still verify while it is published.
        assert!(verifier.verify(&first).await.is_ok(), "rotation {rotation}: the first token");
    }

    // A sandbox token is refused by a live verifier (another key set and audience).
    let admin = crate::admin_client(&stack, &app.tenant).await;
    let sandbox = admin.mint_sandbox_token(&app.client_id, &["webhooks:read"]).await.unwrap();
    assert_eq!(sandbox.audience, "sandbox");
    assert!(matches!(verifier.verify(&sandbox.token).await, Err(Error::Token(_))));
    // A token not meant for access (wrong typ) and garbage are refused.
    assert!(matches!(verifier.verify("not.a.token").await, Err(Error::Token(_))));
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first.split('.').next().unwrap()).unwrap()).unwrap();
    header["typ"] = "JWT".into();
    let rest = first.split_once('.').unwrap().1;
    let retyped = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()));
    assert!(matches!(verifier.verify(&retyped).await, Err(Error::Token(m)) if m.contains("at+jwt")));
}

#[tokio::test]
async fn unknown_kids_refresh_the_jwks_at_most_once_per_interval() {
    let stack = Stack::start().await;
    let (jwks_url, fetches) = counting_jwks(&stack, "max-age=3600").await;
    let verifier = verifier(&jwks_url, Duration::from_millis(500));
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    let token = stack.mint(&tenant, "app_x", "api.knogin.com", &[]).await;

    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "a fresh cache serves known kids");

    // A flood of made-up kids: one refresh, then refused from the cache.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for n in 0..20 {
        let forged = with_kid(&token, &format!("forged-{n}"));
        assert!(matches!(verifier.verify(&forged).await, Err(Error::Token(m)) if m.contains("not in the JWKS")));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one refresh for twenty unknown kids");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(verifier.verify(&with_kid(&token, "forged")).await.is_err());
    assert_eq!(fetches.load(Ordering::SeqCst), 3, "another after the interval");
    // The known key still verifies, from the cache.
    verifier.verify(&token).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_jwks_is_refetched_when_its_max_age_runs_out() {
    let stack = Stack::start().await;
    let (jwks_url, fetches) = counting_jwks(&stack, "public, max-age=1").await;
    let verifier = verifier(&jwks_url, Duration::from_millis(100));
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    let token = stack.mint(&tenant, "app_x", "api.knogin.com", &[]).await;
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    verifier.verify(&token).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "max-age=1 ran out");
}

#[tokio::test]
async fn an_https_jwks_is_trusted_through_an_extra_root_certificate() {
    let stack = Stack::start().await;
    let (ca, cert, key, _) = argus_telemetry::testing::pki("JWKS test CA", "127.0.0.1");
    // TLS in front of the stack's auth-service.
    let front = TlsFront::start(&cert, &key, None, &stack.auth).await;
    let jwks_url = format!("{}/.well-known/jwks.json", front.url());
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    let token = stack.mint(&tenant, "app_x", "api.knogin.com", &[]).await;

    // The platform's roots alone do not know the test CA: no keys.
    let untrusting = JwtVerifier::new(&jwks_url, ISSUER, "api.knogin.com").unwrap();
    assert!(matches!(untrusting.verify(&token).await, Err(Error::Jwks(_))));

    // With the CA merged into the verifier's HTTP client, the keys come
    // over TLS and the token verifies.
    let root = reqwest::Certificate::from_pem(ca.as_bytes()).unwrap();
    let http = reqwest::Client::builder().tls_certs_merge([root]).build().unwrap();
    let verifier = JwtVerifier::with_policy(&jwks_url, ISSUER, "api.knogin.com", JwksPolicy::default(), http).unwrap();
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.tid, tenant);
    // One handshake completed: the trusting verifier's (the other gave up
    // inside its handshake).
    assert_eq!(front.presented().len(), 1);
}

#[test]
fn a_plain_http_jwks_is_taken_from_this_machine_only() {
    // Keys fetched in clear across a network could be swapped on the way.
    for url in [
        "http://auth.knogin.com/.well-known/jwks.json",
        "http://10.0.0.5:8080/.well-known/jwks.json",
        "http://localhost.example.com/.well-known/jwks.json",
    ] {
        let refused = JwtVerifier::new(url, ISSUER, "api.knogin.com");
        assert!(matches!(&refused, Err(Error::Config(m)) if m.contains("https")), "{url}");
    }
    assert!(matches!(JwtVerifier::new("ftp://127.0.0.1/jwks.json", ISSUER, "api.knogin.com"), Err(Error::Config(_))));
    for url in [
        "https://auth.knogin.com/.well-known/jwks.json",
        "http://127.0.0.1:8080/.well-known/jwks.json",
        "http://localhost:8080/.well-known/jwks.json",
        "http://[::1]:8080/.well-known/jwks.json",
    ] {
        assert!(JwtVerifier::new(url, ISSUER, "api.knogin.com").is_ok(), "{url}");
    }
}

/// The key set's fetch carries the caller's `traceparent`, like the SDK's
/// other calls, so an SRE following a slow verification finds the fetch in
/// the caller's trace.
#[tokio::test]
async fn the_key_set_is_fetched_in_the_callers_trace() {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    // The process's telemetry (the services') traces only the services'
    // crates' spans: the caller's span is given one of their targets.
    let stack = Stack::start_with_span_store("api-service").await;
    let jwks = stack.http.get(stack.jwks_url()).send().await.unwrap().text().await.unwrap();
    let traceparents = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = traceparents.clone();
    let base = serve_route("/jwks.json", move || {
        let (seen, jwks) = (seen.clone(), jwks.clone());
        web::get().to(move |request: actix_web::HttpRequest| {
            let header = request.headers().get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default();
            seen.lock().unwrap().push(header.to_owned());
            let jwks = jwks.clone();
            async move { HttpResponse::Ok().body(jwks) }
        })
    });
    let verifier = verifier(&format!("{base}/jwks.json"), Duration::from_millis(200));
    let span = tracing::info_span!(target: "api_service::integrator", "integrator.verify");
    let trace_id = span.context().span().span_context().trace_id().to_string();
    verifier.refresh().instrument(span).await.unwrap();
    let seen = traceparents.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with(&format!("00-{trace_id}-")), "{seen:?} in trace {trace_id}");
}
