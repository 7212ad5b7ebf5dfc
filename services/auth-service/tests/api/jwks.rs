use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::{AUDIENCE, ISSUER, TestApp};

#[tokio::test]
async fn both_jwks_paths_publish_current_and_next_rsa_keys_with_cache_control() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cache = r.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let well_known: Value = r.json().await.unwrap();
    let versioned: Value = app.http.get(app.url("/v1/auth/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(well_known, versioned);
    let keys = well_known["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "current and next");
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["e"], "AQAB");
        assert!(key["kid"].as_str().unwrap().starts_with("key_"));
        assert!(key["n"].as_str().unwrap().len() >= 342, "2048-bit modulus");
        assert!(key.get("d").is_none() && key.get("p").is_none(), "no private material");
    }
}

/// A verifier that knows only the served JWKS JSON verifies an admin token.
#[tokio::test]
async fn an_admin_token_verifies_with_only_the_served_jwks() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant("A").await;
    let jwks: JwkSet = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("token's kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims: Value = jsonwebtoken::decode(&token, &key, &validation).unwrap().claims;
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["scope"], "platform:admin");
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
        assert!(claims.get(claim).is_some(), "{claim} missing");
    }
}
