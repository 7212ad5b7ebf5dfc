//! argusctl as an operator runs it: the real binary against a real database,
//! with auth-service running on a random port to check what it produced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use argus_store::testing::TestDatabase;
use argus_store::{StoreConfig, WriteStamp};
use auth_service::AuthConfig;
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.test.knogin.com";

/// The real binary with `vars` set and the other variables it reads
/// cleared, so that the environment the tests run in cannot change them.
async fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_argusctl"));
    for name in ["ARGUS_AUDIENCE", "ARGUS_ENV", "ARGUS_USER_PASSWORD", "ARGUS_BUS_PREFIX", "ARGUS_AMQP_CA_FILE"] {
        command.env_remove(name);
    }
    command.args(args).envs(vars.iter().copied()).output().await.unwrap()
}

/// argusctl against a database.
async fn argusctl(db_url: &str, args: &[&str]) -> Output {
    run(args, &[("ARGUS_DATABASE_URL", db_url), ("ARGUS_ISSUER", ISSUER)]).await
}

async fn ok_json(db_url: &str, args: &[&str]) -> Value {
    succeeded(&argusctl(db_url, args).await, args)
}

/// Fails with exactly one line on stderr containing `expected`.
async fn fails(db_url: &str, args: &[&str], expected: &str) {
    failed(&argusctl(db_url, args).await, args, expected);
}

/// The JSON a successful run printed.
fn succeeded(out: &Output, args: &[&str]) -> Value {
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A failed run: one line on stderr containing `expected`, nothing on stdout.
fn failed(out: &Output, args: &[&str], expected: &str) {
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty());
}

/// A confidential client-credentials app named `name` in `tenant`, holding
/// `cases:read` (what the shipped case-sync bundle reads); its client id.
async fn case_reader(store: &argus_store::Store, tenant: &str, name: &str) -> String {
    let new = argus_store::apps::NewApp {
        name: name.into(),
        client_type: argus_types::ClientType::Confidential,
        grant_types: vec![argus_types::GrantType::ClientCredentials],
        redirect_uris: vec![],
        requested_scopes: vec!["cases:read".into()],
        approved_scopes: vec!["cases:read".into()],
    };
    store.create_app(&tenant.parse().unwrap(), new, Some(vec![0; 32])).await.unwrap().client_id.to_string()
}

async fn auth_service(db_url: &str) -> String {
    argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
    let app = auth_service::build(AuthConfig {
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
    set_kids(base, "/.well-known/jwks.json").await
}

/// The `kid`s of the key set the auth-service at `base` publishes at `path`.
async fn set_kids(base: &str, path: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{base}{path}")).await.unwrap().json().await.unwrap();
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
    assert_eq!(first["environment"], "live", "the database is claimed for ARGUS_ENV (default live)");
    let again = ok_json(db.url(), &["migrate"]).await;
    assert!(again["applied"].as_array().unwrap().is_empty(), "second run applies nothing");
    let keys = ok_json(db.url(), &["keys", "list"]).await;
    // A current and a next key in each of the two key sets.
    for set in ["live", "sandbox"] {
        let mut states: Vec<&str> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["key_set"] == set)
            .map(|k| k["state"].as_str().unwrap())
            .collect();
        states.sort_unstable();
        assert_eq!(states, ["current", "next"], "{set}");
    }
    assert!(!keys.to_string().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn migrate_claims_the_database_for_its_environment_once() {
    let db = TestDatabase::empty().await;
    let sandbox = [("ARGUS_DATABASE_URL", db.url()), ("ARGUS_ENV", "sandbox")];
    let first = succeeded(&run(&["migrate"], &sandbox).await, &["migrate"]);
    assert_eq!(first["environment"], "sandbox");
    // Claimed: a live migrate of the sandbox's database is refused, and
    // changes nothing.
    fails(db.url(), &["migrate"], "names the sandbox database").await;
    let again = succeeded(&run(&["migrate"], &sandbox).await, &["migrate"]);
    assert_eq!(again["environment"], "sandbox");
    // The live audience can never be the sandbox's.
    let out = run(&["keys", "list"], &[("ARGUS_DATABASE_URL", db.url()), ("ARGUS_AUDIENCE", "sandbox")]).await;
    failed(&out, &["keys", "list"], "live audience");
}

#[tokio::test]
async fn keys_rotate_rotates_one_key_set_and_leaves_the_other() {
    let db = TestDatabase::create().await;
    let running = auth_service(db.url()).await;
    let live_before = jwks_kids(&running).await;
    let sandbox_before = set_kids(&running, "/.well-known/sandbox/jwks.json").await;
    assert_eq!((live_before.len(), sandbox_before.len()), (2, 2));
    assert!(live_before.iter().all(|k| !sandbox_before.contains(k)), "two sets, no key in both");

    let rotation = ok_json(db.url(), &["keys", "rotate", "--key-set", "sandbox"]).await;
    assert_eq!(rotation["key_set"], "sandbox");
    assert!(sandbox_before.contains(&rotation["retired"].as_str().unwrap().to_owned()));
    let fresh = auth_service(db.url()).await;
    assert_eq!(jwks_kids(&fresh).await, live_before, "the live set is untouched");
    let sandbox_after = set_kids(&fresh, "/.well-known/sandbox/jwks.json").await;
    assert_eq!(sandbox_after.len(), 3, "retired, current and next");
    assert!(sandbox_after.contains(&rotation["next"].as_str().unwrap().to_owned()));
    assert!(!argusctl(db.url(), &["keys", "rotate", "--key-set", "staging"]).await.status.success());
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
    let second = minted["admin_token"].as_str().unwrap();
    assert_eq!(status_with(&base, second).await, 200);

    // `token revoke` takes the printed jti; the running auth-service refuses
    // that token within a second, and only that one.
    let jti = minted["jti"].as_str().unwrap();
    assert_eq!(jti, jsonwebtoken::dangerous::insecure_decode::<Value>(second).unwrap().claims["jti"]);
    let revoked = ok_json(db.url(), &["token", "revoke", jti]).await;
    assert_eq!(revoked["revoked"], jti);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while status_with(&base, second).await != 401 {
        assert!(std::time::Instant::now() < deadline, "the revoked admin token still works after a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status_with(&base, token).await, 200, "the other admin token still works");
    fails(db.url(), &["token", "revoke", ""], "the jti must be").await;

    // A live revocation is not published for the sandbox API; one made
    // with `--environment sandbox` is.
    let published = async || -> Value {
        let url = format!("{base}/.well-known/sandbox/revocations.json");
        reqwest::get(url).await.unwrap().json().await.unwrap()
    };
    assert_eq!(published().await, serde_json::json!({ "key_set": "sandbox", "revoked": [] }));
    let sandbox = ok_json(db.url(), &["token", "revoke", "01JSANDBOXTOKEN", "--environment", "sandbox"]).await;
    assert_eq!(sandbox["environment"], "sandbox");
    let list = published().await;
    assert_eq!(list["revoked"][0]["jti"], "01JSANDBOXTOKEN", "{list}");
    assert_eq!(list["revoked"].as_array().unwrap().len(), 1, "{list}");
    assert!(!argusctl(db.url(), &["token", "revoke", "x", "--environment", "staging"]).await.status.success());
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
    let client_id = case_reader(&store, &tenant, "sync").await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bundles/case-sync.graphql");
    let loaded = ok_json(db.url(), &["bundle", "load", file]).await;
    assert_eq!(loaded["bundle"], "case-sync");
    let ops = loaded["operations"].as_array().unwrap();
    assert!(ops.iter().any(|o| o["operation"] == "CaseById" && o["id"].as_str().unwrap().starts_with("sha256:")));
    // Loading again replaces rather than duplicates.
    ok_json(db.url(), &["bundle", "load", file]).await;

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

/// Sealing keys after a rotation: `ops-2026` seals, the development key
/// (which sealed the test template's keys) still opens.
const ROTATED_SEALING_KEYS: &str =
    "ops-2026:c2VhbGluZy1rZXktZm9yLXRoZS1hcmd1c2N0bC10ZXN0cw,dev:argus-dev-key-sealing-secret-do-not-use-in-production";

async fn ok_json_sealed(db_url: &str, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_argusctl"))
        .args(args)
        .env("ARGUS_DATABASE_URL", db_url)
        .env("ARGUS_ISSUER", ISSUER)
        .env("ARGUS_KEY_SEALING_KEYS", ROTATED_SEALING_KEYS)
        .env_remove("ARGUS_AUDIENCE")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[derive(diesel::QueryableByName)]
struct StoredKey {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    private_key_pem: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bytea>)]
    private_key_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    sealing_key_id: Option<String>,
}

async fn stored_keys(db_url: &str) -> Vec<StoredKey> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = diesel_async::AsyncPgConnection::establish(db_url).await.unwrap();
    diesel::sql_query(
        "SELECT kid, state, private_key_pem, private_key_sealed, sealing_key_id FROM signing_keys WHERE key_set = 'live'",
    )
        .load(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrate_seals_plaintext_signing_keys_and_their_tokens_still_verify() {
    use base64::Engine;
    let db = TestDatabase::create().await;
    // The current key as every key was stored before sealing: plaintext PEM.
    let pem = argus_crypto::generate_signing_key_pem().unwrap();
    let der = pem::parse(&pem).unwrap().contents().to_vec();
    db.execute(&format!(
        "UPDATE signing_keys SET private_key_pem = '{pem}', private_key_sealed = NULL, sealing_key_id = NULL \
         WHERE state = 'current' AND key_set = 'live'"
    ))
    .await;
    let current = stored_keys(db.url()).await.into_iter().find(|k| k.state == "current").unwrap().kid;

    ok_json_sealed(db.url(), &["migrate"]).await;
    let stored = stored_keys(db.url()).await;
    assert_eq!(stored.len(), 2);
    let mut sealed_blobs = Vec::new();
    for key in &stored {
        assert_eq!(key.private_key_pem, None, "{}: no plaintext column left", key.kid);
        assert_eq!(key.sealing_key_id.as_deref(), Some("ops-2026"), "{}: sealed under the first key", key.kid);
        let sealed = key.private_key_sealed.clone().unwrap();
        for plain in [b"PRIVATE KEY".as_slice(), &der[..64], pem.as_bytes().get(40..100).unwrap()] {
            assert!(!sealed.windows(plain.len()).any(|w| w == plain), "{}: sealed bytes hold plaintext", key.kid);
        }
        sealed_blobs.push(base64::engine::general_purpose::STANDARD.encode(&sealed));
    }

    // Tokens are signed by the same private key, and verify at an
    // auth-service that has the sealing keys.
    let token = ok_json_sealed(db.url(), &["tenant", "create", "--name", "A"]).await["admin_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kid_of(&token), current);
    let original = argus_crypto::SigningKey::from_pkcs8_pem(&current, &pem).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(&token, original.decoding_key(), &validation).unwrap();
    let app = auth_service::build(AuthConfig {
        key_sealer: argus_crypto::KeySealer::parse(ROTATED_SEALING_KEYS).unwrap(),
        ..AuthConfig::local(db.url(), ISSUER, "test-pepper")
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    assert_eq!(status_with(&base, &token).await, 200);

    // Without the sealing key the keys do not open: start-up says which key
    // is missing, and nothing is changed.
    let Err(refused) = auth_service::build(AuthConfig::local(db.url(), ISSUER, "test-pepper")).await else {
        panic!("an auth-service without the sealing key started");
    };
    assert!(refused.to_string().contains("sealing key `ops-2026`"), "{refused}");
    fails(db.url(), &["migrate"], "sealing key `ops-2026`").await;
    assert_eq!(
        stored_keys(db.url()).await.iter().filter(|k| k.sealing_key_id.as_deref() == Some("ops-2026")).count(),
        2
    );

    // `keys list` shows the metadata and the sealing key's id, nothing else.
    let listed = ok_json(db.url(), &["keys", "list"]).await;
    let text = listed.to_string();
    assert!(!text.contains("PRIVATE KEY") && !text.contains(&pem[40..100]));
    assert!(sealed_blobs.iter().all(|b| !text.contains(&b[..24])), "no sealed bytes either");
    for key in listed["keys"].as_array().unwrap() {
        let mut fields: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "activated_at",
                "created_at",
                "key_set",
                "kid",
                "published_until",
                "retired_at",
                "sealing_key_id",
                "state"
            ]
        );
        assert_eq!(key["sealing_key_id"], "ops-2026");
    }
}

/// argusctl against a RabbitMQ vhost only.
async fn dlq(amqp_url: &str, args: &[&str]) -> Output {
    run(&[&["dlq"], args].concat(), &[("ARGUS_AMQP_URL", amqp_url)]).await
}

async fn dlq_json(amqp_url: &str, args: &[&str]) -> Value {
    succeeded(&dlq(amqp_url, args).await, args)
}

async fn dlq_fails(amqp_url: &str, args: &[&str], expected: &str) {
    failed(&dlq(amqp_url, args).await, args, expected);
}

#[tokio::test]
async fn dlq_lists_and_replays_messages_that_died() {
    use argus_bus::{ConsumerConfig, Exchange, Message, Outcome, Publisher, PublisherConfig, Topology, WorkQueue};
    let vhost = argus_bus::testing::TestVhost::create().await;
    let topology = Topology::new(argus_bus::topology::DEFAULT_PREFIX, [1_000]);
    let publisher = Publisher::new(PublisherConfig::new(vhost.url(), topology.clone()));
    let task = argus_bus::proto::DeliveryTask {
        delivery_id: "dlv_x1".into(),
        webhook_id: "wh_x".into(),
        event_id: "evt_x".into(),
        tenant_id: "ten_x".into(),
        attempt: 3,
    };
    publisher.publish(Exchange::Work, WorkQueue::Deliveries.routing_key(), &Message::delivery(&task)).await.unwrap();
    let stop = argus_bus::CancellationToken::new();
    let (url, top, token) = (vhost.url().to_owned(), topology.clone(), stop.clone());
    let consumer = tokio::spawn(async move {
        argus_bus::run_consumer_forever(
            &url.as_str().into(),
            &top,
            &ConsumerConfig::new(WorkQueue::Deliveries, 2),
            |_| async { Outcome::DeadLetter { reason: "retries exhausted".to_owned() } },
            token,
        )
        .await
        .expect("the topology declares");
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let listed = loop {
        let listed = dlq_json(vhost.url(), &["list", "--tenant", "ten_x"]).await;
        if listed["dead_letters"].as_array().unwrap().len() == 1 {
            break listed;
        }
        assert!(std::time::Instant::now() < deadline, "nothing died: {listed}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    stop.cancel();
    consumer.await.unwrap();
    let dead = &listed["dead_letters"][0];
    assert_eq!(dead["message_id"], "dlv_x1.3");
    assert_eq!(dead["kind"], "delivery");
    assert_eq!(dead["queue"], "argus.deliveries");
    assert_eq!(dead["reason"], "retries exhausted");
    assert_eq!(dead["ids"]["delivery_id"], "dlv_x1");
    assert!(dead["died_at"].is_string(), "{dead}");
    assert_eq!(dlq_json(vhost.url(), &["list", "--tenant", "ten_other"]).await["dead_letters"], serde_json::json!([]));

    // Bad input is one line, and changes nothing.
    dlq_fails(vhost.url(), &["list", "--limit", "0"], "--limit").await;
    dlq_fails(vhost.url(), &["purge", "--before", "yesterday"], "RFC 3339").await;
    dlq_fails(vhost.url(), &["list", "--bus-prefix", "nope"], "no dead-letter queue nope.dead").await;

    let replayed = dlq_json(vhost.url(), &["replay", "--id", "dlv_x1"]).await;
    assert_eq!(replayed["replayed"], 1, "{replayed}");
    assert_eq!(dlq_json(vhost.url(), &["list"]).await["dead_letters"], serde_json::json!([]));
    let connection = argus_bus::connect(&vhost.url().into(), "check", std::time::Duration::from_secs(5)).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let back = channel
        .basic_get(topology.queue(WorkQueue::Deliveries).as_str().into(), lapin::options::BasicGetOptions::default())
        .await
        .unwrap()
        .expect("the replayed message is back on the deliveries queue");
    assert_eq!(back.delivery.properties.message_id().as_ref().map(|s| s.as_str()), Some("dlv_x1.3"));
}

#[tokio::test]
async fn operators_list_tenants_and_users_disable_users_and_revoke_bundles() {
    let db = TestDatabase::empty().await;
    let status = ok_json(db.url(), &["migrate", "--status"]).await;
    assert!(status["applied"].as_array().unwrap().is_empty());
    let pending = status["pending"].as_array().unwrap().len();
    assert!(pending > 10, "{status}");
    ok_json(db.url(), &["migrate"]).await;
    let status = ok_json(db.url(), &["migrate", "--status"]).await;
    assert_eq!(status["applied"].as_array().unwrap().len(), pending);
    assert!(status["pending"].as_array().unwrap().is_empty());

    let a = ok_json(db.url(), &["tenant", "create", "--name", "A"]).await["tenant_id"].as_str().unwrap().to_owned();
    let b = ok_json(db.url(), &["tenant", "create", "--name", "B"]).await["tenant_id"].as_str().unwrap().to_owned();
    let tenants = ok_json(db.url(), &["tenant", "list"]).await;
    let ids: Vec<&str> =
        tenants["tenants"].as_array().unwrap().iter().map(|t| t["tenant_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [a.as_str(), b.as_str()]);

    let create = |tenant: String, email: &'static str| {
        let url = db.url().to_owned();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_argusctl"))
                .args(["user", "create", "--tenant", &tenant, "--email", email])
                .env("ARGUS_DATABASE_URL", &url)
                .env("ARGUS_USER_PASSWORD", "correct horse battery")
                .output()
                .await
                .unwrap()
        }
    };
    let made = create(a.clone(), "ana@example.com").await;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let user = serde_json::from_slice::<Value>(&made.stdout).unwrap()["user_id"].as_str().unwrap().to_owned();
    assert!(create(b.clone(), "bo@example.com").await.status.success());
    let listed = ok_json(db.url(), &["user", "list", "--tenant", &a]).await;
    let users = listed["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "only the tenant's own: {listed}");
    assert_eq!(users[0]["email"], "ana@example.com");
    assert!(users[0]["disabled_at"].is_null());
    assert!(!listed.to_string().contains("argon2"), "no password hash: {listed}");

    let disabled = ok_json(db.url(), &["user", "disable", "--tenant", &a, "--user", &user]).await;
    assert_eq!(disabled["user_id"], user.as_str());
    assert!(disabled["disabled_at"].is_string());
    let listed = ok_json(db.url(), &["user", "list", "--tenant", &a]).await;
    assert_eq!(listed["users"][0]["disabled_at"], disabled["disabled_at"]);
    fails(db.url(), &["user", "disable", "--tenant", &b, "--user", &user], "no user").await;
    fails(db.url(), &["user", "disable", "--tenant", &a, "--user", "bob"], "--user `bob`").await;

    // Bundles: a revoked grant is gone; revoking what is not granted says so.
    let store =
        argus_store::Store::connect(&StoreConfig { database_url: db.url().to_owned(), max_connections: 1 }).unwrap();
    let app = case_reader(&store, &a, "Console").await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bundles/case-sync.graphql");
    ok_json(db.url(), &["bundle", "load", file]).await;
    let grant = ["--tenant", a.as_str(), "--app", app.as_str(), "--bundle", "case-sync"];
    ok_json(db.url(), &[&["bundle", "grant"][..], &grant[..]].concat()).await;
    let grants = |bundles: &Value| bundles["bundles"][0]["grants"].as_array().unwrap().len();
    assert_eq!(grants(&ok_json(db.url(), &["bundle", "list"]).await), 1);
    let revoked = ok_json(db.url(), &[&["bundle", "revoke"][..], &grant[..]].concat()).await;
    assert_eq!(revoked["revoked"], true);
    assert_eq!(grants(&ok_json(db.url(), &["bundle", "list"]).await), 0);
    fails(db.url(), &[&["bundle", "revoke"][..], &grant[..]].concat(), "does not have bundle `case-sync`").await;
    fails(db.url(), &["bundle", "revoke", "--tenant", &a, "--app", "nope", "--bundle", "case-sync"], "--app").await;

    let script = argusctl(db.url(), &["completions", "bash"]).await;
    assert!(script.status.success());
    let script = String::from_utf8(script.stdout).unwrap();
    assert!(script.contains("argusctl") && script.contains("dlq") && script.contains("completions"), "{script}");
    let out = argusctl(db.url(), &["completions", "tcsh"]).await;
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[tokio::test]
async fn an_encounters_access_log_lists_its_reads() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let tenant = store.create_tenant("A").await.unwrap().id;
    let other = store.create_tenant("B").await.unwrap().id;
    let body = serde_json::json!({
        "patient": {"sex": "male"},
        "timeline": {"call_received": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339()},
        "crew": [{"name": "Sam Medic", "role": "paramedic"}]
    });
    let record = argus_domain::Encounter::parse(body, chrono::Utc::now()).unwrap();
    let id = store.create_encounter(WriteStamp::Now, &tenant, record, "app_writer").await.unwrap().id;
    for (actor, route) in [("usr_a", "GET /api/v1/epcr/encounters/{encounterId}"), ("app_b", "graphql EncounterById")] {
        let access = argus_store::epcr::EncounterAccess { actor, client_id: actor, route, trace_id: None };
        assert!(store.read_encounter(&tenant, &id, &access).await.unwrap().is_some());
        // The same id in another tenant is no record: not read, not logged.
        assert!(store.read_encounter(&other, &id, &access).await.unwrap().is_none());
    }

    let args = ["encounter", "access-log", "--tenant", tenant.as_str(), "--encounter", id.as_str()];
    let log = ok_json(db.url(), &args).await;
    assert_eq!(log["encounter_id"], id.as_str());
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["actor"], "usr_a");
    assert_eq!(entries[0]["route"], "GET /api/v1/epcr/encounters/{encounterId}");
    assert_eq!(entries[1]["client_id"], "app_b");
    assert_eq!(entries[1]["route"], "graphql EncounterById");
    assert!(entries[0]["read_at"].is_string());
    let limited = ok_json(db.url(), &[&args[..], &["--limit", "1"]].concat()).await;
    assert_eq!(limited["entries"].as_array().unwrap().len(), 1);

    let theirs = ["encounter", "access-log", "--tenant", other.as_str(), "--encounter", id.as_str()];
    assert_eq!(ok_json(db.url(), &theirs).await["entries"], serde_json::json!([]));
    fails(db.url(), &["encounter", "access-log", "--tenant", tenant.as_str(), "--encounter", "inc_1"], "--encounter")
        .await;
    fails(db.url(), &[&args[..], &["--limit", "0"]].concat(), "--limit must be between 1 and 10000").await;
    let unknown = argus_types::TenantId::generate().to_string();
    fails(db.url(), &["encounter", "access-log", "--tenant", &unknown, "--encounter", id.as_str()], "no tenant").await;
}

#[tokio::test]
async fn the_tenant_admin_gets_the_provenance_keys_and_rotates_them() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let tenant = store.create_tenant("A").await.unwrap().id;
    // The key argusctl opens with the development pepper, as the API seals it.
    let sealer = argus_crypto::provenance::ProvenanceSealer::new(argus_crypto::DEV_PEPPER.as_bytes());
    let first = store.rotate_provenance_key(&tenant, &sealer).await.unwrap();

    let args = ["provenance", "keys", "--tenant", tenant.as_str()];
    let listed = ok_json(db.url(), &args).await;
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["kid"], first.as_str());
    assert_eq!((&keys[0]["kty"], &keys[0]["alg"]), (&json!("oct"), &json!("HS256")));
    assert_eq!(keys[0]["algorithm"], "hmac-sha256");
    let secret =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, keys[0]["k"].as_str().unwrap())
            .unwrap();
    assert_eq!(secret.len(), 32);
    assert!(keys[0]["retired_at"].is_null());

    let rotated = ok_json(db.url(), &["provenance", "rotate-key", "--tenant", tenant.as_str()]).await;
    let current = rotated["current"].as_str().unwrap();
    assert_ne!(current, first);
    let listed = ok_json(db.url(), &args).await;
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    assert_eq!(keys[0]["kid"], first.as_str());
    assert!(keys[0]["retired_at"].is_string(), "the old key is retired, and kept");
    assert_eq!(keys[1]["kid"], current);

    // The opt-in: ML-DSA-65 from now on; its public key listed, no secret.
    let url = db.url().to_owned();
    let choose = async |algorithm: &str| {
        ok_json(&url, &["tenant", "provenance", "--tenant", tenant.as_str(), "--algorithm", algorithm]).await
    };
    let chosen = choose("ml-dsa-65").await;
    assert_eq!((&chosen["algorithm"], &chosen["changed"]), (&json!("ml-dsa-65"), &json!(true)), "{chosen}");
    let ml_dsa = chosen["current"].as_str().unwrap().to_owned();
    assert_eq!(choose("ml-dsa-65").await["changed"], false, "choosing the current algorithm changes nothing");
    let rotated = ok_json(db.url(), &["provenance", "rotate-key", "--tenant", tenant.as_str()]).await;
    let listed = ok_json(db.url(), &args).await;
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "{listed}");
    for (key, kid) in keys[2..].iter().zip([ml_dsa.as_str(), rotated["current"].as_str().unwrap()]) {
        assert_eq!((&key["kid"], &key["kty"], &key["alg"]), (&json!(kid), &json!("AKP"), &json!("ML-DSA-65")), "{key}");
        assert!(key["k"].is_null(), "an ML-DSA key's secret is never printed");
        let public =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, key["pub"].as_str().unwrap())
                .unwrap();
        assert_eq!(public.len(), 1952);
    }
    assert!(keys[2]["retired_at"].is_string() && keys[3]["retired_at"].is_null(), "a rotation keeps the algorithm");
    assert_eq!(choose("hmac-sha256").await["changed"], true);
    let refused =
        argusctl(db.url(), &["tenant", "provenance", "--tenant", tenant.as_str(), "--algorithm", "rsa"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no provenance algorithm `rsa`"));

    let unknown = argus_types::TenantId::generate().to_string();
    fails(db.url(), &["provenance", "keys", "--tenant", &unknown], "no tenant").await;
}

#[tokio::test]
async fn tenant_entitle_sets_and_withdraws_the_partner_entitlement() {
    let db = TestDatabase::create().await;
    let a = ok_json(db.url(), &["tenant", "create", "--name", "A"]).await["tenant_id"].as_str().unwrap().to_owned();
    let b = ok_json(db.url(), &["tenant", "create", "--name", "B"]).await["tenant_id"].as_str().unwrap().to_owned();
    let partner_of = |listed: &Value, id: &str| {
        listed["tenants"].as_array().unwrap().iter().find(|t| t["tenant_id"] == id).unwrap()["partner"].clone()
    };
    let listed = ok_json(db.url(), &["tenant", "list"]).await;
    assert_eq!(partner_of(&listed, &a), false);

    let set = ok_json(db.url(), &["tenant", "entitle", "--tenant", &a, "--partner"]).await;
    assert_eq!(set, serde_json::json!({ "tenant_id": a, "partner": true }));
    let listed = ok_json(db.url(), &["tenant", "list"]).await;
    assert_eq!((partner_of(&listed, &a), partner_of(&listed, &b)), (true.into(), false.into()), "only A: {listed}");
    let store =
        argus_store::Store::connect(&StoreConfig { database_url: db.url().to_owned(), max_connections: 1 }).unwrap();
    assert!(store.is_partner(&a.parse().unwrap()).await.unwrap());

    let unset = ok_json(db.url(), &["tenant", "entitle", "--tenant", &a, "--no-partner"]).await;
    assert_eq!(unset["partner"], false);
    assert!(!store.is_partner(&a.parse().unwrap()).await.unwrap());

    let unknown = argus_types::TenantId::generate().to_string();
    fails(db.url(), &["tenant", "entitle", "--tenant", &unknown, "--partner"], "no tenant").await;
    fails(db.url(), &["tenant", "entitle", "--tenant", "nope", "--partner"], "--tenant `nope`").await;
    // One of --partner and --no-partner, not neither nor both.
    for args in [
        &["tenant", "entitle", "--tenant", &a][..],
        &["tenant", "entitle", "--tenant", &a, "--partner", "--no-partner"],
    ] {
        let out = argusctl(db.url(), args).await;
        assert!(!out.status.success() && out.stdout.is_empty(), "{args:?}");
    }
    assert!(!store.is_partner(&a.parse().unwrap()).await.unwrap());
}

/// A transcript of a new tenant's item signed with `algorithm` (CREATE and
/// three operations), saved as `GET .../provenance` answers it, and the
/// tenant's keys as `argusctl provenance keys` prints them.
async fn saved_transcript(db: &TestDatabase, algorithm: argus_provenance::Algorithm) -> (Value, Value) {
    use argus_domain::evidence::{EvidenceOperation, NewEvidence, RecordOperation};
    let store = db.store();
    let sealer = argus_crypto::provenance::ProvenanceSealer::new(argus_crypto::DEV_PEPPER.as_bytes());
    let tenant = store.create_tenant("offline").await.unwrap().id;
    store.set_provenance_algorithm(&tenant, algorithm, &sealer).await.unwrap();
    let incident = argus_store::domain::NewIncident {
        title: "Depot".into(),
        description: String::new(),
        severity: argus_domain::Severity::Low,
        location: None,
        occurred_at: None,
        reporter: "usr_test".into(),
    };
    let incident = store.create_incident(WriteStamp::Now, &tenant, incident).await.unwrap().id;
    let actor = argus_store::domain::EvidenceActor { subject: "usr_test", client_id: "app_test" };
    let new = NewEvidence {
        incident_id: Some(incident),
        case_id: None,
        name: "cam.mp4".into(),
        media_type: "video/mp4".into(),
        size_bytes: 10,
        sha256: "ab".repeat(32),
    };
    let id = store.create_evidence(WriteStamp::Now, &tenant, new, actor, &sealer).await.unwrap().id;
    for (operation, custodian) in [
        (EvidenceOperation::Annotate, None),
        (EvidenceOperation::TransferCustody, Some("Lab 4".to_owned())),
        (EvidenceOperation::Export, None),
    ] {
        let record = RecordOperation { operation, details: Some("by the test".into()), custodian };
        store.record_evidence_operation(WriteStamp::Now, &tenant, &id, record, actor, &sealer).await.unwrap().unwrap();
    }
    let (_, entries) = store.evidence_transcript(&tenant, &id).await.unwrap().unwrap();
    let rows = entries.iter().map(|e| (e.entry(), e.leaf().unwrap(), e.tree_head())).collect();
    let transcript = argus_provenance::Transcript::of(id, rows);
    let keys = ok_json(db.url(), &["provenance", "keys", "--tenant", tenant.as_str()]).await;
    (json!({ "transcript": transcript }), keys)
}

/// A tampered transcript: what, the document, extra arguments, and the
/// failure it must name (kind, entry).
type TamperCase<'a> = (&'a str, Value, Vec<&'a str>, &'a str, Option<i64>);

#[tokio::test]
async fn a_saved_transcript_verifies_offline_and_every_tampering_is_named() {
    let db = TestDatabase::create().await;
    let dir = std::env::temp_dir().join(format!("argusctl-verify-{}", argus_types::EvidenceId::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    for algorithm in argus_provenance::Algorithm::ALL {
        let (saved, keys) = saved_transcript(&db, algorithm).await;
        let keys_file = dir.join(format!("{algorithm}-keys.json"));
        std::fs::write(&keys_file, keys.to_string()).unwrap();
        let keys_file = keys_file.to_str().unwrap().to_owned();
        // No database, no server: only the files.
        let verify = async |document: &Value, extra: &[&str]| {
            let file = dir.join(format!("{algorithm}-transcript.json"));
            std::fs::write(&file, document.to_string()).unwrap();
            let mut args = vec!["provenance", "verify", file.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = run(&args, &[]).await;
            let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (out.status.success(), answer)
        };
        let with_key = ["--key", keys_file.as_str()];
        let (ok, clean) = verify(&saved, &with_key).await;
        assert!(ok && clean["valid"] == true, "{algorithm}: {clean}");
        assert_eq!(clean["tree_size"], 4);

        let tampered = |change: &dyn Fn(&mut Value)| {
            let mut document = saved.clone();
            change(&mut document["transcript"]);
            document
        };
        let entries = |t: &mut Value| -> Vec<Value> { t["entries"].as_array().unwrap().clone() };
        let head = saved["transcript"]["entries"][1]["tree_head"].clone();
        let earlier_root = head["root_hash"].as_str().unwrap().to_owned();
        let cases: Vec<TamperCase> = vec![
            (
                "changed",
                tampered(&|t| t["entries"][2]["custodian"] = json!("someone else")),
                vec![],
                "changed_entry",
                Some(3),
            ),
            (
                "dropped",
                tampered(&|t| {
                    t["entries"].as_array_mut().unwrap().remove(1);
                }),
                vec![],
                "dropped_entry",
                Some(2),
            ),
            (
                "inserted",
                tampered(&|t| {
                    let mut forged = entries(t)[3].clone();
                    forged["sequence"] = json!(5);
                    t["entries"].as_array_mut().unwrap().push(forged);
                }),
                vec![],
                "inserted_entry",
                Some(5),
            ),
            (
                "reordered",
                tampered(&|t| t["entries"].as_array_mut().unwrap().swap(1, 3)),
                vec![],
                "reordered_entry",
                Some(2),
            ),
            (
                "wrong root",
                tampered(&|t| t["entries"][2]["tree_head"]["root_hash"] = json!("11".repeat(32))),
                vec![],
                "wrong_root",
                Some(3),
            ),
            (
                "bad signature",
                tampered(&|t| t["entries"][0]["tree_head"]["signature"] = json!("22".repeat(40))),
                vec![],
                "bad_signature",
                Some(1),
            ),
            (
                "unknown key",
                tampered(&|t| t["tree_head"]["key_id"] = json!("pvk_forged")),
                vec![],
                "unknown_key",
                Some(4),
            ),
            (
                "broken consistency",
                saved.clone(),
                vec!["--earlier-size", "2", "--earlier-root", "33"],
                "broken_consistency",
                None,
            ),
        ];
        for (what, document, extra, kind, sequence) in cases {
            let mut args = with_key.to_vec();
            args.extend(extra);
            let (ok, answer) = verify(&document, &args).await;
            assert!(!ok, "{algorithm} {what}: exits 1");
            let named = answer["failures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == kind && f["sequence"].as_i64() == sequence);
            assert!(named, "{algorithm} {what}: {answer}");
        }
        let (ok, _) =
            verify(&saved, &["--key", &keys_file, "--earlier-size", "2", "--earlier-root", &earlier_root]).await;
        assert!(ok, "{algorithm}: extends the head held earlier");
        let (ok, answer) = verify(&saved, &[]).await;
        assert!(!ok && answer["failures"][0]["kind"] == "unknown_key", "{algorithm}: no key, no signature verifies");
    }
    // Not a transcript, not a key set, no file: clear errors.
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"transcript\": 7}").unwrap();
    let out = run(&["provenance", "verify", junk.to_str().unwrap()], &[]).await;
    failed(&out, &[], "not a provenance transcript");
    let saved = dir.join("ml-dsa-65-transcript.json");
    let out = run(&["provenance", "verify", saved.to_str().unwrap(), "--key", junk.to_str().unwrap()], &[]).await;
    failed(&out, &[], "not a JWK set");
    let out = run(&["provenance", "verify", "/nonexistent/transcript.json"], &[]).await;
    failed(&out, &[], "/nonexistent/transcript.json");
    std::fs::remove_dir_all(&dir).unwrap();
}
