//! JSON Schemas (draft 2020-12) of the resource types an integrator reads,
//! for `GET /v1/discovery/data-schemas`: which ones a caller sees, and each
//! one's schema.
//!
//! Each schema is generated from the code that writes the resource on the
//! wire, so it cannot drift from what the API answers:
//! - a REST resource from its OpenAPI component (utoipa's `ToSchema` of the
//!   view the route serialises); OpenAPI 3.1 schema objects are JSON Schema
//!   2020-12, so only the `$ref`s move from `#/components/schemas/X` to the
//!   schema's own `#/$defs/X`;
//! - a GraphQL object from the schema juniper runs ([`GraphqlSurface`]),
//!   with the fields the bundles granted to the caller's app select: a
//!   GraphQL answer holds only what its document selects, so every property
//!   is optional and no other is allowed.
//!
//! Not schemars: it would derive a second description of the REST views
//! beside utoipa's (two that can disagree), and GraphQL objects are juniper
//! resolvers, not serde types, so it could describe neither faithfully.
//!
//! What a caller sees: a REST resource when its token holds the resource's
//! read scope (or the write scope implying it); a GraphQL resource when it
//! does and a bundle granted to its app in its tenant selects the type.

use std::collections::BTreeSet;

use graphql_parser::schema::{Type, TypeDefinition};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::graphql::surface::{GraphqlSurface, TYPENAME, Usage};

/// The dialect every schema declares in `$schema`.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Where a resource is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// A REST route's JSON body, described in the API's OpenAPI document
    /// under `#/components/schemas/{name}`.
    Rest,
    /// A GraphQL object type of that name, through the curated bundles.
    Graphql,
}

/// A resource type: its name (the OpenAPI component's or the GraphQL
/// type's), where it is read, and the scope that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub name: &'static str,
    pub surface: Surface,
    pub scope: &'static str,
}

const fn rest(name: &'static str, scope: &'static str) -> Resource {
    Resource { name, surface: Surface::Rest, scope }
}

const fn graphql(name: &'static str, scope: &'static str) -> Resource {
    Resource { name, surface: Surface::Graphql, scope }
}

/// Every resource type with a data schema. The GraphQL types not here are
/// the root types, the connections (a page of a resource) and the parts of
/// a resource (`EvidenceEntry`, `AcqiIndicator`, `AcqiInterval`), which are
/// in the `$defs` of the resource holding them; a unit test keeps that so.
pub const RESOURCES: &[Resource] = &[
    rest("JobView", "jobs:read"),
    rest("EncounterView", "epcr:read"),
    rest("DeviceView", "devices:read"),
    rest("ObservationView", "devices:read"),
    rest("ProvenanceView", "evidence:read"),
    rest("TraceView", "traces:read"),
    graphql("Incident", "incidents:read"),
    graphql("Case", "cases:read"),
    graphql("Entity", "entities:read"),
    graphql("Relationship", "entities:read"),
    graphql("Encounter", "epcr:read"),
    graphql("Evidence", "evidence:read"),
    graphql("AcqiMetrics", "metrics:read"),
];

/// One entry of the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataSchemaEntry {
    /// The resource type's name: its OpenAPI component (`rest`) or GraphQL
    /// type (`graphql`).
    #[schema(example = "Incident")]
    pub name: String,
    /// What the resource is, from its schema.
    pub description: Option<String>,
    pub surface: Surface,
    /// The scope that reads it (its write scope implies it, except for
    /// `epcr:read`).
    #[schema(example = "incidents:read")]
    pub scope: String,
    /// The schema itself (`application/schema+json`), which is also its `$id`.
    #[schema(example = "https://api.knogin.com/v1/discovery/data-schemas/Incident")]
    pub url: String,
}

/// The data schemas the caller can see, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataSchemaList {
    pub schemas: Vec<DataSchemaEntry>,
}

/// Every resource's source, read once at start: the GraphQL surface and the
/// API's OpenAPI components.
pub struct DataSchemas {
    graphql: GraphqlSurface,
    components: Map<String, Value>,
    /// `{API URL}/v1/discovery/data-schemas`, no trailing `/`.
    base: String,
}

impl DataSchemas {
    pub fn new(graphql: GraphqlSurface, openapi: &utoipa::openapi::OpenApi, api_url: &str) -> Self {
        let components = openapi
            .components
            .as_ref()
            .and_then(|c| serde_json::to_value(&c.schemas).ok())
            .and_then(|v| match v {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .unwrap_or_default();
        Self { graphql, components, base: format!("{}/v1/discovery/data-schemas", api_url.trim_end_matches('/')) }
    }

    pub fn graphql(&self) -> &GraphqlSurface {
        &self.graphql
    }

    /// The resources a caller holding the scopes `has` says yes to sees,
    /// `usage` being what its app's granted bundles select; sorted by name.
    pub fn list(&self, has: impl Fn(&str) -> bool, usage: &Usage) -> DataSchemaList {
        let mut schemas: Vec<DataSchemaEntry> = RESOURCES
            .iter()
            .filter(|r| has(r.scope))
            .filter_map(|r| {
                let schema = self.body(r, usage)?;
                Some(DataSchemaEntry {
                    name: r.name.to_owned(),
                    description: schema["description"].as_str().map(str::to_owned),
                    surface: r.surface,
                    scope: r.scope.to_owned(),
                    url: self.url(r.name),
                })
            })
            .collect();
        schemas.sort_by(|a, b| a.name.cmp(&b.name));
        DataSchemaList { schemas }
    }

    /// The schema document of `name` if the caller sees it (see [`Self::list`]).
    pub fn schema(&self, name: &str, has: impl Fn(&str) -> bool, usage: &Usage) -> Option<Value> {
        let resource = RESOURCES.iter().find(|r| r.name == name && has(r.scope))?;
        let body = self.body(resource, usage)?;
        let mut document = Map::new();
        document.insert("$schema".into(), DIALECT.into());
        document.insert("$id".into(), self.url(resource.name).into());
        document.insert("title".into(), resource.name.into());
        if let Value::Object(body) = body {
            document.extend(body);
        }
        Some(Value::Object(document))
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// The schema without `$schema`, `$id` and `title`; `None` for a GraphQL
    /// type no granted bundle selects.
    fn body(&self, resource: &Resource, usage: &Usage) -> Option<Value> {
        match resource.surface {
            Surface::Rest => rest_schema(&self.components, resource.name),
            Surface::Graphql => graphql_schema(&self.graphql, resource.name, usage),
        }
    }
}

const COMPONENT_REF: &str = "#/components/schemas/";

/// The OpenAPI component `name` with every component it refers to, directly
/// or not, under `$defs`.
fn rest_schema(components: &Map<String, Value>, name: &str) -> Option<Value> {
    let mut root = components.get(name)?.clone();
    let mut defs = Map::new();
    let mut pending = Vec::new();
    collect_refs(&root, &mut pending);
    while let Some(referenced) = pending.pop() {
        if referenced == name || defs.contains_key(&referenced) {
            continue;
        }
        let Some(schema) = components.get(&referenced) else { continue };
        collect_refs(schema, &mut pending);
        defs.insert(referenced, schema.clone());
    }
    // `$defs` and the document itself (`#`) for the root.
    let to = |r: &str| {
        r.strip_prefix(COMPONENT_REF).map(|n| if n == name { "#".to_owned() } else { format!("#/$defs/{n}") })
    };
    for schema in defs.values_mut() {
        map_refs(schema, &to);
    }
    map_refs(&mut root, &to);
    if let Value::Object(map) = &mut root
        && !defs.is_empty()
    {
        map.insert("$defs".into(), Value::Object(defs));
    }
    Some(root)
}

/// The component names `value` refers to.
fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => into.extend(r.strip_prefix(COMPONENT_REF).map(str::to_owned)),
                    _ => collect_refs(v, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

/// Replaces each `$ref` for which `to` gives a new target.
fn map_refs(value: &mut Value, to: &impl Fn(&str) -> Option<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some(target) = to(r) {
                            *r = target;
                        }
                    }
                    other => map_refs(other, to),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| map_refs(v, to)),
        _ => {}
    }
}

/// The object type `name` with the fields `usage` selects on it, and the
/// object types those lead to under `$defs`.
fn graphql_schema(surface: &GraphqlSurface, name: &str, usage: &Usage) -> Option<Value> {
    usage.fields.get(name)?;
    let mut pending = Vec::new();
    let mut root = graphql_object(surface, name, usage, &mut pending)?;
    let mut defs = Map::new();
    while let Some(referenced) = pending.pop() {
        if referenced == name || defs.contains_key(&referenced) {
            continue;
        }
        if let Some(schema) = graphql_object(surface, &referenced, usage, &mut pending) {
            defs.insert(referenced, schema);
        }
    }
    if let Value::Object(map) = &mut root
        && !defs.is_empty()
    {
        map.insert("$defs".into(), Value::Object(defs));
    }
    // The root type, if a nested object leads back to it, is the document.
    let own = format!("#/$defs/{name}");
    map_refs(&mut root, &|r: &str| (r == own).then(|| "#".to_owned()));
    Some(root)
}

fn graphql_object(surface: &GraphqlSurface, name: &str, usage: &Usage, pending: &mut Vec<String>) -> Option<Value> {
    let object = surface.object(name)?;
    let selected: &BTreeSet<String> = usage.fields.get(name)?;
    let mut properties = Map::new();
    for field in object.fields.iter().filter(|f| selected.contains(&f.name)) {
        let mut property = field_type(surface, &field.field_type, pending);
        if let (Some(description), Value::Object(map)) = (&field.description, &mut property) {
            map.insert("description".into(), description.clone().into());
        }
        properties.insert(field.name.clone(), property);
    }
    if selected.contains(TYPENAME) {
        properties.insert(TYPENAME.into(), json!({ "const": name }));
    }
    let mut schema = json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if let Some(description) = &object.description {
        schema["description"] = description.clone().into();
    }
    Some(schema)
}

/// A GraphQL field's type: nullable unless `!`.
fn field_type(surface: &GraphqlSurface, ty: &Type<'static, String>, pending: &mut Vec<String>) -> Value {
    match ty {
        Type::NonNullType(inner) => non_null(surface, inner, pending),
        other => json!({ "anyOf": [non_null(surface, other, pending), { "type": "null" }] }),
    }
}

fn non_null(surface: &GraphqlSurface, ty: &Type<'static, String>, pending: &mut Vec<String>) -> Value {
    match ty {
        Type::NonNullType(inner) => non_null(surface, inner, pending),
        Type::ListType(inner) => json!({ "type": "array", "items": field_type(surface, inner, pending) }),
        Type::NamedType(name) => named(surface, name, pending),
    }
}

/// Int is 32-bit in GraphQL.
fn named(surface: &GraphqlSurface, name: &str, pending: &mut Vec<String>) -> Value {
    match name {
        "ID" | "String" => json!({ "type": "string" }),
        "Int" => json!({ "type": "integer", "minimum": i32::MIN, "maximum": i32::MAX }),
        "Float" => json!({ "type": "number" }),
        "Boolean" => json!({ "type": "boolean" }),
        _ => match surface.definition(name) {
            Some(TypeDefinition::Object(_)) => {
                pending.push(name.to_owned());
                json!({ "$ref": format!("#/$defs/{name}") })
            }
            Some(TypeDefinition::Enum(e)) => {
                json!({ "type": "string", "enum": e.values.iter().map(|v| v.name.clone()).collect::<Vec<_>>() })
            }
            _ => scalar(name).unwrap_or_else(|| json!({})),
        },
    }
}

/// The custom scalars' JSON forms, as juniper's chrono integration writes
/// them; a unit test checks every custom scalar of the schema is here.
fn scalar(name: &str) -> Option<Value> {
    match name {
        "DateTime" => Some(json!({ "type": "string", "format": "date-time" })),
        "LocalDate" => Some(json!({ "type": "string", "format": "date" })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use utoipa::OpenApi;

    use super::*;
    use crate::graphql::schema::schema;

    /// Object types that are no resource of their own: the roots, pages of
    /// a resource, and parts of one (in its `$defs`).
    const NOT_RESOURCES: &[&str] = &[
        "Query",
        "Mutation",
        "IncidentConnection",
        "CaseConnection",
        "EntityConnection",
        "EvidenceEntry",
        "AcqiIndicator",
        "AcqiInterval",
    ];

    fn catalog() -> DataSchemas {
        DataSchemas::new(
            GraphqlSurface::of(&schema()).unwrap(),
            &crate::openapi::ApiDoc::openapi(),
            "https://api.test/",
        )
    }

    #[test]
    fn every_graphql_object_is_a_resource_or_named_as_none() {
        let catalog = catalog();
        let objects: BTreeSet<&str> = catalog.graphql().object_names().collect();
        let known: BTreeSet<&str> = RESOURCES
            .iter()
            .filter(|r| r.surface == Surface::Graphql)
            .map(|r| r.name)
            .chain(NOT_RESOURCES.iter().copied())
            .collect();
        assert_eq!(objects, known, "a new GraphQL object type needs an entry in RESOURCES (or NOT_RESOURCES)");
    }

    #[test]
    fn every_rest_resource_is_a_component_and_every_scope_is_in_the_catalog() {
        let catalog = catalog();
        for r in RESOURCES {
            assert!(argus_types::scopes::catalog_entry(r.scope).is_some(), "{}", r.scope);
            if r.surface == Surface::Rest {
                let schema = rest_schema(&catalog.components, r.name).unwrap_or_else(|| panic!("{}", r.name));
                assert!(!schema.to_string().contains(COMPONENT_REF), "{}: {schema}", r.name);
            }
        }
    }

    #[test]
    fn every_custom_scalar_has_its_json_form() {
        let catalog = catalog();
        let usage = catalog.graphql().usage(["{ incidents { nodes { createdAt } } }"]);
        assert!(usage.whole.contains("DateTime"), "{usage:?}");
        for name in ["DateTime", "LocalDate"] {
            assert!(matches!(catalog.graphql().definition(name), Some(TypeDefinition::Scalar(_))), "{name}");
        }
        let sdl = schema().as_sdl();
        let scalars: Vec<&str> =
            sdl.lines().filter_map(|l| l.strip_prefix("scalar ")?.split_whitespace().next()).collect();
        assert!(!scalars.is_empty());
        for name in scalars {
            assert!(scalar(name).is_some(), "scalar {name} has no JSON form");
        }
    }

    #[test]
    fn graphql_schemas_hold_the_selected_fields_and_their_types() {
        let catalog = catalog();
        let usage = catalog.graphql().usage([
            "query Q($id: ID!) { case(id: $id) { __typename id status incidents { id severity } } }",
            "not a document",
            "{ case(id: \"x\") { noSuchField } }",
        ]);
        let all = |_: &str| true;
        let case = catalog.schema("Case", all, &usage).unwrap();
        assert_eq!(case["$id"], "https://api.test/v1/discovery/data-schemas/Case");
        let properties: Vec<&String> = case["properties"].as_object().unwrap().keys().collect();
        assert_eq!(properties, ["__typename", "id", "incidents", "status"]);
        assert_eq!(case["properties"]["__typename"], json!({ "const": "Case" }));
        assert_eq!(
            case["properties"]["incidents"],
            json!({ "anyOf": [{ "type": "array", "items": { "$ref": "#/$defs/Incident" } }, { "type": "null" }],
                    "description": "The linked incidents themselves; needs `incidents:read` too." })
        );
        let incident = &case["$defs"]["Incident"];
        assert_eq!(incident["properties"]["severity"]["enum"], json!(["LOW", "MEDIUM", "HIGH", "CRITICAL"]));
        // Listed by scope: Case and Incident both used; Incident's scope withheld.
        let names = |list: DataSchemaList| list.schemas.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(catalog.list(|s| s == "cases:read", &usage)), ["Case"]);
        assert_eq!(names(catalog.list(all, &usage)).iter().filter(|n| !n.ends_with("View")).count(), 2);
        assert!(catalog.schema("Entity", all, &usage).is_none(), "no document uses it");
        assert!(catalog.schema("Case", |s| s == "incidents:read", &usage).is_none());
    }
}
