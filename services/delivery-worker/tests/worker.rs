//! delivery-worker's admin endpoint over HTTP on a random port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_store::StoreConfig;
use argus_store::testing::TestDatabase;
use delivery_worker::{Worker, WorkerConfig};
use serde_json::Value;

fn spawn(database_url: &str) -> String {
    let worker = Worker::build(WorkerConfig {
        admin_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: database_url.to_owned(), max_connections: 2 },
        log_format: argus_telemetry::LogFormat::Pretty,
        log_filter: "warn".into(),
    })
    .unwrap();
    let base = format!("http://127.0.0.1:{}", worker.admin_port());
    tokio::spawn(worker.run_until_stopped());
    base
}

#[tokio::test]
async fn admin_endpoint_reports_health_and_readiness() {
    let db = TestDatabase::create().await;
    let base = spawn(db.url());
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "ok");

    let down = spawn("postgres://postgres@127.0.0.1:1/argus");
    assert_eq!(reqwest::get(format!("{down}/readyz")).await.unwrap().status(), 503);
}
