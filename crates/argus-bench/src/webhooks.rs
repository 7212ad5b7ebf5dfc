//! `just bench webhooks`: events emitted at set rates, delivered to a local
//! receiver, and the delivery latency and CPU per event of each phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_store::{Store, StoreConfig};
use serde_json::json;

use crate::round;

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

pub(crate) async fn webhook_load(
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
        let cpu_before = crate::cpu::CpuSample::now();
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
        let written_in = start.elapsed().as_secs_f64();
        let expected = before + emitted * webhooks;
        let deadline = Instant::now() + Duration::from_secs(60);
        while receipts.lock().map(|r| r.len()).unwrap_or(0) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu_ms_per_event = crate::cpu::CpuSample::now().ms_per_event_since(&cpu_before, emitted);
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
            "events_per_second": round(emitted as f64 / written_in),
            "cpu_ms_per_event": cpu_ms_per_event,
        }));
    }
    Ok(
        json!({ "benchmark": "webhooks", "webhooks": webhooks, "seconds_per_phase": seconds.as_secs(), "phases": phases }),
    )
}
