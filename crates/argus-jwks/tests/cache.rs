//! The cache against a local JWKS endpoint whose answer each test sets:
//! what argus-authn's and argus-client's tests of their verifiers do not
//! reach (stale keys during an outage, keys dropped from the set, keys of
//! other kinds, an oversized set, the key set's mark).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use argus_jwks::{JwksCache, JwksError, JwksPolicy};
use argus_types::Environment;
use serde_json::{Value, json};

/// What the endpoint answers: status, `Cache-Control` and body.
#[derive(Clone)]
struct Answer(Arc<Mutex<(u16, &'static str, String)>>);

impl Answer {
    fn set(&self, status: u16, cache_control: &'static str, body: String) {
        *self.0.lock().unwrap() = (status, cache_control, body);
    }
}

/// An endpoint answering `/jwks.json` with what its [`Answer`] holds.
fn endpoint() -> (String, Answer) {
    let answer = Answer(Arc::new(Mutex::new((200, "max-age=300", "{\"keys\":[]}".to_owned()))));
    let shared = answer.clone();
    let base = argus_http::testing::serve_route("/jwks.json", move || {
        let shared = shared.clone();
        web::get().to(move || {
            let (status, cache_control, body) = shared.0.lock().unwrap().clone();
            async move {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .insert_header(("Cache-Control", cache_control))
                    .content_type("application/json")
                    .body(body)
            }
        })
    });
    (format!("{base}/jwks.json"), answer)
}

/// An RS256 signing key named `kid` (the cache reads the modulus and
/// exponent; it does not check them against a signature).
fn rsa(kid: &str) -> Value {
    json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB" })
}

fn set(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn cache(url: &str, policy: JwksPolicy) -> JwksCache {
    JwksCache::new(url, policy, reqwest::Client::new()).unwrap()
}

/// Fresh for 200 ms, refetched at most every 100 ms.
fn short() -> JwksPolicy {
    JwksPolicy {
        min_max_age: Duration::from_millis(200),
        min_refresh_interval: Duration::from_millis(100),
        ..JwksPolicy::default()
    }
}

#[tokio::test]
async fn a_stale_key_is_served_while_the_set_cannot_be_fetched_and_a_dropped_key_is_not() {
    let (url, answer) = endpoint();
    answer.set(200, "max-age=0", set(&[rsa("a"), rsa("b")]));
    let keys = cache(&url, short());
    keys.key("a").await.unwrap();

    // Stale, and the endpoint fails: the known keys still serve.
    answer.set(503, "no-store", String::new());
    tokio::time::sleep(Duration::from_millis(250)).await;
    keys.key("a").await.unwrap();
    keys.key("b").await.unwrap();
    assert!(matches!(keys.refresh().await, Err(JwksError::Fetch { reason, .. }) if reason.contains("503")));

    // Back, without `b`: once refetched, `b` is refused.
    answer.set(200, "max-age=0", set(&[rsa("a")]));
    tokio::time::sleep(Duration::from_millis(250)).await;
    keys.key("a").await.unwrap();
    assert!(matches!(keys.key("b").await, Err(JwksError::UnknownKid(kid)) if kid == "b"));
    assert_eq!(keys.cached_kids(), ["a"]);
}

#[tokio::test]
async fn only_rs256_signing_keys_are_kept() {
    let (url, answer) = endpoint();
    let mut encryption = rsa("enc");
    encryption["use"] = "enc".into();
    let mut rs512 = rsa("rs512");
    rs512["alg"] = "RS512".into();
    let mut unnamed = rsa("");
    unnamed.as_object_mut().unwrap().remove("kid");
    let mut no_alg = rsa("no-alg");
    no_alg.as_object_mut().unwrap().remove("alg");
    let ec = json!({ "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" });
    answer.set(200, "max-age=300", set(&[rsa("rs256"), encryption, rs512, unnamed, no_alg, ec]));
    let keys = cache(&url, JwksPolicy::default());
    assert_eq!(keys.refresh().await.unwrap(), 2);
    let mut kids = keys.cached_kids();
    kids.sort();
    assert_eq!(kids, ["no-alg", "rs256"]);
}

#[tokio::test]
async fn an_oversized_or_malformed_set_is_refused_and_the_cached_keys_kept() {
    let (url, answer) = endpoint();
    answer.set(200, "max-age=300", set(&[rsa("a")]));
    let keys = cache(&url, JwksPolicy::default());
    keys.refresh().await.unwrap();

    let padding = "x".repeat(1024 * 1024);
    answer.set(200, "max-age=300", json!({ "keys": [rsa("b")], "padding": padding }).to_string());
    assert!(matches!(keys.refresh().await, Err(JwksError::Fetch { reason, .. }) if reason.contains("larger than")));
    answer.set(200, "max-age=300", "{\"keys\": 1}".to_owned());
    assert!(matches!(keys.refresh().await, Err(JwksError::Fetch { .. })));
    assert_eq!(keys.cached_kids(), ["a"]);
}

#[tokio::test]
async fn a_set_marked_as_another_environments_is_refused_whole() {
    let (url, answer) = endpoint();
    let policy = JwksPolicy { key_set: Some(Environment::Sandbox), ..JwksPolicy::default() };
    let keys = cache(&url, policy);
    answer.set(200, "max-age=300", json!({ "keys": [rsa("live")], "key_set": "live" }).to_string());
    let refused = keys.refresh().await.unwrap_err();
    assert!(matches!(&refused, JwksError::WrongKeySet { found, .. } if found == "live"), "{refused}");
    answer.set(200, "max-age=300", set(&[rsa("unmarked")]));
    assert!(matches!(keys.refresh().await, Err(JwksError::WrongKeySet { found, .. }) if found == "unmarked"));
    assert!(keys.cached_kids().is_empty());
    answer.set(200, "max-age=300", json!({ "keys": [rsa("sandbox")], "key_set": "sandbox" }).to_string());
    assert_eq!(keys.refresh().await.unwrap(), 1);
}

#[test]
fn only_http_and_https_urls_are_taken() {
    for url in ["ftp://127.0.0.1/jwks.json", "not a url", "file:///etc/jwks.json"] {
        assert!(matches!(
            JwksCache::new(url, JwksPolicy::default(), reqwest::Client::new()),
            Err(JwksError::Url { .. })
        ));
    }
}
