//! ePCR encounters through REST and GraphQL: create and read, every bad
//! field named, tenant isolation, scopes, the access log, the event.

use argus_bus::testing::TestVhost;
use argus_http::testing::Received;
use argus_store::domain::NewIncident;
use argus_store::{PageRequest, WriteStamp};
use argus_types::{EncounterId, TenantId};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{Stack, TestClient, op, spawn_worker};

const ENCOUNTERS: &str = "/api/v1/epcr/encounters";

/// A whole STEMI record, its times an hour ago.
fn stemi() -> Value {
    let at = |minutes: i64| (chrono::Utc::now() - chrono::Duration::minutes(60 - minutes)).to_rfc3339();
    json!({
        "patient": {
            "identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
            "name": {"given": ["Ada"], "family": "Lovelace"},
            "birth_date": "1956-03-14",
            "sex": "female"
        },
        "timeline": {
            "call_received": at(0),
            "dispatched": at(1),
            "on_scene": at(9),
            "left_scene": at(30),
            "at_hospital": at(45)
        },
        "vital_signs": [
            {"type": "pain_score", "value": 8, "at": at(10)},
            {"type": "blood_pressure", "systolic": 150, "diastolic": 90, "unit": "mm[Hg]", "at": at(11)},
            {"type": "blood_glucose", "value": 5.5, "unit": "mmol/L", "at": at(12)}
        ],
        "medications": [
            {"medication": "aspirin", "dose": {"value": 300, "unit": "mg"}, "route": "oral", "at": at(15)}
        ],
        "impressions": ["stemi"],
        "outcome": "conveyed",
        "crew": [{"name": "Sam Medic", "role": "paramedic"}]
    })
}

/// A tenant's app holding `scopes`, and a token of it.
async fn caller(stack: &Stack, tenant: Option<&TenantId>, scopes: &[&str]) -> (TestClient, String) {
    let client = stack.client(tenant, scopes).await;
    let token = stack.cc_token(&client, None).await;
    (client, token)
}

async fn create(stack: &Stack, token: &str, tenant: &TenantId, body: &Value) -> Response {
    stack.request(reqwest::Method::POST, ENCOUNTERS, token, tenant).json(body).send().await.unwrap()
}

async fn read(stack: &Stack, token: &str, tenant: &TenantId, id: &str) -> Response {
    stack.request(reqwest::Method::GET, &format!("{ENCOUNTERS}/{id}"), token, tenant).send().await.unwrap()
}

/// The tenant's stored records' ids.
async fn stored(stack: &Stack, tenant: &TenantId) -> Vec<String> {
    let (from, to) = (chrono::DateTime::UNIX_EPOCH, chrono::Utc::now() + chrono::Duration::days(1));
    let page = stack.store.list_encounters_received(tenant, from, to, &PageRequest { after: None, limit: 100 });
    page.await.unwrap().items.into_iter().map(|r| r.id.to_string()).collect()
}

/// A 400 problem's `invalid-params` names, in order.
async fn invalid_params(response: Response) -> (Vec<String>, Value) {
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://knogin.com/api/problems/validation-failed", "{problem}");
    let names = problem["invalid-params"]
        .as_array()
        .unwrap_or_else(|| panic!("no invalid-params: {problem}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    (names, problem)
}

#[tokio::test]
async fn a_record_is_created_read_back_and_each_read_logged() {
    let stack = Stack::start().await;
    let (writer, write_token) = caller(&stack, None, &["epcr:write"]).await;
    let tenant = writer.tenant.clone();
    let (reader, read_token) = caller(&stack, Some(&tenant), &["epcr:read"]).await;

    let created = create(&stack, &write_token, &tenant, &stemi()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = created.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("enc_"), "{body}");
    assert_eq!(location, format!("{ENCOUNTERS}/{id}"));
    assert_eq!(body["created_by"], writer.client_id.as_str());
    assert_eq!(body["patient"]["sex"], "female");
    // Glucose is kept in the mg/dL of LOINC 2339-0; units are filled in.
    assert_eq!(body["vital_signs"][2]["unit"], "mg/dL");
    assert_eq!(body["vital_signs"][0]["unit"], "{score}");

    let read_back = read(&stack, &read_token, &tenant, &id).await;
    assert_eq!(read_back.status(), 200);
    assert_eq!(read_back.headers()["cache-control"], "no-store");
    let trace_id = read_back.headers()["x-argus-trace-id"].to_str().unwrap().to_owned();
    assert_eq!(read_back.json::<Value>().await.unwrap(), body, "the read is the created record");
    assert_eq!(read(&stack, &read_token, &tenant, &id).await.status(), 200);

    let id: EncounterId = id.parse().unwrap();
    let log = stack.store.encounter_access_log(&tenant, &id, 10).await.unwrap();
    assert_eq!(log.len(), 2, "one entry per read, none for the create: {log:?}");
    for entry in &log {
        assert_eq!(entry.encounter_id, id.as_str());
        assert_eq!(entry.actor, reader.client_id, "a client-credentials token's subject is its app");
        assert_eq!(entry.client_id, reader.client_id);
        assert_eq!(entry.route, "GET /api/v1/epcr/encounters/{encounterId}");
    }
    assert_eq!(log[0].trace_id.as_deref(), Some(trace_id.as_str()), "the first read's trace");
    assert!(log[0].read_at <= log[1].read_at);
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_stored() {
    let stack = Stack::start().await;
    let (client, token) = caller(&stack, None, &["epcr:write"]).await;
    let tenant = &client.tenant;

    let mut body = stemi();
    body["patient"]["sex"] = json!("f");
    body["patient"]["identifiers"][0]["value"] = json!("9434765910");
    body["vital_signs"][1]["diastolic"] = json!(160);
    body["medications"][0]["route"] = json!("by mouth");
    body["impressions"] = json!(["stemi", "heartache"]);
    body["crew"] = json!([]);
    let (names, problem) = invalid_params(create(&stack, &token, tenant, &body).await).await;
    assert_eq!(
        names,
        [
            "patient.identifiers[0].value",
            "patient.sex",
            "vital_signs[1].diastolic",
            "medications[0].route",
            "impressions[1]",
            "crew"
        ],
        "{problem}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("patient.identifiers[0].value: is not a valid NHS number"), "{detail}");
    assert!(problem["invalid-params"][2]["reason"].as_str().unwrap().contains("lower than systolic"), "{problem}");

    // The timeline's order: each time no earlier than those before it.
    let mut body = stemi();
    body["timeline"]["on_scene"] = body["timeline"]["call_received"].clone();
    body["timeline"]["dispatched"] = body["timeline"]["left_scene"].clone();
    let (names, problem) = invalid_params(create(&stack, &token, tenant, &body).await).await;
    assert_eq!(names, ["timeline.on_scene"], "{problem}");
    assert!(problem["invalid-params"][0]["reason"].as_str().unwrap().contains("before timeline.dispatched"));

    // A body of another shape is named by its path too.
    let (names, _) =
        invalid_params(create(&stack, &token, tenant, &json!({"patient": {"sex": "male", "age": 3}})).await).await;
    assert_eq!(names, ["patient.age"]);
    let (names, _) = invalid_params(create(&stack, &token, tenant, &json!([stemi()])).await).await;
    assert_eq!(names, ["body"]);
    // Not JSON, or not sent as JSON: refused before any check.
    let not_json = stack
        .request(reqwest::Method::POST, ENCOUNTERS, &token, tenant)
        .header("content-type", "text/plain")
        .body(stemi().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    let too_large = json!({"destination": "x".repeat(70 * 1024)});
    assert_eq!(create(&stack, &token, tenant, &too_large).await.status(), 413);

    assert!(stored(&stack, tenant).await.is_empty(), "no refused record was stored");
}

#[tokio::test]
async fn an_incident_must_be_the_tenants() {
    let stack = Stack::start().await;
    let (client, token) = caller(&stack, None, &["epcr:write", "epcr:read"]).await;
    let tenant = &client.tenant;
    let other = stack.store.create_tenant("other").await.unwrap().id;
    let incident = |reporter: &str| NewIncident {
        title: "Chest pain".into(),
        description: String::new(),
        severity: argus_domain::Severity::High,
        location: None,
        occurred_at: None,
        reporter: reporter.into(),
    };
    let theirs = stack.store.create_incident(WriteStamp::Now, &other, incident("them")).await.unwrap();
    let ours = stack.store.create_incident(WriteStamp::Now, tenant, incident("us")).await.unwrap();

    let mut body = stemi();
    for unknown in [theirs.id.to_string(), argus_types::IncidentId::generate().to_string()] {
        body["incident_id"] = json!(unknown);
        let (names, problem) = invalid_params(create(&stack, &token, tenant, &body).await).await;
        assert_eq!(names, ["incident_id"], "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains(&format!("no incident {unknown}")), "{problem}");
    }
    body["incident_id"] = json!("inc_not-an-id");
    assert_eq!(invalid_params(create(&stack, &token, tenant, &body).await).await.0, ["incident_id"]);
    assert!(stored(&stack, tenant).await.is_empty());

    body["incident_id"] = json!(ours.id.as_str());
    let created = create(&stack, &token, tenant, &body).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.unwrap()["incident_id"], ours.id.as_str());
}

#[tokio::test]
async fn another_tenants_record_is_not_found_and_not_logged() {
    let stack = Stack::start().await;
    let (ours, our_token) = caller(&stack, None, &["epcr:write", "epcr:read"]).await;
    let (theirs, their_token) = caller(&stack, None, &["epcr:write", "epcr:read"]).await;
    let created: Value = create(&stack, &our_token, &ours.tenant, &stemi()).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    // Their token with their tenant: no such record.
    let response = read(&stack, &their_token, &theirs.tenant, id).await;
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://knogin.com/api/problems/not-found");
    assert!(!problem.to_string().contains("Lovelace"));
    // Their token naming our tenant: refused before any read.
    assert_eq!(read(&stack, &their_token, &ours.tenant, id).await.status(), 403);
    // Ids that are no encounter's, well-formed or not, are not found either.
    for missing in [EncounterId::generate().to_string(), "enc_nope".into(), "inc_01j00000000000000000000000".into()] {
        assert_eq!(read(&stack, &our_token, &ours.tenant, &missing).await.status(), 404, "{missing}");
    }
    let log = stack.store.encounter_access_log(&ours.tenant, &id.parse().unwrap(), 10).await.unwrap();
    assert!(log.is_empty(), "refused reads are not reads: {log:?}");
    assert!(stored(&stack, &theirs.tenant).await.is_empty());
    assert_eq!(read(&stack, &our_token, &ours.tenant, id).await.status(), 200);
}

#[tokio::test]
async fn each_route_takes_its_own_scope_only() {
    let stack = Stack::start().await;
    let (writer, write_token) = caller(&stack, None, &["epcr:write"]).await;
    let tenant = writer.tenant.clone();
    let (_, read_token) = caller(&stack, Some(&tenant), &["epcr:read"]).await;
    let (_, other_token) = caller(&stack, Some(&tenant), &["incidents:write", "devices:write"]).await;

    let created: Value = create(&stack, &write_token, &tenant, &stemi()).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    let forbidden = async |response: Response| {
        assert_eq!(response.status(), 403);
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap_or_default().contains("epcr:"), "{problem}");
    };
    forbidden(create(&stack, &read_token, &tenant, &stemi()).await).await;
    forbidden(create(&stack, &other_token, &tenant, &stemi()).await).await;
    // Health records are read with epcr:read alone: epcr:write does not imply it.
    forbidden(read(&stack, &write_token, &tenant, id).await).await;
    forbidden(read(&stack, &other_token, &tenant, id).await).await;
    let no_token = stack.http.get(format!("{}{ENCOUNTERS}/{id}", stack.api)).header("X-Tenant-ID", tenant.as_str());
    assert_eq!(no_token.send().await.unwrap().status(), 401);
    // Without X-Tenant-ID the tenant is the token's: the scope still decides.
    let no_tenant = stack.http.get(format!("{}{ENCOUNTERS}/{id}", stack.api));
    forbidden(no_tenant.bearer_auth(&write_token).send().await.unwrap()).await;

    assert_eq!(stored(&stack, &tenant).await, [id]);
    let log = stack.store.encounter_access_log(&tenant, &id.parse().unwrap(), 10).await.unwrap();
    assert!(log.is_empty(), "no refused read was logged: {log:?}");
    let no_tenant = stack.http.get(format!("{}{ENCOUNTERS}/{id}", stack.api));
    assert_eq!(no_tenant.bearer_auth(&read_token).send().await.unwrap().status(), 200);
    assert_eq!(stack.store.encounter_access_log(&tenant, &id.parse().unwrap(), 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_openapi_example_creates_a_record_on_an_empty_tenant() {
    let stack = Stack::start().await;
    let doc: Value =
        stack.http.get(format!("{}/.well-known/openapi.json", stack.api)).send().await.unwrap().json().await.unwrap();
    let post = &doc["paths"][ENCOUNTERS]["post"];
    let example = post["requestBody"]["content"]["application/json"]["example"].clone();
    assert!(example["patient"].is_object(), "no example: {post}");
    assert_eq!(post["security"], json!([{"bearer": ["epcr:write"]}]));
    let bad = &post["responses"]["400"]["content"]["application/problem+json"]["schema"];
    assert_eq!(bad["$ref"], "#/components/schemas/InvalidParamsProblem");
    let invalid_params = &doc["components"]["schemas"]["InvalidParamsProblem"]["properties"]["invalid-params"];
    assert!(invalid_params["items"].is_object(), "{invalid_params}");
    let get = &doc["paths"][format!("{ENCOUNTERS}/{{encounterId}}")]["get"];
    assert_eq!(get["security"], json!([{"bearer": ["epcr:read"]}]));
    assert!(get["responses"]["200"]["content"]["application/json"]["schema"].is_object(), "{get}");

    let (client, token) = caller(&stack, None, &["epcr:write", "epcr:read"]).await;
    let created = create(&stack, &token, &client.tenant, &example).await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["patient"], example["patient"]);
    assert_eq!(body["medications"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_bundle_reads_a_record_and_the_read_is_logged() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("epcr-read").await;
    let (writer, write_token) = caller(&stack, None, &["epcr:write"]).await;
    let tenant = writer.tenant.clone();
    let (reader, read_token) = stack.granted_client(Some(&tenant), &["epcr:read"], "epcr-read").await;
    let created: Value = create(&stack, &write_token, &tenant, &stemi()).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    let by_id =
        |id: &str| json!({ "id": format!("sha256:{}", op(&ops, "EncounterById").sha256), "variables": { "id": id } });
    let body = stack.graphql(&read_token, tenant.as_str(), by_id(id)).await;
    assert!(body["errors"].is_null(), "{body}");
    let encounter = &body["data"]["encounter"];
    assert_eq!(encounter["id"], id);
    assert_eq!(encounter["incidentId"], Value::Null);
    assert_eq!(encounter["createdBy"], writer.client_id.as_str());
    let record: Value = serde_json::from_str(encounter["recordJson"].as_str().unwrap()).unwrap();
    assert_eq!(record["patient"], created["patient"]);
    assert_eq!(record["timeline"], created["timeline"]);
    let call_received = chrono::DateTime::parse_from_rfc3339(encounter["callReceivedAt"].as_str().unwrap()).unwrap();
    let sent = chrono::DateTime::parse_from_rfc3339(created["timeline"]["call_received"].as_str().unwrap()).unwrap();
    assert_eq!(call_received, sent);

    // The document sent as text, with the operation named: logged the same.
    let text = json!({ "query": op(&ops, "EncounterById").document, "operationName": "EncounterById", "variables": { "id": id } });
    assert!(stack.graphql(&read_token, tenant.as_str(), text).await["errors"].is_null());
    let log = stack.store.encounter_access_log(&tenant, &id.parse().unwrap(), 10).await.unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    for entry in &log {
        assert_eq!(entry.route, "graphql EncounterById");
        assert_eq!(
            (entry.actor.as_str(), entry.client_id.as_str()),
            (reader.client_id.as_str(), reader.client_id.as_str())
        );
    }

    // Unknown, another tenant's, malformed: no record, nothing logged.
    let missing = stack.graphql(&read_token, tenant.as_str(), by_id(EncounterId::generate().as_str())).await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND", "{missing}");
    let malformed = stack.graphql(&read_token, tenant.as_str(), by_id("enc_nope")).await;
    assert_eq!(malformed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{malformed}");
    let (elsewhere, their_token) = stack.granted_client(None, &["epcr:read"], "epcr-read").await;
    let theirs = stack.graphql(&their_token, elsewhere.tenant.as_str(), by_id(id)).await;
    assert_eq!(theirs["errors"][0]["extensions"]["code"], "NOT_FOUND", "{theirs}");
    assert!(theirs["data"]["encounter"].is_null());
    // The writer's app, granted the bundle, lacks epcr:read.
    stack.grant(&writer, "epcr-read").await;
    let refused = stack.graphql(&write_token, tenant.as_str(), by_id(id)).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    assert_eq!(stack.store.encounter_access_log(&tenant, &id.parse().unwrap(), 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_created_record_reaches_a_subscribed_webhook_without_its_content() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let shutdown = spawn_worker(stack.db.url(), vhost.url());
    let (client, token) = caller(&stack, None, &["epcr:write"]).await;
    let (receiver, secret) = stack.subscribe(&client.tenant, &["epcr.created"]).await;

    let created: Value = create(&stack, &token, &client.tenant, &stemi()).await.json().await.unwrap();
    let received = receiver.wait_for(1, std::time::Duration::from_secs(20)).await;
    let Received { headers, body: payload } = received.first().cloned().expect("a delivery in time");
    standardwebhooks::Webhook::new(&secret).unwrap().verify(&payload, &headers).expect("signature verifies");
    let envelope: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(envelope["type"], "epcr.created");
    assert_eq!(envelope["tenant_id"], client.tenant.as_str());
    assert_eq!(envelope["data"]["id"], created["id"]);
    let text = String::from_utf8_lossy(&payload);
    assert!(!text.contains("Lovelace") && !text.contains("9434765919"), "no clinical content: {text}");
    shutdown.cancel();
}
