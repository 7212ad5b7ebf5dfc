//! `GET /metrics` on the admin address after real requests: counted by
//! route template, method and status class (a 2xx, a 4xx and a 5xx), never
//! by path; and not served on the public address.

use argus_types::JobId;
use serde_json::json;

use crate::helpers::{Stack, post};

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status_class() {
    // No large job body may stream in: the next one is a real 503.
    let stack = Stack::start_with(|config| config.jobs.max_bodies_in_flight = 0).await;
    let tenant = stack.store.create_tenant("metrics").await.unwrap().id;
    let token = stack.mint(&tenant, "app_metrics", "api.knogin.com", &["jobs:read", "jobs:write"]).await;
    let jobs = format!("{}/v1/jobs", stack.api);
    let call = |method: reqwest::Method, url: &str| {
        stack.http.request(method, url).bearer_auth(&token).header("X-Tenant-ID", tenant.as_str())
    };
    assert_eq!(call(reqwest::Method::GET, &jobs).send().await.unwrap().status(), 200);
    let unknown = JobId::generate();
    let missing = call(reqwest::Method::GET, &format!("{jobs}/{unknown}")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let ndjson = "{}\n".repeat(40_000);
    let large = json!({"kind": "import.bulk", "input": {"ndjson": ndjson}});
    let busy = call(reqwest::Method::POST, &jobs).json(&large).send().await.unwrap();
    assert_eq!(busy.status(), 503, "{}", busy.text().await.unwrap());
    let anonymous = post(&stack.http, &stack.api, None, None, json!({"query": "{ __typename }"})).await;
    assert_eq!(anonymous.status(), 401);

    let scrape = stack.scrape().await;
    let requests = "argus_http_requests_total";
    assert!(scrape.expect(requests, &[("route", "/v1/jobs"), ("method", "GET"), ("status_class", "2xx")]) >= 1.0);
    let by_template = [("route", "/v1/jobs/{id}"), ("method", "GET"), ("status_class", "4xx")];
    assert!(scrape.expect(requests, &by_template) >= 1.0);
    assert!(scrape.expect(requests, &[("route", "/v1/jobs"), ("method", "POST"), ("status_class", "5xx")]) >= 1.0);
    assert!(scrape.expect(requests, &[("route", "/graphql"), ("method", "POST"), ("status_class", "4xx")]) >= 1.0);
    let timed = [("route", "/v1/jobs/{id}"), ("method", "GET")];
    assert!(scrape.expect("argus_http_request_duration_seconds_count", &timed) >= 1.0);
    assert!(scrape.expect("argus_http_request_duration_seconds_sum", &timed) > 0.0);
    let routes = scrape.label_values(requests, "route");
    assert!(routes.iter().all(|r| !r.contains(unknown.as_str())), "{routes:?}");

    assert_eq!(scrape.expect("argus_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(scrape.expect("argus_db_pool_max_connections", &[]), 4.0);
    assert_eq!(scrape.expect("argus_db_pool_waiting", &[]), 0.0);
    scrape.assert_in_catalog();

    let public = stack.http.get(format!("{}/metrics", stack.api)).send().await.unwrap();
    assert_eq!(public.status(), 404, "the public address does not serve /metrics");
    assert_eq!(public.headers()["content-type"], "application/problem+json");
}
