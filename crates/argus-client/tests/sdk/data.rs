//! The api-service's REST resources through the SDK: devices, ePCR,
//! evidence provenance verified offline, discovery, and traces joined
//! through `traceparent`.

use argus_client::provenance::{Algorithm, EarlierHead, Tampering, verify_offline};
use argus_client::{
    ArgusClient, Coding, Concept, DeviceFilter, Error, NewDevice, NewObservation, Operation, Quantity, Surface,
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use crate::stack::{PEPPER, Stack, TestClient, op};

fn device(serial: &str) -> NewDevice {
    NewDevice {
        serial_number: serial.into(),
        manufacturer: "Nonin Medical".into(),
        model: "Onyx Vantage 9590".into(),
        device_type: Coding { system: "urn:iso:std:iso:11073:10101".into(), code: "528388".into(), display: None },
    }
}

#[tokio::test]
async fn devices_and_their_observations() {
    let stack = Stack::start().await;
    let app = stack.client(None, &["devices:write"]).await;
    let sdk = crate::app_client(&stack, &app);
    let mut enrolled = Vec::new();
    for n in 0..3 {
        enrolled.push(sdk.enrol_device(&device(&format!("PO-{n}"))).await.unwrap());
    }
    let listed: Vec<_> =
        sdk.list_devices(&DeviceFilter { page_size: Some(2), ..Default::default() }).try_collect().await.unwrap();
    assert_eq!(listed, enrolled);
    let one = DeviceFilter { serial_number: Some("PO-1".into()), ..Default::default() };
    assert_eq!(sdk.list_devices(&one).try_collect::<Vec<_>>().await.unwrap(), [enrolled[1].clone()]);
    let error = sdk.enrol_device(&device("PO-1")).await.unwrap_err();
    assert_eq!(error.status(), Some(409), "{error}");

    let observation = NewObservation {
        code: Concept {
            coding: vec![Coding { system: "urn:iso:std:iso:11073:10101".into(), code: "150456".into(), display: None }],
        },
        value_quantity: Some(Quantity {
            value: 97.0,
            unit: "%".into(),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("%".into()),
        }),
        component: None,
        effective_date_time: chrono::Utc::now(),
        encounter_id: None,
    };
    let stored = sdk.submit_observation(&enrolled[0].id, &observation).await.unwrap();
    assert_eq!(
        (stored.device_id.as_str(), stored.value_quantity.map(|q| q.value)),
        (enrolled[0].id.as_str(), Some(97.0))
    );
    let bad = NewObservation {
        value_quantity: Some(Quantity { value: 97.0, unit: "kg".into(), system: None, code: None }),
        ..observation
    };
    let error = sdk.submit_observation(&enrolled[0].id, &bad).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.problem().unwrap().extensions.contains_key("invalid-params"), "{error:?}");
}

#[tokio::test]
async fn epcr_encounters_and_their_fhir_bundles() {
    let stack = Stack::start().await;
    let app = stack.client(None, &["epcr:write", "epcr:read"]).await;
    let sdk = crate::app_client(&stack, &app);
    // The API reference's example record.
    let record = json!({
        "patient": {
            "identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "4010232137"}],
            "name": {"given": ["Mary", "Jane"], "family": "Seacole"},
            "birth_date": "1948-11-23",
            "sex": "female"
        },
        "timeline": {
            "call_received": "2026-05-01T10:00:00Z",
            "on_scene": "2026-05-01T10:09:00Z"
        },
        "vital_signs": [{"type": "heart_rate", "value": 96, "unit": "/min", "at": "2026-05-01T10:10:00Z"}],
        "impressions": ["stemi"],
        "outcome": "conveyed",
        "destination": "Royal Infirmary",
        "crew": [{"name": "Sam Medic", "role": "paramedic", "registration": "PA123456"}]
    });
    let created = sdk.create_encounter::<Value>(&record).await.unwrap();
    assert!(created.id.starts_with("enc_"));
    assert_eq!(created.record["patient"]["name"]["family"], "Seacole");
    let read = sdk.encounter::<Value>(&created.id).await.unwrap();
    assert_eq!(read, created);
    let bundle = sdk.encounter_fhir_bundle(&created.id).await.unwrap();
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("document")));
    let error = sdk.create_encounter::<Value>(&json!({ "patient": 1 })).await.unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
}

/// An app of `scopes` (with `evidence:write` and `incidents:write`) and a
/// sealed evidence item of its tenant, whose tree heads are signed with
/// `algorithm`: the app's SDK client and the item's id.
async fn sealed_evidence(stack: &Stack, algorithm: Algorithm, scopes: &[&str]) -> (ArgusClient, TestClient, String) {
    let ops = stack.load_shipped_bundle("evidence-custody").await;
    let incidents = stack.load_shipped_bundle("incident-webhook-configuration").await;
    let scopes: Vec<&str> = ["evidence:write", "incidents:write"].iter().chain(scopes).copied().collect();
    let app = stack.client(None, &scopes).await;
    stack.grant(&app, "evidence-custody").await;
    stack.grant(&app, "incident-webhook-configuration").await;
    let sealer = argus_crypto::provenance::ProvenanceSealer::new(PEPPER.as_bytes());
    stack.store.set_provenance_algorithm(&app.tenant, algorithm, &sealer).await.unwrap();
    let sdk = crate::app_client(stack, &app);

    let create = format!("sha256:{}", op(&incidents, "CreateIncident").sha256);
    let incident = json!({ "input": { "title": "Break-in at the depot", "severity": "HIGH" } });
    let incident: Value = sdk.graphql(Operation::Id(&create), None, &incident).await.unwrap();
    let input = json!({ "input": {
        "incidentId": incident["createIncident"]["id"],
        "name": "bodycam-0042.mp4",
        "mediaType": "video/mp4",
        "sizeBytes": 5_000_000,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    }});
    let id_of = |name: &str| format!("sha256:{}", op(&ops, name).sha256);
    let created: Value = sdk.graphql(Operation::Id(&id_of("CreateEvidence")), None, &input).await.unwrap();
    let evidence = created["createEvidence"]["id"].as_str().unwrap().to_owned();
    let seal = json!({ "id": evidence, "input": { "operation": "SEAL" } });
    let _: Value = sdk.graphql(Operation::Id(&id_of("RecordEvidenceOperation")), None, &seal).await.unwrap();
    (sdk, app, evidence)
}

#[tokio::test]
async fn evidence_provenance_verifies_offline_with_the_published_keys() {
    let stack = Stack::start().await;
    let (sdk, app, evidence) = sealed_evidence(&stack, Algorithm::MlDsa65, &[]).await;
    let saved = sdk.evidence_provenance(&evidence).await.unwrap();
    assert_eq!(saved.evidence.id, evidence);
    assert!(saved.transcript.entries.len() >= 2);
    let keys = sdk.provenance_keys(Algorithm::MlDsa65, app.tenant.as_str()).await.unwrap();
    assert!(!keys.keys.is_empty());
    let verification = verify_offline(&saved.transcript, None, &keys);
    assert!(verification.valid, "{verification:?}");

    // A changed entry is found, offline.
    let mut tampered = saved.transcript.clone();
    tampered.entries[0].entry.actor = "someone else".into();
    assert!(!verify_offline(&tampered, None, &keys).valid);
    // HMAC keys are never published.
    let error = sdk.provenance_keys(Algorithm::HmacSha256, app.tenant.as_str()).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
}

#[tokio::test]
async fn the_server_verifies_a_transcript_and_names_what_was_tampered() {
    let stack = Stack::start().await;
    let (sdk, app, evidence) =
        sealed_evidence(&stack, Algorithm::HmacSha256, &["evidence:read", "evidence:verify"]).await;

    // The stored transcript (no body), and one the caller kept.
    let stored = sdk.verify_evidence_provenance(&evidence, None, None).await.unwrap();
    assert!(stored.valid, "{stored:?}");
    assert!(stored.checks.iter().any(|c| c.name == "signatures" && c.passed), "{stored:?}");
    let saved = sdk.evidence_provenance(&evidence).await.unwrap();
    let head = saved.transcript.tree_head.clone().unwrap();
    let kept = sdk.verify_evidence_provenance(&evidence, Some(&saved.transcript), None).await.unwrap();
    assert!(kept.valid, "{kept:?}");
    assert_eq!((kept.tree_size, kept.root_hash.as_str()), (head.tree_size, head.root_hash.as_str()));

    // The transcript extends a head held earlier; a made-up head is a
    // broken consistency.
    let earlier = EarlierHead { tree_size: 1, root_hash: saved.transcript.entries[0].tree_head.root_hash.clone() };
    let extends = sdk.verify_evidence_provenance(&evidence, Some(&saved.transcript), Some(&earlier)).await.unwrap();
    assert!(extends.valid, "{extends:?}");
    let forged = EarlierHead { tree_size: 1, root_hash: "00".repeat(32) };
    let broken = sdk.verify_evidence_provenance(&evidence, None, Some(&forged)).await.unwrap();
    assert!(!broken.valid);
    assert!(broken.failures.iter().any(|f| f.kind == Tampering::BrokenConsistency), "{broken:?}");

    // A changed entry is named, with its sequence: an answer, not an error.
    let mut tampered = saved.transcript.clone();
    tampered.entries[0].entry.actor = "someone else".into();
    let found = sdk.verify_evidence_provenance(&evidence, Some(&tampered), None).await.unwrap();
    assert!(!found.valid);
    let changed = found.failures.iter().find(|f| f.kind == Tampering::ChangedEntry).expect("the changed entry");
    assert_eq!(changed.sequence, Some(tampered.entries[0].entry.sequence));

    // No such item, and a caller of the tenant without `evidence:verify`.
    let error = sdk.verify_evidence_provenance("evd_01J00000000000000000000000", None, None).await.unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
    let reader = stack.client(Some(&app.tenant), &["evidence:read"]).await;
    let error = crate::app_client(&stack, &reader).verify_evidence_provenance(&evidence, None, None).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    assert!(
        error.problem().and_then(|p| p.detail.as_deref()).is_some_and(|d| d.contains("evidence:verify")),
        "{error}"
    );
}

#[tokio::test]
async fn discovery_lists_what_the_scopes_read() {
    let stack = Stack::start().await;
    let app = stack.client(None, &["jobs:read", "schemas:read"]).await;
    let sdk = crate::app_client(&stack, &app);
    let schemas = sdk.data_schemas().await.unwrap();
    let job = schemas.iter().find(|s| s.name == "JobView").expect("jobs:read reads JobView");
    assert_eq!((job.surface, job.scope.as_str()), (Surface::Rest, "jobs:read"));
    assert!(schemas.iter().all(|s| s.scope == "jobs:read"), "{schemas:?}");
    let schema = sdk.data_schema("JobView").await.unwrap();
    assert_eq!(
        (schema.dialect.as_str(), schema.id.as_str(), schema.title.as_str()),
        ("https://json-schema.org/draft/2020-12/schema", job.url.as_str(), "JobView")
    );
    assert_eq!(schema.schema["type"], "object");
    assert!(schema.schema["properties"].get("status").is_some(), "{schema:?}");
    assert!(matches!(sdk.data_schema("Incident").await, Err(Error::Api { status: 404, .. })));

    let catalog = sdk.api_catalog().await.unwrap();
    let anchors: Vec<&str> = catalog.linkset.iter().map(|e| e.anchor.as_str()).collect();
    assert_eq!(anchors.len(), 2, "{catalog:?}");
    for entry in &catalog.linkset {
        let media: Vec<&str> = entry.service_desc.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(media, ["application/openapi+json", "application/openapi+yaml"], "{entry:?}");
        assert_eq!(entry.status[0].href, format!("{}v1/status", entry.anchor));
        assert!(!entry.service_doc.is_empty() && !entry.service_meta.is_empty(), "{entry:?}");
    }
    let auth = &catalog.linkset[1];
    assert!(auth.service_meta.iter().any(|l| l.href.ends_with("/.well-known/oauth-authorization-server")), "{auth:?}");
}

#[tokio::test]
async fn a_call_made_in_a_span_is_found_under_its_trace() {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    let stack = Stack::start_with_span_store("api-service").await;
    let app = stack.client(None, &["jobs:read", "traces:read"]).await;
    let sdk = crate::app_client(&stack, &app);
    // The process's telemetry (the services') traces only the services'
    // crates' spans: the caller's span is given one of their targets.
    let span = tracing::info_span!(target: "api_service::integrator", "integrator.sync");
    let trace_id = span.context().span().span_context().trace_id().to_string();
    sdk.list_jobs(Default::default()).try_collect::<Vec<_>>().instrument(span).await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let trace = loop {
        match sdk.trace(&trace_id).await {
            Ok(trace) => break trace,
            Err(e) if std::time::Instant::now() < deadline && e.status() == Some(404) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(trace.trace_id, trace_id);
    assert!(trace.spans.iter().any(|s| s.service == "api-service"), "{trace:?}");
    assert!(matches!(sdk.trace("not-a-trace").await, Err(Error::Api { status: 400, .. })));
}
