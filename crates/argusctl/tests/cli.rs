//! argusctl as an operator runs it: the real binary against a real database,
//! with auth-service running on a random port to check what it produced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use argus_store::StoreConfig;
use argus_store::testing::TestDatabase;
use auth_service::{Application, AuthConfig};
use serde_json::Value;

const ISSUER: &str = "https://auth.test.knogin.com";

async fn argusctl(db_url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_argusctl"))
        .args(args)
        .env("ARGUS_DATABASE_URL", db_url)
        .env("ARGUS_ISSUER", ISSUER)
        .env_remove("ARGUS_AUDIENCE")
        .env_remove("ARGUS_USER_PASSWORD")
        .output()
        .await
        .unwrap()
}

async fn ok_json(db_url: &str, args: &[&str]) -> Value {
    let out = argusctl(db_url, args).await;
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Fails with exactly one line on stderr containing `expected`.
async fn fails(db_url: &str, args: &[&str], expected: &str) {
    let out = argusctl(db_url, args).await;
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty());
}

async fn auth_service(db_url: &str) -> String {
    argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
    let app = Application::build(AuthConfig {
        store: StoreConfig { database_url: db_url.to_owned(), max_connections: 2 },
        ..AuthConfig::local(db_url, ISSUER, "test-pepper")
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

async fn status_with(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/platform/apps"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn jwks_kids(base: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn migrate_applies_once_and_creates_keys() {
    let db = TestDatabase::empty().await;
    let first = ok_json(db.url(), &["migrate"]).await;
    assert!(!first["applied"].as_array().unwrap().is_empty());
    let again = ok_json(db.url(), &["migrate"]).await;
    assert!(again["applied"].as_array().unwrap().is_empty(), "second run applies nothing");
    let keys = ok_json(db.url(), &["keys", "list"]).await;
    let states: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 2);
    assert!(states.contains(&"current") && states.contains(&"next"));
    assert!(!keys.to_string().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn tenant_create_prints_an_admin_token_the_auth_service_accepts() {
    let db = TestDatabase::create().await;
    let created = ok_json(db.url(), &["tenant", "create", "--name", "Acme Emergency Services"]).await;
    let tenant = created["tenant_id"].as_str().unwrap();
    assert!(tenant.starts_with("ten_"));
    let token = created["admin_token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token).unwrap().claims;
    assert_eq!(claims["tid"], tenant);
    assert_eq!(claims["scope"], "platform:admin");
    assert_eq!(claims["iss"], ISSUER);

    let base = auth_service(db.url()).await;
    assert_eq!(status_with(&base, token).await, 200);

    let minted = ok_json(db.url(), &["token", "admin", "--tenant", tenant, "--ttl", "120"]).await;
    assert_eq!(status_with(&base, minted["admin_token"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn user_create_stores_an_argon2id_hash_and_refuses_duplicates() {
    let db = TestDatabase::create().await;
    let tenant =
        ok_json(db.url(), &["tenant", "create", "--name", "A"]).await["tenant_id"].as_str().unwrap().to_owned();
    let user = ok_json(
        db.url(),
        &[
            "user",
            "create",
            "--tenant",
            &tenant,
            "--email",
            "Dispatcher@Example.COM",
            "--password",
            "correct horse battery",
        ],
    )
    .await;
    assert!(user["user_id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(user["email"], "dispatcher@example.com");
    let stored =
        db.store().find_user_by_email(&tenant.parse().unwrap(), "dispatcher@example.com").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(argus_crypto::verify_password("correct horse battery", &stored.password_hash));

    fails(
        db.url(),
        &["user", "create", "--tenant", &tenant, "--email", "dispatcher@example.com", "--password", "another password"],
        "exists",
    )
    .await;
}

#[tokio::test]
async fn bad_input_and_an_unreachable_database_fail_with_one_line() {
    let db = TestDatabase::create().await;
    let tenant =
        ok_json(db.url(), &["tenant", "create", "--name", "A"]).await["tenant_id"].as_str().unwrap().to_owned();
    let long_name = "n".repeat(201);
    fails(db.url(), &["tenant", "create", "--name", ""], "--name must be 1 to 200").await;
    fails(db.url(), &["tenant", "create", "--name", &long_name], "--name must be 1 to 200").await;
    fails(db.url(), &["tenant", "create", "--name", "A", "--ttl", "5"], "--ttl must be between").await;
    fails(
        db.url(),
        &["user", "create", "--tenant", &tenant, "--email", "nope", "--password", "long enough"],
        "not an email",
    )
    .await;
    fails(
        db.url(),
        &["user", "create", "--tenant", &tenant, "--email", "a@b.example", "--password", "short"],
        "at least 8",
    )
    .await;
    fails(
        db.url(),
        &["user", "create", "--tenant", "ten_x", "--email", "a@b.example", "--password", "long enough"],
        "--tenant",
    )
    .await;
    fails(db.url(), &["token", "admin", "--tenant", "ten_00000000000000000000000000"], "no tenant").await;
    let unreachable = "postgres://postgres@127.0.0.1:1/argus";
    fails(unreachable, &["tenant", "create", "--name", "A"], "cannot reach the database").await;
    fails(unreachable, &["migrate"], "cannot reach the database").await;
    let out = argusctl(db.url(), &["frobnicate"]).await;
    assert!(!out.status.success());
}

#[tokio::test]
async fn after_keys_rotate_old_tokens_verify_until_their_key_lapses() {
    let db = TestDatabase::create().await;
    let created = ok_json(db.url(), &["tenant", "create", "--name", "A"]).await;
    let tenant = created["tenant_id"].as_str().unwrap().to_owned();
    let old_token = created["admin_token"].as_str().unwrap().to_owned();
    let old_kid = kid_of(&old_token);
    let running = auth_service(db.url()).await;
    let jwks_before = jwks_kids(&running).await;

    let rotation = ok_json(db.url(), &["keys", "rotate"]).await;
    assert_eq!(rotation["retired"], old_kid.as_str());
    assert!(
        jwks_before.contains(&rotation["current"].as_str().unwrap().to_owned()),
        "the new current key was published ahead, as next"
    );

    let new_token =
        ok_json(db.url(), &["token", "admin", "--tenant", &tenant]).await["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&new_token), rotation["current"].as_str().unwrap());

    // The service that was running before the rotation accepts both at once.
    assert_eq!(status_with(&running, &old_token).await, 200);
    assert_eq!(status_with(&running, &new_token).await, 200);

    // A service started after the rotation publishes retired + current + next.
    let fresh = auth_service(db.url()).await;
    let kids = jwks_kids(&fresh).await;
    assert_eq!(kids.len(), 3);
    assert!(kids.contains(&old_kid));
    assert_eq!(status_with(&fresh, &old_token).await, 200);

    let listed = ok_json(db.url(), &["keys", "list"]).await;
    let retired = listed["keys"].as_array().unwrap().iter().find(|k| k["kid"] == old_kid.as_str()).unwrap().clone();
    assert_eq!(retired["state"], "retired");
    let until = chrono::DateTime::parse_from_rfc3339(retired["published_until"].as_str().unwrap()).unwrap();
    let left = until.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((86_400..=86_700).contains(&left), "published for the longest token lifetime plus grace: {left}");

    // Once every token it signed has expired, the retired key is gone.
    db.execute(&format!("UPDATE signing_keys SET publish_until = now() - interval '1 second' WHERE kid = '{old_kid}'"))
        .await;
    let later = auth_service(db.url()).await;
    assert!(!jwks_kids(&later).await.contains(&old_kid));
    assert_eq!(status_with(&later, &old_token).await, 401);
    assert_eq!(status_with(&later, &new_token).await, 200);
}

#[tokio::test]
async fn bundles_load_grant_and_list() {
    let db = TestDatabase::create().await;
    let tenant =
        ok_json(db.url(), &["tenant", "create", "--name", "A"]).await["tenant_id"].as_str().unwrap().to_owned();
    let store = db.store();
    let app = store
        .create_app(
            &tenant.parse().unwrap(),
            argus_store::apps::NewApp {
                name: "sync".into(),
                client_type: argus_types::ClientType::Confidential,
                grant_types: vec![argus_types::GrantType::ClientCredentials],
                redirect_uris: vec![],
                requested_scopes: vec!["cases:read".into()],
                approved_scopes: vec!["cases:read".into()],
            },
            Some(vec![0; 32]),
        )
        .await
        .unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bundles/case-sync.graphql");
    let loaded = ok_json(db.url(), &["bundle", "load", file]).await;
    assert_eq!(loaded["bundle"], "case-sync");
    let ops = loaded["operations"].as_array().unwrap();
    assert!(ops.iter().any(|o| o["operation"] == "CaseById" && o["id"].as_str().unwrap().starts_with("sha256:")));
    // Loading again replaces rather than duplicates.
    ok_json(db.url(), &["bundle", "load", file]).await;

    let client_id = app.client_id.to_string();
    let granted =
        ok_json(db.url(), &["bundle", "grant", "--tenant", &tenant, "--app", &client_id, "--bundle", "case-sync"])
            .await;
    assert_eq!(granted["bundle"], "case-sync");
    let listed = ok_json(db.url(), &["bundle", "list"]).await;
    let bundle = &listed["bundles"][0];
    assert_eq!(bundle["name"], "case-sync");
    assert_eq!(bundle["operations"].as_array().unwrap().len(), ops.len());
    assert_eq!(bundle["grants"][0]["client_id"], client_id.as_str());
    assert_eq!(bundle["grants"][0]["tenant_id"], tenant.as_str());

    fails(
        db.url(),
        &["bundle", "grant", "--tenant", &tenant, "--app", &client_id, "--bundle", "nope"],
        "no bundle nope",
    )
    .await;
    let other = argus_types::ClientId::generate().to_string();
    fails(db.url(), &["bundle", "grant", "--tenant", &tenant, "--app", &other, "--bundle", "case-sync"], "no app")
        .await;
    let bad = std::env::temp_dir().join(format!("bad-{}.graphql", std::process::id()));
    std::fs::write(&bad, "query { incidents { nodes { id } } }").unwrap();
    fails(db.url(), &["bundle", "load", bad.to_str().unwrap()], "needs one").await;
    std::fs::remove_file(&bad).unwrap();
}
