//! The contract's docs indexes (docs/contract/, copied from the shared
//! contract) against the running services: every route they list is in
//! the OpenAPI document of the host that serves it, and answers there. The
//! routes of issues still open are listed in [`NOT_YET_BUILT`] and must not
//! answer yet, so the list can only shrink as they land.

use api_service::config::Environment;
use argus_store::testing::TestDatabase;
use serde_json::Value;

use crate::helpers::{api_config, spawn_api, spawn_auth};

const INDEXES: [&str; 2] = [
    include_str!("../../../../docs/contract/docs-index-2026.1.json"),
    include_str!("../../../../docs/contract/docs-index-2026.4.json"),
];

/// Routes of the 2026.4 index whose issue is open: (method, path, issue).
pub const NOT_YET_BUILT: &[(&str, &str, &str)] = &[];

/// Every `METHOD[/METHOD…] /path` line of the indexes' topic sections, once.
fn contract_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for index in INDEXES {
        let index: Value = serde_json::from_str(index).unwrap();
        for topic in index["topics"].as_array().unwrap() {
            for section in topic["sections"].as_array().unwrap() {
                let line = section.as_str().unwrap();
                let Some((methods, rest)) = line.split_once(' ') else { continue };
                let path = rest.split(' ').next().unwrap();
                if !path.starts_with('/') || !methods.split('/').all(|m| m.chars().all(|c| c.is_ascii_uppercase())) {
                    continue; // prose ("Base URLs") or a GraphQL field ("query acqiMetrics…")
                }
                for method in methods.split('/') {
                    let route = (method.to_owned(), path.to_owned());
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                }
            }
        }
    }
    routes
}

/// Whether `doc` documents the route on the host it is fetched from (the
/// first of its servers): a path item naming other servers of its own (the
/// sandbox's webhook routes in the API's document) is another host's.
fn documents(doc: &Value, method: &str, path: &str) -> bool {
    let item = &doc["paths"][path];
    let here = &doc["servers"][0]["url"];
    item[method.to_ascii_lowercase()].is_object()
        && item["servers"].as_array().is_none_or(|servers| servers.iter().any(|s| &s["url"] == here))
}

/// Whether the host has no such route: the router's own 404 or a 405.
async fn unrouted(http: &reqwest::Client, base: &str, method: &str, path: &str) -> bool {
    let concrete: String =
        path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
    let r = http.request(method.parse().unwrap(), format!("{base}{concrete}")).send().await.unwrap();
    match r.status().as_u16() {
        405 => true,
        404 => {
            let body: Value = r.json().await.unwrap_or_default();
            body["detail"].as_str().is_some_and(|d| d.starts_with("no route for"))
        }
        _ => false,
    }
}

#[tokio::test]
async fn every_contract_route_is_documented_and_answers_on_its_host() {
    let db = TestDatabase::create().await;
    let api = spawn_api(api_config(db.url(), "http://127.0.0.1:1/jwks.json", Environment::Live)).await;
    let (auth, _handle) = spawn_auth(db.url()).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut docs = Vec::new();
    for base in [&api, &auth] {
        let doc: Value =
            http.get(format!("{base}/.well-known/openapi.json")).send().await.unwrap().json().await.unwrap();
        docs.push((base, doc));
    }
    let routes = contract_routes();
    assert!(routes.len() >= 40, "the indexes list the contract's routes: {routes:?}");
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let hosts: Vec<&String> = docs.iter().filter(|(_, d)| documents(d, method, path)).map(|(b, _)| *b).collect();
        let pending = NOT_YET_BUILT.iter().find(|(m, p, _)| m == method && p == path);
        if let Some((_, _, issue)) = pending {
            assert!(hosts.is_empty(), "{method} {path} is built: take it off NOT_YET_BUILT ({issue})");
            for base in [&api, &auth] {
                assert!(
                    unrouted(&http, base, method, path).await,
                    "{method} {path} answers: take it off NOT_YET_BUILT"
                );
            }
            continue;
        }
        if hosts.is_empty() {
            missing.push(format!("{method} {path}: in no OpenAPI document"));
        }
        for base in hosts {
            if unrouted(&http, base, method, path).await {
                missing.push(format!("{method} {path}: documented by {base} but not routed there"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
