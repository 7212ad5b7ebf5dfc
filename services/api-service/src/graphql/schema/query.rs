//! The read side of the schema.

use argus_store::domain::{
    CaseFilter as StoreCaseFilter, EntityFilter as StoreEntityFilter, IncidentFilter as StoreIncidentFilter,
    IncidentRecord,
};
use argus_store::epcr::EncounterAccess;
use argus_types::{CaseId, EncounterId, EntityId, IncidentId};
use chrono::NaiveDate;
use juniper::{ID, graphql_object};

use super::*;

pub struct Query;

#[graphql_object(context = Ctx)]
impl Query {
    /// One incident by id (`incidents:read`).
    async fn incident(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Incident>> {
        ctx.require("incidents:read")?;
        let id: IncidentId = parse_id(&id, "incident")?;
        let cached = ctx.incidents.get(&ctx.store, ctx.tenant(), &id).await?;
        found(cached.map(|incident| IncidentRecord::clone(&incident)), &id)
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
        Ok(Some(ctx.store.list_incidents(ctx.tenant(), &filter, &page_request(first, after)?).await?.into()))
    }

    /// One case by id (`cases:read`).
    async fn case(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Case>> {
        ctx.require("cases:read")?;
        let id: CaseId = parse_id(&id, "case")?;
        found(ctx.store.get_case(ctx.tenant(), &id).await?, &id)
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
        Ok(Some(ctx.store.list_cases(ctx.tenant(), &filter, &page_request(first, after)?).await?.into()))
    }

    /// One entity by id (`entities:read`).
    async fn entity(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Entity>> {
        ctx.require("entities:read")?;
        let id: EntityId = parse_id(&id, "entity")?;
        found(ctx.store.get_entity(ctx.tenant(), &id).await?, &id)
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
        Ok(Some(ctx.store.list_entities(ctx.tenant(), &filter, &page_request(first, after)?).await?.into()))
    }

    /// The Ambulance Clinical Quality Indicators of the records whose call
    /// was received from `fromDate` to `toDate`, both whole UTC days
    /// included, at most 366 days (`metrics:read`).
    async fn acqi_metrics(
        #[graphql(context)] ctx: &Ctx,
        from_date: NaiveDate,
        to_date: NaiveDate,
    ) -> GqlResult<Option<AcqiMetrics>> {
        ctx.require("metrics:read")?;
        Ok(Some(super::acqi::acqi_metrics(ctx, from_date, to_date).await?))
    }

    /// One ePCR encounter by id (`epcr:read`, which `epcr:write` does not
    /// imply). Each read is written to the record's access log, its route
    /// `graphql` and the operation's name.
    async fn encounter(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Encounter>> {
        ctx.require("epcr:read")?;
        let id: EncounterId = parse_id(&id, "encounter")?;
        let route = ctx.operation.access_route();
        let trace_id = argus_telemetry::propagation::ids_of(&tracing::Span::current()).map(|(trace, _)| trace);
        let access = EncounterAccess {
            actor: &ctx.principal.subject,
            client_id: &ctx.principal.client_id,
            route: &route,
            trace_id: trace_id.as_deref(),
        };
        found(ctx.store.read_encounter(ctx.tenant(), &id, &access).await?, &id)
    }

    /// One evidence item by id (`evidence:read`, which `evidence:write`
    /// implies). Each read appends a `VIEW` to its transcript, in the same
    /// transaction, its details `graphql` and the operation's name.
    async fn evidence(#[graphql(context)] ctx: &Ctx, id: ID) -> GqlResult<Option<Evidence>> {
        ctx.require("evidence:read")?;
        super::evidence::read(ctx, &id).await
    }
}
