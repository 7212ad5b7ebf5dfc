//! SIGTERM under load: readiness fails first, requests keep being answered
//! during the drain, in-flight requests finish, and the process exits 0.

use std::time::{Duration, Instant};

use argus_http::testing::TestProcess;
use serde_json::json;

use crate::helpers::{TestApp, auth_binary};

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly_under_load() {
    // The database and an app come from an in-process instance; the process
    // under test is the real binary.
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("A").await;
    let (client_id, secret) = app.register(&admin, crate::helpers::confidential_app()).await;
    let secret = secret.unwrap();
    let (mut command, base) = auth_binary(app.database_url());
    let mut child = TestProcess::spawn(
        command
            .env("ARGUS_SHUTDOWN_DRAIN_SECONDS", "1")
            .env("ARGUS_TOKEN_RATE_PER_CLIENT", "100000")
            .env("ARGUS_TOKEN_RATE_PER_IP", "100000")
            .env("RUST_LOG", "warn"),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(20), "the binary did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stop_at = Instant::now() + Duration::from_millis(600);
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, base, id, secret) = (http.clone(), base.clone(), client_id.clone(), secret.clone());
        load.spawn(async move {
            let (mut ok, mut server_errors, mut refused) = (0, Vec::new(), 0);
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                match http
                    .post(format!("{base}/v1/oauth/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => {
                        let status = r.status().as_u16();
                        server_errors.push(format!("{status} {}", r.text().await.unwrap_or_default()));
                    }
                    Err(_) => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (ok, server_errors, refused)
        });
    }
    tokio::time::sleep_until(stop_at.into()).await;
    child.sigterm();

    // During the drain delay the service still answers, but is not ready.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap(), json!({"status": "draining"}));

    let exit = child.wait_for_exit(Duration::from_secs(15)).await;
    assert!(exit.success(), "exit status {exit}");
    let (mut ok, mut server_errors) = (0, Vec::new());
    while let Some(r) = load.join_next().await {
        let (o, e, _) = r.unwrap();
        ok += o;
        server_errors.extend(e);
    }
    assert!(ok > 0);
    assert!(server_errors.is_empty(), "requests failed with an error status while draining: {server_errors:?}");
}
