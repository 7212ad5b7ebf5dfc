//! A sign-in flood against the real binary: its peak memory stays under
//! the pod's limit, because password checks run in a bounded pool and the
//! rest are answered 503 with `Retry-After`, never queued.

use std::time::{Duration, Instant};

use argus_http::testing::TestProcess;
use serde_json::json;

use crate::helpers::{TestApp, auth_binary, hidden_field};
use crate::oauth::{authorize_query, pkce_pair};

/// The auth-service container's memory limit in `deploy/k8s/base`, in KiB.
fn pod_memory_limit_kib() -> u64 {
    let manifest = include_str!("../../../../deploy/k8s/base/auth-service.yaml");
    let limits = &manifest[manifest.find("limits:").expect("the auth-service has limits")..];
    let line = limits.lines().find(|l| l.trim_start().starts_with("memory:")).expect("a memory limit");
    let value = line.trim().trim_start_matches("memory:").trim().trim_matches('"');
    let mib: u64 = value.strip_suffix("Mi").expect("the limit is in Mi").parse().unwrap();
    mib * 1024
}

#[tokio::test]
async fn a_sign_in_flood_stays_under_the_pod_memory_limit() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("A").await;
    let (client_id, _) = app
        .register(
            &admin,
            json!({
                "name": "Dispatch console",
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://integrator.example/callback"],
                "requested_scopes": ["incidents:read"]
            }),
        )
        .await;
    let (mut command, base) = auth_binary(app.database_url());
    let child = TestProcess::spawn(
        command
            // A flood from many addresses: the per-address limit does not
            // save the service here.
            .env("ARGUS_SIGN_IN_RATE_PER_IP", "1000000")
            .env("RUST_LOG", "error"),
    )
    .unwrap();
    let browser = app.browserless();
    let started = Instant::now();
    while browser.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(20), "the binary did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, challenge) = pkce_pair();
    let query = authorize_query(&client_id, Some(&challenge), "incidents:read", "s");
    let page = browser.get(format!("{base}/v1/oauth/authorize?{query}")).send().await.unwrap();
    // The CSRF cookie goes with every post by hand: a failed sign-in renews
    // it, and a shared cookie store would then mismatch the others' forms.
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("argus_csrf="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let (csrf, request) = (hidden_field(&html, "csrf"), hidden_field(&html, "request"));
    let poster = reqwest::Client::new();
    let baseline = child.peak_resident_kib();

    // 160 wrong sign-ins, 40 at a time, each for a random email (so no
    // lock-out spares a check).
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(40));
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..160 {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (poster, url, cookie) = (poster.clone(), format!("{base}/v1/oauth/sign-in"), cookie.clone());
        let email = format!("{}@example.com", argus_types::UserId::generate());
        let form =
            [("email", email), ("password", "wrong".into()), ("csrf", csrf.clone()), ("request", request.clone())];
        flood.spawn(async move {
            let r = poster.post(url).header("cookie", cookie).form(&form).send().await.unwrap();
            drop(permit);
            (r.status().as_u16(), r.headers().contains_key("retry-after"))
        });
    }
    let answers = flood.join_all().await;
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    let busy = answers.iter().filter(|(s, retry_after)| *s == 503 && *retry_after).count();
    assert_eq!(checked + busy, 160, "only 401s, and 503s with Retry-After: {answers:?}");
    assert!(checked >= 4, "the pool checked passwords: {answers:?}");

    let (peak, limit) = (child.peak_resident_kib(), pod_memory_limit_kib());
    assert!(
        peak < limit * 3 / 4,
        "peak resident {} MiB (at rest {} MiB) against the pod's limit of {} MiB",
        peak / 1024,
        baseline / 1024,
        limit / 1024
    );
}
