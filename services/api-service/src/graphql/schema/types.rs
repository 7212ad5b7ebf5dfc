//! The schema's enums, objects, connections and input objects.

use argus_store::Page;
use argus_store::domain::{CaseRecord, EntityRecord, IncidentRecord, RelationshipRecord};
use argus_store::epcr::EncounterRecord;
use chrono::{DateTime, Utc};
use juniper::{GraphQLInputObject, ID, graphql_object};

use super::*;

graphql_mirror_enum!(IncidentStatus { Open, Closed });
graphql_mirror_enum!(Severity { Low, Medium, High, Critical });
graphql_mirror_enum!(CaseStatus { Open, InProgress, Closed });
graphql_mirror_enum!(EntityKind { Person, Organisation, Vehicle, Location });

pub struct Incident(pub(super) IncidentRecord);

/// An incident: something that happened, reported once and closed when
/// dealt with.
#[graphql_object(context = Ctx)]
impl Incident {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
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

pub struct Case(pub(super) CaseRecord);

/// A case: an investigation of linked incidents by its assignees.
#[graphql_object(context = Ctx)]
impl Case {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
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
        self.0.incident_ids.iter().map(|i| ID::new(i.as_str())).collect()
    }
    /// The linked incidents themselves; needs `incidents:read` too.
    async fn incidents(&self, #[graphql(context)] ctx: &Ctx) -> GqlResult<Option<Vec<Incident>>> {
        ctx.require("incidents:read")?;
        Ok(Some(ctx.store.case_incidents(ctx.tenant(), &self.0.id).await?.into_iter().map(Incident).collect()))
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

pub struct Entity(pub(super) EntityRecord);

/// A person, organisation, vehicle or location in the entity graph.
#[graphql_object(context = Ctx)]
impl Entity {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
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
        let limit = usize::try_from(first).unwrap_or(50);
        Ok(Some(
            ctx.store
                .entity_relationships(ctx.tenant(), &self.0.id, limit)
                .await?
                .into_iter()
                .map(Relationship)
                .collect(),
        ))
    }
}

pub struct Relationship(pub(super) RelationshipRecord);

/// A directed edge of the entity graph.
#[graphql_object(context = Ctx)]
impl Relationship {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
    }
    fn kind(&self) -> &str {
        &self.0.kind
    }
    fn source_id(&self) -> ID {
        ID::new(self.0.source_id.as_str())
    }
    fn target_id(&self) -> ID {
        ID::new(self.0.target_id.as_str())
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

pub struct Encounter(pub(super) EncounterRecord);

/// An ePCR encounter: one patient's ambulance care record. Reading one
/// (`encounter(id)`) writes an entry to its access log.
#[graphql_object(context = Ctx)]
impl Encounter {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
    }
    /// The incident the crew was sent to, if the record names one.
    fn incident_id(&self) -> Option<ID> {
        self.0.record.incident_id.as_ref().map(|id| ID::new(id.as_str()))
    }
    /// When the call was received: the timeline's first time.
    fn call_received_at(&self) -> DateTime<Utc> {
        self.0.record.timeline.call_received
    }
    /// Who created it: the subject of the token that did.
    fn created_by(&self) -> &str {
        &self.0.created_by
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The whole record (patient, timeline, vital signs, procedures,
    /// medications, impressions, outcome, crew, devices) as a JSON object in
    /// a string: the document `POST /api/v1/epcr/encounters` takes.
    fn record_json(&self) -> GqlResult<String> {
        serde_json::to_string(&self.0.record).map_err(|e| {
            tracing::error!(error = %e, "serialising an encounter");
            GqlError::new("INTERNAL_SERVER_ERROR", "internal error")
        })
    }
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
impl From<EncounterRecord> for Encounter {
    fn from(r: EncounterRecord) -> Self {
        Self(r)
    }
}

connection!(IncidentConnection, Incident, "A page of incidents.");
connection!(CaseConnection, Case, "A page of cases.");
connection!(EntityConnection, Entity, "A page of entities.");

#[derive(Debug, GraphQLInputObject)]
pub struct IncidentFilter {
    pub(super) status: Option<IncidentStatus>,
    pub(super) severity: Option<Severity>,
    pub(super) created_after: Option<DateTime<Utc>>,
    pub(super) created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CaseFilter {
    pub(super) status: Option<CaseStatus>,
    pub(super) assignee: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct EntityFilter {
    pub(super) kind: Option<EntityKind>,
    pub(super) name_contains: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateIncidentInput {
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) severity: Severity,
    pub(super) location: Option<String>,
    pub(super) occurred_at: Option<DateTime<Utc>>,
}

/// Omitted fields are left as they are.
#[derive(Debug, GraphQLInputObject)]
pub struct UpdateIncidentInput {
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
    pub(super) severity: Option<Severity>,
    pub(super) location: Option<String>,
    pub(super) occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateCaseInput {
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) assignees: Option<Vec<String>>,
    pub(super) incident_ids: Option<Vec<ID>>,
}

/// Omitted fields are left as they are; `status` may be OPEN or IN_PROGRESS
/// (close with `closeCase`).
#[derive(Debug, GraphQLInputObject)]
pub struct UpdateCaseInput {
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
    pub(super) status: Option<CaseStatus>,
    pub(super) assignees: Option<Vec<String>>,
    pub(super) link_incident_ids: Option<Vec<ID>>,
    pub(super) unlink_incident_ids: Option<Vec<ID>>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct CreateEntityInput {
    pub(super) kind: EntityKind,
    pub(super) name: String,
    /// A JSON object, as a string.
    pub(super) attributes_json: Option<String>,
}

#[derive(Debug, GraphQLInputObject)]
pub struct LinkEntitiesInput {
    pub(super) source_id: ID,
    pub(super) target_id: ID,
    /// Lowercase snake case, e.g. `owns`, `employs`, `seen_at`.
    pub(super) kind: String,
}
