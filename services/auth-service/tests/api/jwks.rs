use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::{AUDIENCE, ISSUER, TestApp, expect_problem};

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

/// The contract keeps `/v1/auth/jwks.json` beside `/.well-known/jwks.json`;
/// docs/deprecations.yaml deprecates the former (RFC 9745), no sunset yet.
#[tokio::test]
async fn the_versioned_jwks_path_is_deprecated_in_favour_of_the_well_known_one() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/v1/auth/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["deprecation"], "@1796515200", "2026-12-06T00:00:00Z");
    assert!(r.headers().get("sunset").is_none());
    let link = r.headers()["link"].to_str().unwrap();
    assert!(link.contains(r#"<https://knogin.com/api/docs/jwks-token-verification>; rel="deprecation""#), "{link}");
    assert!(link.contains(r#"</.well-known/jwks.json>; rel="successor-version""#), "{link}");
    let r = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert!(r.headers().get("deprecation").is_none() && r.headers().get("link").is_none());
}

/// A matrix file for one test, removed when dropped.
struct MatrixFile(std::path::PathBuf);

impl MatrixFile {
    fn new(rows: &str) -> Self {
        let path = std::env::temp_dir().join(format!("argus-deprecations-{}.yaml", argus_types::TenantId::generate()));
        std::fs::write(&path, rows).unwrap();
        Self(path)
    }
}

impl Drop for MatrixFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn jwks_row(deprecated: &str, sunset: &str) -> String {
    format!(
        "- service: auth-service\n  method: GET\n  route: /v1/auth/jwks.json\n  deprecated-at: {deprecated}\n  \
         sunset-at: {sunset}\n  replacement: /.well-known/jwks.json\n  link: https://knogin.com/api/docs/jwks-token-verification\n"
    )
}

#[tokio::test]
async fn after_its_sunset_a_route_answers_410_naming_its_replacement() {
    let file = MatrixFile::new(&jwks_row("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"));
    let path = file.0.clone();
    let app = TestApp::spawn_with(move |c| c.deprecations_file = Some(path)).await;
    let r = app.http.get(app.url("/v1/auth/jwks.json")).send().await.unwrap();
    assert_eq!(r.headers()["sunset"], "Mon, 01 Jun 2026 00:00:00 GMT");
    assert_eq!(r.headers()["deprecation"], "@1767225600");
    assert!(r.headers()["link"].to_str().unwrap().contains(r#"rel="sunset""#));
    let problem = expect_problem(r, 410, "gone").await;
    assert_eq!(problem["detail"], "GET /v1/auth/jwks.json has passed its sunset; use /.well-known/jwks.json");
    assert_eq!(app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_bad_matrix_stops_the_service_at_start_up() {
    let db = argus_store::testing::TestDatabase::create().await;
    for (rows, expected) in [
        (jwks_row("2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z"), "row 1: sunset-at is before deprecated-at"),
        (
            jwks_row("2026-01-01T00:00:00Z", "~").replace("/v1/auth/jwks.json", "/v1/auth/keys"),
            "does not serve GET /v1/auth/keys",
        ),
        ("- service: auth-service\n  method: GET\n".to_owned(), "missing field"),
    ] {
        let file = MatrixFile::new(&rows);
        let mut config = auth_service::AuthConfig::local(db.url(), ISSUER, "test-pepper");
        config.deprecations_file = Some(file.0.clone());
        let error = auth_service::build(config).await.err().expect("a bad matrix is refused").to_string();
        assert!(error.contains(expected), "{error}");
    }
    let mut config = auth_service::AuthConfig::local(db.url(), ISSUER, "test-pepper");
    config.deprecations_file = Some("/nonexistent/deprecations.yaml".into());
    assert!(auth_service::build(config).await.err().unwrap().to_string().contains("cannot read"));
}
