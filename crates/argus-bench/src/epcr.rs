//! `argus-bench epcr`: the FHIR export under load. One encounter with
//! `observations` vital-sign readings is stored, then
//! `GET /api/v1/epcr/encounters/{id}/fhir-bundle` is read at fixed
//! concurrency through a running api-service: bundles per second and
//! latency percentiles. Each read is a real one: the record is read and
//! its access-log entry written in one transaction, then exported.

use std::sync::Arc;
use std::time::Duration;

use argus_domain::Encounter;
use argus_store::{Store, StoreConfig, WriteStamp};
use chrono::Utc;
use serde_json::{Value, json};

use crate::graphql::request_load;
use crate::jobs::tenant_token;
use crate::round;

type Error = Box<dyn std::error::Error>;

/// The load: how many readings the record holds, how many clients read it
/// and for how long.
pub(crate) struct Load {
    pub(crate) observations: usize,
    pub(crate) concurrency: usize,
    pub(crate) seconds: u64,
}

/// A conveyed STEMI call with `observations` readings, every vital sign
/// in turn, a minute apart.
fn record(observations: usize) -> Result<Encounter, Error> {
    let signs = [
        ("heart_rate", 96.0),
        ("respiratory_rate", 18.0),
        ("oxygen_saturation", 97.0),
        ("body_temperature", 36.8),
        ("blood_pressure", 0.0),
        ("gcs", 15.0),
        ("blood_glucose", 99.0),
        ("pain_score", 6.0),
    ];
    let start = Utc::now() - chrono::Duration::hours(2);
    let at = |minutes: usize| (start + chrono::Duration::minutes(minutes as i64)).to_rfc3339();
    let vital_signs: Vec<Value> = (0..observations)
        .map(|i| match signs[i % signs.len()] {
            ("blood_pressure", _) => {
                json!({"type": "blood_pressure", "systolic": 150, "diastolic": 90, "at": at(i + 10)})
            }
            (sign, value) => json!({"type": sign, "value": value, "at": at(i + 10)}),
        })
        .collect();
    let body = json!({
        "patient": {
            "identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
            "name": {"given": ["Ada"], "family": "Lovelace"},
            "birth_date": "1956-03-14",
            "sex": "female"
        },
        "timeline": {"call_received": at(0), "on_scene": at(9), "at_hospital": at(observations + 20)},
        "vital_signs": vital_signs,
        "procedures": [{"procedure": "ecg_12_lead", "at": at(11)}],
        "medications": [{"medication": "aspirin", "dose": {"value": 300, "unit": "mg"}, "route": "oral", "at": at(12)}],
        "impressions": ["stemi"],
        "outcome": "conveyed",
        "destination": "Royal Infirmary, cath lab",
        "crew": [{"name": "Sam Medic", "role": "paramedic"}, {"name": "Alex Tech", "role": "emt"}]
    });
    Encounter::parse(body, Utc::now()).map_err(|e| format!("the benchmark's record is invalid: {e}").into())
}

pub(crate) async fn bench(api: &str, database_url: &str, issuer: &str, load: &Load) -> Result<Value, Error> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 2 })?;
    let (tenant, token) = tenant_token(&store, issuer, "bench-epcr", &["epcr:read"]).await?;
    let id = store.create_encounter(WriteStamp::Now, &tenant, record(load.observations)?, "argus-bench").await?.id;
    let url = format!("{api}/api/v1/epcr/encounters/{id}/fhir-bundle");

    let one = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&token)
        .header("X-Tenant-ID", tenant.as_str())
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let bundle: Value = serde_json::from_slice(&one)?;
    let entries = bundle["entry"].as_array().map_or(0, Vec::len);

    let tenant = tenant.to_string();
    let request =
        Arc::new(move |http: &reqwest::Client| http.get(&url).bearer_auth(&token).header("X-Tenant-ID", &tenant));
    let bundle_ok = |status: reqwest::StatusCode, body: &[u8]| {
        status == reqwest::StatusCode::OK && body.starts_with(br#"{"resourceType":"Bundle""#)
    };
    let measured =
        request_load(load.concurrency, Duration::from_secs(1), Duration::from_secs(load.seconds), request, bundle_ok)
            .await?;
    Ok(json!({
        "observations": load.observations,
        "bundle_entries": entries,
        "bundle_bytes": one.len(),
        "concurrency": load.concurrency,
        "seconds": load.seconds,
        "bundles_per_second": round(measured.rate),
        "p50_ms": round(measured.p50_ms),
        "p99_ms": round(measured.p99_ms),
        "ok": measured.ok,
        "errors": measured.errors,
    }))
}
