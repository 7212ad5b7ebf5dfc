//! `argus-bench jobs`: a generated graph loaded through an `import.bulk`
//! job (rows/s), then a `graph.compute` PageRank job timed from enqueue to
//! the result read back, through the api-service and a running delivery
//! worker. Writes the same graph as an edge list for networkx.
//!
//! `argus-bench jobs-memory`: maximum-size imports posted at once, and the
//! peak resident memory (`VmHWM`) of the api-service and the worker that
//! took them, beside their pods' limits.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use argus_store::{Store, StoreConfig};
use argus_types::{ScopeSet, TenantId};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

/// SplitMix64: a reproducible generator, enough for a benchmark graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `edges` distinct directed edges without self-loops over `nodes` nodes,
/// as the import's NDJSON and as a `source target` edge list.
fn generate(nodes: u64, edges: u64, seed: u64) -> (String, String) {
    let mut rng = Rng(seed);
    let mut ndjson = String::with_capacity((nodes * 80 + edges * 90) as usize);
    for i in 0..nodes {
        ndjson.push_str(&format!(
            "{{\"type\":\"entity\",\"external_id\":\"n{i}\",\"kind\":\"person\",\"name\":\"Node {i}\"}}\n"
        ));
    }
    let mut seen = HashSet::with_capacity(edges as usize);
    let mut list = String::with_capacity((edges * 14) as usize);
    while (seen.len() as u64) < edges {
        let (s, t) = (rng.below(nodes), rng.below(nodes));
        if s == t || !seen.insert(s * nodes + t) {
            continue;
        }
        ndjson.push_str(&format!(
            "{{\"type\":\"relationship\",\"external_id\":\"e{}\",\"source\":\"n{s}\",\"target\":\"n{t}\",\"kind\":\"links\"}}\n",
            seen.len()
        ));
        list.push_str(&format!("{s} {t}\n"));
    }
    (ndjson, list)
}

struct Api<'a> {
    http: reqwest::Client,
    base: &'a str,
    token: String,
    tenant: String,
}

impl Api<'_> {
    async fn enqueue(&self, body: &Value) -> Result<String, Error> {
        self.enqueue_bytes(serde_json::to_vec(body)?).await
    }

    async fn enqueue_bytes(&self, body: Vec<u8>) -> Result<String, Error> {
        let r = self
            .http
            .post(format!("{}/v1/jobs", self.base))
            .bearer_auth(&self.token)
            .header("X-Tenant-ID", &self.tenant)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        if r.status() != 202 {
            return Err(format!("enqueue: {} {}", r.status(), r.text().await?).into());
        }
        Ok(r.json::<Value>().await?["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Polls until the job finished; fails unless it succeeded.
    async fn wait(&self, id: &str, poll: Duration) -> Result<Value, Error> {
        loop {
            let job: Value = self
                .http
                .get(format!("{}/v1/jobs/{id}", self.base))
                .bearer_auth(&self.token)
                .header("X-Tenant-ID", &self.tenant)
                .send()
                .await?
                .json()
                .await?;
            match job["status"].as_str() {
                Some("succeeded") => return Ok(job),
                Some("failed" | "cancelled") => return Err(format!("job {id} ended: {job}").into()),
                _ => tokio::time::sleep(poll).await,
            }
        }
    }

    async fn result(&self, id: &str) -> Result<Vec<u8>, Error> {
        let r = self
            .http
            .get(format!("{}/v1/jobs/{id}/result", self.base))
            .bearer_auth(&self.token)
            .header("X-Tenant-ID", &self.tenant)
            .send()
            .await?;
        if r.status() != 200 {
            return Err(format!("result: {}", r.status()).into());
        }
        Ok(r.bytes().await?.to_vec())
    }
}

/// A new tenant named `name` and a token for it holding `scopes`, signed
/// with the current key.
pub(crate) async fn tenant_token(
    store: &Store,
    issuer: &str,
    name: &str,
    scopes: &[&str],
) -> Result<(TenantId, String), Error> {
    let tenant = store.create_tenant(name).await?.id;
    let key = store
        .current_signing_key(&crate::sealer_from_environment()?, argus_types::Environment::Live)
        .await?
        .ok_or("no current signing key: run argusctl migrate")?;
    let scopes: ScopeSet = scopes.iter().copied().collect();
    let token = argus_crypto::issue_access_token(
        &key,
        &argus_crypto::TokenGrant {
            issuer,
            audience: argus_types::claims::LIVE_AUDIENCE,
            tenant: &tenant,
            subject: "argus-bench",
            client_id: "argus-bench",
            scopes: &scopes,
            lifetime: chrono::Duration::hours(2),
        },
    )?
    .token;
    Ok((tenant, token))
}

/// A new tenant and a `jobs:write` token for it.
async fn tenant_api<'a>(store: &Store, issuer: &str, base: &'a str, http: reqwest::Client) -> Result<Api<'a>, Error> {
    let (tenant, token) = tenant_token(store, issuer, "bench-jobs", &["jobs:write"]).await?;
    Ok(Api { http, base, token, tenant: tenant.to_string() })
}

#[allow(clippy::too_many_arguments)]
pub async fn bench(
    api: &str,
    database_url: &str,
    issuer: &str,
    nodes: u64,
    edges: u64,
    seed: u64,
    edge_list: &std::path::Path,
    pagerank_input: Value,
) -> Result<Value, Error> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 2 })?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3600)).build()?;
    let api = tenant_api(&store, issuer, api, http).await?;
    let started = Instant::now();
    let (ndjson, list) = generate(nodes, edges, seed);
    std::fs::File::create(edge_list)?.write_all(list.as_bytes())?;
    let generate_s = started.elapsed().as_secs_f64();
    let lines = nodes + edges;
    let body = json!({ "kind": "import.bulk", "input": { "ndjson": ndjson } });
    drop(ndjson);
    let started = Instant::now();
    let import = api.enqueue(&body).await?;
    drop(body);
    api.wait(&import, Duration::from_millis(200)).await?;
    let import_s = started.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&api.result(&import).await?)?;
    if report["error_count"] != 0
        || report["entities"]["created"] != nodes
        || report["relationships"]["created"] != edges
    {
        return Err(format!("the import did not load the whole graph: {report}").into());
    }

    let started = Instant::now();
    let compute = api.enqueue(&json!({ "kind": "graph.compute", "input": pagerank_input })).await?;
    api.wait(&compute, Duration::from_millis(20)).await?;
    let result = api.result(&compute).await?;
    let pagerank_s = started.elapsed().as_secs_f64();
    // NDJSON: the summary, then a line per node.
    let rows = result.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    let first = result.split(|b| *b == b'\n').next().unwrap_or_default();
    let result: Value = serde_json::from_slice(first)?;
    if rows as u64 != nodes + 1 {
        return Err(format!("graph.compute returned {rows} lines for {nodes} nodes").into());
    }
    Ok(json!({
        "nodes": nodes,
        "edges": edges,
        "generate_seconds": crate::round(generate_s),
        "import_lines": lines,
        "import_seconds": crate::round(import_s),
        "import_rows_per_second": crate::round(lines as f64 / import_s),
        "pagerank_end_to_end_seconds": (pagerank_s * 1000.0).round() / 1000.0,
        "pagerank_result": result.get("pagerank").map(|p| json!({
            "iterations": p["iterations"],
            "converged": p["converged"],
            "top_score": p["top"][0]["score"],
        })),
    }))
}

/// Peak resident memory of process `pid` (`VmHWM`), in MiB.
fn peak_mib(pid: u32) -> Result<f64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmHWM")?
        .parse()?;
    Ok(crate::round(kib / 1024.0))
}

/// The processes measured and their pods' memory limits.
pub struct Measured {
    pub api_pid: u32,
    pub api_limit_mib: u64,
    pub worker_pid: u32,
    pub worker_limit_mib: u64,
}

/// `count` `import.bulk` bodies of just under `max_body` bytes (~1 KiB
/// entity lines), one tenant each, posted at once; waits until all are
/// imported, then reads both processes' peak resident memory.
pub async fn memory(
    api: &str,
    database_url: &str,
    issuer: &str,
    count: usize,
    max_body: usize,
    measured: &Measured,
) -> Result<Value, Error> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 2 })?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3600)).build()?;
    let mut apis = Vec::with_capacity(count);
    for _ in 0..count {
        apis.push(tenant_api(&store, issuer, api, http.clone()).await?);
    }
    let pad = "x".repeat(900);
    let mut ndjson = String::with_capacity(max_body);
    let mut lines = 0u64;
    // The body escapes each line's quotes: ~1.05 bytes per NDJSON byte.
    while ndjson.len() < max_body - max_body / 16 {
        ndjson.push_str(&format!(
            "{{\"type\":\"entity\",\"external_id\":\"e{lines}\",\"kind\":\"person\",\"name\":\"Person {lines}\",\"attributes\":{{\"note\":\"{pad}\"}}}}\n"
        ));
        lines += 1;
    }
    let body = serde_json::to_vec(&json!({ "kind": "import.bulk", "input": { "ndjson": ndjson } }))?;
    drop(ndjson);
    if body.len() > max_body {
        return Err(format!("the generated body ({} bytes) is over the limit", body.len()).into());
    }
    let started = Instant::now();
    let posted = futures_util::future::join_all(apis.iter().map(|a| a.enqueue_bytes(body.clone()))).await;
    let upload_s = started.elapsed().as_secs_f64();
    for (a, id) in apis.iter().zip(posted) {
        let id = id?;
        a.wait(&id, Duration::from_millis(200)).await?;
        let report: Value = serde_json::from_slice(&a.result(&id).await?)?;
        if report["error_count"] != 0 || report["entities"]["created"] != lines {
            return Err(format!("an import did not load every line: {report}").into());
        }
    }
    let imported_s = started.elapsed().as_secs_f64();
    Ok(json!({
        "imports_at_once": count,
        "body_bytes_each": body.len(),
        "lines_each": lines,
        "upload_seconds": crate::round(upload_s),
        "all_imported_seconds": crate::round(imported_s),
        "api_service_peak_rss_mib": peak_mib(measured.api_pid)?,
        "api_service_limit_mib": measured.api_limit_mib,
        "delivery_worker_peak_rss_mib": peak_mib(measured.worker_pid)?,
        "delivery_worker_limit_mib": measured.worker_limit_mib,
    }))
}
