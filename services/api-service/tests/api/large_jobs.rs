//! Maximum-size `import.bulk` bodies against the real binaries: the
//! api-service (streaming bodies into storage) and the delivery worker
//! (importing from storage), each in its own process so its peak resident
//! memory (`VmHWM`) can be read from `/proc` and held against its pod's
//! limit in deploy/k8s/base.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argus_bus::testing::TestVhost;
use argus_http::testing::TestProcess;
use argus_types::TenantId;
use serde_json::{Value, json};

use crate::helpers::{ApiBinary, Stack};

/// The default `ARGUS_JOBS_MAX_BODY_BYTES`.
const MAX_BODY: usize = 64 << 20;
/// `resources.limits.memory` of the pods (deploy/k8s/base/*.yaml).
const API_LIMIT_KIB: u64 = 256 * 1024;
const WORKER_LIMIT_KIB: u64 = 768 * 1024;

/// The delivery worker binary beside the api-service's
/// (`helpers::sibling_binary`), against `db` and `amqp`; killed on drop.
fn worker_binary(db: &str, amqp: &str) -> TestProcess {
    TestProcess::spawn(
        Command::new(crate::helpers::sibling_binary("delivery-worker"))
            .env("ARGUS_DATABASE_URL", db)
            .env("ARGUS_AMQP_URL", amqp)
            .env("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:0")
            .env("ARGUS_JOBS_CONCURRENCY", "3")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap()
}

/// A `POST /v1/jobs` body just under `max`: ~1 KiB entity lines.
fn import_body(max: usize) -> (Vec<u8>, usize) {
    let pad = "x".repeat(900);
    let mut ndjson = String::with_capacity(max);
    let mut lines = 0;
    // The body escapes each line's quotes: ~1.05 bytes per NDJSON byte.
    while ndjson.len() < max - max / 16 {
        ndjson.push_str(&format!(
            r#"{{"type":"entity","external_id":"e{lines}","kind":"person","name":"Person {lines}","attributes":{{"note":"{pad}"}}}}"#
        ));
        ndjson.push('\n');
        lines += 1;
    }
    let body = serde_json::to_vec(&json!({"kind": "import.bulk", "input": {"ndjson": ndjson}})).unwrap();
    assert!(body.len() <= max && body.len() > max - max / 10, "{}", body.len());
    (body, lines)
}

#[tokio::test]
async fn three_maximum_size_imports_stay_within_the_pods_memory() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let api = ApiBinary::spawn(&stack, &[]);
    let worker = worker_binary(stack.db.url(), vhost.url());
    let (body, lines) = import_body(MAX_BODY);
    let body = actix_web::web::Bytes::from(body);

    let mut callers: Vec<(TenantId, String)> = Vec::new();
    for _ in 0..3 {
        let tenant = stack.store.create_tenant("t").await.unwrap().id;
        let token = stack.mint(&tenant, "app_jobs", "api.knogin.com", &["jobs:write", "jobs:read"]).await;
        callers.push((tenant, token));
    }
    let posts = callers.iter().map(|(tenant, token)| {
        stack
            .http
            .post(format!("{}/v1/jobs", api.base))
            .bearer_auth(token)
            .header("X-Tenant-ID", tenant.as_str())
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    });
    let mut ids = Vec::new();
    for r in futures_util::future::join_all(posts).await {
        let r = r.unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }

    let get_json = async |path: &str, tenant: &TenantId, token: &str| -> Value {
        let request = stack.http.get(format!("{}{path}", api.base)).bearer_auth(token);
        request.header("X-Tenant-ID", tenant.as_str()).send().await.unwrap().json().await.unwrap()
    };
    let until = Instant::now() + Duration::from_secs(600);
    for ((tenant, token), id) in callers.iter().zip(&ids) {
        loop {
            let job = get_json(&format!("/v1/jobs/{id}"), tenant, token).await;
            if job["status"] == "succeeded" {
                break;
            }
            assert!(job["status"] == "queued" || job["status"] == "running", "{job}");
            assert!(Instant::now() < until, "import not done in time: {job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let report = get_json(&format!("/v1/jobs/{id}/result"), tenant, token).await;
        assert_eq!(report["lines"], lines as u64);
        assert_eq!(report["entities"]["created"], lines as u64, "{report}");
        assert_eq!(report["error_count"], 0);
        let graph = stack.store.entity_graph(tenant, None, None).await.unwrap();
        assert_eq!(graph.nodes.len(), lines, "every row imported");
    }

    let (api_peak, worker_peak) = (api.process.peak_resident_kib(), worker.peak_resident_kib());
    eprintln!("peak resident memory: api-service {api_peak} KiB, delivery-worker {worker_peak} KiB");
    assert!(api_peak < API_LIMIT_KIB, "api-service peaked at {api_peak} KiB");
    assert!(worker_peak < WORKER_LIMIT_KIB, "delivery-worker peaked at {worker_peak} KiB");
    let chunks = stack.store.job_storage_bytes(&callers[0].0).await.unwrap();
    assert!(chunks < 1 << 20, "the inputs were dropped once imported; only the small report stays: {chunks}");
}
