//! The sandbox (issue 23): its two gates against live, each alone and in
//! both directions; the start-up refusals of the real binaries; every
//! shipped bundle without a grant; and its own delivery worker, on its own
//! database and vhost, running its jobs and webhooks.

use std::process::{Command, Stdio};
use std::time::Duration;

use api_service::config::Environment;
use argus_bus::testing::TestVhost;
use argus_http::testing::{Receiver, TestProcess};
use argus_store::testing::{TestDatabase, current_signing_key_of};
use argus_types::TenantId;
use serde_json::{Value, json};

use crate::helpers::{ApiBinary, ISSUER, Stack, api_config, op, post, sibling_binary, sign, spawn_api};

const SANDBOX_JWKS: &str = "/.well-known/sandbox/jwks.json";

/// A live stack, and beside it a sandbox API on a sandbox database trusting
/// the auth-service's sandbox key set.
struct Sandboxed {
    stack: Stack,
    db: TestDatabase,
    api: String,
}

impl Sandboxed {
    async fn start() -> Self {
        let stack = Stack::start().await;
        let db = TestDatabase::sandbox().await;
        let jwks = format!("{}{SANDBOX_JWKS}", stack.auth);
        let api = spawn_api(api_config(db.url(), &jwks, Environment::Sandbox)).await;
        Self { stack, db, api }
    }

    /// A sandbox token from `POST …/sandbox-token`, for a new app of a new
    /// live tenant holding `scopes`.
    async fn sandbox_token(&self, scopes: &[&str]) -> (TenantId, Value) {
        let client = self.stack.client(None, scopes).await;
        let admin = self.stack.admin_token(&client.tenant).await;
        let r = self
            .stack
            .http
            .post(format!("{}/v1/platform/apps/{}/sandbox-token", self.stack.auth, client.client_id))
            .bearer_auth(&admin)
            .json(&json!({ "scopes": scopes }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        (client.tenant, r.json().await.unwrap())
    }
}

fn shipped(name: &str) -> Vec<argus_store::bundles::BundleOperation> {
    let (_, source) = api_service::shipped_bundles::SHIPPED_BUNDLES.iter().find(|(n, _)| *n == name).unwrap();
    argus_store::bundles::parse_bundle_file(source).unwrap()
}

fn by_id(ops: &[argus_store::bundles::BundleOperation], name: &str, variables: Value) -> Value {
    json!({ "id": format!("sha256:{}", op(ops, name).sha256), "variables": variables })
}

/// The tenant's incidents in the live database.
async fn live_incidents(stack: &Stack, tenant: &TenantId) -> Vec<argus_store::domain::IncidentRecord> {
    let first = argus_types::pagination::PageRequest::from_query(None, None).unwrap();
    stack.store.list_incidents(tenant, &Default::default(), &first).await.unwrap().items
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn kids(http: &reqwest::Client, url: String) -> Vec<String> {
    let set: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_sandbox_token_works_on_the_sandbox_only_with_every_shipped_bundle_and_no_grant() {
    let s = Sandboxed::start().await;
    let (tenant, minted) = s.sandbox_token(&["incidents:read", "incidents:write"]).await;
    // The route keeps its shape.
    let mut fields: Vec<&str> = minted.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["audience", "expires_at", "scope", "token"]);
    assert_eq!(minted["audience"], "sandbox");
    let token = minted["token"].as_str().unwrap();
    // Signed by the sandbox key set, which only the sandbox JWKS publishes.
    let (live_set, sandbox_set) = (
        kids(&s.stack.http, s.stack.jwks_url()).await,
        kids(&s.stack.http, format!("{}{SANDBOX_JWKS}", s.stack.auth)).await,
    );
    assert!(sandbox_set.contains(&kid(token)) && !live_set.contains(&kid(token)));
    assert!(live_set.iter().all(|k| !sandbox_set.contains(k)), "no key is in both sets");

    // No bundle was granted (nor loaded by anyone): the sandbox has every
    // shipped one for every app. A write works too: the tenant is made in
    // the sandbox's database on first use.
    let reporting = shipped("reporting");
    let incidents = shipped("incident-webhook-configuration");
    let create = by_id(
        &incidents,
        "CreateIncident",
        json!({ "input": { "title": "Drill", "severity": "LOW", "location": "Yard" } }),
    );
    let r = post(&s.stack.http, &s.api, Some(token), Some(tenant.as_str()), create).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    let report = by_id(&reporting, "IncidentReport", json!({ "first": 5 }));
    let body: Value =
        post(&s.stack.http, &s.api, Some(token), Some(tenant.as_str()), report.clone()).await.json().await.unwrap();
    assert_eq!(body["data"]["incidents"]["nodes"][0]["title"], "Drill", "{body}");
    // Nothing of it is in the live database.
    assert!(live_incidents(&s.stack, &tenant).await.is_empty());

    // The live API refuses the sandbox token; the sandbox refuses a live one.
    let r = post(&s.stack.http, &s.stack.api, Some(token), Some(tenant.as_str()), report.clone()).await;
    assert_eq!(r.status(), 401);
    let live_client = s.stack.client(Some(&tenant), &["incidents:read"]).await;
    let live = s.stack.cc_token(&live_client, None).await;
    let r = post(&s.stack.http, &s.api, Some(&live), Some(tenant.as_str()), report).await;
    assert_eq!(r.status(), 401);
    let _ = &s.db;
}

#[tokio::test]
async fn each_gate_refuses_on_its_own_in_both_directions() {
    let s = Sandboxed::start().await;
    let tenant = s.stack.store.create_tenant("gates").await.unwrap().id;
    let live_key = current_signing_key_of(&s.stack.store, Environment::Live).await;
    let sandbox_key = current_signing_key_of(&s.stack.store, Environment::Sandbox).await;
    let scopes = ["incidents:read", "jobs:read"];
    let (live_api, sandbox_api) = (s.stack.api.as_str(), s.api.as_str());
    let cases = [
        // The audience is right, the key is the other environment's.
        ("sandbox API, sandbox aud, live key", sandbox_api, &live_key, "sandbox", Some("key")),
        ("live API, live aud, sandbox key", live_api, &sandbox_key, "api.knogin.com", Some("key")),
        // The key is right, the audience is the other environment's.
        ("sandbox API, sandbox key, live aud", sandbox_api, &sandbox_key, "api.knogin.com", Some("audience")),
        ("live API, live key, sandbox aud", live_api, &live_key, "sandbox", Some("audience")),
        // Both right.
        ("sandbox API, its own token", sandbox_api, &sandbox_key, "sandbox", None),
        ("live API, its own token", live_api, &live_key, "api.knogin.com", None),
    ];
    let report = by_id(&shipped("reporting"), "IncidentReport", json!({ "first": 1 }));
    s.stack.load_shipped_bundle("reporting").await;
    for (what, base, key, audience, gate) in cases {
        let token = sign(key, &tenant, "app_gates", audience, &scopes);
        let rest = s
            .stack
            .http
            .get(format!("{base}/v1/jobs"))
            .bearer_auth(&token)
            .header("X-Tenant-ID", tenant.as_str())
            .send()
            .await
            .unwrap();
        let graphql = post(&s.stack.http, base, Some(&token), Some(tenant.as_str()), report.clone()).await;
        let Some(gate) = gate else {
            assert_eq!(rest.status(), 200, "{what}");
            assert_eq!(graphql.status(), 200, "{what}");
            continue;
        };
        assert_eq!(rest.status(), 401, "{what}");
        assert_eq!(rest.headers()["content-type"], "application/problem+json", "{what}");
        let challenge = rest.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains(&format!("the {gate} gate")), "{what}: {challenge}");
        let problem: Value = rest.json().await.unwrap();
        assert_eq!(problem["gate"], gate, "{what}: {problem}");
        assert_eq!(problem["status"], 401);
        assert!(problem["detail"].as_str().unwrap().contains(&format!("the {gate} gate")), "{problem}");

        assert_eq!(graphql.status(), 401, "{what}");
        assert!(graphql.headers().contains_key("www-authenticate"));
        let body: Value = graphql.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert_eq!(body["errors"][0]["extensions"]["gate"], gate, "{what}: {body}");
    }
}

/// Runs `binary` with `vars` (and `ARGUS_LOG_FORMAT=json`), which must
/// refuse to start: its stderr.
async fn refused(binary: &std::path::Path, vars: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_remove("ARGUS_AUDIENCE")
        .env_remove("ARGUS_ENV")
        .env("ARGUS_API_ADDR", "127.0.0.1:0")
        .env("ARGUS_API_ADMIN_ADDR", "127.0.0.1:0")
        .env("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:0")
        .env("ARGUS_ISSUER", ISSUER)
        .env("RUST_LOG", "off")
        .envs(vars.iter().copied())
        .kill_on_drop(true)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("{} with {vars:?} started instead of refusing", binary.display()))
        .unwrap();
    assert!(!out.status.success(), "{vars:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_api_refuses_to_start_on_the_other_environments_database_or_keys() {
    let stack = Stack::start().await;
    let sandbox_db = TestDatabase::sandbox().await;
    let unclaimed = TestDatabase::create().await;
    unclaimed.execute("DELETE FROM deployment_environment").await;
    let api = std::path::Path::new(env!("CARGO_BIN_EXE_api-service"));
    let live_jwks = stack.jwks_url();
    let sandbox_jwks = format!("{}{SANDBOX_JWKS}", stack.auth);
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", stack.db.url()), ("ARGUS_JWKS_URL", &sandbox_jwks)],
            "names the live database",
        ),
        (
            &[("ARGUS_ENV", "live"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_JWKS_URL", &live_jwks)],
            "names the sandbox database",
        ),
        (
            &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_JWKS_URL", &live_jwks)],
            "is not the sandbox key set",
        ),
        (
            &[("ARGUS_ENV", "live"), ("ARGUS_DATABASE_URL", stack.db.url()), ("ARGUS_JWKS_URL", &sandbox_jwks)],
            "the live API never trusts",
        ),
        (
            &[("ARGUS_ENV", "live"), ("ARGUS_DATABASE_URL", stack.db.url()), ("ARGUS_AUDIENCE", "sandbox")],
            "ARGUS_AUDIENCE",
        ),
        (
            &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_AUDIENCE", "api.knogin.com")],
            "ARGUS_AUDIENCE",
        ),
        (&[("ARGUS_ENV", "live"), ("ARGUS_DATABASE_URL", unclaimed.url())], "says no environment"),
    ];
    for (vars, expected) in cases {
        let stderr = refused(api, vars).await;
        assert!(stderr.contains(expected), "{vars:?}: {stderr}");
    }

    // A JWKS at the sandbox path that is the live set (a proxy sending the
    // path to the wrong place): the set says what it is, and is refused.
    let live_set = reqwest::get(&live_jwks).await.unwrap().text().await.unwrap();
    let impostor = argus_http::testing::serve_route(SANDBOX_JWKS, move || {
        let body = live_set.clone();
        actix_web::web::get().to(move || {
            let body = body.clone();
            async move { actix_web::HttpResponse::Ok().content_type("application/json").body(body) }
        })
    });
    let impostor = format!("{impostor}{SANDBOX_JWKS}");
    let vars = [("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_JWKS_URL", &impostor)];
    let stderr = refused(api, &vars).await;
    assert!(stderr.contains("is the live key set"), "{stderr}");

    // And the sandbox starts with its own three.
    let sandbox = ApiBinary::spawn(
        &stack,
        &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_JWKS_URL", &sandbox_jwks)],
    );
    let r = stack.http.get(format!("{}/healthz", sandbox.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_worker_refuses_to_start_on_the_other_environments_database_or_vhost() {
    let stack = Stack::start().await;
    let sandbox_db = TestDatabase::sandbox().await;
    let (live_vhost, sandbox_vhost, used_vhost) =
        (TestVhost::create().await, TestVhost::create().await, TestVhost::create().await);
    let topology = argus_bus::Topology::new("argus", [0u64; 0]);
    for (vhost, environment) in [(&live_vhost, Environment::Live), (&sandbox_vhost, Environment::Sandbox)] {
        argus_bus::environment::claim_vhost(&argus_bus::Broker::new(vhost.url()), &topology, environment)
            .await
            .unwrap();
    }
    // An unmarked vhost in use: its topology is there, its marker is not.
    argus_bus::Publisher::new(argus_bus::PublisherConfig::new(
        argus_bus::Broker::new(used_vhost.url()),
        topology.clone(),
    ))
    .ensure_connected()
    .await
    .unwrap();
    let worker = sibling_binary("delivery-worker");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("ARGUS_ENV", "sandbox"),
                ("ARGUS_DATABASE_URL", stack.db.url()),
                ("ARGUS_AMQP_URL", sandbox_vhost.url()),
            ],
            "names the live database",
        ),
        (
            &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_AMQP_URL", live_vhost.url())],
            "names the live vhost",
        ),
        (
            &[("ARGUS_ENV", "live"), ("ARGUS_DATABASE_URL", stack.db.url()), ("ARGUS_AMQP_URL", sandbox_vhost.url())],
            "names the sandbox vhost",
        ),
        (
            &[("ARGUS_ENV", "sandbox"), ("ARGUS_DATABASE_URL", sandbox_db.url()), ("ARGUS_AMQP_URL", used_vhost.url())],
            "the sandbox never claims",
        ),
    ];
    for (vars, expected) in cases {
        let stderr = refused(&worker, vars).await;
        assert!(stderr.contains(expected), "{vars:?}: {stderr}");
    }
}

/// The delivery worker binary as the sandbox's: `ARGUS_ENV=sandbox` on the
/// sandbox's database and vhost; killed on drop.
fn sandbox_worker(db: &str, amqp: &str) -> TestProcess {
    TestProcess::spawn(
        Command::new(sibling_binary("delivery-worker"))
            .env("ARGUS_ENV", "sandbox")
            .env("ARGUS_DATABASE_URL", db)
            .env("ARGUS_AMQP_URL", amqp)
            .env("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:0")
            .env("ARGUS_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("ARGUS_WEBHOOK_RETRY_SCHEDULE", "0.2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap()
}

#[tokio::test]
async fn the_sandbox_worker_runs_sandbox_jobs_and_delivers_sandbox_webhooks() {
    let stack = Stack::start().await;
    let sandbox_db = TestDatabase::sandbox().await;
    let vhost = TestVhost::create().await;
    let sandbox_jwks = format!("{}{SANDBOX_JWKS}", stack.auth);
    let api = ApiBinary::spawn(
        &stack,
        &[
            ("ARGUS_ENV", "sandbox"),
            ("ARGUS_DATABASE_URL", sandbox_db.url()),
            ("ARGUS_JWKS_URL", &sandbox_jwks),
            ("ARGUS_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    );
    let _worker = sandbox_worker(sandbox_db.url(), vhost.url());
    let s = Sandboxed { stack, db: sandbox_db, api: api.base.clone() };
    let scopes = ["incidents:read", "incidents:write", "jobs:read", "jobs:write"];
    let (tenant, minted) = s.sandbox_token(&scopes).await;
    let token = minted["token"].as_str().unwrap().to_owned();
    let http = &s.stack.http;

    // A job with a callback: run by the sandbox worker, its callback sent.
    let callbacks = Receiver::start(Vec::new(), Duration::ZERO).await;
    let r = http
        .post(format!("{}/v1/jobs", s.api))
        .bearer_auth(&token)
        .header("X-Tenant-ID", tenant.as_str())
        .json(&json!({ "kind": "export.bulk", "input": { "types": ["incidents"] }, "callback_url": callbacks.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let callback = callbacks.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(callback.len(), 1, "the sandbox worker ran the job and called back");
    let secret = job["callback_secret"].as_str().unwrap();
    let first = &callback[0];
    standardwebhooks::Webhook::new(secret).unwrap().verify(&first.body, &first.headers).expect("signed callback");
    assert!(first.json().to_string().contains(job["id"].as_str().unwrap()), "{}", first.json());
    let view: Value = http
        .get(format!("{}/v1/jobs/{}", s.api, job["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .header("X-Tenant-ID", tenant.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "succeeded", "{view}");

    // A webhook of the sandbox tenant (in the sandbox's database: the
    // sandbox has no webhook routes of its own yet) gets the sandbox's event.
    let receiver = Receiver::start(Vec::new(), Duration::ZERO).await;
    let webhook_secret = argus_crypto::webhook::generate_webhook_secret();
    let sealer = argus_crypto::webhook::SecretBox::new(argus_crypto::DEV_PEPPER.as_bytes());
    let new = argus_store::webhooks::NewWebhook {
        url: receiver.url.clone(),
        events: vec!["incident.created".into()],
        description: "sandbox receiver".into(),
        secret_sealed: sealer.seal(webhook_secret.as_bytes()),
    };
    s.db.store().create_webhook(&tenant, new, 10).await.unwrap();
    let create = by_id(
        &shipped("incident-webhook-configuration"),
        "CreateIncident",
        json!({ "input": { "title": "Sandbox drill", "severity": "HIGH", "location": "Dock" } }),
    );
    let body: Value = post(http, &s.api, Some(&token), Some(tenant.as_str()), create).await.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    let delivered = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(delivered.len(), 1, "the sandbox worker delivered the sandbox's event");
    let delivery = &delivered[0];
    standardwebhooks::Webhook::new(&webhook_secret).unwrap().verify(&delivery.body, &delivery.headers).expect("signed");
    assert_eq!(delivery.json()["type"], "incident.created");
    assert_eq!(delivery.json()["data"]["title"], "Sandbox drill");
    // The live database saw none of it.
    assert!(live_incidents(&s.stack, &tenant).await.is_empty());
}
