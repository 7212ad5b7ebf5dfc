//! `just bench graphql` and `tracing`: a persisted GraphQL read under load,
//! beside `/healthz`, and with tracing off, to the span store, and exported,
//! under a load sending no `traceparent` (the default sampling) and one
//! sampling every read (`traceparent` `-01`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{ReadArgs, round};

pub(crate) struct Load {
    pub(crate) rate: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
}

/// Requests from `request` at `concurrency` for `duration`; a response
/// counts when `accept` says so.
/// `concurrency` clients sending `request` in a loop for `warmup` (not
/// counted) and then `duration`.
pub(crate) async fn request_load(
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    request: Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
    accept: fn(reqwest::StatusCode, &[u8]) -> bool,
) -> Result<Load, Box<dyn std::error::Error>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + warmup;
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (http, errors, request) = (http.clone(), errors.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = match request(&http).send().await {
                    Ok(r) => {
                        let status = r.status();
                        r.bytes().await.is_ok_and(|b| accept(status, &b))
                    }
                    Err(_) => false,
                };
                let counted = sent >= start;
                if ok && counted {
                    latencies.push(sent.elapsed());
                } else if !ok && counted {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Load {
        rate: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        ok: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
    })
}

pub(crate) fn graphql_ok(status: reqwest::StatusCode, body: &[u8]) -> bool {
    status.is_success()
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v["errors"].is_null() && !v["data"].is_null())
}

/// Creates an incident titled `title` through `api`'s GraphQL endpoint (the
/// approved `CreateIncident` document `create_id`) and returns its id.
pub(crate) async fn create_incident(
    http: &reqwest::Client,
    api: &str,
    (token, tenant): (&str, &str),
    create_id: &str,
    title: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let created: serde_json::Value = http
        .post(format!("{}/graphql", api.trim_end_matches('/')))
        .bearer_auth(token)
        .header("X-Tenant-ID", tenant)
        .json(&json!({
            "id": create_id,
            "variables": { "input": { "title": title, "severity": "LOW", "location": "Bench" } }
        }))
        .send()
        .await?
        .json()
        .await?;
    Ok(created["data"]["createIncident"]["id"].as_str().ok_or(format!("create failed: {created}"))?.to_owned())
}

/// Creates an incident through `api` and returns the body of a persisted
/// `IncidentById` read of it.
async fn incident_read_body(api: &str, read: &ReadArgs) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let caller = (read.token.as_str(), read.tenant.as_str());
    let incident = create_incident(&reqwest::Client::new(), api, caller, &read.create_id, "Benchmark incident").await?;
    Ok(serde_json::to_vec(&json!({ "id": read.read_id, "variables": { "id": incident } }))?)
}

/// Who decides whether a read is traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sampling {
    /// No `traceparent`: the service's default sampler decides.
    Default,
    /// A new trace with the sampled flag on every read: the worst case.
    EveryRead,
}

/// A caller's sampled `traceparent` of a new trace: ids from a counter
/// scrambled (splitmix64), unique and random-looking, as a caller's are.
fn sampled_traceparent() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mix = |mut x: u64| {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let n = NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(3);
    format!("00-{:016x}{:016x}-{:016x}-01", mix(n), mix(n.wrapping_add(1)), mix(n.wrapping_add(2)) | 1)
}

/// The persisted read against `api`'s GraphQL endpoint.
fn persisted_read(
    api: &str,
    read: &ReadArgs,
    body: Vec<u8>,
    sampling: Sampling,
) -> Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync> {
    let graphql = format!("{}/graphql", api.trim_end_matches('/'));
    let (token, tenant) = (read.token.clone(), read.tenant.clone());
    Arc::new(move |http| {
        let request = http
            .post(&graphql)
            .bearer_auth(&token)
            .header("X-Tenant-ID", &tenant)
            .header("content-type", "application/json")
            .body(body.clone());
        match sampling {
            Sampling::Default => request,
            Sampling::EveryRead => request.header("traceparent", sampled_traceparent()),
        }
    })
}

pub(crate) async fn graphql_bench(
    api: &str,
    read: &ReadArgs,
    seconds: u64,
    sampling: Sampling,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let api = api.trim_end_matches('/').to_owned();
    let concurrency = read.concurrency;
    let body = incident_read_body(&api, read).await?;
    let duration = Duration::from_secs(seconds);

    let health_url = format!("{api}/healthz");
    let health =
        request_load(concurrency, Duration::ZERO, duration, Arc::new(move |http| http.get(&health_url)), |s, _| {
            s.is_success()
        })
        .await?;
    let request = persisted_read(&api, read, body, sampling);
    let read = request_load(concurrency, Duration::ZERO, duration, request, graphql_ok).await?;
    let ratio = if health.rate > 0.0 { read.rate / health.rate } else { 0.0 };
    Ok(json!({
        "benchmark": "graphql",
        "every_read_sampled": sampling == Sampling::EveryRead,
        "concurrency": concurrency,
        "seconds_per_phase": seconds,
        "healthz": { "per_second": round(health.rate), "p50_ms": round(health.p50_ms), "p99_ms": round(health.p99_ms), "ok": health.ok, "errors": health.errors },
        "persisted_read": { "per_second": round(read.rate), "p50_ms": round(read.p50_ms), "p99_ms": round(read.p99_ms), "ok": read.ok, "errors": read.errors },
        "ratio_to_healthz": (ratio * 100.0).round() / 100.0,
        "target_ratio_met": ratio >= 0.5,
        "target_p99_met": read.p99_ms < 20.0,
    }))
}

/// How [`tracing_overhead`] takes turns between its services.
pub(crate) struct Phases {
    pub(crate) rounds: usize,
    pub(crate) seconds: Duration,
    pub(crate) warmup: Duration,
}

/// The persisted read's throughput against `[off, store, on]` under each
/// of the two samplings, all six in turn, the order rotating each round (a
/// drift over the run, or a phase's position in its round, weighs on all
/// alike), and the overheads between their mean rates: tracing's at the
/// default sampling with every destination on (`on` against `off`, the
/// target), the same with every read sampled (the worst case), and for
/// each the export's (`on` against `store`) and the span store's (`store`
/// against `off`).
pub(crate) async fn tracing_overhead(
    services: [&str; 3],
    read: &ReadArgs,
    phases: Phases,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    const SAMPLINGS: [Sampling; 2] = [Sampling::Default, Sampling::EveryRead];
    // The services share the database, so one incident serves all.
    let body = incident_read_body(services[0].trim_end_matches('/'), read).await?;
    let requests = SAMPLINGS.map(|sampling| services.map(|base| persisted_read(base, read, body.clone(), sampling)));
    let mut rates: [[Vec<f64>; 3]; 2] = Default::default();
    let mut errors = 0;
    let turns = SAMPLINGS.len() * services.len();
    for rotation in 0..phases.rounds {
        for turn in 0..turns {
            let phase = (rotation + turn) % turns;
            let (sampling, service) = (phase / services.len(), phase % services.len());
            let request = requests[sampling][service].clone();
            let load = request_load(read.concurrency, phases.warmup, phases.seconds, request, graphql_ok).await?;
            errors += load.errors;
            rates[sampling][service].push(round(load.rate));
        }
    }
    let overhead =
        |with: f64, without: f64| if without > 0.0 { ((1.0 - with / without) * 1000.0).round() / 1000.0 } else { 0.0 };
    let report = |rates: &[Vec<f64>; 3]| {
        let [off, store, on] = rates.each_ref().map(|rates| rates.iter().sum::<f64>() / rates.len().max(1) as f64);
        let report = json!({
            "graphql_per_second": { "off": round(off), "span_store": round(store), "export_and_span_store": round(on) },
            "phases": { "off": rates[0], "span_store": rates[1], "export_and_span_store": rates[2] },
            "overhead": overhead(on, off),
            "export_overhead": overhead(on, store),
            "span_store_overhead": overhead(store, off),
        });
        (report, overhead(on, off))
    };
    let (default, default_overhead) = report(&rates[0]);
    let (every_read, _) = report(&rates[1]);
    Ok(json!({
        "benchmark": "tracing_overhead",
        "concurrency": read.concurrency,
        "seconds_per_phase": phases.seconds.as_secs_f64(),
        "default_sampling": default,
        "every_read_sampled": every_read,
        "errors": errors,
        "target_overhead": 0.05,
        "target_met": default_overhead < 0.05 && errors == 0,
    }))
}
