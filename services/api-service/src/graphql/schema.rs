//! The GraphQL schema over the incident and case domain. Every resolver
//! checks the token's scope itself, so a missing scope fails that field
//! only (`FORBIDDEN`) and the rest of the operation still answers; for
//! that, every resolver that can fail is nullable (a non-null field's error
//! would null its parent, up to the whole `data`).

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_authn::Principal;
use argus_bus::proto;
use argus_domain::entities::valid_relationship_kind;
use argus_store::domain::{
    Announce, CaseChanges, CaseFilter as StoreCaseFilter, CaseRecord, DomainEvent, EntityFilter as StoreEntityFilter,
    EntityRecord, IncidentChanges, IncidentFilter as StoreIncidentFilter, IncidentRecord, NewCase, NewEntity,
    NewIncident, RelationshipRecord,
};
use argus_store::{Page, Store, StoreError};

use super::IncidentCache;
use argus_types::{CaseId, EntityId, IncidentId};
use chrono::{DateTime, Utc};
use juniper::{
    EmptySubscription, FieldError, GraphQLEnum, GraphQLInputObject, ID, IntoFieldError, RootNode, ScalarValue,
    graphql_object, graphql_value,
};

/// Largest page a list field returns.
pub const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;
/// Most relationships listed on one entity.
const MAX_RELATIONSHIPS: i32 = 200;

pub type Schema = RootNode<Query, Mutation, EmptySubscription<Ctx>>;

pub fn schema() -> Schema {
    // Introspection is refused before execution with its own error code;
    // disabling it here too means no path reaches the schema dump.
    Schema::new(Query, Mutation, EmptySubscription::new()).disable_introspection()
}

/// What every resolver gets: the store, the verified caller, and how to
/// turn a domain event into an outbox row.
pub struct Ctx {
    pub store: Store,
    pub principal: Principal,
    pub announce: Arc<Announce>,
    pub incidents: IncidentCache,
}

impl juniper::Context for Ctx {}

/// A GraphQL error with its `extensions.code`.
#[derive(Debug)]
pub struct GqlError {
    pub code: &'static str,
    pub message: String,
}

impl GqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new("NOT_FOUND", format!("{what} not found"))
    }
}

impl<S: ScalarValue> IntoFieldError<S> for GqlError {
    fn into_field_error(self) -> FieldError<S> {
        let code = self.code;
        FieldError::new(self.message, graphql_value!({ "code": code }))
    }
}

impl From<StoreError> for GqlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::new("NOT_FOUND", format!("{what} not found")),
            StoreError::Conflict(m) => Self::new("CONFLICT", m),
            StoreError::Pool(_) => Self::new("SERVICE_UNAVAILABLE", "the database is unavailable; retry later"),
            StoreError::Query(diesel_error) if is_check_violation(&diesel_error) => {
                Self::new("BAD_USER_INPUT", "a value is out of range (titles and names: 1 to 500 characters)")
            }
            other => {
                tracing::error!(error = %other, "store error in a resolver");
                Self::new("INTERNAL_SERVER_ERROR", "internal error")
            }
        }
    }
}

fn is_check_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, _))
}

type GqlResult<T> = Result<T, GqlError>;

impl Ctx {
    /// The caller holds `scope` (or its write scope, which implies it).
    fn require(&self, scope: &'static str) -> GqlResult<()> {
        if self.principal.has(scope) {
            Ok(())
        } else {
            Err(GqlError::new("FORBIDDEN", format!("the token lacks the scope `{scope}`")))
        }
    }

    fn tenant(&self) -> &argus_types::TenantId {
        &self.principal.tenant
    }
}

fn parse_id<T: std::str::FromStr>(id: &ID, what: &str) -> GqlResult<T> {
    id.parse().map_err(|_| GqlError::new("BAD_USER_INPUT", format!("`{id}` is not a {what} id")))
}

fn page_size(first: Option<i32>) -> GqlResult<usize> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(GqlError::new("BAD_USER_INPUT", format!("`first` must be between 1 and {MAX_PAGE}")));
    }
    usize::try_from(first).map_err(|_| GqlError::new("BAD_USER_INPUT", "bad `first`"))
}

fn cursor<T: std::str::FromStr>(after: Option<String>) -> GqlResult<Option<T>> {
    after
        .map(|a| {
            a.parse().map_err(|_| GqlError::new("BAD_USER_INPUT", format!("`{a}` is not a cursor from this list")))
        })
        .transpose()
}

fn bounded(field: &str, value: &str, max: usize) -> GqlResult<()> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(GqlError::new("BAD_USER_INPUT", format!("`{field}` must be 1 to {max} characters")));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum IncidentStatus {
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum CaseStatus {
    Open,
    InProgress,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
pub enum EntityKind {
    Person,
    Organisation,
    Vehicle,
    Location,
}

/// The GraphQL face of a domain enum: the same variants, converted both
/// ways, so a stored value always has its GraphQL value and back.
macro_rules! mirror_domain_enum {
    ($name:ident { $($variant:ident),+ }) => {
        impl From<argus_domain::$name> for $name {
            fn from(value: argus_domain::$name) -> Self {
                match value {
                    $(argus_domain::$name::$variant => Self::$variant),+
                }
            }
        }

        impl From<$name> for argus_domain::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant),+
                }
            }
        }
    };
}

mirror_domain_enum!(IncidentStatus { Open, Closed });
mirror_domain_enum!(Severity { Low, Medium, High, Critical });
mirror_domain_enum!(CaseStatus { Open, InProgress, Closed });
mirror_domain_enum!(EntityKind { Person, Organisation, Vehicle, Location });

pub struct Incident(IncidentRecord);

/// An incident: something that happened, reported once and closed when
/// dealt with.
#[graphql_object(context = Ctx)]
impl Incident {
    fn id(&self) -> ID {
        ID::new(&self.0.id)
    }
    fn title(&self) -> &str {
        &self.0.title
    }
    fn description(&self) -> &str {
        &self.0.description
    }
    fn status(&self) -> IncidentStatus {
        self.0.status.into()
    }
    fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    /// Who reported it: the subject of the token that created it.
    fn reporter(&self) -> &str {
        &self.0.reporter
    }
    fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.0.occurred_at
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
}

pub struct Case(CaseRecord);

/// A case: an investigation of linked incidents by its assignees.
#[graphql_object(context = Ctx)]
impl Case {
    fn id(&self) -> ID {
        ID::new(&self.0.id)
    }
    fn title(&self) -> &str {
        &self.0.title
    }
    fn description(&self) -> &str {
        &self.0.description
    }
    fn status(&self) -> CaseStatus {
        self.0.status.into()
    }
    fn assignees(&self) -> &[String] {
        &self.0.assignees
    }
    /// The ids of the linked incidents (readable with `cases:read` alone).
    fn incident_ids(&self) -> Vec<ID> {
        self.0.incident_ids.iter().map(ID::new).collect()
    }
    /// The linked incidents themselves; needs `incidents:read` too.
    async fn incidents(&self, #[graphql(context)] ctx: &Ctx) -> GqlResult<Option<Vec<Incident>>> {
        ctx.require("incidents:read")?;
        let id: CaseId = parse_id(&ID::new(&self.0.id), "case")?;
        Ok(Some(ctx.store.case_incidents(ctx.tenant(), &id).await?.into_iter().map(Incident).collect()))
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
}

pub struct Entity(EntityRecord);

/// A person, organisation, vehicle or location in the entity graph.
#[graphql_object(context = Ctx)]
impl Entity {
    fn id(&self) -> ID {
        ID::new(&self.0.id)
    }
    fn kind(&self) -> EntityKind {
        self.0.kind.into()
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Free-form attributes, as a JSON object in a string.
    fn attributes_json(&self) -> String {
        self.0.attributes.to_string()
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Edges from and to this entity, oldest first.
    async fn relationships(
        &self,
        #[graphql(context)] ctx: &Ctx,
        #[graphql(default = 50)] first: i32,
    ) -> GqlResult<Option<Vec<Relationship>>> {
        ctx.require("entities:read")?;
        if !(1..=MAX_RELATIONSHIPS).contains(&first) {
            return Err(GqlError::new("BAD_USER_INPUT", format!("`first` must be between 1 and {MAX_RELATIONSHIPS}")));
        }
        let id: EntityId = parse_id(&ID::new(&self.0.id), "entity")?;
        let limit = usize::try_from(first).unwrap_or(50);
        Ok(Some(
            ctx.store.entity_relationships(ctx.tenant(), &id, limit).await?.into_iter().map(Relationship).collect(),
        ))
    }
}

pub struct Relationship(RelationshipRecord);

/// A directed edge of the entity graph.
#[graphql_object(context = Ctx)]
impl Relationship {
    fn id(&self) -> ID {
        ID::new(&self.0.id)
    }
    fn kind(&self) -> &str {
        &self.0.kind
    }
    fn source_id(&self) -> ID {
        ID::new(&self.0.source_id)
    }
    fn target_id(&self) -> ID {
        ID::new(&self.0.target_id)
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

macro_rules! connection {
    ($name:ident, $node:ident, $doc:literal) => {
        pub struct $name(Vec<$node>, Option<String>);

        #[doc = $doc]
        #[graphql_object(context = Ctx)]
        impl $name {
            fn nodes(&self) -> &[$node] {
                &self.0
            }
            /// Pass as `after` for the next page; null on the last page.
            fn next_cursor(&self) -> Option<&str> {
                self.1.as_deref()
            }
        }

        impl<R> From<Page<R>> for $name
        where
            $node: From<R>,
        {
            fn from(page: Page<R>) -> Self {
                Self(page.items.into_iter().map($node::from).collect(), page.next_cursor)
            }
        }
    };
}

impl From<IncidentRecord> for Incident {
    fn from(r: IncidentRecord) -> Self {
        Self(r)
    }
}
impl From<CaseRecord> for Case {
    fn from(r: CaseRecord) -> Self {
        Self(r)
    }
}
impl From<EntityRecord> for Entity {
    fn from(r: EntityRecord) -> Self {
        Self(r)
    }
}

connection!(IncidentConnection, Incident, "A page of incidents.");
connection!(CaseConnection, Case, "A page of cases.");
connection!(EntityConnection, Entity, "A page of entities.");

#[derive(Debug, GraphQLInputObject)]
pub struct IncidentFilter {
    status: Option<IncidentStatus>,
    severity: Option<Severity>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CaseFilter {
    status: Option<CaseStatus>,
    assignee: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct EntityFilter {
    kind: Option<EntityKind>,
    name_contains: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateIncidentInput {
    title: String,
    description: Option<String>,
    severity: Severity,
    location: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
}

/// Omitted fields are left as they are.
#[derive(Debug, GraphQLInputObject)]
pub struct UpdateIncidentInput {
    title: Option<String>,
    description: Option<String>,
    severity: Option<Severity>,
    location: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateCaseInput {
    title: String,
    description: Option<String>,
    assignees: Option<Vec<String>>,
    incident_ids: Option<Vec<ID>>,
}

/// Omitted fields are left as they are; `status` may be OPEN or IN_PROGRESS
/// (close with `closeCase`).
#[derive(Debug, GraphQLInputObject)]
pub struct UpdateCaseInput {
    title: Option<String>,
    description: Option<String>,
    status: Option<CaseStatus>,
    assignees: Option<Vec<String>>,
    link_incident_ids: Option<Vec<ID>>,
    unlink_incident_ids: Option<Vec<ID>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateEntityInput {
    kind: EntityKind,
    name: String,
    /// A JSON object, as a string.
    attributes_json: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct LinkEntitiesInput {
    source_id: ID,
    target_id: ID,
    /// Lowercase snake case, e.g. `owns`, `employs`, `seen_at`.
    kind: String,
}

fn incident_ids(ids: Option<Vec<ID>>) -> GqlResult<Vec<IncidentId>> {
    ids.unwrap_or_default().iter().map(|i| parse_id(i, "incident")).collect()
}

pub struct Query;

#[graphql_object(context = Ctx)]
impl Query {
    /// One incident by id (`incidents:read`).
    async fn incident(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:read")?;
        let id: IncidentId = parse_id(&id, "incident")?;
        match ctx.incidents.get(&ctx.store, ctx.tenant(), &id).await? {
            Some(found) => Ok(Some(Incident(IncidentRecord::clone(&found)))),
            None => Err(GqlError::not_found(&id)),
        }
    }

    /// Incidents in creation order (`incidents:read`).
    async fn incidents(
        #[graphql(context)] ctx: &Ctx,
        filter: Option<IncidentFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<IncidentConnection>> {
        ctx.require("incidents:read")?;
        let filter = filter.map_or_else(StoreIncidentFilter::default, |f| StoreIncidentFilter {
            status: f.status.map(Into::into),
            severity: f.severity.map(Into::into),
            created_after: f.created_after,
            created_before: f.created_before,
        });
        let after: Option<IncidentId> = cursor(after)?;
        Ok(Some(ctx.store.list_incidents(ctx.tenant(), &filter, after.as_ref(), page_size(first)?).await?.into()))
    }

    /// One case by id (`cases:read`).
    async fn case(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Case>> {
        ctx.require("cases:read")?;
        let id: CaseId = parse_id(&id, "case")?;
        ctx.store.get_case(ctx.tenant(), &id).await?.map(Case).map(Some).ok_or_else(|| GqlError::not_found(&id))
    }

    /// Cases in creation order (`cases:read`).
    async fn cases(
        #[graphql(context)] ctx: &Ctx,
        filter: Option<CaseFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<CaseConnection>> {
        ctx.require("cases:read")?;
        let filter = filter.map_or_else(StoreCaseFilter::default, |f| StoreCaseFilter {
            status: f.status.map(Into::into),
            assignee: f.assignee,
        });
        let after: Option<CaseId> = cursor(after)?;
        Ok(Some(ctx.store.list_cases(ctx.tenant(), &filter, after.as_ref(), page_size(first)?).await?.into()))
    }

    /// One entity by id (`entities:read`).
    async fn entity(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Entity>> {
        ctx.require("entities:read")?;
        let id: EntityId = parse_id(&id, "entity")?;
        ctx.store.get_entity(ctx.tenant(), &id).await?.map(Entity).map(Some).ok_or_else(|| GqlError::not_found(&id))
    }

    /// Entities in creation order (`entities:read`).
    async fn entities(
        #[graphql(context)] ctx: &Ctx,
        filter: Option<EntityFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<EntityConnection>> {
        ctx.require("entities:read")?;
        let filter = filter.map_or_else(StoreEntityFilter::default, |f| StoreEntityFilter {
            kind: f.kind.map(Into::into),
            name_contains: f.name_contains,
        });
        let after: Option<EntityId> = cursor(after)?;
        Ok(Some(ctx.store.list_entities(ctx.tenant(), &filter, after.as_ref(), page_size(first)?).await?.into()))
    }
}

pub struct Mutation;

#[graphql_object(context = Ctx)]
impl Mutation {
    /// Reports an incident; announces `incident.created` (`incidents:write`).
    async fn create_incident(#[graphql(context)] ctx: &Ctx, input: CreateIncidentInput) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:write")?;
        bounded("title", &input.title, 500)?;
        let new = NewIncident {
            title: input.title,
            description: input.description.unwrap_or_default(),
            severity: input.severity.into(),
            location: input.location,
            occurred_at: input.occurred_at,
            reporter: ctx.principal.subject.clone(),
        };
        Ok(Some(Incident(ctx.store.create_incident(ctx.tenant(), new, ctx.announce.as_ref()).await?)))
    }

    /// Changes an open incident; announces `incident.updated`.
    async fn update_incident(
        #[graphql(context)] ctx: &Ctx,
        id: ID,
        input: UpdateIncidentInput,
    ) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:write")?;
        let id: IncidentId = parse_id(&id, "incident")?;
        if let Some(t) = &input.title {
            bounded("title", t, 500)?;
        }
        let changes = IncidentChanges {
            title: input.title,
            description: input.description,
            severity: input.severity.map(Into::into),
            location: input.location.map(Some),
            occurred_at: input.occurred_at.map(Some),
        };
        let updated = ctx.store.update_incident(ctx.tenant(), &id, changes, ctx.announce.as_ref()).await?;
        ctx.incidents.forget(ctx.tenant(), &id);
        updated.map(|r| Some(Incident(r))).ok_or_else(|| GqlError::not_found(&id))
    }

    /// Closes an incident; announces `incident.closed` (once).
    async fn close_incident(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:write")?;
        let id: IncidentId = parse_id(&id, "incident")?;
        let closed = ctx.store.close_incident(ctx.tenant(), &id, ctx.announce.as_ref()).await?;
        ctx.incidents.forget(ctx.tenant(), &id);
        closed.map(|r| Some(Incident(r))).ok_or_else(|| GqlError::not_found(&id))
    }

    /// Opens a case over incidents; announces `case.created` (`cases:write`).
    async fn create_case(#[graphql(context)] ctx: &Ctx, input: CreateCaseInput) -> GqlResult<Option<Case>> {
        ctx.require("cases:write")?;
        bounded("title", &input.title, 500)?;
        let new = NewCase {
            title: input.title,
            description: input.description.unwrap_or_default(),
            assignees: input.assignees.unwrap_or_default(),
            incident_ids: incident_ids(input.incident_ids)?,
        };
        Ok(Some(Case(ctx.store.create_case(ctx.tenant(), new, ctx.announce.as_ref()).await?)))
    }

    /// Changes an open case; announces `case.updated`.
    async fn update_case(#[graphql(context)] ctx: &Ctx, id: ID, input: UpdateCaseInput) -> GqlResult<Option<Case>> {
        ctx.require("cases:write")?;
        let id: CaseId = parse_id(&id, "case")?;
        if input.status.is_some_and(|s| !argus_domain::CaseStatus::from(s).is_settable()) {
            return Err(GqlError::new("BAD_USER_INPUT", "close a case with closeCase"));
        }
        if let Some(t) = &input.title {
            bounded("title", t, 500)?;
        }
        let changes = CaseChanges {
            title: input.title,
            description: input.description,
            status: input.status.map(Into::into),
            assignees: input.assignees,
            link_incidents: incident_ids(input.link_incident_ids)?,
            unlink_incidents: incident_ids(input.unlink_incident_ids)?,
        };
        ctx.store
            .update_case(ctx.tenant(), &id, changes, ctx.announce.as_ref())
            .await?
            .map(|r| Some(Case(r)))
            .ok_or_else(|| GqlError::not_found(&id))
    }

    /// Closes a case; announces `case.closed` (once).
    async fn close_case(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Case>> {
        ctx.require("cases:write")?;
        let id: CaseId = parse_id(&id, "case")?;
        ctx.store
            .close_case(ctx.tenant(), &id, ctx.announce.as_ref())
            .await?
            .map(|r| Some(Case(r)))
            .ok_or_else(|| GqlError::not_found(&id))
    }

    /// Adds an entity to the graph (`entities:write`).
    async fn create_entity(#[graphql(context)] ctx: &Ctx, input: CreateEntityInput) -> GqlResult<Option<Entity>> {
        ctx.require("entities:write")?;
        bounded("name", &input.name, 500)?;
        let attributes = match input.attributes_json {
            None => serde_json::json!({}),
            Some(raw) => match serde_json::from_str::<serde_json::Value>(&raw) {
                Ok(v @ serde_json::Value::Object(_)) => v,
                _ => return Err(GqlError::new("BAD_USER_INPUT", "`attributesJson` must be a JSON object")),
            },
        };
        let new = NewEntity { kind: input.kind.into(), name: input.name, attributes };
        Ok(Some(Entity(ctx.store.create_entity(ctx.tenant(), new).await?)))
    }

    /// Links two entities (idempotent) (`entities:write`).
    async fn link_entities(#[graphql(context)] ctx: &Ctx, input: LinkEntitiesInput) -> GqlResult<Option<Relationship>> {
        ctx.require("entities:write")?;
        let source: EntityId = parse_id(&input.source_id, "entity")?;
        let target: EntityId = parse_id(&input.target_id, "entity")?;
        if !valid_relationship_kind(&input.kind) {
            return Err(GqlError::new("BAD_USER_INPUT", "`kind` must be lowercase snake case, at most 64 characters"));
        }
        Ok(Some(Relationship(ctx.store.link_entities(ctx.tenant(), &source, &target, &input.kind).await?)))
    }
}

/// The [`Announce`] of this service: domain events become bus events.
pub fn bus_announce() -> Arc<Announce> {
    Arc::new(|event: &DomainEvent| {
        let wire = proto::Event {
            id: event.id.to_string(),
            r#type: event.event_type.to_owned(),
            tenant_id: event.tenant.to_string(),
            created_at_unix_ms: event.created_at.timestamp_millis(),
            data_json: serde_json::to_vec(&event.data).unwrap_or_default(),
        };
        argus_bus::outbox::event(&event.tenant, &wire, BTreeMap::new())
    })
}
