//! The partner contract files (contract 2026.4, `partnerPortal` of the docs
//! index, `availability: approved_partner`): `external.graphql`, the SDL of
//! the types and operations the curated bundles (docs/bundles) use, and
//! `external-openapi.json`, both hosts' public OpenAPI documents merged
//! into one, every path naming the servers of the host that serves it.

use actix_web::web::Bytes;
use serde_json::{Map, Value, json};

use crate::graphql::surface::{GraphqlSurface, Usage};
use crate::shipped_bundles::SHIPPED_BUNDLES;

/// The contract version the files are of.
pub const CONTRACT_VERSION: &str = "2026.4.0";

/// Where a tenant asks to become an approved partner (the docs index's
/// `partnerPortal.requestAccessUrl`).
pub const REQUEST_ACCESS_URL: &str = "https://knogin.com/en/docs/integration-guide#vendor-contact";

/// `external.graphql`: a comment naming the bundles and their operations,
/// then the SDL of what they use.
pub fn external_sdl(surface: &GraphqlSurface) -> String {
    let mut header = format!(
        "# Argus external GraphQL contract {CONTRACT_VERSION}: the types and operations the curated bundles use.\n\
         # POST https://api.knogin.com/graphql runs only the operations of the bundles granted to the calling app.\n"
    );
    let mut documents = Vec::new();
    for (name, source) in SHIPPED_BUNDLES {
        // The shipped files load with `argusctl bundle load`: a test says so.
        let operations = argus_store::bundles::parse_bundle_file(source).unwrap_or_default();
        let names: Vec<&str> = operations.iter().map(|o| o.name.as_str()).collect();
        header.push_str(&format!("# Bundle {name}: {}\n", names.join(", ")));
        documents.extend(operations.into_iter().map(|o| o.document));
    }
    let usage: Usage = surface.usage(documents.iter().map(String::as_str));
    format!("{header}\n{}", surface.sdl(&usage))
}

/// Two documents define the same component differently.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("both OpenAPI documents define `{0}`, differently")]
pub struct MergeConflict(pub String);

/// `external-openapi.json`: the API's document and the auth-service's,
/// merged. Top-level `servers` lists both hosts' (each named by its
/// `description`); each path item carries the `servers` of the host that
/// serves it, both hosts' for the paths both serve (the discovery routes;
/// the webhook routes, on the sandbox's API host and live's auth host).
pub fn merge_openapi(api: &Value, auth: &Value) -> Result<Value, MergeConflict> {
    let servers_of = |doc: &Value| doc["servers"].as_array().cloned().unwrap_or_default();
    let (api_servers, auth_servers) = (servers_of(api), servers_of(auth));
    let mut paths = Map::new();
    for (doc, servers) in [(api, &api_servers), (auth, &auth_servers)] {
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let Value::Object(item) = item else { continue };
            // A path item naming its own servers (the sandbox's webhook
            // routes, on one of the API's hosts only) keeps them.
            let own_servers = match item.get("servers") {
                Some(Value::Array(own)) => own,
                _ => servers,
            };
            match paths.get_mut(path) {
                None => {
                    let mut item = item.clone();
                    item.insert("servers".into(), Value::Array(own_servers.clone()));
                    paths.insert(path.clone(), Value::Object(item));
                }
                Some(Value::Object(merged)) => {
                    let first_hosts: Vec<String> = merged
                        .get("servers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["url"].as_str().map(str::to_owned))
                        .collect();
                    for (method, operation) in item.iter().filter(|(key, _)| *key != "servers") {
                        match merged.get_mut(method) {
                            Some(kept) => mark_own_parameters(kept, operation, &first_hosts),
                            None => {
                                merged.insert(method.clone(), operation.clone());
                            }
                        }
                    }
                    if let Some(Value::Array(list)) = merged.get_mut("servers") {
                        list.extend(own_servers.iter().cloned());
                    }
                    // A description one host gives its item speaks for that
                    // host alone ("on sandbox-api only"); the merged item is
                    // served by both, as its `servers` say.
                    if merged.get("description") != item.get("description") {
                        merged.remove("description");
                    }
                }
                Some(_) => {}
            }
        }
    }
    let mut components = Map::new();
    for doc in [api, auth] {
        for (section, entries) in doc["components"].as_object().into_iter().flatten() {
            let Value::Object(entries) = entries else { continue };
            let Value::Object(merged) = components.entry(section.clone()).or_insert_with(|| json!({})) else {
                continue;
            };
            for (name, definition) in entries {
                match merged.get(name) {
                    Some(existing) if existing != definition => {
                        return Err(MergeConflict(format!("#/components/{section}/{name}")));
                    }
                    Some(_) => {}
                    None => {
                        merged.insert(name.clone(), definition.clone());
                    }
                }
            }
        }
    }
    let mut tags: Vec<Value> = Vec::new();
    for tag in [api, auth].iter().filter_map(|d| d["tags"].as_array()).flatten() {
        if !tags.iter().any(|t| t["name"] == tag["name"]) {
            tags.push(tag.clone());
        }
    }
    let mut merged = json!({
        "openapi": api["openapi"].clone(),
        "info": {
            "title": "Argus external API (partner contract)",
            "version": CONTRACT_VERSION,
            "description": "Both hosts' public routes in one document: each path's `servers` name the host that \
                            serves it (api.knogin.com and sandbox-api.knogin.com, or auth.knogin.com).",
        },
        "servers": api_servers.into_iter().chain(auth_servers).collect::<Vec<_>>(),
        "paths": paths,
        "components": components,
    });
    if !tags.is_empty() {
        merged["tags"] = Value::Array(tags);
    }
    Ok(merged)
}

/// One operation stands for a path both hosts serve: each parameter of
/// `kept` (the first host's) that `other` (the second's) does not declare
/// says it is read on `hosts` only (`X-Sandbox-Scenario` on the webhook
/// routes: the sandbox API reads it, auth.knogin.com refuses it, as live
/// does).
fn mark_own_parameters(kept: &mut Value, other: &Value, hosts: &[String]) {
    let declared = |p: &Value| {
        other["parameters"].as_array().into_iter().flatten().any(|o| o["name"] == p["name"] && o["in"] == p["in"])
    };
    let Some(parameters) = kept.get_mut("parameters").and_then(Value::as_array_mut) else { return };
    for parameter in parameters.iter_mut().filter(|p| p["name"].is_string()) {
        if declared(parameter) {
            continue;
        }
        let description = parameter["description"].as_str().unwrap_or_default();
        parameter["description"] = json!(format!("Read on {} only. {description}", hosts.join(" and ")));
    }
}

/// The two files, made once at start: the SDL, and the merged OpenAPI
/// document. The auth-service's document is its crate's `ApiDoc`, the one
/// it serves at `/.well-known/openapi.json`: the two services ship from
/// one workspace, at one version.
pub struct PartnerFiles {
    pub sdl: String,
    pub openapi: Bytes,
}

impl PartnerFiles {
    pub fn new(surface: &GraphqlSurface, api: &utoipa::openapi::OpenApi) -> Result<Self, MergeConflict> {
        let to_value = |doc: &utoipa::openapi::OpenApi| serde_json::to_value(doc).unwrap_or_default();
        let merged = merge_openapi(&to_value(api), &to_value(&<auth_service::ApiDoc as utoipa::OpenApi>::openapi()))?;
        Ok(Self { sdl: external_sdl(surface), openapi: Bytes::from(merged.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn doc(server: &str, paths: Value, schemas: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": { "title": server, "version": "1" },
            "servers": [{ "url": server, "description": server }],
            "paths": paths,
            "components": { "schemas": schemas },
            "tags": [{ "name": "Discovery" }],
        })
    }

    #[test]
    fn shared_paths_name_both_hosts_and_differing_components_conflict() {
        let problem = json!({ "type": "object" });
        let api = doc(
            "https://api",
            json!({ "/a": { "get": { "summary": "api a" } }, "/shared": { "get": { "summary": "api" } } }),
            json!({ "Problem": problem, "A": {} }),
        );
        let auth = doc(
            "https://auth",
            json!({ "/b": { "post": {} }, "/shared": { "get": { "summary": "auth" }, "head": {} } }),
            json!({ "Problem": problem, "B": {} }),
        );
        let merged = merge_openapi(&api, &auth).unwrap();
        let urls = |path: &str| -> Vec<String> {
            merged["paths"][path]["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["url"].as_str().unwrap().into())
                .collect()
        };
        assert_eq!(urls("/a"), ["https://api"]);
        assert_eq!(urls("/b"), ["https://auth"]);
        assert_eq!(urls("/shared"), ["https://api", "https://auth"]);
        assert_eq!(merged["paths"]["/shared"]["get"]["summary"], "api");
        assert!(merged["paths"]["/shared"]["head"].is_object());
        assert_eq!(merged["servers"].as_array().unwrap().len(), 2);
        assert_eq!(merged["tags"], json!([{ "name": "Discovery" }]));
        let schemas = merged["components"]["schemas"].as_object().unwrap();
        assert_eq!(schemas.keys().collect::<Vec<_>>(), ["A", "B", "Problem"]);

        let other = doc("https://auth", json!({}), json!({ "Problem": { "type": "string" } }));
        assert_eq!(merge_openapi(&api, &other), Err(MergeConflict("#/components/schemas/Problem".into())));
    }

    #[test]
    fn a_parameter_one_host_declares_on_a_shared_path_is_marked_as_its_own() {
        let header =
            |description: &str| json!({ "name": "X-Sandbox-Scenario", "in": "header", "description": description });
        let api = doc(
            "https://sandbox-api",
            json!({ "/hooks": { "post": { "parameters": [header("Sandbox only."), { "name": "id", "in": "path" }] } } }),
            json!({}),
        );
        let auth = doc(
            "https://auth",
            json!({ "/hooks": { "post": { "parameters": [{ "name": "id", "in": "path" }] } } }),
            json!({}),
        );
        let merged = merge_openapi(&api, &auth).unwrap();
        let parameters = &merged["paths"]["/hooks"]["post"]["parameters"];
        assert_eq!(parameters[0]["description"], "Read on https://sandbox-api only. Sandbox only.");
        assert!(parameters[1].get("description").is_none(), "both declare it: {parameters}");
    }

    #[test]
    fn the_real_documents_merge() {
        let api = serde_json::to_value(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        let merged = merge_openapi(&api, &api).unwrap();
        assert_eq!(merged["paths"].as_object().unwrap().len(), api["paths"].as_object().unwrap().len());
        let auth = serde_json::to_value(<auth_service::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        let merged = merge_openapi(&api, &auth).unwrap();
        assert!(merged["paths"]["/v1/oauth/token"].is_object() && merged["paths"]["/v1/jobs"].is_object());
        // The webhook routes, on both hosts: the scenario header is the
        // sandbox's only.
        let header = merged["paths"]["/v1/webhooks"]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "X-Sandbox-Scenario")
            .unwrap();
        assert!(header["description"].as_str().unwrap().starts_with("Read on https://sandbox-api.knogin.com only."));
        let webhooks = &merged["paths"]["/v1/webhooks"];
        let hosts: Vec<&str> =
            webhooks["servers"].as_array().unwrap().iter().filter_map(|s| s["url"].as_str()).collect();
        assert_eq!(hosts, ["https://sandbox-api.knogin.com", "https://auth.knogin.com"]);
        assert!(webhooks.get("description").is_none(), "no one host's \"only\": {}", webhooks["description"]);
    }
}
