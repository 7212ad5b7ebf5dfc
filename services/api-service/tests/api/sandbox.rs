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
        let minted = self.sandbox_token_of(&client, scopes).await;
        (client.tenant, minted)
    }

    /// A sandbox token for `client`, from `POST …/sandbox-token`.
    async fn sandbox_token_of(&self, client: &crate::helpers::TestClient, scopes: &[&str]) -> Value {
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
        r.json().await.unwrap()
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
    stack.store.list_incidents(tenant, &Default::default(), &first_page()).await.unwrap().items
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

fn jti(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// Polls `status` until it answers `want`, for at most `within`.
async fn answers_within(what: &str, want: u16, within: Duration, status: impl AsyncFn() -> u16) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let got = status().await;
        if got == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what} still answers {got}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sandbox never reads the live database, where revocations are
/// written: a sandbox token revoked at the auth-service (RFC 7009, by its
/// own app) is refused on the sandbox API, REST and GraphQL, within the
/// published list's one-second poll; the list names the sandbox's
/// revocations only; and a sandbox that cannot fetch the list refuses
/// every token (503) within its ten seconds of staleness, never serving
/// one that may be revoked.
#[tokio::test]
async fn a_sandbox_token_revoked_at_the_auth_service_is_refused_on_the_sandbox_within_seconds() {
    let s = Sandboxed::start().await;
    let scopes = ["incidents:read", "jobs:read"];
    let client = s.stack.client(None, &scopes).await;
    let token = s.sandbox_token_of(&client, &scopes).await["token"].as_str().unwrap().to_owned();
    let kept = s.sandbox_token_of(&client, &scopes).await["token"].as_str().unwrap().to_owned();
    let live = s.stack.cc_token(&client, None).await;
    let tenant = client.tenant.to_string();
    let report = by_id(&shipped("reporting"), "IncidentReport", json!({ "first": 1 }));
    let graphql = async |token: &str| post(&s.stack.http, &s.api, Some(token), Some(&tenant), report.clone()).await;
    let jobs = async |token: &str| {
        let r = s.stack.http.get(format!("{}/v1/jobs", s.api)).bearer_auth(token).header("X-Tenant-ID", &tenant);
        r.send().await.unwrap()
    };
    // Verified once each, so the verified-token cache holds them.
    assert_eq!(graphql(&token).await.status(), 200);
    assert_eq!(jobs(&token).await.status(), 200);
    assert_eq!(jobs(&kept).await.status(), 200);

    let revocations = format!("{}/.well-known/sandbox/revocations.json", s.stack.auth);
    let before: Value = s.stack.http.get(&revocations).send().await.unwrap().json().await.unwrap();
    assert_eq!(before, json!({ "key_set": "sandbox", "revoked": [] }));
    for revoked in [&token, &live] {
        let r = s
            .stack
            .http
            .post(format!("{}/v1/oauth/revoke", s.stack.auth))
            .basic_auth(&client.client_id, Some(&client.secret))
            .form(&[("token", revoked.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Only the sandbox token is published, with its expiry.
    let after: Value = s.stack.http.get(&revocations).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["key_set"], "sandbox");
    let published: Vec<&str> =
        after["revoked"].as_array().unwrap().iter().map(|r| r["jti"].as_str().unwrap()).collect();
    assert_eq!(published, [jti(&token).as_str()], "{after}");
    assert!(after["revoked"][0]["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    let within = Duration::from_secs(3);
    answers_within("GET /v1/jobs", 401, within, async || jobs(&token).await.status().as_u16()).await;
    answers_within("GraphQL", 401, within, async || graphql(&token).await.status().as_u16()).await;
    let problem: Value = jobs(&token).await.json().await.unwrap();
    assert_eq!(problem["detail"], "the token was revoked", "{problem}");
    let body: Value = graphql(&token).await.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert_eq!(jobs(&kept).await.status(), 200, "another sandbox token of the same app still works");
    assert_eq!(graphql(&kept).await.status(), 200);

    // The auth-service goes away: the keys are cached, but a list that
    // cannot be fetched is not trusted for long.
    s.stack.auth_server.stop(true).await;
    answers_within("a sandbox without its list", 503, Duration::from_secs(15), async || {
        jobs(&kept).await.status().as_u16()
    })
    .await;
    let _ = &s.db;
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
            .env("ARGUS_WEBHOOK_RETRY_SCHEDULE", "0.2,0.2,0.2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap()
}

impl Sandboxed {
    /// The sandbox API as its binary (private callback and webhook
    /// addresses allowed), and the sandbox's delivery worker on a vhost of
    /// its own; both stop when dropped (bind them after the vhost, which
    /// then goes last).
    async fn with_worker() -> (TestVhost, Self, ApiBinary, TestProcess) {
        let stack = Stack::start().await;
        let db = TestDatabase::sandbox().await;
        let vhost = TestVhost::create().await;
        let sandbox_jwks = format!("{}{SANDBOX_JWKS}", stack.auth);
        let api = ApiBinary::spawn(
            &stack,
            &[
                ("ARGUS_ENV", "sandbox"),
                ("ARGUS_DATABASE_URL", db.url()),
                ("ARGUS_JWKS_URL", &sandbox_jwks),
                ("ARGUS_WEBHOOK_ALLOW_PRIVATE", "true"),
            ],
        );
        let worker = sandbox_worker(db.url(), vhost.url());
        (vhost, Self { stack, db, api: api.base.clone() }, api, worker)
    }
}

/// The outbox's requests of the token's tenant (in `scenario` when given),
/// once there are `n` of them (or after 30 s).
async fn outbox(s: &Sandboxed, token: &str, scenario: Option<&str>, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut request = s.stack.http.get(format!("{}/v1/sandbox/outbox", s.api)).bearer_auth(token);
        if let Some(name) = scenario {
            request = request.header("X-Sandbox-Scenario", name);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        let requests = page["requests"].as_array().unwrap().clone();
        if requests.len() >= n || std::time::Instant::now() > deadline {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The webhook's deliveries once the first is settled (the worker records
/// an attempt just after the connector answered it), or after 10 s.
async fn settled_deliveries(s: &Sandboxed, token: &str, scenario: Option<&str>, webhook: &str) -> Value {
    let mut deliveries = Value::Null;
    for _ in 0..100 {
        let mut request = s.stack.http.get(format!("{}/v1/webhooks/{webhook}/deliveries", s.api)).bearer_auth(token);
        if let Some(name) = scenario {
            request = request.header("X-Sandbox-Scenario", name);
        }
        deliveries = request.send().await.unwrap().json().await.unwrap();
        if matches!(deliveries["deliveries"][0]["status"].as_str(), Some("succeeded" | "failed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    deliveries
}

/// Whether `secret` verifies the kept request's Standard Webhooks
/// signature over its body.
fn verifies(secret: &str, kept: &Value) -> bool {
    let mut headers = http::HeaderMap::new();
    for (name, value) in kept["headers"].as_object().unwrap() {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    let body = kept["body"].as_str().unwrap().as_bytes();
    standardwebhooks::Webhook::new(secret).unwrap().verify(body, &headers).is_ok()
}

#[tokio::test]
async fn the_sandbox_worker_sends_nothing_to_the_network_and_keeps_each_signed_request() {
    let (_vhost, s, _api, _worker) = Sandboxed::with_worker().await;
    let scopes = ["incidents:read", "incidents:write", "jobs:read", "jobs:write", "webhooks:read", "webhooks:write"];
    let (tenant, minted) = s.sandbox_token(&scopes).await;
    let token = minted["token"].as_str().unwrap().to_owned();
    let http = &s.stack.http;

    // A job with a callback to a real local receiver: run by the sandbox
    // worker, its callback kept, signed, and the receiver gets nothing.
    let callbacks = Receiver::start(Vec::new(), Duration::ZERO).await;
    let r = http
        .post(format!("{}/v1/jobs", s.api))
        .bearer_auth(&token)
        .json(&json!({ "kind": "export.bulk", "input": { "types": ["incidents"] }, "callback_url": callbacks.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let kept = outbox(&s, &token, None, 1).await;
    assert_eq!(kept.len(), 1, "the sandbox worker ran the job and called back");
    assert_eq!(kept[0]["connector"], "job_callback");
    assert_eq!(kept[0]["url"], json!(callbacks.url));
    assert_eq!(kept[0]["status"], 200);
    assert!(verifies(job["callback_secret"].as_str().unwrap(), &kept[0]), "{}", kept[0]);
    assert!(kept[0]["body"].as_str().unwrap().contains(job["id"].as_str().unwrap()));
    // The worker records the connector's answer just after keeping it.
    let mut view = Value::Null;
    for _ in 0..50 {
        let r = http.get(format!("{}/v1/jobs/{}", s.api, job["id"].as_str().unwrap())).bearer_auth(&token).send();
        view = r.await.unwrap().json().await.unwrap();
        if view["callback_status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["callback_status"], "succeeded", "{view}");

    // A webhook registered on the sandbox host, in the sandbox's database.
    let receiver = Receiver::start(Vec::new(), Duration::ZERO).await;
    let r = http
        .post(format!("{}/v1/webhooks", s.api))
        .bearer_auth(&token)
        .json(&json!({ "url": receiver.url, "events": ["incident.created"], "description": "sandbox receiver" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let webhook: Value = r.json().await.unwrap();
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let listed: Value =
        http.get(format!("{}/v1/webhooks", s.api)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["webhooks"][0]["id"], webhook["id"], "{listed}");
    assert!(s.stack.store.list_webhooks(&tenant, &first_page()).await.unwrap().items.is_empty(), "not live");
    let create = by_id(
        &shipped("incident-webhook-configuration"),
        "CreateIncident",
        json!({ "input": { "title": "Sandbox drill", "severity": "HIGH", "location": "Dock" } }),
    );
    let body: Value = post(http, &s.api, Some(&token), Some(tenant.as_str()), create).await.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    let kept = outbox(&s, &token, None, 2).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let delivery = &kept[1];
    assert_eq!(delivery["connector"], "webhook");
    assert_eq!(delivery["url"], json!(receiver.url));
    assert!(verifies(&secret, delivery), "signed with the webhook's secret: {delivery}");
    assert!(!verifies("whsec_YXJndXMtc2FuZGJveC13ZWJob29rLXJlY2VpdmVyLTMy", delivery));
    let event: Value = serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "incident.created");
    assert_eq!(event["data"]["title"], "Sandbox drill");
    let deliveries = settled_deliveries(&s, &token, None, webhook["id"].as_str().unwrap()).await;
    assert_eq!(deliveries["deliveries"][0]["status"], "succeeded", "{deliveries}");
    // Nothing left the sandbox, and the live database saw none of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty() && callbacks.received().is_empty(), "no network egress");
    assert!(live_incidents(&s.stack, &tenant).await.is_empty());

    // Paged like every list; a bad cursor is a 400; live has no outbox.
    let mut pages = Vec::new();
    let mut query = "limit=1".to_owned();
    for _ in 0..2 {
        let r = http.get(format!("{}/v1/sandbox/outbox?{query}", s.api)).bearer_auth(&token).send().await.unwrap();
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["requests"].as_array().unwrap().len(), 1, "{page}");
        query = format!("limit=1&cursor={}", page["next_cursor"].as_str().unwrap_or_default());
        pages.push(page["requests"][0]["id"].clone());
    }
    assert_eq!(pages, [kept[0]["id"].clone(), kept[1]["id"].clone()]);
    for bad in ["limit=0", "cursor=%21%21", "limit=1&unknown=1"] {
        let r = http.get(format!("{}/v1/sandbox/outbox?{bad}", s.api)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let reader = s.stack.client(None, &["webhooks:read"]).await;
    let live = s.stack.cc_token(&reader, None).await;
    let r = http.get(format!("{}/v1/sandbox/outbox", s.stack.api)).bearer_auth(&live).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Another tenant sees none of it.
    let (_, other) = s.sandbox_token(&["webhooks:read"]).await;
    let theirs = outbox(&s, other["token"].as_str().unwrap(), None, 0).await;
    assert!(theirs.is_empty());
}

#[tokio::test]
async fn a_scenario_scripts_its_mock_receiver_and_the_worker_retries_against_it() {
    let (_vhost, s, _api, _worker) = Sandboxed::with_worker().await;
    let (tenant, minted) = s.sandbox_token(&["webhooks:read", "incidents:read"]).await;
    let token = minted["token"].as_str().unwrap().to_owned();
    const SCENARIO: &str = "webhook-receiver-recovers";
    // The first request in the scenario seeds it: its webhook, its
    // incident, and the incident's event, which the worker delivers.
    let kept = outbox(&s, &token, Some(SCENARIO), 3).await;
    let statuses: Vec<&Value> = kept.iter().map(|k| &k["status"]).collect();
    assert_eq!(statuses, [&json!(503), &json!(503), &json!(200)], "{kept:?}");
    assert!(kept.iter().all(|k| k["message_id"] == kept[0]["message_id"]), "one message, three attempts");
    let file = api_service::sandbox::scenarios::SHIPPED_SCENARIOS.iter().find(|(n, _)| *n == SCENARIO).unwrap().1;
    let secret = file.lines().find_map(|l| l.trim().strip_prefix("secret: ")).unwrap();
    assert!(kept.iter().all(|k| verifies(secret, k)), "each attempt signed with the published secret");
    let seed = seed_of(SCENARIO, &tenant);
    let deliveries = settled_deliveries(&s, &token, Some(SCENARIO), seed.webhooks[0].id.as_str()).await;
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["status"], "succeeded", "{deliveries}");
    assert_eq!(delivery["attempts"], 3, "{deliveries}");
    // Nothing more is sent once it succeeded.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(outbox(&s, &token, Some(SCENARIO), 0).await.len(), 3);
    // The caller's own tenant's outbox is its own.
    assert!(outbox(&s, &token, None, 0).await.is_empty());
}

/// A sandbox API beside a live stack, and sandbox tokens for two tenants of
/// their own, signed with the sandbox's current key.
struct Scenarios {
    s: Sandboxed,
    tokens: [(TenantId, String); 2],
}

const SCENARIO_SCOPES: [&str; 13] = [
    "incidents:read",
    "cases:read",
    "entities:read",
    "jobs:read",
    "epcr:read",
    "devices:read",
    "evidence:read",
    "evidence:write",
    "incidents:write",
    "cases:write",
    "jobs:write",
    "epcr:write",
    "devices:write",
];

impl Scenarios {
    async fn start() -> Self {
        let s = Sandboxed::start().await;
        let key = current_signing_key_of(&s.stack.store, Environment::Sandbox).await;
        let token = |tenant: &TenantId| sign(&key, tenant, "app_scenarios", "sandbox", &SCENARIO_SCOPES);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let tokens = [(a.clone(), token(&a)), (b.clone(), token(&b))];
        Self { s, tokens }
    }

    /// A request of tenant `who` (0 or 1), in `scenario` when given.
    fn request(&self, who: usize, method: &str, path: &str, scenario: Option<&str>) -> reqwest::RequestBuilder {
        let (tenant, token) = &self.tokens[who];
        let mut request = self
            .s
            .stack
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.s.api))
            .bearer_auth(token)
            .header("X-Tenant-ID", tenant.as_str());
        if let Some(name) = scenario {
            request = request.header("X-Sandbox-Scenario", name);
        }
        request
    }

    /// Status and body bytes of a GET, or of a POST of `body` to /graphql.
    async fn answer(&self, who: usize, path: &str, body: Option<&Value>, scenario: Option<&str>) -> (u16, Vec<u8>) {
        let request = match body {
            Some(body) => self.request(who, "POST", path, scenario).json(body),
            None => self.request(who, "GET", path, scenario),
        };
        let r = request.send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }
}

fn seed_of(scenario: &str, tenant: &TenantId) -> argus_store::scenarios::ScenarioSeed {
    let scenarios = api_service::sandbox::scenarios::Scenarios::shipped().unwrap();
    let secrets = argus_crypto::webhook::SecretBox::new(b"any");
    scenarios.seed(scenario, tenant, &secrets).unwrap().unwrap()
}

fn first_page<I: std::str::FromStr>() -> argus_types::pagination::PageRequest<I> {
    argus_types::pagination::PageRequest::from_query(None, None).unwrap()
}

/// The reads of every scenario: GraphQL over each kind of record, and the
/// REST routes of jobs, devices, ePCR and provenance, by the ids the
/// scenario's seed derives for `tenant`.
fn scenario_reads(scenario: &str, tenant: &TenantId) -> Vec<(String, Option<Value>)> {
    let seed = seed_of(scenario, tenant);
    let reporting = shipped("reporting");
    let mut reads: Vec<(String, Option<Value>)> = vec![
        ("/graphql".into(), Some(by_id(&reporting, "IncidentReport", json!({ "first": 50 })))),
        ("/graphql".into(), Some(by_id(&reporting, "CaseReport", json!({ "first": 50 })))),
        ("/graphql".into(), Some(by_id(&reporting, "EntityReport", json!({ "first": 50 })))),
        ("/v1/jobs".into(), None),
        ("/api/v1/devices".into(), None),
    ];
    for entity in &seed.entities {
        reads.push(("/graphql".into(), Some(by_id(&reporting, "EntityGraph", json!({ "id": entity.id })))));
    }
    for job in &seed.jobs {
        reads.push((format!("/v1/jobs/{}", job.id), None));
        if job.result.is_some() {
            reads.push((format!("/v1/jobs/{}/result", job.id), None));
        }
    }
    for encounter in &seed.encounters {
        reads.push((format!("/api/v1/epcr/encounters/{}", encounter.id), None));
        reads.push((format!("/api/v1/epcr/encounters/{}/fhir-bundle", encounter.id), None));
    }
    let custody = shipped("evidence-custody");
    for item in &seed.evidence {
        reads.push((format!("/v1/evidence/{}/provenance", item.id), None));
        reads.push(("/graphql".into(), Some(by_id(&custody, "EvidenceById", json!({ "id": item.id, "first": 50 })))));
    }
    reads
}

#[tokio::test]
async fn every_scenario_is_listed_and_the_same_request_gets_the_same_bytes() {
    let sc = Scenarios::start().await;
    let r = sc.request(0, "GET", "/v1/sandbox/scenarios", None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().await.unwrap();
    let names: Vec<&str> =
        listed["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let names_shipped: Vec<&str> =
        api_service::sandbox::scenarios::SHIPPED_SCENARIOS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, names_shipped);
    for scenario in listed["scenarios"].as_array().unwrap() {
        assert!(scenario["description"].as_str().is_some_and(|d| d.len() > 20), "{scenario}");
    }

    let tenant = sc.tokens[0].0.clone();
    for name in &names_shipped {
        let reads = scenario_reads(name, &tenant);
        let mut first = Vec::new();
        for (path, body) in &reads {
            let (status, bytes) = sc.answer(0, path, body.as_ref(), Some(name)).await;
            assert_eq!(status, 200, "{name} {path} {body:?}: {}", String::from_utf8_lossy(&bytes));
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("\"errors\""), "{name} {path} {body:?}: {text}");
            first.push(bytes);
        }
        for ((path, body), earlier) in reads.iter().zip(&first) {
            let (_, bytes) = sc.answer(0, path, body.as_ref(), Some(name)).await;
            assert!(bytes == *earlier, "{name} {path} {body:?} changed between two runs");
        }
    }

    // What the scenarios hold is there, by the ids their seeds derive.
    let mci = seed_of("mass-casualty-incident", &tenant);
    let report = by_id(&shipped("reporting"), "IncidentReport", json!({ "first": 50 }));
    let (_, bytes) = sc.answer(0, "/graphql", Some(&report), Some("mass-casualty-incident")).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let mut ids: Vec<String> = body["data"]["incidents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().into())
        .collect();
    let mut expected: Vec<String> = mci.incidents.iter().map(|i| i.id.to_string()).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    let custody = seed_of("evidence-chain-of-custody", &tenant);
    let bodycam = &custody.evidence[0];
    let (_, bytes) =
        sc.answer(0, &format!("/v1/evidence/{}/provenance", bodycam.id), None, Some("evidence-chain-of-custody")).await;
    let provenance: Value = serde_json::from_slice(&bytes).unwrap();
    let entries = provenance["transcript"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1 + bodycam.operations.len(), "no VIEW is recorded in a scenario: {provenance}");
    assert_eq!(entries.last().unwrap()["operation"], "SEAL");
    let (status, _) = sc.answer(0, &format!("/v1/evidence/{}/provenance", bodycam.id), None, None).await;
    assert_eq!(status, 404, "the scenario's evidence is not in the caller's own tenant");
    let stemi = seed_of("stemi-transport", &tenant);
    let path = format!("/api/v1/epcr/encounters/{}/fhir-bundle", stemi.encounters[0].id);
    let (_, bytes) = sc.answer(0, &path, None, Some("stemi-transport")).await;
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let observations =
        bundle["entry"].as_array().unwrap().iter().filter(|e| e["resource"]["resourceType"] == "Observation");
    assert!(observations.count() >= stemi.observations.len(), "{bundle}");

    // Without the header the caller's own sandbox tenant is empty.
    let (_, bytes) = sc.answer(0, "/graphql", Some(&report), None).await;
    let own: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(own["data"]["incidents"]["nodes"], json!([]), "{own}");
}

#[tokio::test]
async fn each_tenant_has_its_own_scenario_tenant() {
    let sc = Scenarios::start().await;
    let (a, b) = (sc.tokens[0].0.clone(), sc.tokens[1].0.clone());
    let (seed_a, seed_b) = (seed_of("mass-casualty-incident", &a), seed_of("mass-casualty-incident", &b));
    assert_ne!(seed_a.tenant, seed_b.tenant);
    let byid = |id: &argus_types::IncidentId| {
        by_id(&shipped("incident-webhook-configuration"), "IncidentById", json!({ "id": id }))
    };
    // Each reads its own copy; neither reads the other's, in the scenario or out.
    let (status, bytes) =
        sc.answer(0, "/graphql", Some(&byid(&seed_a.incidents[0].id)), Some("mass-casualty-incident")).await;
    assert_eq!(status, 200);
    let own: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(own["data"]["incident"]["title"], seed_a.incidents[0].title, "{own}");
    for scenario in [Some("mass-casualty-incident"), None] {
        let (_, bytes) = sc.answer(0, "/graphql", Some(&byid(&seed_b.incidents[0].id)), scenario).await;
        let other: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(other["data"]["incident"].is_null(), "{scenario:?}: {other}");
    }
    let (_, bytes) =
        sc.answer(1, "/graphql", Some(&byid(&seed_b.incidents[0].id)), Some("mass-casualty-incident")).await;
    let theirs: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(theirs["data"]["incident"]["id"], json!(seed_b.incidents[0].id), "{theirs}");
    // A scenario's tenant is never a token's: X-Tenant-ID naming it is refused.
    let r =
        sc.s.stack
            .http
            .get(format!("{}/v1/jobs", sc.s.api))
            .bearer_auth(&sc.tokens[0].1)
            .header("X-Tenant-ID", seed_a.tenant.as_str())
            .header("X-Sandbox-Scenario", "mass-casualty-incident")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_bad_scenario_is_refused_and_changes_nothing() {
    let sc = Scenarios::start().await;
    let tenant = sc.tokens[0].0.clone();
    let report = by_id(&shipped("reporting"), "IncidentReport", json!({ "first": 50 }));
    let (_, before) = sc.answer(0, "/graphql", Some(&report), Some("mass-casualty-incident")).await;

    // Unknown: a 404 naming it, on REST and GraphQL.
    let r = sc.request(0, "GET", "/v1/jobs", Some("no-such-scenario")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("`no-such-scenario`"), "{problem}");
    let (status, bytes) = sc.answer(0, "/graphql", Some(&report), Some("no-such-scenario")).await;
    assert_eq!(status, 404);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "SCENARIO_NOT_FOUND", "{body}");
    // Not a name at all: a 400, nothing looked up.
    for bad in ["Mass-Casualty", "a b", "../etc", &"x".repeat(65)] {
        let r = sc.request(0, "GET", "/v1/jobs", Some(bad)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = sc.request(0, "GET", "/v1/jobs", None).header("X-Sandbox-Scenario", &[0xffu8][..]).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // A write refused for its input changes nothing in a scenario.
    let bad = by_id(
        &shipped("incident-webhook-configuration"),
        "CreateIncident",
        json!({ "input": { "title": "x".repeat(501), "severity": "LOW" } }),
    );
    let (status, bytes) = sc.answer(0, "/graphql", Some(&bad), Some("mass-casualty-incident")).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let (_, after) = sc.answer(0, "/graphql", Some(&report), Some("mass-casualty-incident")).await;
    assert!(after == before, "the scenario is as it was");
    let (_, jobs) = sc.answer(0, "/v1/jobs", None, Some("jobs-fail-and-succeed")).await;
    let jobs: Value = serde_json::from_slice(&jobs).unwrap();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), seed_of("jobs-fail-and-succeed", &tenant).jobs.len(), "{jobs}");

    // The live API answers no scenario.
    the_live_api_refuses_scenarios(&sc).await;
}

async fn the_live_api_refuses_scenarios(sc: &Scenarios) {
    let stack = &sc.s.stack;
    let client = stack.client(None, &["jobs:read"]).await;
    let live = stack.cc_token(&client, None).await;
    let r = stack
        .http
        .get(format!("{}/v1/jobs", stack.api))
        .bearer_auth(&live)
        .header("X-Sandbox-Scenario", "mass-casualty-incident")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("sandbox"), "{problem}");
}

/// The api-service's OpenAPI document has the sandbox's routes: its webhook
/// routes (served on the sandbox host only, which their path items say),
/// whose request examples work as pasted on an empty sandbox tenant; and
/// `X-Sandbox-Scenario`, optional, with every scenario's name as its enum
/// and a description, on every route a token reaches and on no other, with
/// the answers it adds; and the reset route, whose example works as pasted.
#[tokio::test]
async fn the_openapi_document_has_the_sandbox_routes_and_the_scenario_header() {
    let s = Sandboxed::start().await;
    let http = &s.stack.http;
    let doc: Value =
        http.get(format!("{}/.well-known/openapi.json", s.api)).send().await.unwrap().json().await.unwrap();
    let (tenant, minted) = s.sandbox_token(&["webhooks:read", "webhooks:write"]).await;
    let token = minted["token"].as_str().unwrap();
    let listed: Value = http
        .get(format!("{}/v1/sandbox/scenarios", s.api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> =
        listed["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.len() >= 5, "{listed}");
    let shown = &doc["paths"]["/v1/sandbox/scenarios"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(shown["example"], listed, "the list's example is the list itself");

    let mut declared = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "patch", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            let header = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("x-sandbox-scenario")));
            let authenticated = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            let Some(header) = header else {
                assert!(!authenticated, "{method} {path} takes a token but does not declare X-Sandbox-Scenario");
                continue;
            };
            assert!(authenticated, "{method} {path} declares X-Sandbox-Scenario but takes no token");
            assert_eq!(header["in"], "header");
            assert_ne!(header["required"], true, "{method} {path}");
            assert_eq!(header["schema"]["enum"], json!(names), "{method} {path}");
            assert!(header["description"].as_str().is_some_and(|d| d.contains("/reset")), "{header}");
            let responses = &operation["responses"];
            assert!(responses["400"].is_object() && responses["404"].is_object(), "{method} {path}: {responses}");
            declared += 1;
        }
    }
    assert!(declared >= 25, "X-Sandbox-Scenario on {declared} operations");

    // The sandbox's routes, the webhook ones on the sandbox host only.
    let paths = &doc["paths"];
    for path in ["/v1/sandbox/scenarios", "/v1/sandbox/outbox", "/v1/webhooks", "/v1/webhooks/event-types"] {
        assert!(paths[path]["get"].is_object(), "{path}");
    }
    for (path, item) in paths.as_object().unwrap().iter().filter(|(p, _)| p.starts_with("/v1/webhooks")) {
        assert_eq!(item["servers"], json!([{ "url": "https://sandbox-api.knogin.com" }]), "{path}");
    }
    let example = |path: &str, method: &str| {
        let body = &paths[path][method]["requestBody"];
        assert!(body.is_object(), "{method} {path} takes no body");
        let example = body["content"]["application/json"]["example"].clone();
        assert!(example.is_object(), "{method} {path} has no request example");
        example
    };

    // Every example as pasted, on an empty sandbox tenant.
    let call = async |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut r = http.request(method, format!("{}{path}", s.api)).bearer_auth(token);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let created = example("/v1/webhooks", "post");
    let (status, webhook) = call(reqwest::Method::POST, "/v1/webhooks".into(), Some(created.clone())).await;
    assert_eq!(status, 201, "{webhook}");
    assert_eq!(webhook["events"], created["events"]);
    let one = format!("/v1/webhooks/{}", webhook["id"].as_str().unwrap());
    let update = example("/v1/webhooks/{webhook_id}", "put");
    let (status, updated) = call(reqwest::Method::PUT, one.clone(), Some(update.clone())).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!((&updated["events"], &updated["description"]), (&update["events"], &update["description"]));
    let (status, queued) = call(reqwest::Method::POST, format!("{one}/test"), None).await;
    assert_eq!(status, 202, "{queued}");
    for path in ["/v1/webhooks".to_owned(), format!("{one}/deliveries"), "/v1/sandbox/outbox".into()] {
        assert_eq!(call(reqwest::Method::GET, path.clone(), None).await.0, 200, "{path}");
    }
    // Only in this sandbox tenant: the live auth-service has no such webhook.
    let admin = s.stack.admin_token(&tenant).await;
    let live = http.get(format!("{}{one}", s.stack.auth)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(live.status(), 404);
    assert_eq!(call(reqwest::Method::DELETE, one, None).await.0, 204);

    // The header has the effect declared: a write under a scenario goes to
    // the scenario's copy, not the caller's own tenant.
    let r = http
        .post(format!("{}/v1/webhooks", s.api))
        .bearer_auth(token)
        .header("X-Sandbox-Scenario", names[0])
        .json(&created)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let in_scenario: Value = r.json().await.unwrap();
    let path = format!("/v1/webhooks/{}", in_scenario["id"].as_str().unwrap());
    assert_eq!(call(reqwest::Method::GET, path, None).await.0, 404, "not in the caller's own tenant");

    // The reset route's example, as pasted: its path's example name, its
    // answer the example body.
    let reset = &paths["/v1/sandbox/scenarios/{name}/reset"]["post"];
    let name = reset["parameters"][0]["example"].as_str().unwrap();
    let (status, answer) = call(reqwest::Method::POST, format!("/v1/sandbox/scenarios/{name}/reset"), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, reset["responses"]["200"]["content"]["application/json"]["example"]);
}

/// The scenario the write script runs in: it has an incident, devices and
/// an encounter to write beside.
const WRITES: &str = "stemi-transport";
const MDC: &str = "urn:iso:std:iso:11073:10101";

/// One recorded answer: status, `Location` and body bytes.
type Answer = (u16, Option<String>, Vec<u8>);

impl Scenarios {
    /// `method path` as tenant `who` with a JSON `body`, in `scenario`.
    async fn send(&self, who: usize, method: &str, path: &str, body: Option<&Value>, scenario: Option<&str>) -> Answer {
        let mut request = self.request(who, method, path, scenario);
        if let Some(body) = body {
            request = request.json(body);
        }
        let r = request.send().await.unwrap();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (r.status().as_u16(), location, r.bytes().await.unwrap().to_vec())
    }
}

fn json_of(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.2).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&answer.2)))
}

/// A write refused for its input, before any step of the script on its
/// second run: each must be refused as clearly as anywhere and leave no
/// trace, not even a write number (the second run's answers are the
/// first's). Some are refused before the store, some by it after their
/// number was taken (and given back when their transaction rolled back).
async fn refused_write(sc: &Scenarios, step: usize, seed: &argus_store::scenarios::ScenarioSeed) {
    let incidents = shipped("incident-webhook-configuration");
    let custody = shipped("evidence-custody");
    let (path, body, method) = match step % 5 {
        0 => (
            "/graphql".to_owned(),
            by_id(&incidents, "CreateIncident", json!({ "input": { "title": "x".repeat(501), "severity": "LOW" } })),
            "POST",
        ),
        1 => (
            "/graphql".to_owned(),
            by_id(
                &custody,
                "CreateEvidence",
                json!({ "input": { "incidentId": argus_types::IncidentId::generate(), "name": "n", "mediaType": "text/plain", "sizeBytes": 1, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" } }),
            ),
            "POST",
        ),
        // The seeded monitor's serial: refused by the database, after
        // the write took its number.
        2 => (
            "/api/v1/devices/enrol".to_owned(),
            json!({ "serial_number": "LP15-44012", "manufacturer": "Physio-Control", "model": "LIFEPAK 15", "type": { "system": MDC, "code": "528390" } }),
            "POST",
        ),
        3 => (
            format!("/api/v1/devices/{}/observations", seed.devices[0].id),
            json!({ "code": { "coding": [{ "system": MDC, "code": "147842" }] }, "value_quantity": { "value": 90, "unit": "/min" }, "effective_date_time": "2026-05-08T09:00:30Z", "encounter_id": argus_types::EncounterId::generate() }),
            "POST",
        ),
        _ => ("/api/v1/epcr/encounters".to_owned(), json!({ "patient": {} }), "POST"),
    };
    let answer = sc.send(0, method, &path, Some(&body), Some(WRITES)).await;
    if path == "/graphql" {
        assert_eq!(answer.0, 200);
        let body = json_of(&answer);
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    } else {
        assert!([400, 409].contains(&answer.0), "{path}: {}", String::from_utf8_lossy(&answer.2));
        let problem = json_of(&answer);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem}");
    }
}

/// The write script, as tenant 0 under [`WRITES`]: GraphQL mutations and
/// REST writes of every kind the sandbox serves, each later one using the
/// ids the earlier ones answered, then reads of what they made. Every
/// answer is recorded.
async fn write_script(sc: &Scenarios, with_refusals: bool) -> Vec<Answer> {
    let seed = seed_of(WRITES, &sc.tokens[0].0);
    let incidents = shipped("incident-webhook-configuration");
    let cases = shipped("case-sync");
    let custody = shipped("evidence-custody");
    let reporting = shipped("reporting");
    let mut answers: Vec<Answer> = Vec::new();
    let mut step = 0;
    let mut write = async |method: &str, path: String, body: Value| -> Value {
        if with_refusals {
            refused_write(sc, step, &seed).await;
        }
        step += 1;
        let answer = sc.send(0, method, &path, Some(&body), Some(WRITES)).await;
        assert!(answer.0 < 300, "{method} {path}: {}", String::from_utf8_lossy(&answer.2));
        let body = if answer.2.is_empty() { Value::Null } else { json_of(&answer) };
        assert!(body["errors"].is_null(), "{method} {path}: {body}");
        answers.push(answer);
        body
    };
    let gql = |ops: &[argus_store::bundles::BundleOperation], name: &str, variables: Value| by_id(ops, name, variables);

    let created = write(
        "POST",
        "/graphql".into(),
        gql(
            &incidents,
            "CreateIncident",
            json!({ "input": { "title": "Second casualty", "severity": "HIGH", "location": "A34" } }),
        ),
    )
    .await;
    let incident = created["data"]["createIncident"]["id"].as_str().unwrap().to_owned();
    write(
        "POST",
        "/graphql".into(),
        gql(
            &incidents,
            "UpdateIncident",
            json!({ "id": incident, "input": { "severity": "CRITICAL", "location": "A34 southbound" } }),
        ),
    )
    .await;
    write(
        "POST",
        "/graphql".into(),
        gql(&cases, "CreateCase", json!({ "input": { "title": "Transport review", "assignees": ["duty.manager"], "incidentIds": [incident, seed.incidents[0].id] } })),
    )
    .await;
    let evidence = write(
        "POST",
        "/graphql".into(),
        gql(&custody, "CreateEvidence", json!({ "input": { "incidentId": incident, "name": "ecg-strip.pdf", "mediaType": "application/pdf", "sizeBytes": 20480, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } })),
    )
    .await;
    let evidence = evidence["data"]["createEvidence"]["id"].as_str().unwrap().to_owned();
    write(
        "POST",
        "/graphql".into(),
        gql(&custody, "RecordEvidenceOperation", json!({ "id": evidence, "input": { "operation": "TRANSFER_CUSTODY", "custodian": "evidence.store@example.org", "details": "handed over at the cath lab" } })),
    )
    .await;
    let device = write(
        "POST",
        "/api/v1/devices/enrol".into(),
        json!({ "serial_number": "MX40-0099", "manufacturer": "Philips", "model": "IntelliVue MX40", "type": { "system": MDC, "code": "528391" } }),
    )
    .await;
    let device = device["id"].as_str().unwrap().to_owned();
    write(
        "POST",
        format!("/api/v1/devices/{device}/observations"),
        json!({ "code": { "coding": [{ "system": MDC, "code": "147842" }] }, "value_quantity": { "value": 96, "unit": "/min" }, "effective_date_time": "2026-05-08T08:58:00Z", "encounter_id": seed.encounters[0].id }),
    )
    .await;
    let mut record = argus_domain::epcr::testing::full_record_body();
    record["incident_id"] = json!(incident);
    let encounter = write("POST", "/api/v1/epcr/encounters".into(), record).await;
    let encounter = encounter["id"].as_str().unwrap().to_owned();
    let job =
        write("POST", "/v1/jobs".into(), json!({ "kind": "export.bulk", "input": { "types": ["incidents"] } })).await;
    let job = job["id"].as_str().unwrap().to_owned();
    write("DELETE", format!("/v1/jobs/{job}"), Value::Null).await;
    write("POST", "/graphql".into(), gql(&incidents, "CloseIncident", json!({ "id": incident }))).await;

    // What the writes made, read back.
    let reads: Vec<(String, Option<Value>)> = vec![
        ("/graphql".into(), Some(gql(&reporting, "IncidentReport", json!({ "first": 50 })))),
        ("/graphql".into(), Some(gql(&reporting, "CaseReport", json!({ "first": 50 })))),
        ("/graphql".into(), Some(gql(&custody, "EvidenceById", json!({ "id": evidence, "first": 50 })))),
        (format!("/v1/evidence/{evidence}/provenance"), None),
        ("/api/v1/devices".into(), None),
        (format!("/api/v1/epcr/encounters/{encounter}"), None),
        (format!("/api/v1/epcr/encounters/{}/fhir-bundle", seed.encounters[0].id), None),
        ("/v1/jobs".into(), None),
        (format!("/v1/jobs/{job}"), None),
    ];
    for (path, body) in &reads {
        let method = if body.is_some() { "POST" } else { "GET" };
        let answer = sc.send(0, method, path, body.as_ref(), Some(WRITES)).await;
        assert_eq!(answer.0, 200, "{path}: {}", String::from_utf8_lossy(&answer.2));
        answers.push(answer);
    }
    answers
}

/// The reads of [`WRITES`] as seeded, as tenant `who`.
async fn seeded_reads(sc: &Scenarios, who: usize) -> Vec<Answer> {
    let mut answers = Vec::new();
    for (path, body) in scenario_reads(WRITES, &sc.tokens[who].0) {
        let method = if body.is_some() { "POST" } else { "GET" };
        answers.push(sc.send(who, method, &path, body.as_ref(), Some(WRITES)).await);
    }
    answers
}

fn assert_same(first: &[Answer], second: &[Answer], what: &str) {
    assert_eq!(first.len(), second.len(), "{what}");
    for (i, (a, b)) in first.iter().zip(second).enumerate() {
        assert!(
            a == b,
            "{what}: answer {i} differs:\n{:?} {:?} {}\n{:?} {:?} {}",
            a.0,
            a.1,
            String::from_utf8_lossy(&a.2),
            b.0,
            b.1,
            String::from_utf8_lossy(&b.2)
        );
    }
}

#[tokio::test]
async fn writes_under_a_scenario_give_the_same_bytes_after_each_reset() {
    let sc = Scenarios::start().await;
    let seed = seed_of(WRITES, &sc.tokens[0].0);
    let seeded = seeded_reads(&sc, 0).await;
    let theirs = seeded_reads(&sc, 1).await;
    let reset = async || sc.send(0, "POST", &format!("/v1/sandbox/scenarios/{WRITES}/reset"), None, None).await;

    let first = write_script(&sc, false).await;
    // The first write is the scenario's clock plus one second, its id of
    // that time.
    let created = json_of(&first[0]);
    let created = &created["data"]["createIncident"];
    let at = seed.clock + chrono::TimeDelta::seconds(1);
    assert_eq!(created["createdAt"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap(), at);
    let id: argus_types::IncidentId = created["id"].as_str().unwrap().parse().unwrap();
    let ulid = ulid::Ulid::from_string(&id.as_str()["inc_".len()..].to_ascii_uppercase()).unwrap();
    assert_eq!(ulid.timestamp_ms(), u64::try_from(at.timestamp_millis()).unwrap());
    // The other tenant's copy of the same scenario has none of it.
    assert_same(&theirs, &seeded_reads(&sc, 1).await, "another tenant's copy of the scenario");

    let (status, _, body) = reset().await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let listed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(listed["name"], WRITES);
    assert_same(&seeded, &seeded_reads(&sc, 0).await, "after a reset, the scenario as seeded");
    // The same script again, with refused writes between its steps.
    let second = write_script(&sc, true).await;
    assert_same(&first, &second, "the write script after a reset");
    assert_eq!(reset().await.0, 200);
    assert_same(&first, &write_script(&sc, false).await, "the write script after a second reset");
}

#[tokio::test]
async fn a_write_without_the_header_is_the_callers_own_and_resets_are_the_sandboxs_only() {
    let sc = Scenarios::start().await;
    let incidents = shipped("incident-webhook-configuration");
    let create = by_id(&incidents, "CreateIncident", json!({ "input": { "title": "Own", "severity": "LOW" } }));
    // In the caller's own tenant: fresh ids, the clock's time.
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(5);
    let (a, b) = (
        json_of(&sc.send(0, "POST", "/graphql", Some(&create), None).await),
        json_of(&sc.send(0, "POST", "/graphql", Some(&create), None).await),
    );
    let (a, b) = (&a["data"]["createIncident"], &b["data"]["createIncident"]);
    assert_ne!(a["id"], b["id"]);
    let at: chrono::DateTime<chrono::Utc> = a["createdAt"].as_str().unwrap().parse().unwrap();
    assert!(at > before && at < chrono::Utc::now() + chrono::TimeDelta::seconds(5), "{a}");
    let report = by_id(&shipped("reporting"), "IncidentReport", json!({ "first": 50 }));
    let own = json_of(&sc.send(0, "POST", "/graphql", Some(&report), None).await);
    assert_eq!(own["data"]["incidents"]["nodes"].as_array().unwrap().len(), 2, "{own}");
    // None of it in a scenario.
    let seeded = seed_of(WRITES, &sc.tokens[0].0).incidents.len();
    let scenario = json_of(&sc.send(0, "POST", "/graphql", Some(&report), Some(WRITES)).await);
    assert_eq!(scenario["data"]["incidents"]["nodes"].as_array().unwrap().len(), seeded, "{scenario}");

    // A reset names a scenario there is.
    let r = sc.send(0, "POST", "/v1/sandbox/scenarios/no-such-scenario/reset", None, None).await;
    assert_eq!(r.0, 404);
    assert!(json_of(&r)["detail"].as_str().unwrap().contains("`no-such-scenario`"));
    // Live has no scenarios to reset.
    let stack = &sc.s.stack;
    let client = stack.client(None, &["incidents:read"]).await;
    let live = stack.cc_token(&client, None).await;
    let r = stack
        .http
        .post(format!("{}/v1/sandbox/scenarios/{WRITES}/reset", stack.api))
        .bearer_auth(&live)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn concurrent_writes_in_one_copy_take_distinct_numbers() {
    let sc = Scenarios::start().await;
    let clock = seed_of(WRITES, &sc.tokens[1].0).clock;
    let incidents = shipped("incident-webhook-configuration");
    let create = |n: usize| {
        by_id(
            &incidents,
            "CreateIncident",
            json!({ "input": { "title": format!("Concurrent {n}"), "severity": "LOW" } }),
        )
    };
    let bodies: Vec<Value> = (0..8).map(create).collect();
    let answers =
        futures_util::future::join_all(bodies.iter().map(|b| sc.send(1, "POST", "/graphql", Some(b), Some(WRITES))))
            .await;
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for answer in &answers {
        let body = json_of(answer);
        let created = &body["data"]["createIncident"];
        assert!(ids.insert(created["id"].as_str().unwrap().to_owned()), "{body}");
        times.push(created["createdAt"].as_str().unwrap().parse().unwrap());
    }
    times.sort();
    let expected: Vec<_> = (1..=8).map(|n| clock + chrono::TimeDelta::seconds(n)).collect();
    assert_eq!(times, expected, "numbers 1 to 8, each once");
}
