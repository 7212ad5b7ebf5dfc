//! The sandbox's scenarios (issue 23): a scenario tenant is seeded once,
//! in one transaction, with rows whose ids and times the caller chose
//! (derived from the scenario, so the same on every seeding), and
//! registered in `sandbox_scenario_tenants` with the app tenant it serves.

use argus_crypto::provenance::ProvenanceSealer;
use argus_domain::epcr::Encounter;
use argus_domain::epcr::devices::{NewDevice, PhdObservation};
use argus_domain::evidence::{NewEvidence, RecordOperation};
use argus_domain::{CaseStatus, EntityKind, EventKind, IncidentStatus, JobKind, JobStatus, Severity};
use argus_types::{
    CaseId, DeviceId, EncounterId, EntityId, EvidenceId, IncidentId, JobId, ObservationId, RelationshipId, TenantId,
    WebhookId,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::domain::evidence::{EvidenceActor, EvidenceRecord, StoredProvenanceKey, append_at};
use crate::domain::{IncidentRecord, announce};
use crate::schema::{
    case_incidents, cases, delivery_attempts, device_observations, devices, encounters, entities, events,
    evidence_items, incidents, job_result_chunks, jobs, outbox, provenance_keys, relationships,
    sandbox_scenario_tenants, tenants, webhook_deliveries, webhooks,
};
use crate::webhooks::NewWebhook;
use crate::write_stamp::Stamp;
use crate::{Store, StoreError};

/// Everything one scenario tenant starts with.
#[derive(Debug, Clone)]
pub struct ScenarioSeed {
    pub tenant: TenantId,
    /// The tenant (of the sandbox token) this scenario tenant serves.
    pub app_tenant: TenantId,
    pub scenario: String,
    /// The scenario's clock: the tenant's creation time.
    pub clock: DateTime<Utc>,
    pub incidents: Vec<SeedIncident>,
    pub cases: Vec<SeedCase>,
    pub entities: Vec<SeedEntity>,
    pub relationships: Vec<SeedRelationship>,
    pub devices: Vec<SeedDevice>,
    pub encounters: Vec<SeedEncounter>,
    pub observations: Vec<SeedObservation>,
    pub jobs: Vec<SeedJob>,
    pub evidence: Vec<SeedEvidence>,
    /// Webhooks: when there are any, each incident's `incident.created` is
    /// announced after them, so the sandbox's worker delivers it (to its
    /// mock connectors, answering as `webhook_answers` says).
    pub webhooks: Vec<SeedWebhook>,
    /// What the tenant's mock webhook receiver answers, attempt after
    /// attempt (see `Store::answer_mock_request`).
    pub webhook_answers: Vec<i32>,
}

#[derive(Debug, Clone)]
pub struct SeedWebhook {
    pub id: WebhookId,
    pub webhook: NewWebhook,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedIncident {
    pub id: IncidentId,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub location: Option<String>,
    pub reporter: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SeedCase {
    pub id: CaseId,
    pub title: String,
    pub description: String,
    pub status: CaseStatus,
    pub assignees: Vec<String>,
    pub incidents: Vec<IncidentId>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SeedEntity {
    pub id: EntityId,
    pub kind: EntityKind,
    pub name: String,
    pub attributes: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedRelationship {
    pub id: RelationshipId,
    pub source: EntityId,
    pub target: EntityId,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedDevice {
    pub id: DeviceId,
    pub device: NewDevice,
    pub enrolled_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedEncounter {
    pub id: EncounterId,
    pub record: Encounter,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedObservation {
    pub id: ObservationId,
    pub device: DeviceId,
    pub observation: PhdObservation,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SeedJob {
    pub id: JobId,
    pub client_id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub input: Value,
    pub progress: f64,
    pub attempts: i32,
    pub error: Option<Value>,
    /// A succeeded job's result: its media type and bytes.
    pub result: Option<(String, Vec<u8>)>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SeedEvidence {
    pub id: EvidenceId,
    pub item: NewEvidence,
    pub created_by: String,
    pub client_id: String,
    pub created_at: DateTime<Utc>,
    /// After its `CREATE`, the operations of its chain of custody, each
    /// with its actor and time.
    pub operations: Vec<(RecordOperation, String, DateTime<Utc>)>,
}

impl Store {
    /// The scenario tenant serving `app_tenant` in `scenario`, if it was
    /// seeded.
    pub async fn scenario_tenant(&self, app_tenant: &TenantId, scenario: &str) -> Result<Option<TenantId>, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<String> = sandbox_scenario_tenants::table
            .filter(sandbox_scenario_tenants::app_tenant_id.eq(app_tenant.as_str()))
            .filter(sandbox_scenario_tenants::scenario.eq(scenario))
            .select(sandbox_scenario_tenants::tenant_id)
            .first(&mut conn)
            .await
            .optional()?;
        found.map(|id| id.parse().map_err(|_| StoreError::Corrupt(format!("scenario tenant id {id}")))).transpose()
    }

    /// Seeds the scenario tenant unless it exists: `false` when it did
    /// (seeded before, or by a concurrent request, whose insert of the
    /// tenant this one waits for and then finds).
    pub async fn seed_scenario(&self, seed: &ScenarioSeed, sealer: &ProvenanceSealer) -> Result<bool, StoreError> {
        self.transaction(async |conn| {
            if !insert_tenant(conn, seed).await? {
                return Ok(false);
            }
            insert_rows(conn, seed, sealer).await?;
            Ok(true)
        })
        .await
    }

    /// Seeds the scenario tenant afresh, in one transaction: the tenant and
    /// every row of it are deleted and seeded again, its write sequence
    /// back at 0 (a tenant never seeded is just seeded). Its provenance
    /// keys are kept, so its transcripts are signed by the same keys as
    /// before (a partner may have fetched them) and the same writes give
    /// the same bytes again.
    pub async fn reset_scenario(&self, seed: &ScenarioSeed, sealer: &ProvenanceSealer) -> Result<(), StoreError> {
        self.transaction(async |conn| {
            let kept: Vec<StoredProvenanceKey> = provenance_keys::table
                .filter(provenance_keys::tenant_id.eq(seed.tenant.as_str()))
                .select(StoredProvenanceKey::as_select())
                .load(conn)
                .await?;
            // The tenant's rows no foreign key cascades to (the delivery
            // path dropped those keys): its events (a scan, as nothing else
            // reads events by tenant: a sandbox's reset can afford it),
            // their unsent outbox messages, its deliveries and their
            // attempts. Its events' ids come again with the same writes.
            let tenant = seed.tenant.as_str();
            let deliveries = webhook_deliveries::table
                .filter(webhook_deliveries::tenant_id.eq(tenant))
                .select(webhook_deliveries::id);
            diesel::delete(delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(deliveries)))
                .execute(conn)
                .await?;
            diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::tenant_id.eq(tenant)))
                .execute(conn)
                .await?;
            diesel::delete(events::table.filter(events::tenant_id.eq(tenant))).execute(conn).await?;
            diesel::delete(outbox::table.filter(outbox::tenant_id.eq(tenant))).execute(conn).await?;
            // Every other row of it goes with the tenant (`ON DELETE
            // CASCADE`); its graph version keeps counting (graph.compute's
            // cache must see the change).
            diesel::delete(tenants::table.find(tenant)).execute(conn).await?;
            insert_tenant(conn, seed).await?;
            for key in &kept {
                diesel::insert_into(provenance_keys::table)
                    .values((
                        provenance_keys::id.eq(&key.id),
                        provenance_keys::tenant_id.eq(seed.tenant.as_str()),
                        provenance_keys::algorithm.eq(key.algorithm.as_str()),
                        provenance_keys::sealed_key.eq(&key.sealed_key),
                        provenance_keys::created_at.eq(key.created_at),
                        provenance_keys::retired_at.eq(key.retired_at),
                        provenance_keys::public_key.eq(&key.public_key),
                    ))
                    .execute(conn)
                    .await?;
            }
            insert_rows(conn, seed, sealer).await
        })
        .await
    }
}

/// The scenario tenant and its registration; `false` when it exists.
async fn insert_tenant(conn: &mut AsyncPgConnection, seed: &ScenarioSeed) -> Result<bool, StoreError> {
    let created = diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(seed.tenant.as_str()),
            tenants::name.eq(format!("sandbox scenario {}", seed.scenario)),
            tenants::created_at.eq(seed.clock),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if created == 0 {
        return Ok(false);
    }
    diesel::insert_into(sandbox_scenario_tenants::table)
        .values((
            sandbox_scenario_tenants::tenant_id.eq(seed.tenant.as_str()),
            sandbox_scenario_tenants::app_tenant_id.eq(seed.app_tenant.as_str()),
            sandbox_scenario_tenants::scenario.eq(&seed.scenario),
            sandbox_scenario_tenants::webhook_answers.eq(&seed.webhook_answers),
            sandbox_scenario_tenants::clock.eq(seed.clock),
        ))
        .execute(conn)
        .await?;
    Ok(true)
}

async fn insert_rows(
    conn: &mut AsyncPgConnection,
    seed: &ScenarioSeed,
    sealer: &ProvenanceSealer,
) -> Result<(), StoreError> {
    let tenant = seed.tenant.as_str();
    for w in &seed.webhooks {
        diesel::insert_into(webhooks::table)
            .values((
                webhooks::id.eq(w.id.as_str()),
                webhooks::tenant_id.eq(tenant),
                &w.webhook,
                webhooks::created_at.eq(w.created_at),
                webhooks::updated_at.eq(w.created_at),
            ))
            .execute(conn)
            .await?;
    }
    for i in &seed.incidents {
        let record: IncidentRecord = diesel::insert_into(incidents::table)
            .values((
                incidents::id.eq(i.id.as_str()),
                incidents::tenant_id.eq(tenant),
                incidents::title.eq(&i.title),
                incidents::description.eq(&i.description),
                incidents::status.eq(i.status.as_str()),
                incidents::severity.eq(i.severity.as_str()),
                incidents::location.eq(&i.location),
                incidents::reporter.eq(&i.reporter),
                incidents::occurred_at.eq(i.occurred_at),
                incidents::created_at.eq(i.created_at),
                incidents::updated_at.eq(i.closed_at.unwrap_or(i.created_at)),
                incidents::closed_at.eq(i.closed_at),
            ))
            .returning(IncidentRecord::as_returning())
            .get_result(conn)
            .await?;
        if !seed.webhooks.is_empty() {
            announce(conn, &Stamp::Now, &seed.tenant, EventKind::IncidentCreated, &record).await?;
        }
    }
    for c in &seed.cases {
        diesel::insert_into(cases::table)
            .values((
                cases::id.eq(c.id.as_str()),
                cases::tenant_id.eq(tenant),
                cases::title.eq(&c.title),
                cases::description.eq(&c.description),
                cases::status.eq(c.status.as_str()),
                cases::assignees.eq(&c.assignees),
                cases::created_at.eq(c.created_at),
                cases::updated_at.eq(c.closed_at.unwrap_or(c.created_at)),
                cases::closed_at.eq(c.closed_at),
            ))
            .execute(conn)
            .await?;
        for incident in &c.incidents {
            diesel::insert_into(case_incidents::table)
                .values((
                    case_incidents::tenant_id.eq(tenant),
                    case_incidents::case_id.eq(c.id.as_str()),
                    case_incidents::incident_id.eq(incident.as_str()),
                    case_incidents::linked_at.eq(c.created_at),
                ))
                .execute(conn)
                .await?;
        }
    }
    for e in &seed.entities {
        diesel::insert_into(entities::table)
            .values((
                entities::id.eq(e.id.as_str()),
                entities::tenant_id.eq(tenant),
                entities::kind.eq(e.kind.as_str()),
                entities::name.eq(&e.name),
                entities::attributes.eq(&e.attributes),
                entities::created_at.eq(e.created_at),
                entities::updated_at.eq(e.created_at),
            ))
            .execute(conn)
            .await?;
    }
    for r in &seed.relationships {
        diesel::insert_into(relationships::table)
            .values((
                relationships::id.eq(r.id.as_str()),
                relationships::tenant_id.eq(tenant),
                relationships::source_id.eq(r.source.as_str()),
                relationships::target_id.eq(r.target.as_str()),
                relationships::kind.eq(&r.kind),
                relationships::created_at.eq(r.created_at),
            ))
            .execute(conn)
            .await?;
    }
    for d in &seed.devices {
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(d.id.as_str()),
                devices::tenant_id.eq(tenant),
                devices::serial_number.eq(&d.device.serial_number),
                devices::manufacturer.eq(&d.device.manufacturer),
                devices::model.eq(&d.device.model),
                devices::device_type.eq(d.device.device_type.as_str()),
                devices::enrolled_by.eq(&d.enrolled_by),
                devices::created_at.eq(d.created_at),
            ))
            .execute(conn)
            .await?;
    }
    for e in &seed.encounters {
        let document = serde_json::to_value(&e.record).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        diesel::insert_into(encounters::table)
            .values((
                encounters::id.eq(e.id.as_str()),
                encounters::tenant_id.eq(tenant),
                encounters::incident_id.eq(e.record.incident_id.as_ref().map(IncidentId::as_str)),
                encounters::record.eq(&document),
                encounters::call_received_at.eq(e.record.timeline.call_received),
                encounters::created_by.eq(&e.created_by),
                encounters::created_at.eq(e.created_at),
                encounters::updated_at.eq(e.created_at),
            ))
            .execute(conn)
            .await?;
    }
    for o in &seed.observations {
        let value = serde_json::to_value(&o.observation.value).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        diesel::insert_into(device_observations::table)
            .values((
                device_observations::id.eq(o.id.as_str()),
                device_observations::tenant_id.eq(tenant),
                device_observations::device_id.eq(o.device.as_str()),
                device_observations::encounter_id.eq(o.observation.encounter_id.as_ref().map(EncounterId::as_str)),
                device_observations::code.eq(o.observation.code.as_str()),
                device_observations::unit.eq(&o.observation.unit),
                device_observations::value.eq(&value),
                device_observations::effective_at.eq(o.observation.effective),
                device_observations::received_at.eq(o.received_at),
            ))
            .execute(conn)
            .await?;
    }
    for j in &seed.jobs {
        let (content_type, bytes) = match &j.result {
            Some((content_type, bytes)) => (Some(content_type.as_str()), Some(bytes.len() as i64)),
            None => (None, None),
        };
        diesel::insert_into(jobs::table)
            .values((
                jobs::id.eq(j.id.as_str()),
                jobs::tenant_id.eq(tenant),
                jobs::client_id.eq(&j.client_id),
                jobs::kind.eq(j.kind.as_str()),
                jobs::status.eq(j.status.as_str()),
                jobs::input.eq(&j.input),
                jobs::progress.eq(j.progress),
                jobs::attempts.eq(j.attempts),
                jobs::error.eq(&j.error),
                jobs::result_content_type.eq(content_type),
                jobs::result_bytes.eq(bytes),
                jobs::created_at.eq(j.created_at),
                jobs::started_at.eq(j.started_at),
                jobs::finished_at.eq(j.finished_at),
                jobs::updated_at.eq(j.finished_at.or(j.started_at).unwrap_or(j.created_at)),
            ))
            .execute(conn)
            .await?;
        if let Some((_, data)) = &j.result {
            diesel::insert_into(job_result_chunks::table)
                .values((
                    job_result_chunks::job_id.eq(j.id.as_str()),
                    job_result_chunks::attempt.eq(j.attempts),
                    job_result_chunks::seq.eq(0),
                    job_result_chunks::data.eq(data),
                ))
                .execute(conn)
                .await?;
        }
    }
    for e in &seed.evidence {
        let mut item: EvidenceRecord = diesel::insert_into(evidence_items::table)
            .values((
                evidence_items::id.eq(e.id.as_str()),
                evidence_items::tenant_id.eq(tenant),
                evidence_items::incident_id.eq(e.item.incident_id.as_ref().map(IncidentId::as_str)),
                evidence_items::case_id.eq(e.item.case_id.as_ref().map(CaseId::as_str)),
                evidence_items::name.eq(&e.item.name),
                evidence_items::media_type.eq(&e.item.media_type),
                evidence_items::size_bytes.eq(e.item.size_bytes),
                evidence_items::sha256.eq(&e.item.sha256),
                evidence_items::created_by.eq(&e.created_by),
                evidence_items::created_at.eq(e.created_at),
            ))
            .returning(EvidenceRecord::as_returning())
            .get_result(conn)
            .await?;
        let create = RecordOperation {
            operation: argus_domain::evidence::EvidenceOperation::Create,
            details: None,
            custodian: None,
        };
        let actor = EvidenceActor { subject: &e.created_by, client_id: &e.client_id };
        item = append_at(conn, &item, actor, &create, sealer, e.created_at).await?;
        for (operation, subject, at) in &e.operations {
            let actor = EvidenceActor { subject, client_id: &e.client_id };
            item = append_at(conn, &item, actor, operation, sealer, *at).await?;
        }
    }
    Ok(())
}
