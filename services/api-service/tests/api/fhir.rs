//! `GET /api/v1/epcr/encounters/{encounterId}/fhir-bundle`: a stored
//! record exported as a FHIR R4 document, checked by an independent
//! validator (the official R4 JSON schema through npm, and the document
//! rules, in scripts/fhir-validate.sh) and for the codes the issue names,
//! as is the route's OpenAPI example;
//! device observations linked to the record come with their Device; the
//! read is access-logged; unknown ids, other tenants and missing scopes
//! get nothing.

use argus_domain::Encounter;
use argus_domain::epcr::devices::{MDC_SYSTEM, NewDevice, PhdObservation};
use argus_domain::epcr::testing::full_record_body;
use argus_store::WriteStamp;
use argus_types::{EncounterId, TenantId};
use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::Stack;

const ROUTE: &str = "GET /api/v1/epcr/encounters/{encounterId}/fhir-bundle";

async fn create(stack: &Stack, tenant: &TenantId, body: Value) -> EncounterId {
    let record = Encounter::parse(body, Utc::now()).unwrap();
    stack.store.create_encounter(WriteStamp::Now, tenant, record, "test").await.unwrap().id
}

fn url(stack: &Stack, id: &str) -> String {
    format!("{}/api/v1/epcr/encounters/{id}/fhir-bundle", stack.api)
}

/// Runs the independent validator on `bundles`: its exit status and output.
fn validate(bundles: &[(&str, &Value)]) -> (bool, String) {
    let (status, text) = crate::helpers::run_checker("fhir-validate.sh", &[], bundles);
    (status == Some(0), text)
}

fn codes(concept: &Value) -> Vec<&str> {
    concept["coding"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_encounter_exports_as_a_valid_fhir_r4_document_and_the_read_is_logged() {
    let stack = Stack::start().await;
    let tenant = stack.store.create_tenant("fhir").await.unwrap().id;
    let token = stack.mint(&tenant, "app_fhir", "api.knogin.com", &["epcr:read"]).await;
    let enrol = |serial: &str, device_type: &str| {
        let body = json!({"serial_number": serial, "manufacturer": "Omron", "model": "M7",
                          "type": {"system": MDC_SYSTEM, "code": device_type}});
        stack.store.enrol_device(WriteStamp::Now, &tenant, NewDevice::parse(body).unwrap(), "test")
    };
    let monitor = enrol("BP-7", "528391").await.unwrap().id;
    let oximeter = enrol("PO-7", "528388").await.unwrap().id;
    let mut body = full_record_body();
    body["devices"] = json!([monitor, oximeter]);
    let id = create(&stack, &tenant, body).await;
    let component = |code: &str, value: f64| json!({"code": {"coding": [{"system": MDC_SYSTEM, "code": code}]}, "value_quantity": {"value": value, "unit": "mm[Hg]"}});
    let nibp = json!({
        "code": {"coding": [{"system": MDC_SYSTEM, "code": "150020"}]},
        "component": [component("150021", 148.0), component("150022", 88.0), component("150023", 108.0)],
        "effective_date_time": "2026-05-01T10:20:00Z",
        "encounter_id": id,
    });
    let observation = PhdObservation::parse(nibp, Utc::now()).unwrap();
    stack.store.submit_observation(WriteStamp::Now, &tenant, &monitor, observation).await.unwrap().unwrap();
    let minimal = create(
        &stack,
        &tenant,
        json!({
            "patient": {"sex": "unknown"},
            "timeline": {"call_received": "2026-05-02T08:00:00Z"},
            "crew": [{"name": "Sam Medic", "role": "paramedic"}]
        }),
    )
    .await;
    let get = |id: &EncounterId| {
        stack.http.get(url(&stack, id.as_str())).bearer_auth(&token).header("X-Tenant-ID", tenant.as_str()).send()
    };

    let response = get(&id).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let bundle: Value = response.json().await.unwrap();
    let small: Value = get(&minimal).await.unwrap().json().await.unwrap();

    // The OpenAPI entry's example is a valid document too, as pasted.
    let doc: Value =
        reqwest::get(format!("{}/.well-known/openapi.json", stack.api)).await.unwrap().json().await.unwrap();
    let entry = &doc["paths"]["/api/v1/epcr/encounters/{encounterId}/fhir-bundle"]["get"];
    assert_eq!(entry["security"][0]["bearer"][0], "epcr:read", "{entry}");
    let example = &entry["responses"]["200"]["content"]["application/fhir+json"]["example"];

    let (valid, report) = validate(&[("stemi", &bundle), ("minimal", &small), ("openapi-example", example)]);
    assert!(valid, "{report}");
    assert!(report.contains("stemi.json: 23 resources"), "{report}");
    assert!(report.contains("openapi-example.json: 5 resources"), "{report}");

    let entries = bundle["entry"].as_array().unwrap();
    let resources: Vec<&Value> = entries.iter().map(|e| &e["resource"]).collect();
    assert_eq!(resources[0]["resourceType"], "Composition");
    let observations: Vec<&Value> = resources
        .iter()
        .copied()
        .filter(|r| r["resourceType"] == "Observation" && r.get("category").is_some())
        .collect();
    let loinc: Vec<Vec<&str>> = observations.iter().map(|o| codes(&o["code"])).collect();
    assert_eq!(
        loinc,
        [
            vec!["8867-4"],
            vec!["9279-1"],
            vec!["59408-5", "2708-6"],
            vec!["8310-5"],
            vec!["85354-9"],
            vec!["9269-2"],
            vec!["2339-0"],
            vec!["72514-3"]
        ]
    );
    for o in &observations {
        assert_eq!(o["category"][0]["coding"][0]["code"], "vital-signs");
    }
    let pressure: Vec<&str> =
        observations[4]["component"].as_array().unwrap().iter().flat_map(|c| codes(&c["code"])).collect();
    assert_eq!(pressure, ["8480-6", "8462-4"]);
    let units: Vec<&str> =
        observations.iter().filter_map(|o| o.get("valueQuantity")).map(|q| q["code"].as_str().unwrap()).collect();
    assert_eq!(units, ["/min", "/min", "%", "Cel", "{score}", "mg/dL", "{score}"]);
    let kinds: Vec<&str> = resources.iter().map(|r| r["resourceType"].as_str().unwrap()).collect();
    for kind in ["Patient", "Encounter", "Procedure", "MedicationAdministration", "Condition", "Device"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // The device observation linked to the encounter, MDC-coded, its
    // Device referenced with what enrolment recorded.
    let nibp = resources.iter().find(|r| r["code"]["coding"][0]["code"] == "150020").unwrap();
    assert_eq!(nibp["code"]["coding"][0]["system"], MDC_SYSTEM);
    let parts: Vec<&str> = nibp["component"].as_array().unwrap().iter().map(|c| codes(&c["code"])[0]).collect();
    assert_eq!(parts, ["150021", "150022", "150023"]);
    let device = nibp["device"]["reference"].as_str().unwrap();
    let device = &entries.iter().find(|e| e["fullUrl"] == device).unwrap()["resource"];
    assert_eq!(device["serialNumber"], "BP-7");
    assert_eq!(device["type"]["coding"][0]["code"], "528391");
    let encounter = resources.iter().find(|r| r["resourceType"] == "Encounter").unwrap();
    assert_eq!(encounter["class"]["code"], "EMER");
    assert_eq!(encounter["identifier"][0]["value"], id.as_str());

    // Both reads of the first record are in its access log, with the route.
    get(&id).await.unwrap().bytes().await.unwrap();
    let log = stack.store.encounter_access_log(&tenant, &id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|entry| entry.route == ROUTE && entry.client_id == "app_fhir"), "{log:?}");
    // The same record exports the same document.
    let again: Value = get(&id).await.unwrap().json().await.unwrap();
    assert_eq!(again, bundle);
}

#[tokio::test]
async fn the_validator_rejects_a_broken_document() {
    // The check above means something only if the validator fails bad
    // bundles: an unknown element, a dangling reference, no Composition first.
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:6a1f3c52-9e0d-4b7a-8f21-5d4ce0b9a713"},
        "timestamp": "2026-05-01T11:45:00Z",
        "entry": [
            {"fullUrl": "urn:uuid:6a1f3c52-9e0d-4b7a-8f21-5d4ce0b9a714",
             "resource": {"resourceType": "Patient", "gender": "female", "colour": "red"}},
            {"fullUrl": "urn:uuid:6a1f3c52-9e0d-4b7a-8f21-5d4ce0b9a715",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "Heart rate"},
                          "subject": {"reference": "urn:uuid:6a1f3c52-9e0d-4b7a-8f21-5d4ce0b9a799"},
                          "valueQuantity": {"value": "96"}}}
        ]
    });
    let (valid, report) = validate(&[("broken", &bundle)]);
    assert!(!valid, "{report}");
    for expected in [
        "additionalProperty\":\"colour",
        "valueQuantity.value should be number",
        "bdl-11",
        "does not resolve inside the Bundle",
    ] {
        assert!(report.contains(expected), "{expected} not in {report}");
    }
    bundle["entry"][0]["resource"]["colour"].take();
    assert!(!validate(&[("still-broken", &bundle)]).0);
}

#[tokio::test]
async fn unknown_ids_other_tenants_and_missing_scopes_get_nothing() {
    let stack = Stack::start().await;
    let tenant = stack.store.create_tenant("fhir").await.unwrap().id;
    let other = stack.store.create_tenant("other").await.unwrap().id;
    let id = create(&stack, &tenant, full_record_body()).await;
    let reader = stack.mint(&tenant, "app_fhir", "api.knogin.com", &["epcr:read"]).await;
    let outsider = stack.mint(&other, "app_other", "api.knogin.com", &["epcr:read"]).await;
    let unscoped = stack.mint(&tenant, "app_jobs", "api.knogin.com", &["jobs:read", "devices:read"]).await;
    let call = |path: &str, token: Option<&str>, tenant: &TenantId| {
        let mut request = stack.http.get(url(&stack, path)).header("X-Tenant-ID", tenant.as_str());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    for unknown in [EncounterId::generate().to_string(), "enc_nope".into(), "%27%20OR%201%3D1".into()] {
        let response = call(&unknown, Some(&reader), &tenant).await.unwrap();
        assert_eq!(response.status(), 404, "{unknown}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    let response = call(id.as_str(), Some(&outsider), &other).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(call(id.as_str(), Some(&unscoped), &tenant).await.unwrap().status(), 403);
    assert_eq!(call(id.as_str(), None, &tenant).await.unwrap().status(), 401);
    // The reader's token with another tenant's header.
    assert_eq!(call(id.as_str(), Some(&reader), &other).await.unwrap().status(), 403);
    assert!(stack.store.encounter_access_log(&tenant, &id, 10).await.unwrap().is_empty());
}
