//! Per-tenant limits on webhooks: how many a tenant may have, and how many
//! test sends and resends it may make.

use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};

const HOOK: &str = "http://127.0.0.1:9/hooks";

async fn webhook_token(app: &TestApp) -> String {
    let tenant = app.store.create_tenant("t").await.unwrap().id;
    app.token(&tenant, &["webhooks:read", "webhooks:write"]).await
}

async fn create(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(token, "/v1/webhooks", json!({"url": HOOK, "events": ["case.closed"]})).await
}

async fn count_webhooks(app: &TestApp, token: &str) -> usize {
    let list: Value = app.get(token, "/v1/webhooks").await.json().await.unwrap();
    list["webhooks"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_tenant_cannot_create_more_webhooks_than_allowed_even_concurrently() {
    let app = TestApp::spawn_with(|c| c.webhooks.max_per_tenant = 3).await;
    let a = webhook_token(&app).await;
    let b = webhook_token(&app).await;

    let mut creates = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let request = app.http.post(app.url("/v1/webhooks")).bearer_auth(&a);
        creates.spawn(request.json(&json!({"url": HOOK, "events": ["case.closed"]})).send());
    }
    let mut created = 0;
    while let Some(answer) = creates.join_next().await {
        let r = answer.unwrap().unwrap();
        if r.status() == 201 {
            created += 1;
        } else {
            let problem = expect_problem(r, 409, "conflict").await;
            assert!(problem["detail"].as_str().unwrap().contains("most allowed is 3"), "{problem}");
        }
    }
    assert_eq!(created, 3, "exactly the limit, whatever the concurrency");
    assert_eq!(count_webhooks(&app, &a).await, 3, "nothing created beyond the limit");

    // The limit is per tenant.
    assert_eq!(create(&app, &b).await.status(), 201);
    // A deleted webhook frees its place.
    let list: Value = app.get(&a, "/v1/webhooks").await.json().await.unwrap();
    let id = list["webhooks"][0]["id"].as_str().unwrap();
    let deleted = app.http.delete(app.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&a).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(create(&app, &a).await.status(), 201);
    expect_problem(create(&app, &a).await, 409, "conflict").await;
    assert_eq!(count_webhooks(&app, &a).await, 3);
}

#[tokio::test]
async fn test_sends_and_resends_are_rate_limited_per_tenant() {
    let app = TestApp::spawn_with(|c| c.webhooks.manual_sends_per_minute = 2).await;
    let a = webhook_token(&app).await;
    let b = webhook_token(&app).await;
    let hook: Value = create(&app, &a).await.json().await.unwrap();
    let hook = hook["id"].as_str().unwrap();
    let test_path = format!("/v1/webhooks/{hook}/test");

    let r = app.post_json(&a, &test_path, json!({})).await;
    assert_eq!(r.status(), 202);
    let delivery: Value = r.json().await.unwrap();
    let retry_path = format!("/v1/webhooks/{hook}/deliveries/{}/retry", delivery["delivery_id"].as_str().unwrap());
    // A resend counts too (this one is refused: the delivery is still queued).
    assert_eq!(app.post_json(&a, &retry_path, json!({})).await.status(), 409);

    for path in [&test_path, &retry_path] {
        let r = app.post_json(&a, path, json!({})).await;
        let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        let problem = expect_problem(r, 429, "rate-limited").await;
        assert!(problem["detail"].as_str().unwrap().contains("test sends and resends"), "{problem}");
    }
    let deliveries: Value = app.get(&a, &format!("/v1/webhooks/{hook}/deliveries")).await.json().await.unwrap();
    assert_eq!(deliveries["deliveries"].as_array().unwrap().len(), 1, "nothing queued beyond the limit");

    // Another tenant's budget is its own.
    let other: Value = create(&app, &b).await.json().await.unwrap();
    let other = other["id"].as_str().unwrap();
    assert_eq!(app.post_json(&b, &format!("/v1/webhooks/{other}/test"), json!({})).await.status(), 202);
}

/// Ids are read as their typed ids: a stored one that does not parse fails
/// the read (an internal error that names nothing stored) rather than
/// reaching a client as text.
#[tokio::test]
async fn a_stored_id_that_does_not_parse_fails_the_read() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let app = TestApp::spawn().await;
    let token = webhook_token(&app).await;
    let hook: Value = create(&app, &token).await.json().await.unwrap();
    let hook = hook["id"].as_str().unwrap();
    assert_eq!(count_webhooks(&app, &token).await, 1);

    // Past the column's `wh_` check, but no id: the body is not a ULID.
    let mut conn = AsyncPgConnection::establish(app.database_url()).await.unwrap();
    diesel::sql_query("UPDATE webhooks SET id = 'wh_not-an-id' WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(hook)
        .execute(&mut conn)
        .await
        .unwrap();
    let problem = expect_problem(app.get(&token, "/v1/webhooks").await, 500, "internal").await;
    assert!(!problem.to_string().contains("not-an-id"), "{problem}");
}
