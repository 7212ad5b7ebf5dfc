//! `argus-bench provenance`: an evidence transcript of `entries` entries
//! built one append at a time through the store (each append: the item
//! locked, the entry hashed into the tree's stored frontier, the tree head
//! signed with the tenant's current key, in one transaction), then the
//! whole transcript verified: server-side (against the stored leaves) and
//! offline (against its own numbering, with the keys as a JWK set). Once
//! for each signing algorithm.

use std::time::Instant;

use argus_crypto::provenance::ProvenanceSealer;
use argus_domain::Severity;
use argus_domain::evidence::{EvidenceOperation, NewEvidence, RecordOperation};
use argus_provenance::merkle::Hash;
use argus_provenance::{Algorithm, Jwk, JwkSet, Transcript, verify};
use argus_store::domain::{EntryRecord, EvidenceActor, NewIncident};
use argus_store::{Store, StoreConfig, WriteStamp};
use serde_json::{Value, json};

use crate::round;

type Error = Box<dyn std::error::Error>;

pub(crate) async fn bench(database_url: &str, pepper: &str, entries: usize) -> Result<Value, Error> {
    let store = Store::connect(&StoreConfig { database_url: database_url.to_owned(), max_connections: 2 })?;
    let sealer = ProvenanceSealer::new(pepper.as_bytes());
    let mut report = serde_json::Map::new();
    report.insert("entries".into(), json!(entries));
    for algorithm in Algorithm::ALL {
        report.insert(algorithm.as_str().into(), transcript(&store, &sealer, algorithm, entries).await?);
    }
    Ok(Value::Object(report))
}

async fn transcript(store: &Store, sealer: &ProvenanceSealer, algorithm: Algorithm, n: usize) -> Result<Value, Error> {
    let tenant = store.create_tenant(&format!("bench-provenance-{algorithm}")).await?.id;
    store.set_provenance_algorithm(&tenant, algorithm, sealer).await?;
    let incident = NewIncident {
        title: "Benchmark".into(),
        description: String::new(),
        severity: Severity::Low,
        location: None,
        occurred_at: None,
        reporter: "argus-bench".into(),
    };
    let incident = store.create_incident(WriteStamp::Now, &tenant, incident).await?.id;
    let actor = EvidenceActor { subject: "usr_bench", client_id: "app_bench" };
    let new = NewEvidence {
        incident_id: Some(incident),
        case_id: None,
        name: "bodycam.mp4".into(),
        media_type: "video/mp4".into(),
        size_bytes: 1 << 30,
        sha256: "ab".repeat(32),
    };
    let id = store.create_evidence(WriteStamp::Now, &tenant, new, actor, sealer).await?.id;

    // Appends alternate ANNOTATE and VIEW, one at a time (each locks the
    // item), until the transcript holds `n` entries (CREATE is the first).
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for i in 1..n {
        let operation = if i % 2 == 0 { EvidenceOperation::View } else { EvidenceOperation::Annotate };
        let record = RecordOperation { operation, details: Some(format!("step {i}")), custodian: None };
        let one = Instant::now();
        store
            .record_evidence_operation(WriteStamp::Now, &tenant, &id, record, actor, sealer)
            .await?
            .ok_or("the item vanished")?;
        latencies.push(one.elapsed().as_secs_f64() * 1000.0);
    }
    let appending = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0.0);

    let read = Instant::now();
    let (_, entries) = store.evidence_transcript(&tenant, &id).await?.ok_or("no transcript")?;
    let read_ms = read.elapsed().as_secs_f64() * 1000.0;
    let rows = entries
        .iter()
        .map(|e| Ok((e.entry(), e.leaf()?, e.tree_head())))
        .collect::<Result<Vec<_>, argus_store::StoreError>>()?;
    let stored: Vec<Hash> = entries.iter().map(EntryRecord::leaf).collect::<Result<_, _>>()?;
    let build = Instant::now();
    let document = Transcript::of(id.clone(), rows);
    let build_ms = build.elapsed().as_secs_f64() * 1000.0;

    let keys = JwkSet {
        keys: store
            .stored_provenance_keys(&tenant)
            .await?
            .into_iter()
            .map(|k| match &k.public_key {
                Some(public) => Ok(Jwk::ml_dsa_65(&k.id, public)),
                None => Ok(Jwk::hmac_sha256(&k.id, &sealer.open_secret(&k.id, &k.sealed_key)?)),
            })
            .collect::<Result<_, argus_crypto::CryptoError>>()?,
    };
    let server = Instant::now();
    let checked = verify::verify(&id, &document, Some(&stored), None, |kid| keys.find(kid));
    let server_ms = server.elapsed().as_secs_f64() * 1000.0;
    let offline = Instant::now();
    let offline_checked = verify::verify_offline(&document, None, &keys);
    let offline_ms = offline.elapsed().as_secs_f64() * 1000.0;
    if !checked.valid || !offline_checked.valid || document.entries.len() != n {
        return Err(format!("the benchmark's transcript did not verify: {:?}", checked.failures.first()).into());
    }
    Ok(json!({
        "appends_per_second": round((n - 1) as f64 / appending),
        "append_p50_ms": round(percentile(0.5)),
        "append_p99_ms": round(percentile(0.99)),
        "read_transcript_ms": round(read_ms),
        "build_document_ms": round(build_ms),
        "verify_server_ms": round(server_ms),
        "verify_offline_ms": round(offline_ms),
        "document_bytes": serde_json::to_vec(&document)?.len(),
    }))
}
