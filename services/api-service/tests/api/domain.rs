//! Every shipped bundle operation against the schema, with pagination,
//! filters, the case workflow and the entity graph.

use serde_json::{Value, json};

use crate::helpers::{Stack, op, post};

const ALL_SCOPES: &[&str] =
    &["incidents:read", "incidents:write", "cases:read", "cases:write", "entities:read", "entities:write"];

#[tokio::test]
async fn shipped_bundles_drive_the_whole_domain() {
    let stack = Stack::start().await;
    let client = stack.client(None, ALL_SCOPES).await;
    let mut ops = Vec::new();
    for bundle in ["incident-webhook-configuration", "case-sync", "reporting"] {
        ops.extend(stack.load_shipped_bundle(bundle).await);
        stack.grant(&client, bundle).await;
    }
    ops.extend(
        stack
            .load_bundle(
                "graph-writes",
                "mutation AddEntity($input: CreateEntityInput!) { createEntity(input: $input) { id kind name } }\n\
                 mutation Link($input: LinkEntitiesInput!) { linkEntities(input: $input) { id kind sourceId targetId } }",
            )
            .await,
    );
    stack.grant(&client, "graph-writes").await;
    let token = stack.cc_token(&client, None).await;
    let tenant = client.tenant.to_string();
    let call = async |name: &str, variables: Value| -> Value {
        let request = json!({ "id": format!("sha256:{}", op(&ops, name).sha256), "variables": variables });
        let r = post(&stack.http, &stack.api, Some(&token), Some(&tenant), request).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    };
    let ok = async |name: &str, variables: Value| -> Value {
        let body = call(name, variables).await;
        assert!(body["errors"].is_null(), "{name}: {body}");
        body["data"].clone()
    };

    // Incidents: three, paged two at a time, filtered.
    let mut incidents = Vec::new();
    for (title, severity) in [("One", "LOW"), ("Two", "HIGH"), ("Three", "HIGH")] {
        let d = ok("CreateIncident", json!({ "input": { "title": title, "severity": severity } })).await;
        incidents.push(d["createIncident"]["id"].as_str().unwrap().to_owned());
    }
    let page = ok("IncidentReport", json!({ "first": 2 })).await;
    let nodes = page["incidents"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().map(|n| n["title"].as_str().unwrap()).collect::<Vec<_>>(), ["One", "Two"]);
    let cursor = page["incidents"]["nextCursor"].as_str().unwrap();
    let rest = ok("IncidentReport", json!({ "first": 2, "after": cursor })).await;
    assert_eq!(rest["incidents"]["nodes"][0]["title"], "Three");
    assert!(rest["incidents"]["nextCursor"].is_null());
    let high = ok("IncidentReport", json!({ "filter": { "severity": "HIGH" } })).await;
    assert_eq!(high["incidents"]["nodes"].as_array().unwrap().len(), 2);
    ok("CloseIncident", json!({ "id": incidents[0] })).await;
    let open = ok("IncidentReport", json!({ "filter": { "status": "OPEN" } })).await;
    assert_eq!(open["incidents"]["nodes"].as_array().unwrap().len(), 2);
    let body = call("UpdateIncident", json!({ "id": incidents[0], "input": { "title": "Reopened?" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");
    let body = call("IncidentReport", json!({ "first": 500 })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let body = call("IncidentById", json!({ "id": "case_01jdxaaaaaaaaaaaaaaaaaaaaa" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    // A value the enum does not know is refused, naming it, and changes
    // nothing: no default stands in for it.
    let body = call("CreateIncident", json!({ "input": { "title": "Four", "severity": "URGENT" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("\"severity\""), "{body}");
    assert!(body["data"].is_null(), "{body}");
    let body = call("IncidentReport", json!({ "filter": { "status": "GONE" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("\"status\""), "{body}");
    let all = ok("IncidentReport", json!({ "first": 100 })).await;
    assert_eq!(all["incidents"]["nodes"].as_array().unwrap().len(), 3, "nothing was created");

    // Cases: open over two incidents, assign, relink, close.
    let d = ok(
        "CreateCase",
        json!({ "input": { "title": "Night shift", "assignees": ["ana"], "incidentIds": [incidents[1], incidents[2]] } }),
    )
    .await;
    let case = d["createCase"]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["createCase"]["incidentIds"].as_array().unwrap().len(), 2);
    let d = ok(
        "UpdateCase",
        json!({ "id": case, "input": { "status": "IN_PROGRESS", "assignees": ["ana", "ben"], "unlinkIncidentIds": [incidents[2]] } }),
    )
    .await;
    assert_eq!(d["updateCase"]["status"], "IN_PROGRESS");
    assert_eq!(d["updateCase"]["incidentIds"], json!([incidents[1]]));
    let d = ok("CaseById", json!({ "id": case })).await;
    assert_eq!(d["case"]["incidents"][0]["title"], "Two");
    let d = ok("CaseSyncPage", json!({ "filter": { "assignee": "ben" } })).await;
    assert_eq!(d["cases"]["nodes"][0]["id"], case.as_str());
    let d = ok("CaseReport", json!({ "filter": { "status": "OPEN" } })).await;
    assert_eq!(d["cases"]["nodes"], json!([]));
    let d = ok("CloseCase", json!({ "id": case })).await;
    assert_eq!(d["closeCase"]["status"], "CLOSED");
    let body = call("UpdateCase", json!({ "id": case, "input": { "title": "Again" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");

    // The entity graph.
    let person = ok("AddEntity", json!({ "input": { "kind": "PERSON", "name": "Dana Reyes" } })).await;
    let person = person["createEntity"]["id"].as_str().unwrap().to_owned();
    let car = ok(
        "AddEntity",
        json!({ "input": { "kind": "VEHICLE", "name": "Van KX-12", "attributesJson": "{\"colour\":\"white\"}" } }),
    )
    .await;
    let car = car["createEntity"]["id"].as_str().unwrap().to_owned();
    let link = json!({ "input": { "sourceId": person, "targetId": car, "kind": "owns" } });
    let first = ok("Link", link.clone()).await;
    let again = ok("Link", link).await;
    assert_eq!(first["linkEntities"]["id"], again["linkEntities"]["id"], "linking is idempotent");
    let body = call("Link", json!({ "input": { "sourceId": person, "targetId": car, "kind": "Owns!" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let graph = ok("EntityGraph", json!({ "id": car })).await;
    assert_eq!(graph["entity"]["attributesJson"], "{\"colour\":\"white\"}");
    assert_eq!(graph["entity"]["relationships"][0]["sourceId"], person.as_str());
    let vehicles = ok("EntityReport", json!({ "filter": { "kind": "VEHICLE" } })).await;
    assert_eq!(vehicles["entities"]["nodes"].as_array().unwrap().len(), 1);
    let named = ok("EntityReport", json!({ "filter": { "nameContains": "reyes" } })).await;
    assert_eq!(named["entities"]["nodes"][0]["id"], person.as_str());

    // Every incident and case mutation above announced one event.
    let events = stack.store.outbox_unsent_count().await.unwrap();
    assert_eq!(events, 3 + 1 + 3, "3 created + 1 closed incidents; case created, updated, closed");
}
