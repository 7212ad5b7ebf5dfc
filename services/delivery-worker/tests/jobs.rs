//! Async jobs end to end, through HTTP: the api-service and auth-service on
//! random ports, the delivery worker (in process, or the real binary where
//! it is killed), a RabbitMQ vhost and a PostgreSQL database of the test's
//! own, and a local receiver for callbacks and webhooks. Callback
//! signatures are checked with the `standardwebhooks` crate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "jobs/metrics.rs"]
mod metrics;
mod support;

use std::time::{Duration, Instant};

use api_service::ApiConfig;
use api_service::config::{Environment, JobsApiConfig};
use argus_bus::testing::TestVhost;
use argus_http::serve::Shutdown;
use argus_http::testing::TestProcess;
use argus_store::testing::TestDatabase;
use argus_store::{Store, StoreConfig};
use argus_types::TenantId;
use delivery_worker::{JobsConfig, WorkerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Hanging, ISSUER, Receiver, emit, spawn_auth, start_worker, verify, worker_command};

const PEPPER: &str = "jobs-test-pepper";

struct Stack {
    db: TestDatabase,
    vhost: TestVhost,
    store: Store,
    auth: String,
    api: String,
    http: reqwest::Client,
}

/// A worker tuned for tests: small import batches and fast checkpoints.
fn jobs_config(import_batch: usize) -> JobsConfig {
    JobsConfig {
        concurrency: 2,
        lease: Duration::from_secs(2),
        checkpoint_every: Duration::from_millis(50),
        import_batch,
        ..JobsConfig::default()
    }
}

impl Stack {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`Stack::start`], with `adjust` applied to the API's jobs config.
    async fn start_with(adjust: impl FnOnce(&mut JobsApiConfig)) -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        let (db, vhost) = tokio::join!(TestDatabase::create(), TestVhost::create());
        let store_config = StoreConfig { database_url: db.url().to_owned(), max_connections: 4 };
        let auth_url = spawn_auth(db.url(), PEPPER, true).await;
        let mut jobs = JobsApiConfig {
            allow_private_callbacks: true,
            secret_pepper: PEPPER.into(),
            max_body: 4 << 20,
            ..JobsApiConfig::default()
        };
        adjust(&mut jobs);
        let api = api_service::build(ApiConfig {
            listen_addr: "127.0.0.1:0".into(),
            admin_addr: "127.0.0.1:0".into(),
            store: store_config,
            environment: Environment::Live,
            issuer: ISSUER.into(),
            public_urls: argus_http::discovery::PublicUrls::new("https://api.knogin.com", ISSUER),
            deprecations_file: None,
            jwks_url: format!("{auth_url}/.well-known/jwks.json"),
            migrate: false,
            shutdown: Shutdown::from_seconds(0, 1),
            trace_retention: Duration::from_secs(7 * 86_400),
            jobs,
            webhooks: Default::default(),
        })
        .await
        .unwrap();
        let api_url = format!("http://127.0.0.1:{}", api.port());
        tokio::spawn(api.run_until_stopped());
        Self { store: db.store(), db, vhost, auth: auth_url, api: api_url, http: reqwest::Client::new() }
    }

    fn worker_config(&self, jobs: JobsConfig) -> WorkerConfig {
        WorkerConfig {
            concurrency: 4,
            per_tenant_in_flight: 4,
            jobs,
            ..support::worker_config(self.db.url(), self.vhost.url(), PEPPER)
        }
    }

    /// Starts a worker in this process; cancel its token to stop it.
    fn worker(&self, jobs: JobsConfig) -> argus_bus::CancellationToken {
        self.worker_with(jobs, |_| {})
    }

    /// Like [`Stack::worker`], with `adjust` applied to its config.
    fn worker_with(&self, jobs: JobsConfig, adjust: impl FnOnce(&mut WorkerConfig)) -> argus_bus::CancellationToken {
        self.worker_and_admin(jobs, adjust).0
    }

    /// Like [`Stack::worker_with`]; also returns the base URL of the
    /// worker's admin address.
    fn worker_and_admin(
        &self,
        jobs: JobsConfig,
        adjust: impl FnOnce(&mut WorkerConfig),
    ) -> (argus_bus::CancellationToken, String) {
        let mut config = self.worker_config(jobs);
        adjust(&mut config);
        start_worker(config)
    }

    /// The real worker binary against this stack.
    fn worker_binary(&self, import_batch: usize) -> TestProcess {
        TestProcess::spawn(
            worker_command(self.db.url(), self.vhost.url(), PEPPER)
                .env("ARGUS_JOBS_LEASE_SECONDS", "1")
                .env("ARGUS_JOBS_CHECKPOINT_MS", "50")
                .env("ARGUS_JOBS_IMPORT_BATCH", import_batch.to_string()),
        )
        .unwrap()
    }

    async fn token(&self, tenant: &TenantId, client_id: &str, scopes: &[&str]) -> String {
        support::token(&self.store, tenant, client_id, scopes).await
    }

    /// A tenant and a `jobs:write` token for it.
    async fn tenant(&self) -> Caller {
        let tenant = self.store.create_tenant("t").await.unwrap().id;
        let token = self.token(&tenant, "app_jobs", &["jobs:write"]).await;
        Caller { tenant, token }
    }

    async fn call(&self, caller: &Caller, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&caller.token)
            .header("X-Tenant-ID", caller.tenant.as_str())
    }

    async fn post_job(&self, caller: &Caller, body: &Value, key: Option<&str>) -> reqwest::Response {
        let mut req = self.call(caller, reqwest::Method::POST, "/v1/jobs").await.json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// Enqueues a job; returns its view.
    async fn enqueue(&self, caller: &Caller, body: Value) -> Value {
        let r = self.post_job(caller, &body, None).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", r.text().await.unwrap());
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let job: Value = r.json().await.unwrap();
        assert_eq!(location, format!("/v1/jobs/{}", job["id"].as_str().unwrap()));
        assert_eq!(job["status"], "queued");
        job
    }

    async fn job(&self, caller: &Caller, id: &str) -> Value {
        let r = self.call(caller, reqwest::Method::GET, &format!("/v1/jobs/{id}")).await.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn wait(&self, caller: &Caller, id: &str, done: impl Fn(&Value) -> bool, within: Duration) -> Value {
        let until = Instant::now() + within;
        loop {
            let job = self.job(caller, id).await;
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < until, "job not there in time: {job}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// The job once it is running with more than `progress` done.
    async fn wait_progress(&self, caller: &Caller, id: &str, progress: f64, within: Duration) -> Value {
        self.wait(caller, id, |j| j["status"] == "running" && j["progress"].as_f64().unwrap() > progress, within).await
    }

    async fn wait_status(&self, caller: &Caller, id: &str, status: &str) -> Value {
        self.wait(caller, id, |j| j["status"] == status, Duration::from_secs(60)).await
    }

    async fn result(&self, caller: &Caller, id: &str) -> reqwest::Response {
        self.call(caller, reqwest::Method::GET, &format!("/v1/jobs/{id}/result")).await.send().await.unwrap()
    }

    async fn list(&self, caller: &Caller, query: &str) -> Value {
        let r = self.call(caller, reqwest::Method::GET, &format!("/v1/jobs{query}")).await.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// (entities, relationships) in the tenant.
    async fn graph_size(&self, tenant: &TenantId) -> (usize, usize) {
        let graph = self.store.entity_graph(tenant, None, None).await.unwrap();
        let (nodes, edges) = (graph.nodes, graph.edges);
        (nodes.len(), edges.len())
    }

    /// A webhook of the tenant (through the auth-service) for `events`;
    /// returns its secret.
    async fn webhook(&self, tenant: &TenantId, url: &str, events: &[&str]) -> String {
        let admin = self.token(tenant, "argusctl", &["webhooks:write"]).await;
        let r = self
            .http
            .post(format!("{}/v1/webhooks", self.auth))
            .bearer_auth(admin)
            .json(&json!({ "url": url, "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned()
    }
}

struct Caller {
    tenant: TenantId,
    token: String,
}

/// NDJSON of `people` person entities (`p0`…) and a chain of `knows`
/// relationships between consecutive ones.
fn people(people: usize) -> String {
    let mut out = String::new();
    for i in 0..people {
        out.push_str(
            &json!({"type": "entity", "external_id": format!("p{i}"), "kind": "person", "name": format!("Person {i}")})
                .to_string(),
        );
        out.push('\n');
    }
    for i in 1..people {
        out.push_str(&json!({"type": "relationship", "external_id": format!("k{i}"), "source": format!("p{}", i - 1), "target": format!("p{i}"), "kind": "knows"}).to_string());
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn import_then_export_through_the_api() {
    let stack = Stack::start().await;
    let _worker = stack.worker(jobs_config(1000));
    let caller = stack.tenant().await;
    let ndjson = [
        r#"{"type":"entity","external_id":"p1","kind":"person","name":"Ada Lovelace","attributes":{"phone":"+44 20 7946 0000"}}"#,
        r#"{"type":"entity","external_id":"o1","kind":"organisation","name":"Analytical Engines Ltd"}"#,
        r#"{"type":"entity","external_id":"p2","kind":"person","name":"Charles Babbage"}"#,
        "",
        r#"{"type":"relationship","external_id":"r1","source":"p1","target":"o1","kind":"works_for"}"#,
        r#"{"type":"relationship","external_id":"r2","source":"p2","target":"o1","kind":"owns"}"#,
        r#"{"type":"incident","external_id":"i1","title":"Engine fire","severity":"high","location":"London"}"#,
        r#"{"type":"entity","external_id":"x","kind":"robot","name":"R2"}"#,
        r#"{"type":"relationship","external_id":"r3","source":"p1","target":"nobody","kind":"knows"}"#,
    ]
    .join("\n");
    let job = stack.enqueue(&caller, json!({"kind": "import.bulk", "input": {"ndjson": ndjson}})).await;
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("job_"));
    let done = stack.wait_status(&caller, id, "succeeded").await;
    assert_eq!(done["progress"], 1.0);
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    assert_eq!(done["result_url"], format!("/v1/jobs/{id}/result"));
    let r = stack.result(&caller, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["lines"], 8);
    assert_eq!(report["entities"], json!({"created": 3, "updated": 0, "unchanged": 0}));
    assert_eq!(report["relationships"], json!({"created": 2, "updated": 0, "unchanged": 0}));
    assert_eq!(report["incidents"], json!({"created": 1, "updated": 0, "unchanged": 0}));
    assert_eq!(report["error_count"], 2);
    let lines: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [8, 9], "entity errors first, then the unresolved relationship");
    assert!(report["errors"][1]["error"].as_str().unwrap().contains("nobody"));
    assert_eq!(stack.graph_size(&caller.tenant).await, (3, 2));

    // The same import again changes nothing; a renamed entity is updated.
    let again = ndjson.replace("Charles Babbage", "Charles B.");
    let job = stack.enqueue(&caller, json!({"kind": "import.bulk", "input": {"ndjson": again}})).await;
    let id2 = job["id"].as_str().unwrap();
    stack.wait_status(&caller, id2, "succeeded").await;
    let report: Value = stack.result(&caller, id2).await.json().await.unwrap();
    assert_eq!(report["entities"], json!({"created": 0, "updated": 1, "unchanged": 2}));
    assert_eq!(report["relationships"], json!({"created": 0, "updated": 0, "unchanged": 2}));
    assert_eq!(report["incidents"], json!({"created": 0, "updated": 0, "unchanged": 1}));
    assert_eq!(stack.graph_size(&caller.tenant).await, (3, 2));

    // Export: everything, then only organisations and relationships.
    let job = stack.enqueue(&caller, json!({"kind": "export.bulk", "input": {}})).await;
    let id3 = job["id"].as_str().unwrap();
    stack.wait_status(&caller, id3, "succeeded").await;
    let r = stack.result(&caller, id3).await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["incident", "entity", "entity", "entity", "relationship", "relationship"]);
    assert_eq!(rows[0]["title"], "Engine fire");
    assert!(rows.iter().any(|r| r["name"] == "Charles B."));
    assert!(rows.iter().all(|r| r.get("tenant_id").is_none()));
    let job = stack
        .enqueue(
            &caller,
            json!({"kind": "export.bulk", "input": {"types": ["entities"], "entity_kind": "organisation"}}),
        )
        .await;
    let id4 = job["id"].as_str().unwrap();
    stack.wait_status(&caller, id4, "succeeded").await;
    let text = stack.result(&caller, id4).await.text().await.unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("Analytical Engines Ltd"));

    // Listing, filtered and paged.
    let all = stack.list(&caller, "").await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 4);
    let imports = stack.list(&caller, "?kind=import.bulk&status=succeeded").await;
    let ids: Vec<&str> = imports["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id, id2]);
    let page = stack.list(&caller, "?limit=3").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 3);
    let next = stack.list(&caller, &format!("?limit=3&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(next["jobs"][0]["id"], id4);
    assert!(next["next_cursor"].is_null());
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_and_validate() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::ZERO).await;
    let body = json!({"kind": "export.bulk", "input": {"types": ["incidents"]}, "callback_url": receiver.url});

    let first = stack.post_job(&caller, &body, Some("order-7")).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    assert!(first["callback_secret"].as_str().unwrap().starts_with("whsec_"));

    let replay = stack.post_job(&caller, &body, Some("order-7")).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["location"], location);
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    // The structured-field form of the same key is the same key.
    let quoted = stack.post_job(&caller, &body, Some("\"order-7\"")).await;
    assert_eq!(quoted.headers()["idempotent-replayed"], "true");
    assert_eq!(stack.list(&caller, "").await["jobs"].as_array().unwrap().len(), 1, "one job for three requests");
    // The stored secret is not readable afterwards.
    let view = stack.job(&caller, first["id"].as_str().unwrap()).await;
    assert!(view.get("callback_secret").is_none());

    // Same key, other payload: 422. Another app's same key is its own.
    let other = json!({"kind": "export.bulk", "input": {"types": ["cases"]}});
    let r = stack.post_job(&caller, &other, Some("order-7")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let other_app = Caller {
        tenant: caller.tenant.clone(),
        token: stack.token(&caller.tenant, "app_other", &["jobs:write"]).await,
    };
    assert_eq!(stack.post_job(&other_app, &other, Some("order-7")).await.status(), StatusCode::ACCEPTED);

    // A request while the first with its key is in flight: 409.
    let pending = json!({"kind": "export.bulk", "input": {}});
    let bytes = serde_json::to_vec(&pending).unwrap();
    let mut digest = argus_store::idempotency::BodyFingerprint::new();
    digest.update(&bytes);
    let key = argus_store::idempotency::IdempotencyKey {
        client_id: "app_jobs".into(),
        key: "in-flight".into(),
        fingerprint: digest.finish(b"POST /v1/jobs"),
    };
    let begun = stack.store.idempotency_begin(&caller.tenant, &key).await.unwrap();
    assert_eq!(begun, argus_store::idempotency::Begin::Proceed);
    let r = stack
        .call(&caller, reqwest::Method::POST, "/v1/jobs")
        .await
        .header("Idempotency-Key", "in-flight")
        .header("Content-Type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Errors are kept and replayed too.
    let bad = json!({"kind": "export.bulk", "input": {"types": ["users"]}});
    let r = stack.post_job(&caller, &bad, Some("bad-1")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let detail = r.json::<Value>().await.unwrap()["detail"].clone();
    let r = stack.post_job(&caller, &bad, Some("bad-1")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], detail);

    // Malformed keys: 400, nothing queued.
    for key in ["", "\"open", &"k".repeat(256), "caf\u{e9}"] {
        let mut req = stack.call(&caller, reqwest::Method::POST, "/v1/jobs").await.json(&pending);
        req = req.header("Idempotency-Key", reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap());
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "key {key:?}");
        assert!(r.text().await.unwrap().contains("Idempotency-Key"));
    }
    assert_eq!(stack.list(&caller, "").await["jobs"].as_array().unwrap().len(), 2);

    // Expired keys are purged; a purged key is free again.
    sql(&stack, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'");
    assert!(stack.store.purge_idempotency_keys().await.unwrap() >= 1);
    let fresh = stack.post_job(&caller, &body, Some("order-7")).await;
    assert_eq!(fresh.status(), StatusCode::ACCEPTED);
    assert!(fresh.headers().get("idempotent-replayed").is_none());
}

/// Runs one SQL statement on the test's database (what no route does).
fn sql(stack: &Stack, statement: &str) {
    let out = std::process::Command::new("psql").arg(stack.db.url()).arg("-c").arg(statement).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The single value `query` returns, as text.
fn sql_value(stack: &Stack, query: &str) -> String {
    let out = std::process::Command::new("psql").arg(stack.db.url()).arg("-tAc").arg(query).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn bad_requests_are_4xx_and_queue_nothing() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let cases = [
        (json!({"kind": "report.weekly", "input": {}}), "kind must be one of"),
        (json!({"kind": "import.bulk", "input": {}}), "ndjson"),
        (json!({"kind": "import.bulk", "input": {"ndjson": "  \n"}}), "no lines"),
        (json!({"kind": "import.bulk", "input": {"ndjson": "{}", "extra": 1}}), "unknown field"),
        (json!({"kind": "import.bulk", "input": {"ndjson": "{}\n\nnot json\n{}"}}), "line 3 is not a JSON object"),
        (json!({"kind": "import.bulk", "input": {"ndjson": 7}}), "input.ndjson must be a string"),
        (json!({"kind": "export.bulk", "input": {"types": []}}), "at least one"),
        (json!({"kind": "export.bulk", "input": {"incident_severity": "apocalyptic"}}), "incident_severity"),
        (
            json!({"kind": "export.bulk", "input": {}, "callback_url": "ftp://example.com/x"}),
            "callback_url must use https",
        ),
        (json!({"kind": "export.bulk", "input": {}, "callback_url": "not a url"}), "callback_url"),
        (json!({"kind": "export.bulk", "input": {}, "priority": 1}), "unknown field"),
        (json!(["export.bulk"]), "not a job"),
    ];
    for (body, why) in cases {
        let r = stack.post_job(&caller, &body, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(why), "{body}: {problem}");
    }
    let r = stack
        .call(&caller, reqwest::Method::POST, "/v1/jobs")
        .await
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"kind": "import.bulk", "input": {"ndjson": "x".repeat(5 << 20)}});
    assert_eq!(stack.post_job(&caller, &huge, None).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    for (query, named) in [("status=done", "status must be one of"), ("kind=report.weekly", "kind must be one of")] {
        let r = stack.call(&caller, reqwest::Method::GET, &format!("/v1/jobs?{query}")).await.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let p: Value = r.json().await.unwrap();
        assert!(p["detail"].as_str().unwrap().starts_with(named), "{query}: {p}");
    }
    let r = stack.call(&caller, reqwest::Method::GET, "/v1/jobs?cursor=%%%").await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(stack.list(&caller, "").await["jobs"].as_array().unwrap().is_empty());
    assert_eq!(stack.store.outbox_unsent_count().await.unwrap(), 0, "no work message was written");
}

#[tokio::test]
async fn a_bad_line_in_the_middle_of_a_large_body_is_named_and_nothing_is_stored() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    // ~3.2 MiB of NDJSON (the stack's limit is 4 MiB): the lines before
    // the bad one fill stored chunks before it arrives.
    let good = people(16_000);
    let lines: Vec<&str> = good.lines().collect();
    let bad_at = lines.len() / 2;
    let mut ndjson = lines[..bad_at - 1].join("\n");
    ndjson.push_str("\n{\"type\":\"entity\",\"external_id\":\"x\"\n");
    ndjson.push_str(&lines[bad_at..].join("\n"));
    let body = json!({"kind": "import.bulk", "input": {"ndjson": ndjson}});
    assert!(serde_json::to_vec(&body).unwrap().len() > 3 << 20);
    let r = stack.post_job(&caller, &body, Some("bad-line")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let problem: Value = r.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("input.ndjson line {bad_at} is not a JSON object")), "{detail}");
    assert_eq!(stack.store.job_storage_bytes(&caller.tenant).await.unwrap(), 0, "no input chunk stayed");
    assert!(stack.list(&caller, "").await["jobs"].as_array().unwrap().is_empty());
    assert_eq!(stack.store.outbox_unsent_count().await.unwrap(), 0, "no work message was written");
    // The refusal is kept for the key like any 4xx.
    let again = stack.post_job(&caller, &body, Some("bad-line")).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn the_tenant_quota_is_a_429_and_finished_jobs_free_their_inputs() {
    let stack = Stack::start_with(|jobs| jobs.tenant_quota_bytes = 300_000).await;
    let caller = stack.tenant().await;
    let other = stack.tenant().await;
    let import = |n: usize| json!({"kind": "import.bulk", "input": {"ndjson": people(n)}});
    // ~190 KB stored: under the quota.
    let first = stack.enqueue(&caller, import(1000)).await;
    let stored = stack.store.job_storage_bytes(&caller.tenant).await.unwrap();
    assert!(stored > 150_000, "{stored}");
    // Another ~190 KB would cross it: refused while streaming, nothing kept.
    let r = stack.post_job(&caller, &import(1000), Some("over")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("quota"), "{problem}");
    assert_eq!(stack.store.job_storage_bytes(&caller.tenant).await.unwrap(), stored);
    assert_eq!(stack.list(&caller, "").await["jobs"].as_array().unwrap().len(), 1);
    // The quota is the tenant's own.
    stack.enqueue(&other, import(1000)).await;

    // Once the job has run, its input is dropped: the same request (and
    // the same key: a 429 is not kept) goes through.
    let _worker = stack.worker(jobs_config(500));
    stack.wait_status(&caller, first["id"].as_str().unwrap(), "succeeded").await;
    let after = stack.store.job_storage_bytes(&caller.tenant).await.unwrap();
    assert!(after < 1000, "only the import's report stays: {after}");
    let r = stack.post_job(&caller, &import(1000), Some("over")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn results_are_kept_for_their_retention_then_deleted_and_their_quota_freed() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let other = stack.tenant().await;
    let _worker = stack.worker(JobsConfig { result_retention: Duration::from_secs(2 * 86_400), ..jobs_config(500) });
    let import = stack.enqueue(&caller, json!({"kind": "import.bulk", "input": {"ndjson": people(200)}})).await;
    stack.wait_status(&caller, import["id"].as_str().unwrap(), "succeeded").await;
    let export = json!({"kind": "export.bulk", "input": {}});
    let mine = stack.enqueue(&caller, export.clone()).await["id"].as_str().unwrap().to_owned();
    let theirs = stack.enqueue(&other, export).await["id"].as_str().unwrap().to_owned();
    let job = stack.wait_status(&caller, &mine, "succeeded").await;
    stack.wait_status(&other, &theirs, "succeeded").await;

    // Kept for the worker's retention after the job finished.
    let at = |v: &Value, field: &str| chrono::DateTime::parse_from_rfc3339(v[field].as_str().unwrap()).unwrap();
    assert_eq!(at(&job, "result_expires_at") - at(&job, "finished_at"), chrono::TimeDelta::days(2), "{job}");
    assert_eq!(job["result_url"], format!("/v1/jobs/{mine}/result"));
    assert_eq!(stack.result(&caller, &mine).await.status(), StatusCode::OK);
    let stored = stack.store.job_storage_bytes(&caller.tenant).await.unwrap();
    assert!(stored > 10_000, "the export counts toward the quota: {stored}");

    // Once it runs out, the result is a 410 at once, and the sweep deletes
    // it and frees the quota; another tenant's result is untouched.
    sql(&stack, &format!("UPDATE jobs SET result_expires_at = now() - interval '1 second' WHERE id = '{mine}'"));
    let r = stack.result(&caller, &mine).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("retention"), "{problem}");
    assert!(stack.job(&caller, &mine).await["result_url"].is_null());
    assert_eq!(stack.store.purge_expired_job_results(1).await.unwrap(), 1);
    assert_eq!(stack.store.purge_expired_job_results(1).await.unwrap(), 0);
    let left = stack.store.job_storage_bytes(&caller.tenant).await.unwrap();
    assert!(left < stored - 10_000, "{left} of {stored} bytes left");
    assert_eq!(sql_value(&stack, &format!("SELECT count(*) FROM job_result_chunks WHERE job_id = '{mine}'")), "0");
    assert_eq!(stack.result(&caller, &mine).await.status(), StatusCode::GONE);
    assert_eq!(stack.job(&caller, &mine).await["status"], "succeeded", "the job itself stays");
    assert_eq!(stack.result(&other, &theirs).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn large_bodies_beyond_the_in_flight_limit_are_a_503_with_retry_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start_with(|jobs| jobs.max_bodies_in_flight = 1).await;
    let caller = stack.tenant().await;
    // ~2.2 MB: its first stored chunk (1 MiB of NDJSON, ~1.25 MiB of
    // escaped JSON) is written before the whole body is in.
    let body = serde_json::to_vec(&json!({"kind": "import.bulk", "input": {"ndjson": people(10_000)}})).unwrap();
    let first_part = 3 << 19;
    assert!(body.len() > first_part + 1000);
    // A large body that is still arriving holds the one permit.
    let mut slow = tokio::net::TcpStream::connect(stack.api.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /v1/jobs HTTP/1.1\r\nHost: argus\r\nAuthorization: Bearer {}\r\nX-Tenant-ID: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        caller.token,
        caller.tenant.as_str(),
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..first_part]).await.unwrap();
    // Its upload's transaction is open once its first chunk is stored: by
    // then its handler holds the permit.
    let open = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                AND state LIKE 'idle in transaction%'";
    let until = Instant::now() + Duration::from_secs(30);
    while sql_value(&stack, open) == "0" {
        assert!(Instant::now() < until, "the slow upload never stored its first chunk");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another large body meanwhile: 503.
    let r = stack.post_job(&caller, &json!({"kind": "import.bulk", "input": {"ndjson": people(1000)}}), None).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // A small body needs no permit.
    stack.enqueue(&caller, json!({"kind": "export.bulk", "input": {}})).await;
    // The slow one finishes and is accepted.
    slow.write_all(&body[first_part..]).await.unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
}

#[tokio::test]
async fn tenants_and_scopes_are_enforced_on_every_route() {
    let stack = Stack::start().await;
    let a = stack.tenant().await;
    let b = stack.tenant().await;
    let job = stack.enqueue(&a, json!({"kind": "export.bulk", "input": {}})).await;
    let id = job["id"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/jobs/{id}")),
        (reqwest::Method::GET, format!("/v1/jobs/{id}/result")),
        (reqwest::Method::DELETE, format!("/v1/jobs/{id}")),
        (reqwest::Method::GET, "/v1/jobs/job_nonsense".to_owned()),
    ] {
        let r = stack.call(&b, method.clone(), &path).await.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert!(stack.list(&b, "").await["jobs"].as_array().unwrap().is_empty());
    assert_eq!(stack.job(&a, id).await["status"], "queued", "B's cancel did not touch A's job");

    // X-Tenant-ID is optional on REST routes (the contract asks for it on
    // /graphql only) but, when sent, must be the token's tenant; a token is
    // required.
    let r = stack
        .http
        .get(format!("{}/v1/jobs/{id}", stack.api))
        .bearer_auth(&b.token)
        .header("X-Tenant-ID", a.tenant.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = stack.http.get(format!("{}/v1/jobs", stack.api)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = stack.http.get(format!("{}/v1/jobs/{id}", stack.api)).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no X-Tenant-ID: the token's tenant");
    assert_eq!(r.json::<Value>().await.unwrap()["id"], id);
    let r = stack.http.get(format!("{}/v1/jobs", stack.api)).bearer_auth(&b.token).send().await.unwrap();
    assert!(r.json::<Value>().await.unwrap()["jobs"].as_array().unwrap().is_empty(), "B without the header sees B's");
    let r = stack
        .http
        .get(format!("{}/v1/jobs/{id}", stack.api))
        .bearer_auth(&a.token)
        .header("X-Tenant-ID", &[0xff_u8][..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a header that is not text matches no tenant");

    // Scopes: jobs:read reads but neither enqueues nor cancels.
    let reader = Caller { tenant: a.tenant.clone(), token: stack.token(&a.tenant, "app_r", &["jobs:read"]).await };
    assert_eq!(stack.job(&reader, id).await["id"], id);
    let r = stack.post_job(&reader, &json!({"kind": "export.bulk", "input": {}}), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = stack.call(&reader, reqwest::Method::DELETE, &format!("/v1/jobs/{id}")).await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let none = Caller { tenant: a.tenant.clone(), token: stack.token(&a.tenant, "app_n", &["incidents:read"]).await };
    let r = stack.call(&none, reqwest::Method::GET, "/v1/jobs").await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A queued job's result is a 409; cancelling it is immediate; twice is a 409.
    assert_eq!(stack.result(&a, id).await.status(), StatusCode::CONFLICT);
    let r = stack.call(&a, reqwest::Method::DELETE, &format!("/v1/jobs/{id}")).await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    let r = stack.call(&a, reqwest::Method::DELETE, &format!("/v1/jobs/{id}")).await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(stack.result(&a, id).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn cancel_stops_a_running_job_and_announces_it() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let hooks = Receiver::start(vec![], Duration::ZERO).await;
    let webhook_secret = stack.webhook(&caller.tenant, &hooks.url, &["job.cancelled"]).await;
    let _worker = stack.worker(jobs_config(10));
    let job = stack.enqueue(&caller, json!({"kind": "import.bulk", "input": {"ndjson": people(3000)}})).await;
    let id = job["id"].as_str().unwrap();
    let running = stack.wait_progress(&caller, id, 0.0, Duration::from_secs(30)).await;
    assert!(running["started_at"].is_string());
    let r = stack.call(&caller, reqwest::Method::DELETE, &format!("/v1/jobs/{id}")).await.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["cancel_requested"], true);
    let cancelled = stack.wait_status(&caller, id, "cancelled").await;
    assert!(cancelled["progress"].as_f64().unwrap() < 1.0);
    assert!(cancelled["finished_at"].is_string());
    let (entities, _) = stack.graph_size(&caller.tenant).await;
    assert!(entities < 3000, "the import stopped early ({entities} entities)");
    assert_eq!(stack.result(&caller, id).await.status(), StatusCode::CONFLICT);
    let got = hooks.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1);
    let event = verify(&webhook_secret, &got[0]);
    assert_eq!(event["type"], "job.cancelled");
    assert_eq!(event["data"]["id"], id);
    assert_eq!(event["data"]["status"], "cancelled");
}

#[tokio::test]
async fn a_killed_worker_finishes_the_job_once_without_duplicates() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::ZERO).await;
    let mut worker = stack.worker_binary(20);
    let job = stack
        .enqueue(
            &caller,
            json!({"kind": "import.bulk", "input": {"ndjson": people(3000)}, "callback_url": receiver.url}),
        )
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let secret = job["callback_secret"].as_str().unwrap().to_owned();
    stack.wait_progress(&caller, &id, 0.2, Duration::from_secs(60)).await;
    worker.kill(); // SIGKILL
    let (partial, _) = stack.graph_size(&caller.tenant).await;
    assert!(partial > 0 && partial <= 3000);
    assert_eq!(stack.job(&caller, &id).await["status"], "running", "a dead worker finishes nothing");

    let _worker = stack.worker_binary(20);
    let done = stack.wait_status(&caller, &id, "succeeded").await;
    assert_eq!(done["progress"], 1.0);
    assert_eq!(stack.graph_size(&caller.tenant).await, (3000, 2999), "every row exactly once");
    let record = stack.store.get_job(&caller.tenant, &id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.attempts, 2, "taken up again once");
    let report: Value = stack.result(&caller, &id).await.json().await.unwrap();
    let unchanged = report["entities"]["unchanged"].as_u64().unwrap();
    assert!(
        unchanged <= 20,
        "resumed from its checkpoint: at most the batch in flight when it died is imported again: {report}"
    );
    assert_eq!(report["entities"]["created"].as_u64().unwrap() + unchanged, 3000, "{report}");
    assert_eq!(report["relationships"]["created"], 2999, "{report}");
    assert_eq!(report["lines"], 5999);

    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "one callback: {got:?}");
    let body = verify(&secret, &got[0]);
    assert_eq!(body["type"], "job.succeeded");
    assert_eq!(body["data"]["id"], id.as_str());
}

#[tokio::test]
async fn sigterm_hands_a_running_job_back_and_another_worker_finishes_it() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let mut worker = stack.worker_binary(20);
    let job = stack.enqueue(&caller, json!({"kind": "import.bulk", "input": {"ndjson": people(3000)}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    stack.wait_progress(&caller, &id, 0.1, Duration::from_secs(60)).await;
    worker.sigterm();
    worker.wait_for_exit(Duration::from_secs(20)).await;
    let back = stack.job(&caller, &id).await;
    assert_eq!(back["status"], "queued", "handed back, not left running: {back}");
    assert!(back["progress"].as_f64().unwrap() > 0.0);
    let (partial, _) = stack.graph_size(&caller.tenant).await;
    assert!(partial < 3000, "stopped before the end ({partial})");

    let _worker = stack.worker_binary(500);
    stack.wait_status(&caller, &id, "succeeded").await;
    assert_eq!(stack.graph_size(&caller.tenant).await, (3000, 2999));
    let record = stack.store.get_job(&caller.tenant, &id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.attempts, 2);
}

#[tokio::test]
async fn callbacks_are_signed_like_webhooks_and_retried() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let receiver = Receiver::start(vec![503, 200], Duration::ZERO).await;
    let hooks = Receiver::start(vec![], Duration::ZERO).await;
    let webhook_secret = stack.webhook(&caller.tenant, &hooks.url, &["job.succeeded", "job.failed"]).await;
    let _worker = stack.worker(jobs_config(1000));
    let job = stack
        .enqueue(&caller, json!({"kind": "export.bulk", "input": {"types": ["cases"]}, "callback_url": receiver.url}))
        .await;
    let id = job["id"].as_str().unwrap();
    let secret = job["callback_secret"].as_str().unwrap();
    assert_eq!(job["callback_url"], receiver.url.as_str());

    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2, "a 503, then the retry");
    let first = verify(secret, &got[0]);
    let second = verify(secret, &got[1]);
    assert_eq!(first, second, "every attempt sends the same body");
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    assert_eq!(first["type"], "job.succeeded");
    assert_eq!(first["id"].as_str().unwrap(), got[0].headers["webhook-id"].to_str().unwrap());
    assert_eq!(first["tenant_id"], caller.tenant.as_str());
    assert_eq!(first["data"]["id"], id);
    assert_eq!(first["data"]["result_url"], format!("/v1/jobs/{id}/result"));
    // A wrong secret does not verify.
    let wrong = argus_crypto::webhook::generate_webhook_secret();
    assert!(standardwebhooks::Webhook::new(&wrong).unwrap().verify(&got[0].body, &got[0].headers).is_err());
    let done = stack.wait(&caller, id, |j| j["callback_status"] == "succeeded", Duration::from_secs(10)).await;
    assert_eq!(done["status"], "succeeded");

    // Subscribed webhooks get the same event.
    let delivered = hooks.wait_for(1, Duration::from_secs(20)).await;
    let event = verify(&webhook_secret, &delivered[0]);
    assert_eq!(event, first);
}

/// One tenant's endpoints accept and never answer, with 120 deliveries and
/// four job callbacks for them; the tenant holds at most its share of the
/// worker's requests (callbacks counted with deliveries), and another
/// tenant's event, jobs and callback go through at their normal pace.
#[tokio::test]
async fn a_tenant_with_hanging_endpoints_holds_only_its_share_of_the_worker() {
    const SHARE: usize = 4;
    const PROMPT: Duration = Duration::from_secs(2);
    let stack = Stack::start().await;
    // Nothing times out while the test looks: a hanging request holds its
    // slot throughout.
    let _worker = stack.worker_with(jobs_config(1000), |c| {
        c.concurrency = 16;
        c.per_tenant_in_flight = SHARE as u16;
        c.request_timeout = Duration::from_secs(60);
    });
    let stuck = Hanging::start().await;
    let a = stack.tenant().await;
    let export = |url: String| json!({"kind": "export.bulk", "input": {"types": ["cases"]}, "callback_url": url});

    // Two of A's callbacks hang first, then A's deliveries take the rest of
    // its share.
    for _ in 0..2 {
        let job = stack.enqueue(&a, export(stuck.url("/callback"))).await;
        stack.wait_status(&a, job["id"].as_str().unwrap(), "succeeded").await;
    }
    assert_eq!(stuck.wait_for(2, Duration::from_secs(10)).await.len(), 2);
    for _ in 0..10 {
        stack.webhook(&a.tenant, &stuck.url("/hook"), &["incident.updated"]).await;
    }
    for n in 0..12 {
        emit(&stack.store, &a.tenant, "incident.updated", json!({"n": n})).await;
    }
    assert_eq!(stuck.wait_for(SHARE, Duration::from_secs(10)).await.len(), SHARE);
    // A's jobs still run; their callbacks wait for A's share, not in a job
    // slot.
    for _ in 0..2 {
        let job = stack.enqueue(&a, export(stuck.url("/callback"))).await;
        let id = job["id"].as_str().unwrap();
        let done = stack.wait(&a, id, |j| j["status"] == "succeeded", Duration::from_secs(5)).await;
        assert_eq!(done["callback_status"], "pending");
    }

    // B's event reaches its receiver at once.
    let b = stack.tenant().await;
    let hooks = Receiver::start(vec![], Duration::ZERO).await;
    let callbacks = Receiver::start(vec![], Duration::ZERO).await;
    stack.webhook(&b.tenant, &hooks.url, &["incident.updated"]).await;
    let sent = Instant::now();
    emit(&stack.store, &b.tenant, "incident.updated", json!({"n": "b"})).await;
    assert_eq!(hooks.wait_for(1, PROMPT).await.len(), 1, "B's event held up for {:?}", sent.elapsed());
    assert!(sent.elapsed() < PROMPT, "B's event took {:?}", sent.elapsed());

    // B's jobs run at their normal pace, and B's callback goes out at once.
    let started = Instant::now();
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = if n == 0 { export(callbacks.url.clone()) } else { json!({"kind": "export.bulk", "input": {}}) };
        ids.push(stack.enqueue(&b, body).await["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        stack.wait(&b, id, |j| j["status"] == "succeeded", PROMPT).await;
    }
    assert!(started.elapsed() < PROMPT, "B's jobs took {:?}", started.elapsed());
    assert_eq!(callbacks.wait_for(1, PROMPT).await.len(), 1, "B's callback held up");
    let done = stack.wait(&b, &ids[0], |j| j["callback_status"] == "succeeded", PROMPT).await;
    assert_eq!(done["status"], "succeeded");
    assert!(started.elapsed() < 2 * PROMPT, "B's jobs and callback took {:?}", started.elapsed());

    // All the while A held its share and no more: two callbacks and two
    // deliveries, never more connections at once.
    let mut paths = stuck.paths();
    paths.sort();
    assert_eq!(paths, ["/callback", "/callback", "/hook", "/hook"]);
    assert!(stuck.most_open() <= SHARE, "{} of A's requests at once", stuck.most_open());
}

/// External id → entity id, for ids the import created.
async fn entity_ids(stack: &Stack, tenant: &TenantId, external: &[&str]) -> Vec<String> {
    let map = stack.store.entity_ids_by_external_id(tenant, external).await.unwrap();
    external.iter().map(|e| map[*e].to_string()).collect()
}

async fn import(stack: &Stack, caller: &Caller, ndjson: &str) {
    let job = stack.enqueue(caller, json!({"kind": "import.bulk", "input": {"ndjson": ndjson}})).await;
    stack.wait_status(caller, job["id"].as_str().unwrap(), "succeeded").await;
}

#[tokio::test]
async fn graph_compute_runs_on_the_tenants_graph() {
    let stack = Stack::start().await;
    let _worker = stack.worker(jobs_config(1000));
    let caller = stack.tenant().await;
    // a → b → c → a, d → c; f → g; e alone; and one `owns` edge a → f.
    let mut ndjson = String::new();
    for n in ["a", "b", "c", "d", "e", "f", "g"] {
        ndjson.push_str(&format!(
            "{{\"type\":\"entity\",\"external_id\":\"{n}\",\"kind\":\"person\",\"name\":\"{n}\"}}\n"
        ));
    }
    for (i, (s, t, kind)) in [
        ("a", "b", "knows"),
        ("b", "c", "knows"),
        ("c", "a", "knows"),
        ("d", "c", "knows"),
        ("f", "g", "knows"),
        ("a", "f", "owns"),
    ]
    .iter()
    .enumerate()
    {
        ndjson.push_str(&format!(
            "{{\"type\":\"relationship\",\"external_id\":\"r{i}\",\"source\":\"{s}\",\"target\":\"{t}\",\"kind\":\"{kind}\"}}\n"
        ));
    }
    import(&stack, &caller, &ndjson).await;
    let ids = entity_ids(&stack, &caller.tenant, &["a", "b", "c", "d", "e", "f", "g"]).await;
    let input = json!({
        "algorithms": ["pagerank", "connected_components", "degree", "shortest_paths"],
        "relationship_kinds": ["knows"],
        "shortest_paths": [{"from": ids[0], "to": ids[2]}, {"from": ids[0], "to": ids[6]}],
        "top": 3,
    });
    let job = stack.enqueue(&caller, json!({"kind": "graph.compute", "input": input})).await;
    let id = job["id"].as_str().unwrap();
    stack.wait_status(&caller, id, "succeeded").await;
    let r = stack.result(&caller, id).await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = r.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = &lines[0];
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["node_count"], 7);
    assert_eq!(summary["edge_count"], 5, "the `owns` edge is filtered out");
    assert_eq!(summary["connected_components"]["count"], 3);
    assert_eq!(summary["pagerank"]["top"][0]["entity_id"], ids[2], "c collects the most rank");
    assert_eq!(summary["pagerank"]["top"].as_array().unwrap().len(), 3);
    let paths = summary["shortest_paths"].as_array().unwrap();
    assert_eq!(paths[0]["length"], 2);
    assert_eq!(paths[0]["path"], json!([ids[0], ids[1], ids[2]]));
    assert_eq!(paths[1]["found"], false, "a reaches g only through `owns`");
    let nodes: Vec<&Value> = lines[1..].iter().collect();
    assert_eq!(nodes.len(), 7);
    assert!(nodes.iter().all(|n| n["type"] == "node"));
    let total: f64 = nodes.iter().map(|n| n["pagerank"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6, "PageRank sums to 1: {total}");
    let d = nodes.iter().find(|n| n["entity_id"] == ids[3]).unwrap();
    assert_eq!((d["in_degree"].as_u64(), d["out_degree"].as_u64()), (Some(0), Some(1)));

    // Bad inputs are refused before anything is queued.
    for (input, why) in [
        (json!({"algorithms": []}), "algorithms"),
        (json!({"algorithms": ["pagerank"], "pagerank": {"damping": 1.5}}), "damping"),
        (json!({"algorithms": ["sorcery"]}), "invalid input"),
        (
            json!({"algorithms": ["shortest_paths"], "shortest_paths": [{"from": ids[0], "to": "ent_01jdxaaaaaaaaaaaaaaaaaaaaa"}]}),
            "unknown entities",
        ),
    ] {
        let r = stack.post_job(&caller, &json!({"kind": "graph.compute", "input": input}), None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{input}");
        let problem: Value = r.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(why), "{problem}");
    }
    // Another tenant's entities are unknown here.
    let other = stack.tenant().await;
    let input = json!({"algorithms": ["shortest_paths"], "shortest_paths": [{"from": ids[0], "to": ids[1]}]});
    let r = stack.post_job(&other, &json!({"kind": "graph.compute", "input": input}), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stack.list(&caller, "?kind=graph.compute").await["jobs"].as_array().unwrap().len(), 1);
}

/// Runs graph.compute (degree) and returns its summary line.
async fn graph_summary(stack: &Stack, caller: &Caller, input: Value) -> Value {
    let job = stack.enqueue(caller, json!({"kind": "graph.compute", "input": input})).await;
    let id = job["id"].as_str().unwrap();
    stack.wait_status(caller, id, "succeeded").await;
    let text = stack.result(caller, id).await.text().await.unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

#[tokio::test]
async fn graph_compute_follows_every_committed_change_to_the_graph() {
    let stack = Stack::start().await;
    let _worker = stack.worker(jobs_config(1000));
    let caller = stack.tenant().await;
    let other = stack.tenant().await;
    let entity = |n: &str, kind: &str| {
        format!("{{\"type\":\"entity\",\"external_id\":\"{n}\",\"kind\":\"{kind}\",\"name\":\"{n}\"}}\n")
    };
    let ndjson = entity("a", "person")
        + &entity("b", "person")
        + &entity("c", "vehicle")
        + "{\"type\":\"relationship\",\"external_id\":\"r1\",\"source\":\"a\",\"target\":\"b\",\"kind\":\"knows\"}\n";
    import(&stack, &caller, &ndjson).await;
    let ids = entity_ids(&stack, &caller.tenant, &["a", "b", "c"]).await;
    let all = json!({"algorithms": ["degree"]});
    let people = json!({"algorithms": ["degree"], "entity_kinds": ["person"]});
    let counts = |s: &Value| (s["node_count"].as_u64().unwrap(), s["edge_count"].as_u64().unwrap());
    assert_eq!(counts(&graph_summary(&stack, &caller, all.clone()).await), (3, 1));
    assert_eq!(counts(&graph_summary(&stack, &caller, people.clone()).await), (2, 1));

    // A write that tells nobody (triggers off for its session) is not seen:
    // the graph comes from memory while its version stands.
    let version = stack.store.graph_version(&caller.tenant).await.unwrap();
    sql(
        &stack,
        &format!(
            "SET session_replication_role = replica; INSERT INTO relationships (id, tenant_id, source_id, target_id, kind) \
             VALUES ('rel_silent0000000000000000000', '{}', '{}', '{}', 'knows')",
            caller.tenant, ids[1], ids[2]
        ),
    );
    assert_eq!(counts(&graph_summary(&stack, &caller, all.clone()).await), (3, 1), "served from memory");

    // Every committed write, by any writer, makes a new version.
    sql(
        &stack,
        &format!(
            "INSERT INTO relationships (id, tenant_id, source_id, target_id, kind) VALUES ('rel_other000000000000000000000', '{}', '{}', '{}', 'owns')",
            caller.tenant, ids[2], ids[0]
        ),
    );
    assert!(stack.store.graph_version(&caller.tenant).await.unwrap() > version);
    assert_eq!(counts(&graph_summary(&stack, &caller, all.clone()).await), (3, 3), "both new edges");
    sql(&stack, &format!("UPDATE entities SET kind = 'person' WHERE id = '{}'", ids[2]));
    assert_eq!(counts(&graph_summary(&stack, &caller, people.clone()).await), (3, 3), "c is a person now");
    sql(&stack, &format!("DELETE FROM entities WHERE id = '{}'", ids[1]));
    assert_eq!(counts(&graph_summary(&stack, &caller, all.clone()).await), (2, 1), "b and its edges are gone");

    // Another tenant's writes leave this tenant's version alone.
    let version = stack.store.graph_version(&caller.tenant).await.unwrap();
    import(&stack, &other, &entity("z", "person")).await;
    assert_eq!(stack.store.graph_version(&caller.tenant).await.unwrap(), version);
    assert_eq!(counts(&graph_summary(&stack, &other, all).await), (1, 0));
}

#[tokio::test]
async fn enrichment_normalises_and_suggests_duplicates_and_links() {
    let stack = Stack::start().await;
    let _worker = stack.worker(jobs_config(1000));
    let caller = stack.tenant().await;
    let ndjson = [
        r#"{"type":"entity","external_id":"p1","kind":"person","name":"John Smith","attributes":{"phone":"020 7946 0000","address":"221B Baker St., London"}}"#,
        r#"{"type":"entity","external_id":"p2","kind":"person","name":"Smith, Jon","attributes":{"phone":"+44 (0)20-7946-0000"}}"#,
        r#"{"type":"entity","external_id":"l1","kind":"location","name":"221B Baker Street, London","attributes":{"address":"221B Baker Street, London"}}"#,
        r#"{"type":"entity","external_id":"o1","kind":"organisation","name":"Unrelated Ltd"}"#,
    ]
    .join("\n");
    import(&stack, &caller, &ndjson).await;
    let ids = entity_ids(&stack, &caller.tenant, &["p1", "p2", "l1", "o1"]).await;
    let input = json!({"entity_ids": [ids[0], ids[1], ids[2]], "default_region": "GB"});
    let job = stack.enqueue(&caller, json!({"kind": "intelligence.enrich.bulk", "input": input})).await;
    let id = job["id"].as_str().unwrap();
    stack.wait_status(&caller, id, "succeeded").await;
    let r = stack.result(&caller, id).await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let out: Value = r.json().await.unwrap();
    let normalized = out["normalized"].as_array().unwrap();
    assert_eq!(normalized.len(), 3, "only the entities asked for");
    let p2 = normalized.iter().find(|n| n["id"] == ids[1]).unwrap();
    assert_eq!(p2["phones"], json!(["+442079460000"]));
    assert_eq!(p2["name"], "Jon Smith");
    let dup = &out["duplicates"][0];
    let mut pair: Vec<&str> = dup["entity_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    pair.sort_unstable();
    let mut expected = vec![ids[0].as_str(), ids[1].as_str()];
    expected.sort_unstable();
    assert_eq!(pair, expected);
    assert!(dup["score"].as_f64().unwrap() >= 0.75);
    assert!(dup["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("phone")), "{dup}");
    let link = out["links"].as_array().unwrap().iter().find(|l| l["target_id"] == ids[2] || l["source_id"] == ids[2]);
    let link = link.unwrap_or_else(|| panic!("a person-to-location link: {out}"));
    assert!(!link["reasons"].as_array().unwrap().is_empty());

    // Unknown or foreign entity ids, bad values: 400 before queueing.
    let other = stack.tenant().await;
    let r = stack
        .post_job(&other, &json!({"kind": "intelligence.enrich.bulk", "input": {"entity_ids": [ids[0]]}}), None)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains(&ids[0]));
    let r =
        stack.post_job(&caller, &json!({"kind": "intelligence.enrich.bulk", "input": {"min_score": 2}}), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(stack.list(&other, "").await["jobs"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_job_that_cannot_finish_fails_and_announces_it() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let hooks = Receiver::start(vec![], Duration::ZERO).await;
    let callback = Receiver::start(vec![], Duration::ZERO).await;
    let webhook_secret = stack.webhook(&caller.tenant, &hooks.url, &["job.failed"]).await;
    let rows: Vec<argus_store::bulk::ImportEntity> = ["a", "b"]
        .iter()
        .map(|n| argus_store::bulk::ImportEntity {
            external_id: (*n).into(),
            kind: argus_domain::EntityKind::Person,
            name: (*n).into(),
            attributes: json!({}),
        })
        .collect();
    stack.store.upsert_entities(&caller.tenant, &rows).await.unwrap();
    let ids = entity_ids(&stack, &caller.tenant, &["a", "b"]).await;
    let input = json!({"algorithms": ["shortest_paths"], "shortest_paths": [{"from": ids[0], "to": ids[1]}]});
    let job =
        stack.enqueue(&caller, json!({"kind": "graph.compute", "input": input, "callback_url": callback.url})).await;
    let id = job["id"].as_str().unwrap();
    // The entity goes away after the job was accepted, before it runs.
    sql(&stack, &format!("DELETE FROM entities WHERE id = '{}'", ids[1]));
    let _worker = stack.worker(jobs_config(1000));
    let failed = stack.wait_status(&caller, id, "failed").await;
    assert_eq!(failed["error"]["code"], "unknown_entity");
    assert!(failed["error"]["message"].as_str().unwrap().contains(&ids[1]));
    assert!(failed["result_url"].is_null());
    assert_eq!(stack.result(&caller, id).await.status(), StatusCode::CONFLICT);
    let got = hooks.wait_for(1, Duration::from_secs(20)).await;
    let event = verify(&webhook_secret, &got[0]);
    assert_eq!(event["type"], "job.failed");
    assert_eq!(event["data"]["error"]["code"], "unknown_entity");
    let called = callback.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(verify(job["callback_secret"].as_str().unwrap(), &called[0]), event);
}

#[tokio::test]
async fn exports_are_written_in_chunks_as_they_go_and_bounded_in_rows() {
    let stack = Stack::start_with(|jobs| jobs.max_rows = 6000).await;
    let _worker = stack.worker(JobsConfig { max_rows: 5000, ..jobs_config(5000) });
    let caller = stack.tenant().await;
    // 4000 people with long names (~1.5 MiB of export) and 2000 more rows.
    let padding = "n".repeat(300);
    let mut ndjson = String::new();
    for i in 0..4000 {
        ndjson.push_str(&format!(
            "{{\"type\":\"entity\",\"external_id\":\"p{i}\",\"kind\":\"person\",\"name\":\"{padding} {i}\"}}\n"
        ));
    }
    for i in 0..2000 {
        ndjson.push_str(&format!(
            "{{\"type\":\"entity\",\"external_id\":\"o{i}\",\"kind\":\"organisation\",\"name\":\"O{i}\"}}\n"
        ));
    }
    import(&stack, &caller, &ndjson).await;
    // An import over the api-service's bound is a 400 naming it, and
    // queues nothing.
    let before = stack.list(&caller, "").await["jobs"].as_array().unwrap().len();
    let more = format!("{ndjson}{{\"type\":\"entity\",\"external_id\":\"x\",\"kind\":\"person\",\"name\":\"X\"}}\n");
    let r = stack.post_job(&caller, &json!({"kind": "import.bulk", "input": {"ndjson": more}}), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("6001 lines, more than the 6000"), "{problem}");
    assert_eq!(stack.list(&caller, "").await["jobs"].as_array().unwrap().len(), before);

    // Over the bound: failed, with the reason and what to do.
    let all = stack.enqueue(&caller, json!({"kind": "export.bulk", "input": {"types": ["entities"]}})).await;
    let failed = stack.wait_status(&caller, all["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["error"]["code"], "too_many_rows");
    assert!(failed["error"]["message"].as_str().unwrap().contains("more than 5000 rows"), "{failed}");
    let r = stack.result(&caller, all["id"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "a failed export has no result");

    // Within it: every row, stored in several chunks while it ran.
    let people = json!({"kind": "export.bulk", "input": {"types": ["entities"], "entity_kind": "person"}});
    let job = stack.enqueue(&caller, people).await;
    let id = job["id"].as_str().unwrap();
    let done = stack.wait_status(&caller, id, "succeeded").await;
    let text = stack.result(&caller, id).await.text().await.unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4000);
    assert!(rows.iter().all(|r| r["kind"] == "person" && r["name"].as_str().unwrap().starts_with(&padding)));
    // The first attempt's chunks: two of at most 1 MiB, and no third.
    let job_id: argus_types::JobId = id.parse().unwrap();
    let mut chunks = Vec::new();
    for seq in 0..3 {
        if let Some(data) = stack.store.job_result_chunk(&caller.tenant, &job_id, 1, seq).await.unwrap() {
            chunks.push((seq, data.len()));
        }
    }
    assert_eq!(chunks.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1], "1.5 MiB in 1 MiB chunks: {done}");
    assert!(text.len() > argus_store::jobs::RESULT_CHUNK_BYTES);
}
