use argus_store::PageRequest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, confidential_app, expect_problem};

#[tokio::test]
async fn create_returns_the_secret_once_and_get_never_does() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant("Acme").await;

    let response = app.create_app(&token, confidential_app()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("app_"));
    assert_eq!(location, format!("/v1/platform/apps/{client_id}"));
    assert_eq!(created["tenant_id"], tenant.as_str());
    assert_eq!(created["grant_types"], json!(["client_credentials"]));
    assert_eq!(created["requested_scopes"], json!(["webhooks:write"]));
    assert_eq!(created["approved_scopes"], json!(["webhooks:write"]));
    assert_eq!(created["client_type"], "confidential");
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("cs_") && secret.len() >= 40);

    let fetched = app.get(&token, &location).await;
    assert_eq!(fetched.status(), 200);
    let text = fetched.text().await.unwrap();
    assert!(!text.contains("client_secret"), "{text}");
    assert!(!text.contains(secret));
    let fetched: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!("app_view", fetched, {
        ".client_id" => "[client_id]",
        ".tenant_id" => "[tenant_id]",
        ".created_at" => "[timestamp]",
        ".updated_at" => "[timestamp]",
    });

    let listed = app.get(&token, "/v1/platform/apps").await.text().await.unwrap();
    assert!(!listed.contains(secret) && !listed.contains("client_secret"));
}

#[tokio::test]
async fn public_clients_get_no_secret() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant("Acme").await;
    let response = app
        .create_app(
            &token,
            json!({
                "name": "Mobile app",
                "client_type": "public",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": ["https://integrator.example/callback", "http://127.0.0.1:9000/cb"],
                "requested_scopes": ["incidents:read"]
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("client_secret").is_none());
    assert_eq!(body["client_type"], "public");
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
}

#[tokio::test]
async fn every_validation_error_is_a_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant("Acme").await;
    let long_name = "x".repeat(201);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "", "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write"]}),
            "name must be 1 to 200",
        ),
        (
            json!({"name": "   ", "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write"]}),
            "name must be 1 to 200",
        ),
        (
            json!({"name": long_name, "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write"]}),
            "name must be 1 to 200",
        ),
        (
            json!({"name": "a", "grant_types": ["password"], "requested_scopes": ["webhooks:write"]}),
            "unknown grant types: password",
        ),
        (json!({"name": "a", "grant_types": [], "requested_scopes": ["webhooks:write"]}), "at least one grant"),
        (
            json!({"name": "a", "grant_types": ["authorization_code"], "requested_scopes": ["webhooks:write"]}),
            "needs at least one redirect URI",
        ),
        (
            json!({"name": "a", "grant_types": ["refresh_token"], "requested_scopes": ["webhooks:write"]}),
            "only issued with authorization_code",
        ),
        (
            json!({"name": "a", "grant_types": ["authorization_code"], "redirect_uris": ["http://integrator.example/cb"], "requested_scopes": ["webhooks:write"]}),
            "must use https",
        ),
        (
            json!({"name": "a", "grant_types": ["authorization_code"], "redirect_uris": ["https://integrator.example/cb#x"], "requested_scopes": ["webhooks:write"]}),
            "must not contain a fragment",
        ),
        (
            json!({"name": "a", "grant_types": ["authorization_code"], "redirect_uris": ["/cb"], "requested_scopes": ["webhooks:write"]}),
            "is not an absolute URI",
        ),
        (
            json!({"name": "a", "grant_types": ["authorization_code"], "redirect_uris": ["ftp://integrator.example/cb"], "requested_scopes": ["webhooks:write"]}),
            "must use https",
        ),
        (
            json!({"name": "a", "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write", "nope:read", "also:unknown"]}),
            "unknown scopes: also:unknown, nope:read",
        ),
        (json!({"name": "a", "grant_types": ["client_credentials"], "requested_scopes": []}), "at least one scope"),
        (
            json!({"name": "a", "client_type": "public", "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write"]}),
            "cannot use client_credentials",
        ),
        (
            json!({"name": "a", "client_type": "secret", "grant_types": ["client_credentials"], "requested_scopes": ["webhooks:write"]}),
            "is not `confidential` or `public`",
        ),
    ];
    for (body, expected) in cases {
        let problem = expect_problem(app.create_app(&token, body.clone()).await, 400, "validation-failed").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    let page = app.store.list_apps(&tenant, &PageRequest { after: None, limit: 10 }).await.unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn listing_is_tenant_scoped_and_cursor_paginated() {
    let app = TestApp::spawn().await;
    let (_, token_a) = app.tenant("A").await;
    let (_, token_b) = app.tenant("B").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let mut body = confidential_app();
        body["name"] = json!(format!("app {i}"));
        let r: Value = app.create_app(&token_a, body).await.json().await.unwrap();
        created.push(r["client_id"].as_str().unwrap().to_owned());
    }
    app.create_app(&token_b, confidential_app()).await;

    let mut seen = Vec::new();
    let mut path = "/v1/platform/apps?limit=2".to_owned();
    loop {
        let page: Value = app.get(&token_a, &path).await.json().await.unwrap();
        let apps = page["apps"].as_array().unwrap();
        assert!(apps.len() <= 2);
        seen.extend(apps.iter().map(|a| a["client_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/platform/apps?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created, "every app of A once, in creation order, none of B's");

    let b_page: Value = app.get(&token_b, "/v1/platform/apps").await.json().await.unwrap();
    assert_eq!(b_page["apps"].as_array().unwrap().len(), 1);
    assert!(b_page["next_cursor"].is_null());

    for query in ["limit=0", "limit=101", "limit=abc", "cursor=!!!"] {
        expect_problem(app.get(&token_a, &format!("/v1/platform/apps?{query}")).await, 400, "validation-failed").await;
    }
}

#[tokio::test]
async fn another_tenants_app_is_not_found_and_cannot_be_patched() {
    let app = TestApp::spawn().await;
    let (_, token_a) = app.tenant("A").await;
    let (_, token_b) = app.tenant("B").await;
    let created: Value = app.create_app(&token_a, confidential_app()).await.json().await.unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let path = format!("/v1/platform/apps/{client_id}");

    expect_problem(app.get(&token_b, &path).await, 404, "not-found").await;
    expect_problem(
        app.patch_json(&token_b, &format!("{path}/governance"), json!({"allow_service_tokens": true})).await,
        404,
        "not-found",
    )
    .await;
    let still: Value = app.get(&token_a, &path).await.json().await.unwrap();
    assert_eq!(still["governance"]["allow_service_tokens"], false);

    for id in ["app_00000000000000000000000000", "not-an-id"] {
        expect_problem(app.get(&token_a, &format!("/v1/platform/apps/{id}")).await, 404, "not-found").await;
    }
}

#[tokio::test]
async fn governance_patch_merges_resets_and_refuses_without_changing_anything() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant("A").await;
    let mut body = confidential_app();
    body["requested_scopes"] = json!(["webhooks:read", "webhooks:write"]);
    let created: Value = app.create_app(&token, body).await.json().await.unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let path = format!("/v1/platform/apps/{client_id}/governance");

    let r = app.patch_json(&token, &path, json!({"allow_service_tokens": true, "enforce_pkce": true})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["client_id"], client_id);
    assert_eq!(v["governance"]["allow_service_tokens"], true);
    assert_eq!(v["governance"]["enforce_pkce"], true);

    let r = app
        .patch_json(&token, &path, json!({"max_token_lifetime_seconds": 900, "allowed_scopes": ["webhooks:read"]}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["governance"]["allow_service_tokens"], true, "earlier flags survive a merge");
    assert_eq!(v["governance"]["max_token_lifetime_seconds"], 900);
    assert_eq!(v["governance"]["allowed_scopes"], json!(["webhooks:read"]));

    let r = app.patch_json(&token, &path, json!({"enforce_pkce": null})).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["governance"]["enforce_pkce"], false, "null resets to the default");
    let before = v["governance"].clone();

    let refused = [
        (json!({"allow_service_tokens": false, "surprise": true}), "unknown governance flag `surprise`"),
        (json!({"allow_service_tokens": "yes"}), "must be a boolean"),
        (json!({"max_token_lifetime_seconds": 5}), "between 60 and 86400"),
        (json!({"max_token_lifetime_seconds": "long"}), "integer number of seconds"),
        (json!({"allowed_scopes": ["jobs:write"]}), "not approved for: jobs:write"),
        (json!({"allowed_scopes": "webhooks:read"}), "array of strings"),
        (json!({"allowed_redirect_uris": ["https://elsewhere.example/cb"]}), "has not registered"),
        (json!(["allow_service_tokens"]), "JSON object"),
    ];
    for (patch, expected) in refused {
        let problem =
            expect_problem(app.patch_json(&token, &path, patch.clone()).await, 400, "validation-failed").await;
        assert!(problem["detail"].as_str().unwrap().contains(expected), "{patch}: {problem}");
    }
    let after: Value = app.get(&token, &format!("/v1/platform/apps/{client_id}")).await.json().await.unwrap();
    assert_eq!(after["governance"], before, "refused patches changed nothing");
}

#[tokio::test]
async fn no_app_can_request_be_granted_or_use_the_tenant_admin_scope() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

    let app = TestApp::spawn().await;
    let (_, admin) = app.tenant("A").await;

    // Registering with it is a 400 that names it, and registers nothing.
    let mut body = confidential_app();
    body["requested_scopes"] = json!(["webhooks:write", "platform:admin"]);
    let problem = expect_problem(app.create_app(&admin, body).await, 400, "validation-failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("`platform:admin`"), "{problem}");
    let listed: Value = app.get(&admin, "/v1/platform/apps").await.json().await.unwrap();
    assert_eq!(listed["apps"], json!([]));

    // Governance cannot allow it either.
    let (client_id, secret) = app.register(&admin, confidential_app()).await;
    let path = format!("/v1/platform/apps/{client_id}/governance");
    let problem = expect_problem(
        app.patch_json(&admin, &path, json!({"allowed_scopes": ["platform:admin"]})).await,
        400,
        "validation-failed",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("`platform:admin`"), "{problem}");

    // An app that held it before the catalog changed: the migration takes it
    // away (its SQL is run again here on such an app) ...
    let mut conn = AsyncPgConnection::establish(app.database_url()).await.unwrap();
    let give = "UPDATE apps SET requested_scopes = requested_scopes || '{platform:admin}', \
                approved_scopes = approved_scopes || '{platform:admin}', \
                governance = '{\"allowed_scopes\": [\"webhooks:write\", \"platform:admin\"]}' WHERE client_id = $1";
    diesel::sql_query(give).bind::<diesel::sql_types::Text, _>(&client_id).execute(&mut conn).await.unwrap();
    conn.batch_execute(include_str!(
        "../../../../crates/argus-store/migrations/2026-12-05-001200_admin_scope_not_requestable/up.sql"
    ))
    .await
    .unwrap();
    let fetched: Value = app.get(&admin, &format!("/v1/platform/apps/{client_id}")).await.json().await.unwrap();
    assert_eq!(fetched["requested_scopes"], json!(["webhooks:write"]));
    assert_eq!(fetched["approved_scopes"], json!(["webhooks:write"]));
    assert_eq!(fetched["governance"]["allowed_scopes"], json!(["webhooks:write"]));

    // ... and a token an app was minted with it before then is refused on
    // every admin route: only `argusctl`'s tokens carry the admin's power.
    diesel::sql_query(give).bind::<diesel::sql_types::Text, _>(&client_id).execute(&mut conn).await.unwrap();
    let secret = secret.unwrap();
    let r = app
        .form(
            "/v1/oauth/token",
            &[("grant_type", "client_credentials"), ("scope", "platform:admin")],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let minted: Value = r.json().await.unwrap();
    let app_token = minted["access_token"].as_str().unwrap();
    expect_problem(app.create_app(app_token, confidential_app()).await, 403, "forbidden").await;
    expect_problem(app.get(app_token, "/v1/platform/apps").await, 403, "forbidden").await;
    let rotate = app.post_json(app_token, &format!("/v1/platform/apps/{client_id}/rotate-secret"), json!({})).await;
    expect_problem(rotate, 403, "forbidden").await;
}
