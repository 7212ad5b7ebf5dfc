//! `argus-bench`: the load generator behind `just bench`. Each subcommand
//! measures one issue's target and prints the figures the issue asks for,
//! as JSON on stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argus_store::keys::KeyState;
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

#[derive(Subcommand)]
enum Command {
    /// client_credentials token issuance at fixed concurrency, beside the
    /// in-process RS256 signing rate of the same key.
    Tokens {
        /// auth-service base URL.
        #[arg(long)]
        auth: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        client_secret: String,
        #[arg(long, env = "ARGUS_DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds of HTTP load.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Seconds of single-core signing.
        #[arg(long, default_value_t = 5)]
        signing_seconds: u64,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Tokens { auth, client_id, client_secret, database_url, concurrency, seconds, signing_seconds } => {
            let signing = signing_rate(&database_url, Duration::from_secs(signing_seconds)).await?;
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            let load = token_load(&auth, &client_id, &client_secret, concurrency, Duration::from_secs(seconds)).await?;
            let ceiling = signing * cores as f64;
            let report = json!({
                "benchmark": "tokens",
                "cores": cores,
                "signing_per_second_single_core": round(signing),
                "signing_ceiling_per_second": round(ceiling),
                "concurrency": concurrency,
                "seconds": seconds,
                "tokens_per_second": round(load.rate),
                "ratio_to_ceiling": round(load.rate / ceiling * 100.0) / 100.0,
                "p50_ms": round(load.p50_ms),
                "p99_ms": round(load.p99_ms),
                "ok": load.ok,
                "errors": load.errors,
            });
            #[allow(clippy::print_stdout)]
            {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
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
    let record = store
        .live_signing_keys()
        .await?
        .into_iter()
        .find(|k| k.state == KeyState::Current)
        .ok_or("no current signing key")?;
    let key = argus_crypto::SigningKey::from_pkcs8_pem(&record.kid, &record.private_key_pem)?;
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

async fn token_load(
    auth: &str,
    client_id: &str,
    client_secret: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Load, Box<dyn std::error::Error>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let url = format!("{}/v1/oauth/token", auth.trim_end_matches('/'));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (http, url, errors) = (http.clone(), url.clone(), errors.clone());
        let (id, secret) = (client_id.to_owned(), client_secret.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
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
