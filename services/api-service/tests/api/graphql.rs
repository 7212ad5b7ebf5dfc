//! The transport: bundles, introspection, tenancy, scopes and limits.

use serde_json::{Value, json};

use crate::helpers::{Stack, code, op, post};

const INCIDENT_SCOPES: &[&str] = &["incidents:read", "incidents:write"];

fn create_incident_vars(title: &str) -> Value {
    json!({ "input": { "title": title, "severity": "HIGH", "location": "Dock 4" } })
}

#[tokio::test]
async fn a_granted_bundle_operation_runs_and_nothing_else_does() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("incident-webhook-configuration").await;
    let (granted, token) = stack.granted_client(None, INCIDENT_SCOPES, "incident-webhook-configuration").await;
    let tenant = granted.tenant.to_string();
    let unsent_before = stack.store.outbox_unsent_count().await.unwrap();

    // The document itself, reformatted: normalisation makes it the same.
    let create = op(&ops, "CreateIncident");
    let reformatted = create.document.replace('\n', " \n\n, ");
    let r = post(
        &stack.http,
        &stack.api,
        Some(&token),
        Some(&tenant),
        json!({ "query": reformatted, "variables": create_incident_vars("Forklift collision") }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    let incident = &body["data"]["createIncident"];
    assert_eq!(incident["status"], "OPEN");
    assert_eq!(incident["severity"], "HIGH");
    let id = incident["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("inc_"));
    // The mutation's event went to the outbox in its transaction.
    assert_eq!(stack.store.outbox_unsent_count().await.unwrap(), unsent_before + 1);

    // By persisted id.
    let by_id = op(&ops, "IncidentById");
    let persisted = json!({ "id": format!("sha256:{}", by_id.sha256), "variables": { "id": id } });
    let body: Value = stack.graphql(&token, &tenant, persisted.clone()).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["incident"]["title"], "Forklift collision");
    assert_eq!(body["data"]["incident"]["reporter"], granted.client_id.as_str());

    // The same document from an app of the same tenant without the bundle.
    let other = stack.client(Some(&granted.tenant), INCIDENT_SCOPES).await;
    let other_token = stack.cc_token(&other, None).await;
    for request in [persisted.clone(), json!({ "query": by_id.document, "variables": { "id": id } })] {
        let r = post(&stack.http, &stack.api, Some(&other_token), Some(&tenant), request).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_APPROVED", "{body}");
        assert!(body["data"].is_null());
    }

    // A document in no bundle, from the granted app.
    let unlisted = json!({ "query": "query Mine($id: ID!) { incident(id: $id) { id title location } }", "variables": { "id": id } });
    let body: Value = stack.graphql(&token, &tenant, unlisted).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_APPROVED", "{body}");
    let unknown_hash = json!({ "id": format!("sha256:{}", "0".repeat(64)) });
    let body: Value = stack.graphql(&token, &tenant, unknown_hash).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_APPROVED", "{body}");

    // Update and close, by id, announce their events too.
    let update = json!({
        "id": format!("sha256:{}", op(&ops, "UpdateIncident").sha256),
        "variables": { "id": id, "input": { "severity": "CRITICAL" } }
    });
    let body: Value = stack.graphql(&token, &tenant, update).await;
    assert_eq!(body["data"]["updateIncident"]["severity"], "CRITICAL", "{body}");
    let close = json!({ "id": format!("sha256:{}", op(&ops, "CloseIncident").sha256), "variables": { "id": id } });
    let body: Value = stack.graphql(&token, &tenant, close).await;
    assert_eq!(body["data"]["closeIncident"]["status"], "CLOSED", "{body}");
    assert_eq!(stack.store.outbox_unsent_count().await.unwrap(), unsent_before + 3);
}

#[tokio::test]
async fn introspection_get_and_playgrounds_are_refused() {
    let stack = Stack::start().await;
    let client = stack.client(None, INCIDENT_SCOPES).await;
    let token = stack.cc_token(&client, None).await;
    let tenant = client.tenant.to_string();
    for query in [
        "{ __schema { types { name } } }",
        "query { t: __type(name: \"Incident\") { fields { name } } }",
        "query IntrospectionQuery { __schema { queryType { name } } }",
    ] {
        let r = post(&stack.http, &stack.api, Some(&token), Some(&tenant), json!({ "query": query })).await;
        assert_eq!(r.status(), 200);
        assert_eq!(code(&r.json().await.unwrap()), "INTROSPECTION_DISABLED", "{query}");
    }
    for path in ["/graphql", "/graphql?query=%7B__schema%7Btypes%7Bname%7D%7D%7D", "/playground", "/graphiql"] {
        let r = stack.http.get(format!("{}{path}", stack.api)).bearer_auth(&token).send().await.unwrap();
        assert!(r.status() == 405 || r.status() == 404, "{path}: {}", r.status());
        assert_eq!(code(&r.json().await.unwrap()), "INTROSPECTION_DISABLED", "{path}");
    }
}

#[tokio::test]
async fn tenants_are_isolated() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("incident-webhook-configuration").await;
    let a = stack.client(None, INCIDENT_SCOPES).await;
    let b = stack.client(None, INCIDENT_SCOPES).await;
    stack.grant(&a, "incident-webhook-configuration").await;
    stack.grant(&b, "incident-webhook-configuration").await;
    let (token_a, token_b) = (stack.cc_token(&a, None).await, stack.cc_token(&b, None).await);
    let create = json!({ "query": op(&ops, "CreateIncident").document, "variables": create_incident_vars("A's") });
    let body: Value = stack.graphql(&token_a, a.tenant.as_str(), create).await;
    let id = body["data"]["createIncident"]["id"].as_str().unwrap().to_owned();
    let read = json!({ "id": format!("sha256:{}", op(&ops, "IncidentById").sha256), "variables": { "id": id } });

    // A's token naming B's tenant, or none.
    let r = post(&stack.http, &stack.api, Some(&token_a), Some(b.tenant.as_str()), read.clone()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(code(&r.json().await.unwrap()), "FORBIDDEN");
    let r = post(&stack.http, &stack.api, Some(&token_a), None, read.clone()).await;
    assert_eq!(r.status(), 403);

    // B cannot see, change or close A's incident.
    let body: Value = stack.graphql(&token_b, b.tenant.as_str(), read.clone()).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert!(body["data"]["incident"].is_null());
    let close = json!({ "id": format!("sha256:{}", op(&ops, "CloseIncident").sha256), "variables": { "id": id } });
    let body: Value = stack.graphql(&token_b, b.tenant.as_str(), close).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");

    // A still can.
    let body: Value = stack.graphql(&token_a, a.tenant.as_str(), read).await;
    assert_eq!(body["data"]["incident"]["status"], "OPEN", "{body}");
}

#[tokio::test]
async fn a_missing_scope_fails_that_field_only() {
    let stack = Stack::start().await;
    let ops = stack
        .load_bundle(
            "mixed",
            "query Both($i: ID!, $c: ID!) { incident(id: $i) { id title } case(id: $c) { id title } }\n\
             mutation OpenCase($input: CreateCaseInput!) { createCase(input: $input) { id incidentIds incidents { id } } }\n\
             mutation Report($input: CreateIncidentInput!) { createIncident(input: $input) { id } }",
        )
        .await;
    let (full, token) =
        stack.granted_client(None, &["incidents:read", "incidents:write", "cases:read", "cases:write"], "mixed").await;
    let tenant = full.tenant.to_string();
    let id = |name: &str| format!("sha256:{}", op(&ops, name).sha256);
    let body: Value =
        stack.graphql(&token, &tenant, json!({ "id": id("Report"), "variables": create_incident_vars("Spill") })).await;
    let incident = body["data"]["createIncident"]["id"].as_str().unwrap().to_owned();
    let body: Value = stack
        .graphql(
            &token,
            &tenant,
            json!({ "id": id("OpenCase"), "variables": { "input": { "title": "Spills", "incidentIds": [incident] } } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let case = body["data"]["createCase"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["createCase"]["incidents"][0]["id"], incident.as_str());

    // The same app, with a token narrowed to incidents:read.
    let narrow = stack.cc_token(&full, Some("incidents:read")).await;
    let both = json!({ "id": id("Both"), "variables": { "i": incident, "c": case } });
    let body: Value = stack.graphql(&narrow, &tenant, both).await;
    assert_eq!(body["data"]["incident"]["title"], "Spill", "{body}");
    assert!(body["data"]["case"].is_null(), "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["case"]));
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN");

    // A write without the write scope.
    let body: Value =
        stack.graphql(&narrow, &tenant, json!({ "id": id("Report"), "variables": create_incident_vars("Nope") })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    // Linking another tenant's incident to a case is NOT_FOUND.
    let (other, other_token) = stack.granted_client(None, &["cases:write", "incidents:write"], "mixed").await;
    let body: Value = stack
        .graphql(
            &other_token,
            other.tenant.as_str(),
            json!({ "id": id("OpenCase"), "variables": { "input": { "title": "Theirs", "incidentIds": [incident] } } }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
}

#[tokio::test]
async fn transport_errors_are_clear() {
    let stack = Stack::start().await;
    stack
        .load_bundle(
            "deep",
            "query Deep { cases { nodes { incidents { id } } } entity(id: \"x\") { relationships { id } } }",
        )
        .await;
    let (client, token) = stack.granted_client(None, INCIDENT_SCOPES, "deep").await;
    let tenant = client.tenant.to_string();
    let api = &stack.api;

    // No token, a malformed one: 401 with a challenge.
    let r = post(&stack.http, api, None, Some(&tenant), json!({ "query": "{ a }" })).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(code(&r.json().await.unwrap()), "UNAUTHENTICATED");
    let r = post(&stack.http, api, Some("not.a.jwt"), Some(&tenant), json!({ "query": "{ a }" })).await;
    assert_eq!(r.status(), 401);

    // Too large, not JSON, not a GraphQL request.
    let big = "x".repeat(70 * 1024);
    let r = post(&stack.http, api, Some(&token), Some(&tenant), json!({ "query": big })).await;
    assert_eq!(r.status(), 413);
    assert_eq!(code(&r.json().await.unwrap()), "PAYLOAD_TOO_LARGE");
    let r = stack
        .http
        .post(format!("{api}/graphql"))
        .bearer_auth(&token)
        .header("X-Tenant-ID", &tenant)
        .header("content-type", "text/plain")
        .body("{ a }")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = post(&stack.http, api, Some(&token), Some(&tenant), json!({ "variables": {} })).await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(&r.json().await.unwrap()), "BAD_REQUEST");
    let r = post(&stack.http, api, Some(&token), Some(&tenant), json!({ "id": "md5:abc" })).await;
    assert_eq!(r.status(), 400);

    // Depth and complexity, checked before approval.
    let deep = format!("query D {{ {}id{} }}", "a { ".repeat(9), " }".repeat(9));
    let body: Value =
        post(&stack.http, api, Some(&token), Some(&tenant), json!({ "query": deep })).await.json().await.unwrap();
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("at most 8"));
    let wide = format!("query W {{ {} }}", (0..201).map(|i| format!("f{i}: id")).collect::<Vec<_>>().join(" "));
    let body: Value =
        post(&stack.http, api, Some(&token), Some(&tenant), json!({ "query": wide })).await.json().await.unwrap();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

    // An approved document whose fields need scopes the token lacks.
    let body: Value = post(&stack.http, api, Some(&token), Some(&tenant), json!({ "query": "query Deep { cases { nodes { incidents { id } } } entity(id: \"x\") { relationships { id } } }" }))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["extensions"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["FORBIDDEN", "FORBIDDEN"], "{body}");
}

#[tokio::test]
async fn non_ascii_text_in_block_strings_is_answered_not_dropped() {
    let stack = Stack::start().await;
    let document = r#"mutation Unicode {
        createIncident(input: { title: """Überprüfung — 🦀 \""" ü""", severity: HIGH, location: "Dock 4" }) { title }
    }"#;
    stack.load_bundle("unicode", document).await;
    let (client, token) = stack.granted_client(None, INCIDENT_SCOPES, "unicode").await;
    let tenant = client.tenant.to_string();
    let send = |query: String| post(&stack.http, &stack.api, Some(&token), Some(&tenant), json!({ "query": query }));

    // Approved: it runs, the block string's text intact.
    let r = send(document.to_owned()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["createIncident"]["title"], "Überprüfung — 🦀 \"\"\" ü");

    // Not approved, unterminated, or non-ASCII outside a string: a clear
    // refusal, and the connection still answers.
    let unapproved = "query Q { incidents(filter: { title: \"\"\"é\"\"\" }) { nodes { id } } }";
    let body: Value = send(unapproved.to_owned()).await.json().await.unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_APPROVED", "{body}");
    for broken in ["{ a(s: \"\"\"ü🦀", "{ a(s: \"\"\"\\\"\"\"é\"\") }", "{ é }", "{ a(s: \"\\é) }"] {
        let r = send(broken.to_owned()).await;
        assert_eq!(r.status(), 200, "{broken}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED", "{broken}: {body}");
        assert!(body["data"].is_null());
    }
}
