//! The partner contract files: only for tenants entitled as partners (a
//! 403 saying how to request access otherwise); the merged OpenAPI is a
//! valid OpenAPI 3.1 document with both hosts' paths, each naming its
//! servers; the SDL parses and holds exactly what the shipped bundles use.

use std::collections::BTreeSet;

use graphql_parser::schema::{Definition, TypeDefinition};
use serde_json::Value;

use crate::helpers::{Stack, validate_against};

const OPENAPI: &str = "/partners/contract/v2026.4/external-openapi.json";
const GRAPHQL: &str = "/partners/contract/v2026.4/external.graphql";
/// The client id every token here is minted for.
const APP: &str = "app_01JZZZZZZZZZZZZZZZZZZZZZZZ";

/// The official OpenAPI 3.1 schema (2022-10-07), as openapi-spec-validator
/// ships it (resources/schemas/v3.1/schema.json).
const OAS_31_SCHEMA: &str = include_str!("fixtures/openapi-3.1-schema.json");

async fn get(stack: &Stack, token: &str, path: &str) -> reqwest::Response {
    stack.http.get(format!("{}{path}", stack.api)).bearer_auth(token).send().await.unwrap()
}

/// `path` as a newly entitled partner's token with `schemas:read` fetches
/// it: a 200.
async fn fetched_by_a_partner(stack: &Stack, path: &str) -> reqwest::Response {
    let tenant = stack.store.create_tenant("partner").await.unwrap().id;
    stack.store.set_partner_entitlement(&tenant, true).await.unwrap();
    let token = stack.mint(&tenant, APP, "api.knogin.com", &["schemas:read"]).await;
    let r = get(stack, &token, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r
}

async fn own_document(stack: &Stack, base: &str) -> Value {
    stack.http.get(format!("{base}/.well-known/openapi.json")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn only_entitled_tenants_get_the_files_and_others_learn_how_to_ask() {
    let stack = Stack::start().await;
    let partner = stack.store.create_tenant("partner").await.unwrap().id;
    let other = stack.store.create_tenant("other").await.unwrap().id;
    stack.store.set_partner_entitlement(&partner, true).await.unwrap();
    let token = |tenant, scopes: &'static [&'static str]| {
        let stack = &stack;
        async move { stack.mint(tenant, APP, "api.knogin.com", scopes).await }
    };
    let entitled = token(&partner, &["schemas:read"]).await;
    let refused = token(&other, &["schemas:read"]).await;
    let unscoped = token(&partner, &["jobs:read"]).await;
    for path in [OPENAPI, GRAPHQL] {
        assert_eq!(get(&stack, &entitled, path).await.status(), 200, "{path}");
        let r = get(&stack, &refused, path).await;
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("https://knogin.com/en/docs/integration-guide#vendor-contact"), "{detail}");
        assert!(detail.contains("approved partners"), "{detail}");
        assert_eq!(get(&stack, &unscoped, path).await.status(), 403, "{path}: schemas:read is needed");
        assert_eq!(stack.http.get(format!("{}{path}", stack.api)).send().await.unwrap().status(), 401);
    }
    // Entitled later: the same token works; withdrawn: refused again.
    stack.store.set_partner_entitlement(&other, true).await.unwrap();
    assert_eq!(get(&stack, &refused, GRAPHQL).await.status(), 200);
    stack.store.set_partner_entitlement(&other, false).await.unwrap();
    assert_eq!(get(&stack, &refused, OPENAPI).await.status(), 403);
}

#[tokio::test]
async fn the_merged_document_is_openapi_3_1_with_both_hosts_paths() {
    let stack = Stack::start().await;
    let r = fetched_by_a_partner(&stack, OPENAPI).await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let merged: Value = r.json().await.unwrap();

    let oas: Value = serde_json::from_str(OAS_31_SCHEMA).unwrap();
    validate_against(&oas, &merged).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    assert!(merged["openapi"].as_str().unwrap().starts_with("3.1."), "{}", merged["openapi"]);
    assert_eq!(merged["info"]["version"], "2026.4.0");
    let servers: Vec<&str> = merged["servers"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap()).collect();
    assert_eq!(servers, ["https://api.knogin.com", "https://sandbox-api.knogin.com", "https://auth.knogin.com"]);
    assert!(merged["servers"].as_array().unwrap().iter().all(|s| s["description"].is_string()), "servers are named");

    // Every path of each host's own document, with that host's servers (or
    // the ones its path item names: the sandbox's webhook routes).
    for (base, host) in [(&stack.api, "https://api.knogin.com"), (&stack.auth, "https://auth.knogin.com")] {
        let own = own_document(&stack, base).await;
        for (path, item) in own["paths"].as_object().unwrap() {
            let merged_item = &merged["paths"][path];
            let urls: Vec<&str> =
                merged_item["servers"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap()).collect();
            let host = item["servers"][0]["url"].as_str().unwrap_or(host);
            assert!(urls.contains(&host), "{path}: {urls:?}");
            for method in ["get", "put", "post", "patch", "delete"].into_iter().filter(|m| item.get(m).is_some()) {
                assert!(merged_item[method].is_object(), "{method} {path}");
            }
        }
    }
    assert_eq!(
        only_servers(&merged, "/v1/webhooks"),
        ["https://sandbox-api.knogin.com", "https://auth.knogin.com"],
        "the sandbox's webhook routes, and live's"
    );
    let only = |path: &str| only_servers(&merged, path);
    assert_eq!(only("/v1/oauth/token"), ["https://auth.knogin.com"]);
    assert_eq!(only("/v1/jobs"), ["https://api.knogin.com", "https://sandbox-api.knogin.com"]);
    assert_eq!(only("/.well-known/api-catalog").len(), 3, "both hosts serve it");
    assert!(merged["paths"][OPENAPI]["get"].is_object() && merged["paths"]["/v1/platform/apps"]["post"].is_object());
    assert!(
        merged["components"]["schemas"]["JobView"].is_object()
            && merged["components"]["securitySchemes"]["bearer"].is_object()
    );
}

/// The servers the merged document names for `path`.
fn only_servers(merged: &Value, path: &str) -> Vec<String> {
    merged["paths"][path]["servers"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap().to_owned()).collect()
}

/// What the shipped bundles (docs/bundles) use, read off them by hand.
const BUNDLE_TYPES: &[&str] = &[
    // roots
    "Query",
    "Mutation",
    // objects
    "AcqiIndicator",
    "AcqiInterval",
    "AcqiMetrics",
    "Case",
    "CaseConnection",
    "Encounter",
    "Entity",
    "EntityConnection",
    "Evidence",
    "EvidenceEntry",
    "Incident",
    "IncidentConnection",
    "Relationship",
    // enums
    "CaseStatus",
    "EntityKind",
    "EvidenceOperation",
    "IncidentStatus",
    "Severity",
    // inputs
    "CaseFilter",
    "CreateCaseInput",
    "CreateEvidenceInput",
    "CreateIncidentInput",
    "EntityFilter",
    "IncidentFilter",
    "RecordEvidenceOperationInput",
    "UpdateCaseInput",
    "UpdateIncidentInput",
    // scalars
    "DateTime",
    "LocalDate",
];

#[tokio::test]
async fn the_sdl_parses_and_holds_exactly_what_the_bundles_use() {
    let stack = Stack::start().await;
    let r = fetched_by_a_partner(&stack, GRAPHQL).await;
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    let sdl = r.text().await.unwrap();
    let document = graphql_parser::parse_schema::<String>(&sdl).unwrap_or_else(|e| panic!("{e}\n{sdl}"));

    let mut types = BTreeSet::new();
    let fields = |name: &str| -> BTreeSet<String> {
        document
            .definitions
            .iter()
            .find_map(|d| match d {
                Definition::TypeDefinition(TypeDefinition::Object(o)) if o.name == name => {
                    Some(o.fields.iter().map(|f| f.name.clone()).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    for definition in &document.definitions {
        if let Definition::TypeDefinition(t) = definition {
            types.insert(match t {
                TypeDefinition::Scalar(t) => t.name.clone(),
                TypeDefinition::Object(t) => t.name.clone(),
                TypeDefinition::Interface(t) => t.name.clone(),
                TypeDefinition::Union(t) => t.name.clone(),
                TypeDefinition::Enum(t) => t.name.clone(),
                TypeDefinition::InputObject(t) => t.name.clone(),
            });
        }
    }
    assert_eq!(types, BUNDLE_TYPES.iter().map(|t| (*t).to_owned()).collect::<BTreeSet<_>>(), "{sdl}");
    let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(
        fields("Query"),
        set(&["acqiMetrics", "case", "cases", "encounter", "entities", "entity", "evidence", "incident", "incidents"])
    );
    assert_eq!(
        fields("Mutation"),
        set(&[
            "closeCase",
            "closeIncident",
            "createCase",
            "createEvidence",
            "createIncident",
            "recordEvidenceOperation",
            "updateCase",
            "updateIncident"
        ])
    );
    // Object types keep only the fields some bundle selects.
    assert_eq!(fields("EntityConnection"), set(&["nodes", "nextCursor"]));
    assert_eq!(fields("Entity"), set(&["id", "kind", "name", "createdAt", "attributesJson", "relationships"]));
    // Each bundle and its operations are named in the header.
    for line in [
        "# Bundle case-sync: CaseSyncPage, CaseById, CreateCase, UpdateCase, CloseCase",
        "# Bundle epcr-read: EncounterById",
    ] {
        assert!(sdl.contains(line), "{line}\n{sdl}");
    }
    assert!(sdl.contains("schema {\n  query: Query\n  mutation: Mutation\n}"), "{sdl}");
}
