//! api-service through HTTP on a random port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use api_service::config::Environment;
use api_service::{ApiConfig, Application};
use argus_store::StoreConfig;
use argus_store::testing::TestDatabase;
use serde_json::Value;

async fn spawn(database_url: &str) -> String {
    let app = Application::build(ApiConfig {
        listen_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: database_url.to_owned(), max_connections: 2 },
        environment: Environment::Live,
        migrate: false,
        log_format: argus_telemetry::LogFormat::Pretty,
        log_filter: "warn".into(),
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

#[tokio::test]
async fn health_readiness_and_unknown_routes() {
    let db = TestDatabase::create().await;
    let base = spawn(db.url()).await;
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "ok");
    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_unreachable() {
    let base = spawn("postgres://postgres@127.0.0.1:1/argus").await;
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["database"], "unreachable");
}
