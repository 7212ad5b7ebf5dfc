//! `argus-bench`: the load generator behind `just bench`. Each subcommand
//! measures one issue's target and prints the figures the issue asks for,
//! as JSON on stdout.

mod cpu;
mod epcr;
mod graph_core;
mod graphql;
mod jobs;
mod provenance;
mod webhooks;

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

/// The api-service the job and ePCR benchmarks load, and how to mint its
/// tokens.
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
        /// Make each event with a GraphQL `UpdateIncident` through this
        /// api-service (the real event source), as `--token` in `--tenant`,
        /// instead of writing it in process.
        #[arg(long, requires_all = ["token", "tenant", "create_id", "update_id"])]
        graphql_api: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        /// `sha256:…` of the approved `CreateIncident` document.
        #[arg(long)]
        create_id: Option<String>,
        /// `sha256:…` of the approved `UpdateIncident` document.
        #[arg(long)]
        update_id: Option<String>,
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
        /// Sends every read with a new sampled `traceparent` (`-01`)
        /// instead of none.
        #[arg(long)]
        every_read_sampled: bool,
    },
    /// Tracing's cost to the persisted read: three api-services over one
    /// database (no tracing destination; the span store only, as deployed
    /// without a collector; OTLP export and the span store), each under a
    /// load sending no `traceparent` (the default sampling) and one sampling
    /// every read, loaded in turn in short phases whose order rotates from
    /// round to round, so all six see the same machine from second to
    /// second.
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
    /// The FHIR export of one encounter with `observations` vital signs,
    /// read at fixed concurrency through a running api-service
    /// (`GET /api/v1/epcr/encounters/{id}/fhir-bundle`): bundles per
    /// second, p50 and p99.
    Epcr {
        #[command(flatten)]
        target: JobsTarget,
        #[arg(long, default_value_t = 50)]
        observations: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// An evidence transcript of `entries` entries appended one at a time
    /// through the store, then verified whole (server-side and offline),
    /// for each signing algorithm: appends per second and verify times.
    Provenance {
        #[arg(long, env = "ARGUS_DATABASE_URL")]
        database_url: String,
        #[arg(long, env = "ARGUS_SECRET_PEPPER", default_value = argus_crypto::DEV_PEPPER)]
        pepper: String,
        #[arg(long, default_value_t = 10_000)]
        entries: usize,
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
        Command::Webhooks {
            database_url,
            pepper,
            webhooks,
            rates,
            seconds,
            graphql_api,
            token,
            tenant,
            create_id,
            update_id,
        } => {
            let source = match (graphql_api, token, tenant, create_id, update_id) {
                (Some(api), Some(token), Some(tenant), Some(create_id), Some(update_id)) => {
                    webhooks::EventSource::Mutations(webhooks::Mutations { api, token, tenant, create_id, update_id })
                }
                _ => webhooks::EventSource::InProcess,
            };
            let phases = webhooks::Phases { webhooks, rates, seconds: Duration::from_secs(seconds) };
            let report = webhooks::webhook_load(&database_url, &pepper, &phases, source).await?;
            print_report(&report)?;
        }
        Command::Graphql { api, read, seconds, every_read_sampled } => {
            let sampling = if every_read_sampled { graphql::Sampling::EveryRead } else { graphql::Sampling::Default };
            let report = graphql::graphql_bench(&api, &read, seconds, sampling).await?;
            print_report(&report)?;
        }
        Command::TracingOverhead { off, store, on, read, rounds, phase_seconds, warmup_ms } => {
            let phases = graphql::Phases {
                rounds,
                seconds: Duration::from_secs(phase_seconds),
                warmup: Duration::from_millis(warmup_ms),
            };
            let report = graphql::tracing_overhead([&off, &store, &on], &read, phases).await?;
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
        Command::Epcr { target: JobsTarget { api, database_url, issuer }, observations, concurrency, seconds } => {
            let load = epcr::Load { observations, concurrency, seconds };
            print_report(&epcr::bench(&api, &database_url, &issuer, &load).await?)?;
        }
        Command::Provenance { database_url, pepper, entries } => {
            print_report(&provenance::bench(&database_url, &pepper, entries).await?)?;
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

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Signatures per second on one thread, with the database's current key and
/// the same claims shape the token endpoint signs.
async fn signing_rate(database_url: &str, duration: Duration) -> Result<f64, Box<dyn std::error::Error>> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 1 })?;
    let key = store
        .current_signing_key(&sealer_from_environment()?, argus_types::Environment::Live)
        .await?
        .ok_or("no current signing key")?;
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
