//! `GET /metrics` on the admin address, after real traffic: tokens issued
//! and refused, sign-ins, requests by route template; and never on the
//! public address.

use crate::helpers::{TestApp, expect_problem};
use crate::oauth::{PASSWORD, confidential_code_client, sign_in_form};

#[tokio::test]
async fn tokens_sign_ins_and_requests_are_counted_by_route_template() {
    let s = confidential_code_client().await;
    let app = &s.app;
    let client = Some((s.client_id.as_str(), s.secret.as_str()));
    let issued = app.form("/v1/oauth/token", &[("grant_type", "client_credentials")], client).await;
    assert_eq!(issued.status(), 200);
    let wrong_secret = Some((s.client_id.as_str(), "not-the-secret"));
    let refused = app.form("/v1/oauth/token", &[("grant_type", "client_credentials")], wrong_secret).await;
    assert_eq!(refused.status(), 401);
    let made_up = app.form("/v1/oauth/token", &[("grant_type", "urn:example:made-up")], client).await;
    assert_eq!(made_up.status(), 400);
    let bare = app.http.post(app.url("/v1/oauth/token")).body("grant_type=client_credentials").send().await.unwrap();
    assert_eq!(bare.status(), 400, "not form-encoded");
    for password in ["wrong password", PASSWORD] {
        let (browser, csrf, request) = sign_in_form(app, &s.client_id).await;
        let form =
            [("email", "dispatcher@example.com"), ("password", password), ("csrf", &csrf), ("request", &request)];
        browser.post(app.url("/v1/oauth/sign-in")).form(&form).send().await.unwrap();
    }
    let app_path = format!("/v1/platform/apps/{}", s.client_id);
    let (_, admin) = app.tenant("Metrics").await;
    assert_eq!(app.get(&admin, &app_path).await.status(), 404, "another tenant's app");

    let scrape = app.scrape().await;
    let tokens = "argus_oauth_token_requests_total";
    assert!(scrape.expect(tokens, &[("grant_type", "client_credentials"), ("outcome", "issued")]) >= 1.0);
    assert!(scrape.expect(tokens, &[("grant_type", "client_credentials"), ("outcome", "invalid_client")]) >= 1.0);
    assert!(scrape.expect(tokens, &[("grant_type", "unsupported"), ("outcome", "unsupported_grant_type")]) >= 1.0);
    assert!(scrape.expect(tokens, &[("grant_type", "none"), ("outcome", "invalid_request")]) >= 1.0);
    assert!(scrape.expect("argus_sign_ins_total", &[("outcome", "wrong_credentials")]) >= 1.0);
    assert!(scrape.expect("argus_sign_ins_total", &[("outcome", "signed_in")]) >= 1.0);

    let requests = "argus_http_requests_total";
    let token_route = [("route", "/v1/oauth/token"), ("method", "POST")];
    assert!(scrape.expect(requests, &[token_route[0], token_route[1], ("status_class", "2xx")]) >= 1.0);
    assert!(scrape.expect(requests, &[token_route[0], token_route[1], ("status_class", "4xx")]) >= 3.0);
    assert!(scrape.expect("argus_http_request_duration_seconds_count", &token_route) >= 4.0);
    let slowest = [token_route[0], token_route[1], ("le", "+Inf")];
    assert!(scrape.expect("argus_http_request_duration_seconds_bucket", &slowest) >= 4.0);
    // The route template, never the path with the client id in it.
    let by_template = [("route", "/v1/platform/apps/{client_id}"), ("method", "GET"), ("status_class", "4xx")];
    assert!(scrape.expect(requests, &by_template) >= 1.0);
    let routes = scrape.label_values(requests, "route");
    assert!(routes.iter().all(|r| !r.contains(&s.client_id)), "{routes:?}");

    assert_eq!(scrape.expect("argus_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(scrape.expect("argus_db_pool_max_connections", &[]), 4.0);
    assert!(scrape.expect("argus_db_pool_connections", &[("state", "idle")]) >= 1.0);
    scrape.assert_in_catalog();
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_address_only() {
    let app = TestApp::spawn().await;
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    expect_problem(public, 404, "not-found").await;
    // An unknown method and path on the public side count as `unmatched`
    // and `other`, whatever they were.
    let odd = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    app.http.request(odd, app.url("/no/such/path/0123456789")).send().await.unwrap();

    let scrape = app.scrape().await;
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status_class", "4xx")];
    assert!(scrape.expect("argus_http_requests_total", &unmatched) >= 1.0);
    assert!(scrape.expect("argus_http_requests_total", &[("route", "unmatched"), ("method", "other")]) >= 1.0);
    let routes = scrape.label_values("argus_http_requests_total", "route");
    assert!(routes.iter().all(|r| !r.contains("0123456789")), "{routes:?}");
    // The admin address serves health as well, and nothing else.
    assert_eq!(app.http.get(format!("{}/readyz", app.admin)).send().await.unwrap().status(), 200);
    let other = app.http.get(format!("{}/v1/oauth/token", app.admin)).send().await.unwrap();
    expect_problem(other, 404, "not-found").await;
    let post = app.http.post(format!("{}/metrics", app.admin)).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET");
}
