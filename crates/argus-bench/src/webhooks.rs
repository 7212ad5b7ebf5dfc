//! `just bench webhooks`: events emitted at set rates, delivered to a local
//! receiver, and the delivery latency and CPU per event of each phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_domain::{DomainEvent, EventKind};
use argus_store::{Store, StoreConfig};
use argus_types::TenantId;
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

/// How many webhooks, and the phases: a target rate of deliveries each.
pub(crate) struct Phases {
    pub webhooks: usize,
    pub rates: Vec<u32>,
    pub seconds: Duration,
}

/// Where the events come from.
pub(crate) enum EventSource {
    /// `Store::emit_event` in this process: the delivery path alone.
    InProcess,
    /// GraphQL `UpdateIncident` mutations through an api-service.
    Mutations(Mutations),
}

/// An api-service, a token of a tenant allowed the incident bundle, and
/// the bundle's approved documents.
pub(crate) struct Mutations {
    pub api: String,
    pub token: String,
    pub tenant: String,
    pub create_id: String,
    pub update_id: String,
}

/// Incidents the GraphQL phase updates in turn.
const INCIDENTS: usize = 64;

/// Makes one event: a write in process, or an update of an incident.
#[derive(Clone)]
enum Writer {
    InProcess(Store, TenantId),
    Graphql {
        http: reqwest::Client,
        url: String,
        token: String,
        tenant: String,
        incidents: Arc<Vec<String>>,
        body: Arc<serde_json::Value>,
    },
}

impl Writer {
    async fn event(self, n: usize) -> Result<(), String> {
        match self {
            Self::InProcess(store, tenant) => {
                let data = json!({"incident_id": "inc_bench"});
                let event = DomainEvent::new(&tenant, EventKind::IncidentUpdated, data);
                store.emit_event(&event).await.map_err(|e| e.to_string())
            }
            Self::Graphql { http, url, token, tenant, incidents, body } => {
                let mut body = (*body).clone();
                body["variables"]["id"] = json!(incidents[n % incidents.len()]);
                body["variables"]["input"]["title"] = json!(format!("Benchmark update {n}"));
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("X-Tenant-ID", &tenant)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status();
                let answer = response.bytes().await.map_err(|e| e.to_string())?;
                if crate::graphql::graphql_ok(status, &answer) {
                    Ok(())
                } else {
                    Err(format!("updateIncident: {status} {}", String::from_utf8_lossy(&answer)))
                }
            }
        }
    }
}

/// The tenant the webhooks belong to and the writer of its events.
async fn writer(store: &Store, source: EventSource) -> Result<(TenantId, Writer), Box<dyn std::error::Error>> {
    let Mutations { api, token, tenant, create_id, update_id } = match source {
        EventSource::InProcess => {
            let tenant = store.create_tenant("webhook bench").await?.id;
            return Ok((tenant.clone(), Writer::InProcess(store.clone(), tenant)));
        }
        EventSource::Mutations(m) => m,
    };
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", api.trim_end_matches('/'));
    // Updates go round a set of incidents: one incident updated by every
    // request measures its row lock, not the path.
    let mut incidents = Vec::with_capacity(INCIDENTS);
    for n in 0..INCIDENTS {
        let caller = (token.as_str(), tenant.as_str());
        incidents.push(
            crate::graphql::create_incident(&http, &api, caller, &create_id, &format!("Benchmark incident {n}"))
                .await?,
        );
    }
    let body = Arc::new(json!({ "id": update_id, "variables": { "input": {} } }));
    let incidents = Arc::new(incidents);
    Ok((tenant.parse()?, Writer::Graphql { http, url, token, tenant, incidents, body }))
}

pub(crate) async fn webhook_load(
    database_url: &str,
    pepper: &str,
    phases_of: &Phases,
    source: EventSource,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let Phases { webhooks, ref rates, seconds } = *phases_of;
    let via = match source {
        EventSource::InProcess => "in-process writes",
        EventSource::Mutations(_) => "GraphQL updateIncident",
    };
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 16 })?;
    let (tenant, write) = writer(&store, source).await?;
    let (url, receipts) = receiver().await?;
    let sealer = argus_crypto::webhook::SecretBox::new(pepper.as_bytes());
    for _ in 0..webhooks {
        let secret = argus_crypto::webhook::generate_webhook_secret();
        store
            .create_webhook(
                argus_store::WriteStamp::Now,
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
        let postgres_before = crate::cpu::PostgresSample::now(&store).await;
        let cpu_before = crate::cpu::CpuSample::now();
        let start = Instant::now();
        let mut emitted = 0usize;
        let mut writes = tokio::task::JoinSet::new();
        while start.elapsed() < seconds {
            let due = start + interval.mul_f64(emitted as f64);
            tokio::time::sleep_until(due.into()).await;
            writes.spawn(write.clone().event(emitted));
            emitted += 1;
        }
        // A write the source refuses (an api-service over its capacity
        // answers "retry later") is counted, not fatal: how many it refuses
        // at a rate is part of the result.
        let mut refused = Vec::new();
        while let Some(r) = writes.join_next().await {
            if let Err(e) = r? {
                refused.push(e);
            }
        }
        let written = emitted - refused.len();
        let written_in = start.elapsed().as_secs_f64();
        let expected = before + written * webhooks;
        let deadline = Instant::now() + Duration::from_secs(60);
        while receipts.lock().map(|r| r.len()).unwrap_or(0) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu_ms_per_event = crate::cpu::CpuSample::now().ms_per_event_since(&cpu_before, written);
        let postgres_per_event =
            crate::cpu::PostgresSample::now(&store).await.per_event_since(&postgres_before, written);
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
            "events": written,
            "events_refused": refused.len(),
            "first_refusal": refused.first(),
            "expected_deliveries": written * webhooks,
            "received": phase.len(),
            "deliveries_per_second": round(phase.len() as f64 / elapsed),
            "latency_p50_ms": pct(0.50),
            "latency_p99_ms": pct(0.99),
            "events_per_second": round(written as f64 / written_in),
            "cpu_ms_per_event": cpu_ms_per_event,
            "postgres_per_event_by_process": postgres_per_event,
        }));
    }
    Ok(
        json!({ "benchmark": "webhooks", "events_by": via, "webhooks": webhooks, "seconds_per_phase": seconds.as_secs(), "phases": phases }),
    )
}
