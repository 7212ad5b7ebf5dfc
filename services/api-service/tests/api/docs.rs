//! The machine-readable docs: `GET /api/docs` in the shape of the
//! contract's own docs index (docs/contract/docs-index-2026.4.json) with its
//! topics, every public route of both hosts under one topic, both
//! languages of every topic, JSON and Markdown by `?format=` and `Accept`,
//! the language by `?lang=` and `Accept-Language` (q-values), the 400, 404,
//! 405 and 406 answers, `/llms.txt` as the llms.txt convention writes it,
//! and every curl example of the topics run against the running stack.

use std::collections::BTreeSet;
use std::time::Duration;

use api_service::docs::negotiate::Lang;
use api_service::docs::topics::{TOPICS, UNDOCUMENTED_TAGS};
use argus_bus::testing::TestVhost;
use argus_store::testing::TestDatabase;
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, CONTENT_TYPE, VARY};
use serde_json::Value;

use crate::contract::NOT_YET_BUILT;
use crate::helpers::{Stack, api_config, spawn_api, worker};

const CONTRACT_INDEX: &str = include_str!("../../../../docs/contract/docs-index-2026.4.json");

async fn get(stack: &Stack, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = stack.http.get(format!("{}{path}", stack.api));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Whether `ours` has every key of `theirs` with a value of the same JSON
/// type, recursively; arrays' items each have the shape of theirs' first.
/// Names every difference.
fn shape_differences(path: &str, theirs: &Value, ours: &Value, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(theirs) != kind(ours) {
        out.push(format!("{path}: {} in the contract, {} here", kind(theirs), kind(ours)));
        return;
    }
    match (theirs, ours) {
        (Value::Object(theirs), Value::Object(ours)) => {
            for (key, value) in theirs {
                match ours.get(key) {
                    Some(mine) => shape_differences(&format!("{path}.{key}"), value, mine, out),
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
        }
        (Value::Array(theirs), Value::Array(ours)) => {
            if let Some(first) = theirs.first() {
                if ours.is_empty() {
                    out.push(format!("{path}: empty"));
                }
                for (i, item) in ours.iter().enumerate() {
                    shape_differences(&format!("{path}[{i}]"), first, item, out);
                }
            }
        }
        _ => {}
    }
}

/// `(METHOD, path)` of a route section (`GET/POST /v1/x · …`), one per method.
fn section_routes(section: &str) -> Vec<(String, String)> {
    let Some((methods, rest)) = section.split_once(' ') else { return Vec::new() };
    let path = rest.split(' ').next().unwrap_or_default();
    if !path.starts_with('/') || !methods.split('/').all(|m| m.chars().all(|c| c.is_ascii_uppercase())) {
        return Vec::new();
    }
    methods.split('/').map(|m| (m.to_owned(), path.to_owned())).collect()
}

fn topic_routes(topic: &Value) -> BTreeSet<(String, String)> {
    topic["sections"].as_array().unwrap().iter().flat_map(|s| section_routes(s.as_str().unwrap())).collect()
}

#[tokio::test]
async fn the_index_has_the_contracts_shape_topics_and_routes() {
    let stack = Stack::start().await;
    let contract: Value = serde_json::from_str(CONTRACT_INDEX).unwrap();
    for lang in ["en", "de"] {
        let r = get(&stack, &format!("/api/docs?lang={lang}"), &[]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, CONTENT_TYPE), "application/json");
        assert_eq!(header(&r, CONTENT_LANGUAGE), lang);
        assert_eq!(header(&r, VARY), "Accept, Accept-Language");
        let index: Value = r.json().await.unwrap();
        let mut differences = Vec::new();
        shape_differences("index", &contract, &index, &mut differences);
        assert!(differences.is_empty(), "{lang}: {differences:#?}");
        let ids = |i: &Value| -> Vec<String> {
            i["topics"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(ids(&index), ids(&contract), "the contract's topics, in its order");
        assert_eq!(index["version"], contract["version"]);
        assert_eq!(index["quickStart"]["steps"].as_array().unwrap().len(), 5, "{lang}: {}", index["quickStart"]);
        for (ours, theirs) in index["topics"].as_array().unwrap().iter().zip(contract["topics"].as_array().unwrap()) {
            if lang == "en" {
                assert_eq!(ours["title"], theirs["title"]);
            }
            let built = |(m, p): &(String, String)| !NOT_YET_BUILT.iter().any(|(bm, bp, _)| bm == m && bp == p);
            let missing: Vec<_> =
                topic_routes(theirs).difference(&topic_routes(ours)).filter(|r| built(r)).cloned().collect();
            assert!(missing.is_empty(), "{lang} {}: the contract lists {missing:?} under this topic", ours["id"]);
            assert!(
                ours["url"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("https://knogin.com/api/docs/{}", ours["id"].as_str().unwrap()))
            );
        }
        if lang == "en" {
            assert_eq!(
                index["topics"][0]["sections"], contract["topics"][0]["sections"],
                "the introduction's sections"
            );
            assert_eq!(index["endpoints"], contract["endpoints"]);
            assert_eq!(index["baseUrl"], contract["baseUrl"]);
        } else {
            assert_eq!(index["endpoints"]["topic"], "https://knogin.com/api/docs/{topic}?lang=de");
        }
    }
}

#[tokio::test]
async fn every_public_route_of_both_hosts_is_in_one_topic() {
    let stack = Stack::start().await;
    let index: Value = get(&stack, "/api/docs", &[]).await.json().await.unwrap();
    let mut documented: Vec<(String, String)> =
        index["topics"].as_array().unwrap().iter().flat_map(|t| topic_routes(t).into_iter()).collect();
    let count = documented.len();
    documented.sort();
    documented.dedup();
    assert_eq!(documented.len(), count, "a route is in two topics");
    for base in [&stack.api, &stack.auth] {
        let doc: Value =
            stack.http.get(format!("{base}/.well-known/openapi.json")).send().await.unwrap().json().await.unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            // The operations, not the path item's own `servers` or `description`.
            let operations = item.as_object().unwrap().iter().filter(|(_, op)| op.get("responses").is_some());
            for (method, op) in operations {
                let tag = op["tags"][0].as_str().unwrap_or_default();
                let route = (method.to_ascii_uppercase(), path.clone());
                if UNDOCUMENTED_TAGS.contains(&tag) {
                    assert!(!documented.contains(&route), "{route:?} is not for integrators");
                } else {
                    assert!(documented.contains(&route), "{route:?} (tag {tag:?}) is in no docs topic");
                }
            }
        }
    }
}

#[tokio::test]
async fn every_topic_is_served_in_both_languages_as_json_and_markdown() {
    let stack = Stack::start().await;
    for topic in TOPICS {
        let mut routes = Vec::new();
        for lang in ["en", "de"] {
            let r = get(&stack, &format!("/api/docs/{}", topic.id), &[(ACCEPT_LANGUAGE.as_str(), lang)]).await;
            assert_eq!(r.status(), 200, "{} {lang}", topic.id);
            assert_eq!(header(&r, CONTENT_LANGUAGE), lang);
            let json: Value = r.json().await.unwrap();
            assert_eq!(json["id"], topic.id);
            assert_eq!(json["language"], lang);
            routes.push(json["routes"].clone());
            let markdown = json["markdown"].as_str().unwrap();
            assert!(markdown.starts_with(&format!("# {}\n", json["title"].as_str().unwrap())), "{markdown}");

            let r = get(&stack, &format!("/api/docs/{}?format=markdown&lang={lang}", topic.id), &[]).await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, CONTENT_TYPE), "text/markdown; charset=utf-8");
            assert_eq!(r.text().await.unwrap(), markdown, "the Markdown is the JSON's page");
        }
        assert_eq!(routes[0], routes[1], "{}: routes and their texts stay English in both", topic.id);
        assert_ne!(topic.text(Lang::En), topic.text(Lang::De), "{} has no German text", topic.id);
    }
}

#[tokio::test]
async fn json_or_markdown_and_the_language_by_query_or_headers_with_q_values() {
    let stack = Stack::start().await;
    let r = get(&stack, "/api/docs/async-jobs", &[("accept", "application/json;q=0.5, text/markdown")]).await;
    assert_eq!(header(&r, CONTENT_TYPE), "text/markdown; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(text.starts_with("# Async jobs\n") && text.contains("\n### POST /v1/jobs · "), "{text}");
    let r = get(&stack, "/api/docs/async-jobs", &[("accept", "text/markdown;q=0.2, application/json")]).await;
    assert_eq!(header(&r, CONTENT_TYPE), "application/json");
    let r = get(&stack, "/api/docs/async-jobs?format=json", &[("accept", "text/markdown")]).await;
    assert_eq!(header(&r, CONTENT_TYPE), "application/json", "?format= wins over Accept");

    let r = get(&stack, "/api/docs/async-jobs", &[("accept-language", "fr, en;q=0.5, de;q=0.8")]).await;
    assert_eq!(header(&r, CONTENT_LANGUAGE), "de");
    assert_eq!(r.json::<Value>().await.unwrap()["title"], "Asynchrone Jobs");
    let r = get(&stack, "/api/docs/async-jobs", &[("accept-language", "de;q=0, *")]).await;
    assert_eq!(header(&r, CONTENT_LANGUAGE), "en");
    let r = get(&stack, "/api/docs/async-jobs?lang=en", &[("accept-language", "de-AT")]).await;
    assert_eq!(header(&r, CONTENT_LANGUAGE), "en", "?lang= wins over Accept-Language");
    let r = get(&stack, "/api/docs/async-jobs", &[("accept-language", "fr")]).await;
    assert_eq!(header(&r, CONTENT_LANGUAGE), "en", "none of ours: English");

    let r = get(&stack, "/api/docs?format=markdown&lang=de", &[]).await;
    assert_eq!(header(&r, CONTENT_TYPE), "text/markdown; charset=utf-8");
    let full = r.text().await.unwrap();
    let index: Value = get(&stack, "/api/docs?lang=de", &[]).await.json().await.unwrap();
    assert!(
        full.starts_with(&format!(
            "# Knogin External Integration API\n\n> {}\n",
            index["description"].as_str().unwrap()
        ))
    );
    for topic in index["topics"].as_array().unwrap() {
        assert!(full.contains(&format!("\n## {}\n", topic["title"].as_str().unwrap())), "{}", topic["id"]);
    }
    assert!(full.contains("\n### Routen\n") && full.contains("\n#### POST /v1/jobs · "));
}

#[tokio::test]
async fn unknown_topics_languages_formats_and_unacceptable_types_are_refused() {
    let stack = Stack::start().await;
    let problem = async |r: reqwest::Response, status: u16, kind: &str| {
        assert_eq!(r.status(), status);
        assert_eq!(header(&r, CONTENT_TYPE), "application/problem+json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], format!("https://knogin.com/api/problems/{kind}"), "{body}");
        body
    };
    problem(get(&stack, "/api/docs/no-such-topic", &[]).await, 404, "not-found").await;
    problem(get(&stack, "/api/docs/async-jobs", &[("accept", "image/png")]).await, 406, "not-acceptable").await;
    problem(
        get(&stack, "/api/docs", &[("accept", "text/markdown;q=0, application/json;q=0")]).await,
        406,
        "not-acceptable",
    )
    .await;
    let body = problem(get(&stack, "/api/docs?lang=fr", &[]).await, 400, "validation-failed").await;
    assert!(body["detail"].as_str().unwrap().contains("`en` or `de`"));
    problem(get(&stack, "/llms.txt?lang=xx", &[]).await, 400, "validation-failed").await;
    problem(get(&stack, "/api/docs/async-jobs?format=html", &[]).await, 400, "validation-failed").await;
    let r = stack.http.post(format!("{}/api/docs", stack.api)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, reqwest::header::ALLOW), "GET");
}

#[tokio::test]
async fn llms_txt_has_a_title_a_summary_and_links_to_every_markdown_topic() {
    let stack = Stack::start().await;
    for lang in ["en", "de"] {
        let r = get(&stack, "/llms.txt", &[(ACCEPT_LANGUAGE.as_str(), lang)]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, CONTENT_TYPE), "text/plain; charset=utf-8");
        assert_eq!(header(&r, CONTENT_LANGUAGE), lang);
        let text = r.text().await.unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("# Knogin External Integration API"), "an H1 title first");
        assert_eq!(lines.next(), Some(""));
        assert!(lines.next().is_some_and(|l| l.starts_with("> ") && l.len() > 40), "then a blockquote summary");
        // The rest: paragraphs, then H2 sections of `- [name](url): notes` items; no other headings.
        let body: Vec<&str> = lines.collect();
        assert!(body.iter().all(|l| !l.starts_with('#') || l.starts_with("## ")), "{text}");
        assert!(body.contains(&"## Optional"), "{text}");
        let links: Vec<(&str, &str)> = body
            .iter()
            .filter_map(|l| l.strip_prefix("- ["))
            .map(|l| {
                let (name, rest) = l.split_once("](").unwrap();
                (name, rest.split_once(')').unwrap().0)
            })
            .collect();
        for topic in TOPICS {
            let link =
                links.iter().find(|(_, url)| url.starts_with(&format!("https://knogin.com/api/docs/{}?", topic.id)));
            let (_, url) = link.unwrap_or_else(|| panic!("{lang}: no link to {}: {text}", topic.id));
            assert!(url.contains("format=markdown"));
            // The link works (served here: the ingress routes knogin.com/api/docs to this service).
            let r = get(&stack, url.strip_prefix("https://knogin.com").unwrap(), &[]).await;
            assert_eq!(r.status(), 200, "{url}");
            assert_eq!(header(&r, CONTENT_TYPE), "text/markdown; charset=utf-8");
            assert_eq!(header(&r, CONTENT_LANGUAGE), lang);
        }
    }
}

/// The shell the examples run in: `curl` fails on any answer but a 2xx, or
/// a GraphQL answer with `errors` (printing the body to stderr), and
/// everything else is the reader's shell.
const PRELUDE: &str = r#"set -euo pipefail
curl() {
  local body status
  body=$(mktemp)
  status=$(command curl -sS -o "$body" -w '%{http_code}' "$@") || { cat "$body" >&2; rm -f "$body"; return 1; }
  if [[ "$*" == */graphql* ]] && jq -e 'has("errors")' "$body" >/dev/null; then status="$status with GraphQL errors"; fi
  case "$status" in
    2??) cat "$body"; rm -f "$body" ;;
    *) echo "HTTP $status:" >&2; cat "$body" >&2; rm -f "$body"; return 1 ;;
  esac
}
"#;

/// The ```bash and ```sh blocks of a page.
fn shell_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line == "```bash" || line == "```sh" => current = Some(String::new()),
            Some(block) if line == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Every curl example of every topic, in both languages, run by bash with
/// the public hosts replaced by the stack's and the variables the pages
/// name set (a tenant of its own per language, its admin token, an app
/// with every scope and bundle the examples use, a token for it). The
/// examples that wait for a job's result (`…/result`) run with a delivery
/// worker; the others without, so that the jobs they queue stay queued
/// (the cancel example cancels a queued job, never a finished one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_curl_example_of_the_topics_runs_against_the_stack() {
    let stack = Stack::start_with_span_store("api-service").await;
    // The sandbox: its own database, trusting only the sandbox key set.
    let sandbox_db = TestDatabase::sandbox().await;
    let sandbox_jwks = format!("{}/.well-known/sandbox/jwks.json", stack.auth);
    let sandbox =
        spawn_api(api_config(sandbox_db.url(), &sandbox_jwks, api_service::config::Environment::Sandbox)).await;
    let vhost = TestVhost::create().await;
    for bundle in ["incident-webhook-configuration", "evidence-custody", "acqi-reporting"] {
        stack.load_shipped_bundle(bundle).await;
    }
    let scopes = [
        "webhooks:read",
        "webhooks:write",
        "incidents:read",
        "incidents:write",
        "jobs:read",
        "jobs:write",
        "epcr:read",
        "epcr:write",
        "devices:read",
        "devices:write",
        "metrics:read",
        "evidence:read",
        "evidence:write",
        "evidence:verify",
        "traces:read",
    ];
    let mut ran = 0;
    for lang in Lang::ALL {
        let client = stack.client(None, &scopes).await;
        for bundle in ["incident-webhook-configuration", "evidence-custody", "acqi-reporting"] {
            stack.grant(&client, bundle).await;
        }
        let env = [
            ("TENANT_ID", client.tenant.to_string()),
            ("ADMIN_TOKEN", stack.admin_token(&client.tenant).await),
            ("CLIENT_ID", client.client_id.clone()),
            ("CLIENT_SECRET", client.secret.clone()),
            ("ACCESS_TOKEN", stack.cc_token(&client, None).await),
        ];
        for topic in TOPICS {
            for block in shell_blocks(topic.text(lang)) {
                if !block.contains("curl ") {
                    continue;
                }
                let script = block
                    .replace("https://sandbox-api.knogin.com", &sandbox)
                    .replace("https://api.knogin.com", &stack.api)
                    .replace("https://auth.knogin.com", &stack.auth)
                    .replace("https://knogin.com", &stack.api);
                let running = block.contains("/result").then(|| {
                    let worker = worker(stack.db.url(), vhost.url());
                    let stop = worker.shutdown_token();
                    (stop, tokio::spawn(worker.run_until_stopped()))
                });
                let run = tokio::process::Command::new("bash")
                    .arg("-c")
                    .arg(format!("{PRELUDE}{script}"))
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(Duration::from_secs(60), run)
                    .await
                    .expect("the example ran within 60 s")
                    .unwrap();
                if let Some((stop, handle)) = running {
                    stop.cancel();
                    handle.await.unwrap().unwrap();
                }
                assert!(
                    out.status.success(),
                    "{} ({lang:?}) example failed:\n{block}\nstdout:\n{}\nstderr:\n{}",
                    topic.id,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= 60, "{ran} examples ran");
}
