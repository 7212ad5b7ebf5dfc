//! The part of the GraphQL schema that operation documents use: which
//! object types and which of their fields a set of documents selects, and
//! the schema language (SDL) of just that part.
//!
//! The schema is read once from juniper's own description of it (its
//! `schema-language` AST, the types the resolvers are written as), so the
//! surface cannot drift from what the transport runs. Two things use it:
//! the partner contract's `external.graphql` (the surface of the shipped
//! bundles) and the GraphQL data schemas (the surface of the bundles granted
//! to the caller's app).

use std::collections::{BTreeMap, BTreeSet};

use graphql_parser::query::{self, Definition as QueryDefinition, OperationDefinition, Selection, SelectionSet, Text};
use graphql_parser::schema::{Definition, Document, ObjectType, SchemaDefinition, Type, TypeDefinition};

use super::schema::Schema;

/// Deepest selection followed: far beyond what the transport runs
/// (`document::MAX_DEPTH`), a bound on recursion for any stored document.
const MAX_WALK_DEPTH: usize = 64;

/// The name GraphQL gives every object for `__typename`.
pub const TYPENAME: &str = "__typename";

/// The schema's type definitions by name, and its root types.
#[derive(Debug)]
pub struct GraphqlSurface {
    types: BTreeMap<String, TypeDefinition<'static, String>>,
    query: String,
    mutation: Option<String>,
}

/// What a set of operation documents uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Object types (the root types among them) and the fields selected on
    /// them, `__typename` included when selected.
    pub fields: BTreeMap<String, BTreeSet<String>>,
    /// Enums, scalars and input objects, which are used whole.
    pub whole: BTreeSet<String>,
}

/// juniper's SDL of the schema did not parse back: a bug, found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("the GraphQL schema's SDL does not parse: {0}")]
pub struct SurfaceError(String);

impl GraphqlSurface {
    /// The surface of `schema`, as juniper writes it.
    pub fn of(schema: &Schema) -> Result<Self, SurfaceError> {
        let sdl = schema.as_sdl();
        let document = graphql_parser::parse_schema::<String>(&sdl).map_err(|e| SurfaceError(e.to_string()))?;
        let mut types = BTreeMap::new();
        let mut roots = None;
        for definition in document.into_static().definitions {
            match definition {
                Definition::TypeDefinition(t) => {
                    types.insert(type_name(&t).to_owned(), t);
                }
                Definition::SchemaDefinition(s) => roots = Some((s.query, s.mutation)),
                _ => {}
            }
        }
        let (query, mutation) = roots.unwrap_or((None, None));
        Ok(Self { types, query: query.unwrap_or_else(|| "Query".to_owned()), mutation })
    }

    pub fn definition(&self, name: &str) -> Option<&TypeDefinition<'static, String>> {
        self.types.get(name)
    }

    pub fn object(&self, name: &str) -> Option<&ObjectType<'static, String>> {
        match self.types.get(name) {
            Some(TypeDefinition::Object(o)) => Some(o),
            _ => None,
        }
    }

    /// Every object type's name, the root types among them.
    pub fn object_names(&self) -> impl Iterator<Item = &str> {
        self.types.values().filter_map(|t| match t {
            TypeDefinition::Object(o) => Some(o.name.as_str()),
            _ => None,
        })
    }

    pub fn is_root(&self, name: &str) -> bool {
        name == self.query || self.mutation.as_deref() == Some(name)
    }

    /// What `documents` select. A document that does not parse, and a
    /// field the schema does not have, add nothing: the transport refuses
    /// such documents, so they use nothing.
    pub fn usage<'a>(&self, documents: impl IntoIterator<Item = &'a str>) -> Usage {
        let mut usage = Usage::default();
        for source in documents {
            let Ok(document) = graphql_parser::parse_query::<&str>(source) else { continue };
            for definition in &document.definitions {
                let QueryDefinition::Operation(operation) = definition else { continue };
                let (root, variables, selection) = match operation {
                    OperationDefinition::SelectionSet(s) => (Some(&self.query), &[][..], s),
                    OperationDefinition::Query(q) => (Some(&self.query), &q.variable_definitions[..], &q.selection_set),
                    OperationDefinition::Mutation(m) => {
                        (self.mutation.as_ref(), &m.variable_definitions[..], &m.selection_set)
                    }
                    OperationDefinition::Subscription(_) => continue,
                };
                let Some(root) = root else { continue };
                for variable in variables {
                    self.use_whole(innermost(&variable.var_type), &mut usage);
                }
                self.walk(root, selection, &mut usage, 0);
            }
        }
        usage
    }

    /// Records the fields `selection` picks on the object type `on`.
    fn walk<'a>(&self, on: &str, selection: &SelectionSet<'a, &'a str>, usage: &mut Usage, depth: usize) {
        let Some(object) = self.object(on) else { return };
        if depth > MAX_WALK_DEPTH {
            return;
        }
        for item in &selection.items {
            match item {
                Selection::Field(field) if field.name == TYPENAME => {
                    usage.fields.entry(object.name.clone()).or_default().insert(TYPENAME.to_owned());
                }
                Selection::Field(field) => {
                    let Some(definition) = object.fields.iter().find(|f| f.name == field.name) else { continue };
                    usage.fields.entry(object.name.clone()).or_default().insert(definition.name.clone());
                    for argument in &definition.arguments {
                        self.use_whole(innermost(&argument.value_type), usage);
                    }
                    let target = innermost(&definition.field_type);
                    if self.object(target).is_some() {
                        self.walk(target, &field.selection_set, usage, depth + 1);
                    } else {
                        self.use_whole(target, usage);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = match &fragment.type_condition {
                        Some(query::TypeCondition::On(name)) => *name,
                        None => on,
                    };
                    self.walk(on, &fragment.selection_set, usage, depth + 1);
                }
                // Bundles hold no fragment definitions (argus_store::bundles).
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// Records a non-object type, and for an input object every type its
    /// fields take.
    fn use_whole(&self, name: &str, usage: &mut Usage) {
        let Some(definition) = self.types.get(name) else { return };
        if matches!(definition, TypeDefinition::Object(_)) || !usage.whole.insert(name.to_owned()) {
            return;
        }
        if let TypeDefinition::InputObject(input) = definition {
            for field in &input.fields {
                self.use_whole(innermost(&field.value_type), usage);
            }
        }
    }

    /// The SDL of what `usage` names: the root types with the operations
    /// used, object types with the fields selected, and enums, scalars and
    /// input objects whole; sorted by name.
    pub fn sdl(&self, usage: &Usage) -> String {
        let mut document = Document { definitions: Vec::new() };
        for (name, definition) in &self.types {
            let kept = match definition {
                TypeDefinition::Object(object) => usage.fields.get(name).map(|fields| {
                    let mut object = object.clone();
                    object.fields.retain(|f| fields.contains(&f.name));
                    TypeDefinition::Object(object)
                }),
                other => usage.whole.contains(name).then(|| other.clone()),
            };
            document.definitions.extend(kept.map(Definition::TypeDefinition));
        }
        let mutation = self.mutation.clone().filter(|m| usage.fields.contains_key(m));
        document.definitions.insert(
            0,
            Definition::SchemaDefinition(SchemaDefinition {
                position: Default::default(),
                directives: Vec::new(),
                query: Some(self.query.clone()),
                mutation,
                subscription: None,
            }),
        );
        document.to_string()
    }
}

fn type_name<'a>(definition: &'a TypeDefinition<'static, String>) -> &'a str {
    match definition {
        TypeDefinition::Scalar(t) => &t.name,
        TypeDefinition::Object(t) => &t.name,
        TypeDefinition::Interface(t) => &t.name,
        TypeDefinition::Union(t) => &t.name,
        TypeDefinition::Enum(t) => &t.name,
        TypeDefinition::InputObject(t) => &t.name,
    }
}

/// The named type inside lists and non-nulls.
pub fn innermost<'a, 't, T: Text<'a>>(ty: &'t Type<'a, T>) -> &'t str {
    match ty {
        Type::NamedType(name) => name.as_ref(),
        Type::ListType(inner) | Type::NonNullType(inner) => innermost(inner),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::graphql::schema::schema;

    #[test]
    fn usage_follows_selections_arguments_and_variables() {
        let surface = GraphqlSurface::of(&schema()).unwrap();
        let usage = surface.usage([
            "mutation M($input: CreateCaseInput!) { createCase(input: $input) { id status } }",
            "query Q { incidents(filter: { status: OPEN }) { nodes { ... on Incident { title } __typename } } }",
        ]);
        let fields = |t: &str| usage.fields[t].iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(fields("Mutation"), ["createCase"]);
        assert_eq!(fields("Case"), ["id", "status"]);
        assert_eq!(fields("IncidentConnection"), ["nodes"]);
        assert_eq!(fields("Incident"), ["__typename", "title"]);
        let whole: Vec<&str> = usage.whole.iter().map(String::as_str).collect();
        // The input object brings in its fields' types; `first`/`after` are builtins.
        assert_eq!(
            whole,
            ["CaseStatus", "CreateCaseInput", "DateTime", "IncidentFilter", "IncidentStatus", "Severity"]
        );
        let sdl = surface.sdl(&usage);
        let reparsed = graphql_parser::parse_schema::<String>(&sdl).unwrap();
        assert!(sdl.contains("mutation: Mutation"), "{sdl}");
        assert!(!sdl.contains("closeCase") && !sdl.contains("CreateEntityInput"), "{sdl}");
        assert_eq!(reparsed.definitions.len(), 1 + usage.fields.len() + usage.whole.len());
    }

    #[test]
    fn unknown_fields_bad_documents_and_deep_nesting_add_nothing() {
        let surface = GraphqlSurface::of(&schema()).unwrap();
        let deep = format!("{{ case(id: \"x\") {}{}", "{ incidents ".repeat(40), "}".repeat(41));
        let usage = surface.usage(["{", "{ nope { id } }", "subscription S { x }", "fragment F on Case { id }", &deep]);
        assert!(!usage.fields.contains_key("Mutation"));
        assert_eq!(usage.fields.get("Query").map(|f| f.len()), Some(1), "only `case`: {usage:?}");
        assert!(surface.sdl(&Usage::default()).starts_with("schema {\n  query: Query\n}"));
    }

    proptest::proptest! {
        #[test]
        fn usage_never_panics(document in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "(query|mutation)? ?\\{ ?(case|incidents|createCase|__typename|nodes|id|\\.\\.\\. on Case)( ?\\{| ?\\}|\\(id: \"x\"\\)| ){0,12}",
        ]) {
            let surface = GraphqlSurface::of(&schema()).unwrap();
            let _ = surface.sdl(&surface.usage([document.as_str()]));
        }
    }
}
