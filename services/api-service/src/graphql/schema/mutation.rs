//! The write side of the schema.

use argus_domain::entities::valid_relationship_kind;
use argus_store::domain::{CaseChanges, IncidentChanges, IncidentRecord, NewCase, NewEntity, NewIncident};
use argus_types::{CaseId, EntityId, IncidentId};
use juniper::{ID, graphql_object};

use super::*;

fn incident_ids(ids: Option<Vec<ID>>) -> GqlResult<Vec<IncidentId>> {
    ids.unwrap_or_default().iter().map(|i| parse_id(i, "incident")).collect()
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
        Ok(Some(Incident(ctx.store.create_incident(ctx.principal.write_stamp(), ctx.tenant(), new).await?)))
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
        // The incident as this replica last read it: the update checks the
        // row still holds it, so a stale copy costs a retry, never a lost
        // change.
        let Some(seen) = ctx.incidents.get(&ctx.store, ctx.tenant(), &id).await? else {
            return found(None::<IncidentRecord>, &id);
        };
        let updated = ctx.store.update_incident(ctx.principal.write_stamp(), ctx.tenant(), &seen, changes).await?;
        ctx.incidents.forget(ctx.tenant(), &id);
        found(updated, &id)
    }

    /// Closes an incident; announces `incident.closed` (once).
    async fn close_incident(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:write")?;
        let id: IncidentId = parse_id(&id, "incident")?;
        let closed = ctx.store.close_incident(ctx.principal.write_stamp(), ctx.tenant(), &id).await?;
        ctx.incidents.forget(ctx.tenant(), &id);
        found(closed, &id)
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
        Ok(Some(Case(ctx.store.create_case(ctx.principal.write_stamp(), ctx.tenant(), new).await?)))
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
        found(ctx.store.update_case(ctx.principal.write_stamp(), ctx.tenant(), &id, changes).await?, &id)
    }

    /// Closes a case; announces `case.closed` (once).
    async fn close_case(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Case>> {
        ctx.require("cases:write")?;
        let id: CaseId = parse_id(&id, "case")?;
        found(ctx.store.close_case(ctx.principal.write_stamp(), ctx.tenant(), &id).await?, &id)
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
        Ok(Some(Entity(ctx.store.create_entity(ctx.principal.write_stamp(), ctx.tenant(), new).await?)))
    }

    /// Links two entities (idempotent) (`entities:write`).
    async fn link_entities(#[graphql(context)] ctx: &Ctx, input: LinkEntitiesInput) -> GqlResult<Option<Relationship>> {
        ctx.require("entities:write")?;
        let source: EntityId = parse_id(&input.source_id, "entity")?;
        let target: EntityId = parse_id(&input.target_id, "entity")?;
        if !valid_relationship_kind(&input.kind) {
            return Err(GqlError::new("BAD_USER_INPUT", "`kind` must be lowercase snake case, at most 64 characters"));
        }
        Ok(Some(Relationship(
            ctx.store.link_entities(ctx.principal.write_stamp(), ctx.tenant(), &source, &target, &input.kind).await?,
        )))
    }

    /// Creates an evidence item attached to an incident or a case, its
    /// transcript opened with `CREATE`; announces `evidence.created`
    /// (`evidence:write`).
    async fn create_evidence(#[graphql(context)] ctx: &Ctx, input: CreateEvidenceInput) -> GqlResult<Option<Evidence>> {
        ctx.require("evidence:write")?;
        super::evidence::create(ctx, input).await
    }

    /// Appends an operation to an item's transcript; after `SEAL` only
    /// `VIEW` (else `CONFLICT`). Announces `evidence.sealed` for `SEAL`,
    /// `evidence.operation_recorded` for the others but `VIEW`
    /// (`evidence:write`).
    async fn record_evidence_operation(
        #[graphql(context)] ctx: &Ctx,
        id: ID,
        input: RecordEvidenceOperationInput,
    ) -> GqlResult<Option<Evidence>> {
        ctx.require("evidence:write")?;
        super::evidence::record(ctx, &id, input).await
    }
}
