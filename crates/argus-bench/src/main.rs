//! `argus-bench`: the load generator behind `just bench`. Each subcommand
//! measures one issue's target and prints the figures the issue asks for,
//! as JSON on stdout.

mod graph_core;
mod jobs;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argus_store::{Store, StoreConfig};
use argus_types::{AccessClaims, ScopeSet, TenantId};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(name = "argus-bench", about = "Argus load generator and benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The persisted read both GraphQL benchmarks load.
#[derive(clap::Args)]
struct ReadArgs {
    /// An access token with incidents:read and incidents:write.
    #[arg(long)]
    token: String,
    /// The token's tenant (`X-Tenant-ID`).
    #[arg(long)]
    tenant: String,
    /// `sha256:…` of the approved `IncidentById` document.
    #[arg(long)]
    read_id: String,
    /// `sha256:…` of the approved `CreateIncident` document.
    #[arg(long)]
    create_id: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

/// The api-service both job benchmarks load, and how to mint its tokens.
#[derive(clap::Args)]
struct JobsTarget {
    /// api-service base URL.
    #[arg(long)]
    api: String,
    #[arg(long, env = "ARGUS_DATABASE_URL")]
    database_url: String,
    /// The `iss` the api-service expects.
    #[arg(long, env = "ARGUS_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
}

#[derive(Subcommand)]
enum Command {
    /// RS256 signatures per second on one core, with the database's current
    /// key and the token endpoint's claims (the HTTP load comes from wrk).
    Signing {
        #[arg(long, env = "ARGUS_DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Events published at fixed rates into N webhooks on a local receiver;
    /// a delivery worker must be running against the same database and
    /// broker. Reports deliveries/s and event-to-receipt latency per rate.
    Webhooks {
        #[arg(long, env = "ARGUS_DATABASE_URL")]
        database_url: String,
        #[arg(long, env = "ARGUS_SECRET_PEPPER", default_value = argus_crypto::DEV_PEPPER)]
        pepper: String,
        /// Webhooks subscribed to the event type.
        #[arg(long, default_value_t = 10)]
        webhooks: usize,
        /// Target deliveries per second, one phase each.
        #[arg(long, value_delimiter = ',', default_value = "500,2500")]
        rates: Vec<u32>,
        /// Seconds each phase publishes for.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
    /// An authenticated persisted-query read (one incident by id) at fixed
    /// concurrency, beside the same api-service's `/healthz`, one after the
    /// other in one run. Creates the incident first with a persisted
    /// `CreateIncident`.
    Graphql {
        /// api-service base URL.
        #[arg(long)]
        api: String,
        #[command(flatten)]
        read: ReadArgs,
        /// Seconds of load for each of the two phases.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Tracing's cost to the persisted read: three api-services over one
    /// database (no tracing destination; the span store only, as deployed
    /// without a collector; OTLP export and the span store), loaded in turn
    /// in short phases whose order rotates from round to round, so all three
    /// see the same machine from second to second.
    TracingOverhead {
        /// The api-service without export or span store.
        #[arg(long)]
        off: String,
        /// The api-service writing the span store, without export.
        #[arg(long)]
        store: String,
        /// The api-service exporting over OTLP and writing the span store.
        #[arg(long)]
        on: String,
        #[command(flatten)]
        read: ReadArgs,
        /// Rounds of one phase per service; each phase is measured after a
        /// warm-up.
        #[arg(long, default_value_t = 12)]
        rounds: usize,
        #[arg(long, default_value_t = 3)]
        phase_seconds: u64,
        /// Load before each phase that is not counted: it lets the other
        /// services' last spans reach their destinations first.
        #[arg(long, default_value_t = 1000)]
        warmup_ms: u64,
    },
    /// A generated graph loaded with an `import.bulk` job (rows/s), then
    /// a `graph.compute` PageRank job from enqueue to result; an api-service
    /// and a delivery worker must be running against the same database.
    /// Writes the graph as an edge list for the networkx comparison.
    Jobs {
        #[command(flatten)]
        target: JobsTarget,
        #[arg(long, default_value_t = 100_000)]
        nodes: u64,
        #[arg(long, default_value_t = 1_000_000)]
        edges: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where to write the `source target` edge list.
        #[arg(long)]
        edge_list: std::path::PathBuf,
        /// The `graph.compute` input (JSON).
        #[arg(long)]
        input: String,
    },
    /// `count` maximum-size `import.bulk` jobs posted at once, one tenant
    /// each, then the peak resident memory (VmHWM) of the api-service and
    /// delivery worker processes that served them, beside their limits.
    JobsMemory {
        #[command(flatten)]
        target: JobsTarget,
        #[arg(long, default_value_t = 3)]
        count: usize,
        /// The api-service's ARGUS_JOBS_MAX_BODY_BYTES.
        #[arg(long, default_value_t = 64 << 20)]
        max_body: usize,
        #[arg(long)]
        api_pid: u32,
        #[arg(long)]
        api_limit_mib: u64,
        #[arg(long)]
        worker_pid: u32,
        #[arg(long)]
        worker_limit_mib: u64,
    },
    /// The graph algorithms alone, in process, on a generated graph:
    /// building it, PageRank (default tolerance, then the tightest,
    /// up to 100 iterations) and sampled betweenness with components and degree.
    GraphCore {
        #[arg(long, default_value_t = 100_000)]
        nodes: u32,
        #[arg(long, default_value_t = 1_000_000)]
        edges: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// A stand-in OTLP/HTTP collector: accepts every `POST /v1/traces`
    /// (without decoding it) until killed, so tracing export can be measured
    /// without a real collector competing for the cores.
    OtlpSink {
        #[arg(long, default_value = "127.0.0.1:4318")]
        addr: String,
    },
}

/// `ARGUS_KEY_SEALING_KEYS`, as the auth-service reads it: the bench signs
/// with the current key, stored sealed.
pub(crate) fn sealer_from_environment() -> Result<argus_crypto::KeySealer, argus_crypto::CryptoError> {
    argus_crypto::KeySealer::from_setting(std::env::var("ARGUS_KEY_SEALING_KEYS").ok().as_deref())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Signing { database_url, seconds } => {
            let rate = signing_rate(&database_url, Duration::from_secs(seconds)).await?;
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            print_report(&json!({
                "signing_per_second_single_core": round(rate),
                "cores": cores,
                "signing_ceiling_per_second": round(rate * cores as f64),
            }))?;
        }
        Command::Webhooks { database_url, pepper, webhooks, rates, seconds } => {
            let report = webhook_load(&database_url, &pepper, webhooks, &rates, Duration::from_secs(seconds)).await?;
            print_report(&report)?;
        }
        Command::Graphql { api, read, seconds } => {
            let report = graphql_bench(&api, &read, seconds).await?;
            print_report(&report)?;
        }
        Command::TracingOverhead { off, store, on, read, rounds, phase_seconds, warmup_ms } => {
            let phases = Phases {
                rounds,
                seconds: Duration::from_secs(phase_seconds),
                warmup: Duration::from_millis(warmup_ms),
            };
            let report = tracing_overhead([&off, &store, &on], &read, phases).await?;
            print_report(&report)?;
        }
        Command::Jobs { target, nodes, edges, seed, edge_list, input } => {
            let input: serde_json::Value = serde_json::from_str(&input)?;
            let JobsTarget { api, database_url, issuer } = target;
            let report = jobs::bench(&api, &database_url, &issuer, nodes, edges, seed, &edge_list, input).await?;
            print_report(&report)?;
        }
        Command::JobsMemory {
            target: JobsTarget { api, database_url, issuer },
            count,
            max_body,
            api_pid,
            api_limit_mib,
            worker_pid,
            worker_limit_mib,
        } => {
            let measured = jobs::Measured { api_pid, api_limit_mib, worker_pid, worker_limit_mib };
            print_report(&jobs::memory(&api, &database_url, &issuer, count, max_body, &measured).await?)?;
        }
        Command::GraphCore { nodes, edges, seed } => {
            print_report(&graph_core::bench(nodes, edges, seed)?)?;
        }
        Command::OtlpSink { addr } => {
            // Reads each body, as a collector does: a request left unread
            // makes the server close the connection, and every export
            // would then pay for a new one.
            let accept = |_spans: actix_web::web::Bytes| async {
                actix_web::HttpResponse::Ok().content_type("application/x-protobuf").finish()
            };
            actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(actix_web::web::PayloadConfig::new(64 << 20))
                    .route("/v1/traces", actix_web::web::post().to(accept))
            })
            .workers(1)
            .bind(&addr)?
            .run()
            .await?;
        }
    }
    Ok(())
}

fn print_report(report: &serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(report)?);
    }
    Ok(())
}

/// Receipt times of deliveries, as (event created_at, received at) in ms.
type Receipts = Arc<std::sync::Mutex<Vec<(i64, i64)>>>;

async fn receiver() -> Result<(String, Receipts), Box<dyn std::error::Error>> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let receipts: Receipts = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let record = receipts.clone();
    let server = HttpServer::new(move || {
        let record = record.clone();
        App::new().default_service(web::to(move |body: web::Bytes| {
            let record = record.clone();
            async move {
                let now = chrono::Utc::now().timestamp_millis();
                let created = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["created_at"].as_str().and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()))
                    .map(|c| c.timestamp_millis());
                if let (Some(created), Ok(mut r)) = (created, record.lock()) {
                    r.push((created, now));
                }
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}/hook"), receipts))
}

async fn webhook_load(
    database_url: &str,
    pepper: &str,
    webhooks: usize,
    rates: &[u32],
    seconds: Duration,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    use argus_domain::{DomainEvent, EventKind};
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 16 })?;
    let tenant = store.create_tenant("webhook bench").await?.id;
    let (url, receipts) = receiver().await?;
    let sealer = argus_crypto::webhook::SecretBox::new(pepper.as_bytes());
    for _ in 0..webhooks {
        let secret = argus_crypto::webhook::generate_webhook_secret();
        store
            .create_webhook(
                &tenant,
                argus_store::webhooks::NewWebhook {
                    url: url.clone(),
                    events: vec!["incident.updated".into()],
                    description: "bench".into(),
                    secret_sealed: sealer.seal(secret.as_bytes()),
                },
                webhooks,
            )
            .await?;
    }
    let mut phases = Vec::new();
    for &rate in rates {
        let events_per_second = (f64::from(rate) / webhooks as f64).max(1.0);
        let interval = Duration::from_secs_f64(1.0 / events_per_second);
        let before = receipts.lock().map(|r| r.len()).unwrap_or(0);
        let start = Instant::now();
        let mut emitted = 0usize;
        let mut writes = tokio::task::JoinSet::new();
        while start.elapsed() < seconds {
            let due = start + interval.mul_f64(emitted as f64);
            tokio::time::sleep_until(due.into()).await;
            let (store, tenant) = (store.clone(), tenant.clone());
            writes.spawn(async move {
                let data = json!({"incident_id": "inc_bench"});
                store.emit_event(&DomainEvent::new(&tenant, EventKind::IncidentUpdated, data)).await
            });
            emitted += 1;
        }
        while let Some(r) = writes.join_next().await {
            r??;
        }
        let expected = before + emitted * webhooks;
        let deadline = Instant::now() + Duration::from_secs(60);
        while receipts.lock().map(|r| r.len()).unwrap_or(0) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let phase: Vec<(i64, i64)> = receipts.lock().map(|r| r[before..].to_vec()).unwrap_or_default();
        let mut latencies: Vec<i64> = phase.iter().map(|(c, r)| r - c).collect();
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        phases.push(json!({
            "target_deliveries_per_second": rate,
            "events": emitted,
            "expected_deliveries": emitted * webhooks,
            "received": phase.len(),
            "deliveries_per_second": round(phase.len() as f64 / elapsed),
            "latency_p50_ms": pct(0.50),
            "latency_p99_ms": pct(0.99),
        }));
    }
    Ok(
        json!({ "benchmark": "webhooks", "webhooks": webhooks, "seconds_per_phase": seconds.as_secs(), "phases": phases }),
    )
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Signatures per second on one thread, with the database's current key and
/// the same claims shape the token endpoint signs.
async fn signing_rate(database_url: &str, duration: Duration) -> Result<f64, Box<dyn std::error::Error>> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 1 })?;
    let key = store.current_signing_key(&sealer_from_environment()?).await?.ok_or("no current signing key")?;
    let tenant = TenantId::generate();
    let scopes: ScopeSet = ["webhooks:write"].into_iter().collect();
    let rate = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < duration {
            let grant = argus_crypto::TokenGrant {
                issuer: "http://127.0.0.1",
                audience: "api.knogin.com",
                tenant: &tenant,
                subject: "app_bench",
                client_id: "app_bench",
                scopes: &scopes,
                lifetime: chrono::Duration::hours(1),
            };
            let issued: Result<argus_crypto::IssuedToken, _> = argus_crypto::issue_access_token(&key, &grant);
            let _claims: Option<AccessClaims> = issued.ok().map(|t| t.claims);
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
    .await?;
    Ok(rate)
}

struct Load {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
    errors: u64,
}

/// Requests from `request` at `concurrency` for `duration`; a response
/// counts when `accept` says so.
/// `concurrency` clients sending `request` in a loop for `warmup` (not
/// counted) and then `duration`.
async fn request_load(
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

fn graphql_ok(status: reqwest::StatusCode, body: &[u8]) -> bool {
    status.is_success()
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v["errors"].is_null() && !v["data"].is_null())
}

/// Creates an incident through `api` and returns the body of a persisted
/// `IncidentById` read of it.
async fn incident_read_body(api: &str, read: &ReadArgs) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{api}/graphql"))
        .bearer_auth(&read.token)
        .header("X-Tenant-ID", &read.tenant)
        .json(&json!({
            "id": read.create_id,
            "variables": { "input": { "title": "Benchmark incident", "severity": "LOW", "location": "Bench" } }
        }))
        .send()
        .await?
        .json()
        .await?;
    let incident =
        created["data"]["createIncident"]["id"].as_str().ok_or(format!("create failed: {created}"))?.to_owned();
    Ok(serde_json::to_vec(&json!({ "id": read.read_id, "variables": { "id": incident } }))?)
}

/// The persisted read against `api`'s GraphQL endpoint.
fn persisted_read(
    api: &str,
    read: &ReadArgs,
    body: Vec<u8>,
) -> Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync> {
    let graphql = format!("{}/graphql", api.trim_end_matches('/'));
    let (token, tenant) = (read.token.clone(), read.tenant.clone());
    Arc::new(move |http| {
        http.post(&graphql)
            .bearer_auth(&token)
            .header("X-Tenant-ID", &tenant)
            .header("content-type", "application/json")
            .body(body.clone())
    })
}

async fn graphql_bench(
    api: &str,
    read: &ReadArgs,
    seconds: u64,
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
    let read =
        request_load(concurrency, Duration::ZERO, duration, persisted_read(&api, read, body), graphql_ok).await?;
    let ratio = if health.rate > 0.0 { read.rate / health.rate } else { 0.0 };
    Ok(json!({
        "benchmark": "graphql",
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
struct Phases {
    rounds: usize,
    seconds: Duration,
    warmup: Duration,
}

/// The persisted read's throughput against `[off, store, on]` in turn, the
/// order rotating each round (a drift over the run, or a phase's position
/// in its round, weighs on all alike), and the overheads between their
/// mean rates: the export's (`on` against `store`, the span store staying
/// at its default), the span store's (`store` against `off`), and both
/// together (`on` against `off`).
async fn tracing_overhead(
    services: [&str; 3],
    read: &ReadArgs,
    phases: Phases,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    // The services share the database, so one incident serves all.
    let body = incident_read_body(services[0].trim_end_matches('/'), read).await?;
    let requests = services.map(|base| persisted_read(base, read, body.clone()));
    let mut rates: [Vec<f64>; 3] = Default::default();
    let mut errors = 0;
    for rotation in 0..phases.rounds {
        for turn in 0..3 {
            let service = (rotation + turn) % 3;
            let request = requests[service].clone();
            let load = request_load(read.concurrency, phases.warmup, phases.seconds, request, graphql_ok).await?;
            errors += load.errors;
            rates[service].push(round(load.rate));
        }
    }
    let [off, store, on] = rates.each_ref().map(|rates| rates.iter().sum::<f64>() / rates.len().max(1) as f64);
    let overhead =
        |with: f64, without: f64| if without > 0.0 { ((1.0 - with / without) * 1000.0).round() / 1000.0 } else { 0.0 };
    let export_overhead = overhead(on, store);
    Ok(json!({
        "benchmark": "tracing_overhead",
        "concurrency": read.concurrency,
        "seconds_per_phase": phases.seconds.as_secs_f64(),
        "graphql_per_second": { "off": round(off), "span_store": round(store), "export_and_span_store": round(on) },
        "phases": { "off": rates[0], "span_store": rates[1], "export_and_span_store": rates[2] },
        "errors": errors,
        "export_overhead": export_overhead,
        "span_store_overhead": overhead(store, off),
        "export_and_span_store_overhead": overhead(on, off),
        "target_overhead": 0.10,
        "target_met": export_overhead < 0.10 && errors == 0,
    }))
}
