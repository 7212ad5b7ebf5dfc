//! `GET /v1/discovery/data-schemas` and `…/{name}`: each schema a valid
//! JSON Schema 2020-12 that real resources from the API validate against;
//! the list follows the token's scopes and the bundles granted to its app
//! in its tenant; other names are 404 problems.

use std::collections::BTreeSet;

use argus_types::TenantId;
use serde_json::{Value, json};

use crate::helpers::{Stack, TestClient, compile_schema, op, validate_against};

const LIST: &str = "/v1/discovery/data-schemas";
const MDC: &str = "urn:iso:std:iso:11073:10101";

struct Caller<'a> {
    stack: &'a Stack,
    token: String,
    tenant: TenantId,
}

impl<'a> Caller<'a> {
    /// A token of `client`'s app holding `scopes`.
    async fn of(stack: &'a Stack, client: &TestClient, scopes: &[&str]) -> Self {
        let token = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", scopes).await;
        Self { stack, token, tenant: client.tenant.clone() }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.stack.http.get(format!("{}{path}", self.stack.api)).bearer_auth(&self.token).send().await.unwrap()
    }

    /// The names the list shows.
    async fn names(&self) -> Vec<String> {
        let r = self.get(LIST).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["schemas"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    }

    /// One schema, checked to be served as `application/schema+json`.
    async fn schema(&self, name: &str) -> Value {
        let r = self.get(&format!("{LIST}/{name}")).await;
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["content-type"], "application/schema+json");
        r.json().await.unwrap()
    }

    async fn graphql(&self, document: &str, variables: Value) -> Value {
        let body = self
            .stack
            .graphql(&self.token, self.tenant.as_str(), json!({ "query": document, "variables": variables }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }
}

fn properties(schema: &Value) -> BTreeSet<&str> {
    schema["properties"].as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn every_schema_is_2020_12_and_real_resources_validate_against_it() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("incident-webhook-configuration").await;
    let client = stack.client(None, &["incidents:write"]).await;
    stack.grant(&client, "incident-webhook-configuration").await;
    let all =
        ["schemas:read", "incidents:write", "jobs:read", "epcr:read", "devices:write", "evidence:read", "traces:read"];
    let caller = Caller::of(&stack, &client, &all).await;

    let r = caller.get(LIST).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-cache");
    let list: Value = r.json().await.unwrap();
    let names: Vec<&str> = list["schemas"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    // Every REST resource the scopes read; of GraphQL, what the granted bundle uses.
    assert_eq!(
        names,
        ["DeviceView", "EncounterView", "Incident", "JobView", "ObservationView", "ProvenanceView", "TraceView"]
    );
    let meta = compile_schema(
        &json!({ "$id": "https://test.invalid/meta", "$ref": "https://json-schema.org/draft/2020-12/schema" }),
    );
    for entry in list["schemas"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(entry["url"], format!("https://api.knogin.com{LIST}/{name}"), "{entry}");
        let surface = if name == "Incident" { "graphql" } else { "rest" };
        assert_eq!(entry["surface"], surface, "{entry}");
        let schema = caller.schema(name).await;
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["$id"], entry["url"]);
        assert_eq!(schema["title"], name);
        assert_eq!(schema["description"].as_str(), entry["description"].as_str(), "{name}");
        // Valid against the 2020-12 meta-schema, and compiles as a schema.
        meta.0.validate(&schema, meta.1).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        compile_schema(&schema);
    }

    // A GraphQL resource: the incident as the bundle's operations return it.
    let created = caller
        .graphql(
            &op(&ops, "CreateIncident").document,
            json!({ "input": { "title": "Fire at the depot", "severity": "HIGH", "location": "Depot 4" } }),
        )
        .await;
    let id = created["createIncident"]["id"].as_str().unwrap();
    let incident = caller.graphql(&op(&ops, "IncidentById").document, json!({ "id": id })).await["incident"].clone();
    let closed =
        caller.graphql(&op(&ops, "CloseIncident").document, json!({ "id": id })).await["closeIncident"].clone();
    let schema = caller.schema("Incident").await;
    for resource in [&created["createIncident"], &incident, &closed] {
        validate_against(&schema, resource).unwrap_or_else(|e| panic!("{resource}: {e}"));
    }
    assert_eq!(incident["status"], "OPEN");
    // The schema says something: a wrong value or an unknown field fails.
    let mut wrong = incident.clone();
    wrong["severity"] = json!("APOCALYPTIC");
    assert!(validate_against(&schema, &wrong).is_err());
    let mut extra = incident.clone();
    extra["secret"] = json!("x");
    assert!(validate_against(&schema, &extra).is_err());

    // A REST resource: a device as enrolment answers it.
    let enrolled = stack
        .http
        .post(format!("{}/api/v1/devices/enrol", stack.api))
        .bearer_auth(&caller.token)
        .json(&json!({ "serial_number": "PO-1", "manufacturer": "Nonin Medical", "model": "Model 1", "type": { "system": MDC, "code": "528388" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let device: Value = enrolled.json().await.unwrap();
    let schema = caller.schema("DeviceView").await;
    validate_against(&schema, &device).unwrap_or_else(|e| panic!("{device}: {e}"));
    let mut wrong = device.clone();
    wrong["created_at"] = json!("yesterday");
    assert!(validate_against(&schema, &wrong).is_err(), "date-time is asserted");
}

#[tokio::test]
async fn scopes_and_the_apps_granted_bundles_decide_what_is_listed() {
    let stack = Stack::start().await;
    stack.load_shipped_bundle("incident-webhook-configuration").await;
    stack.load_shipped_bundle("reporting").await;
    let writer = stack.client(None, &["incidents:write"]).await;
    stack.grant(&writer, "incident-webhook-configuration").await;
    let reporter = stack.client(Some(&writer.tenant), &["incidents:read", "cases:read", "entities:read"]).await;
    stack.grant(&reporter, "reporting").await;
    // Another tenant's app, with every scope and no grant.
    let other = stack.client(None, &["incidents:read"]).await;

    // Only schemas:read: nothing to see.
    assert!(Caller::of(&stack, &writer, &["schemas:read"]).await.names().await.is_empty());
    // A scope without a granted bundle: the REST resources only.
    let jobs = Caller::of(&stack, &writer, &["schemas:read", "jobs:read"]).await;
    assert_eq!(jobs.names().await, ["JobView"]);
    let r = jobs.get(&format!("{LIST}/Incident")).await;
    assert_eq!(r.status(), 404, "a type the scopes do not read is not found");
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // The writer's bundle selects every incident field; the reporter's fewer.
    let writer = Caller::of(&stack, &writer, &["schemas:read", "incidents:read"]).await;
    assert_eq!(writer.names().await, ["Incident"]);
    assert_eq!(
        properties(&writer.schema("Incident").await),
        BTreeSet::from([
            "id",
            "title",
            "description",
            "status",
            "severity",
            "location",
            "reporter",
            "occurredAt",
            "createdAt",
            "updatedAt",
            "closedAt"
        ])
    );
    let scopes = ["schemas:read", "incidents:read", "cases:read", "entities:read"];
    let reporting = Caller::of(&stack, &reporter, &scopes).await;
    assert_eq!(reporting.names().await, ["Case", "Entity", "Incident", "Relationship"]);
    let incident = reporting.schema("Incident").await;
    assert_eq!(
        properties(&incident),
        BTreeSet::from(["id", "title", "status", "severity", "location", "occurredAt", "createdAt", "closedAt"])
    );
    assert_eq!(incident["properties"]["status"], json!({ "type": "string", "enum": ["OPEN", "CLOSED"] }));
    assert_eq!(
        incident["properties"]["closedAt"],
        json!({ "anyOf": [{ "type": "string", "format": "date-time" }, { "type": "null" }] })
    );
    // Entity's relationships are described in its $defs.
    let entity = reporting.schema("Entity").await;
    assert_eq!(entity["properties"]["relationships"]["anyOf"][0]["items"]["$ref"], "#/$defs/Relationship");
    assert!(entity["$defs"]["Relationship"]["properties"]["sourceId"].is_object(), "{entity}");
    // Without entities:read, the reporter does not see the entity graph.
    let fewer = Caller::of(&stack, &reporter, &["schemas:read", "cases:read"]).await;
    assert_eq!(fewer.names().await, ["Case"]);

    // The other tenant: same scopes, no grant there; nothing of tenant A's.
    let other = Caller::of(&stack, &other, &["schemas:read", "incidents:read"]).await;
    assert!(other.names().await.is_empty());
    assert_eq!(other.get(&format!("{LIST}/Incident")).await.status(), 404);
}

#[tokio::test]
async fn bad_names_scopes_and_tenants_are_refused_with_problems() {
    let stack = Stack::start().await;
    let client = stack.client(None, &["jobs:read"]).await;
    let caller = Caller::of(&stack, &client, &["schemas:read", "jobs:read"]).await;
    for name in ["Nope", "jobview", "JobView%2F..", "%00", &"x".repeat(2000)] {
        let r = caller.get(&format!("{LIST}/{name}")).await;
        assert_eq!(r.status(), 404, "{name}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["type"], "https://knogin.com/api/problems/not-found");
    }
    // No schemas:read: 403, whatever else the token holds; no token: 401.
    let unscoped = Caller::of(&stack, &client, &["jobs:read"]).await;
    assert_eq!(unscoped.get(LIST).await.status(), 403);
    assert_eq!(unscoped.get(&format!("{LIST}/JobView")).await.status(), 403);
    assert_eq!(stack.http.get(format!("{}{LIST}", stack.api)).send().await.unwrap().status(), 401);
    // X-Tenant-ID is optional, and must be the token's tenant when sent.
    let other = stack.store.create_tenant("other").await.unwrap().id;
    for (tenant, status) in [(client.tenant.as_str(), 200), (other.as_str(), 403)] {
        let r = stack
            .http
            .get(format!("{}{LIST}", stack.api))
            .bearer_auth(&caller.token)
            .header("X-Tenant-ID", tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
}

#[tokio::test]
async fn the_openapi_entries_describe_the_answers() {
    let stack = Stack::start().await;
    let client = stack.client(None, &["jobs:read"]).await;
    let caller = Caller::of(&stack, &client, &["schemas:read", "jobs:read"]).await;
    let doc: Value =
        stack.http.get(format!("{}/.well-known/openapi.json", stack.api)).send().await.unwrap().json().await.unwrap();
    let list = &doc["paths"][LIST]["get"];
    assert_eq!(list["security"][0]["bearer"], json!(["schemas:read"]));
    let example = &list["responses"]["200"]["content"]["application/json"]["example"]["schemas"][1];
    // The example's entry has the fields a real entry has, and its JobView entry is the real one.
    let real: Value = caller.get(LIST).await.json().await.unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(example), keys(&real["schemas"][0]));
    assert_eq!(example, &real["schemas"][0]);
    let one = &doc["paths"][format!("{LIST}/{{name}}")]["get"]["responses"];
    let example = &one["200"]["content"]["application/schema+json"]["example"];
    compile_schema(example);
    assert!(one["404"]["content"]["application/problem+json"].is_object());
}
