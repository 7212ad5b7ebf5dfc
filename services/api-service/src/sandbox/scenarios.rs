//! The sandbox's scenarios (`docs/sandbox/scenarios/*.yaml`, built into the
//! binary): named data sets an integrator selects per request with
//! `X-Sandbox-Scenario`. Each (token tenant, scenario) pair has a tenant of
//! its own in the sandbox's database, seeded from the file on first use:
//! its id and every row's id derived from the pair and the item's key, its
//! times from the scenario's fixed clock, so each pair's answers are the
//! same on every run and every seeding. A write under a scenario is
//! stamped from it (`argus_store::WriteStamp::Scenario`: its ids and times
//! follow from the scenario's clock and the tenant's write count), so the
//! same writes after a reset (`POST /v1/sandbox/scenarios/{name}/reset`)
//! give the same answers.
//!
//! Items that the API also accepts (devices, observations, ePCR
//! encounters) hold the API's own request body and are checked as the API
//! checks it, so a scenario holds nothing the API would refuse.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use argus_authn::{AuthnError, ScenarioTenants};
use argus_crypto::derived_id_bits;
use argus_crypto::provenance::ProvenanceSealer;
use argus_crypto::webhook::SecretBox;
use argus_domain::epcr::Encounter;
use argus_domain::epcr::devices::{NewDevice, PhdObservation};
use argus_domain::evidence::{EvidenceOperation, NewEvidence, OperationRule, RecordOperation};
use argus_domain::{CaseStatus, EntityKind, IncidentStatus, JobKind, JobStatus, Severity};
use argus_store::Store;
use argus_store::scenarios::{
    ScenarioSeed, SeedCase, SeedDevice, SeedEncounter, SeedEntity, SeedEvidence, SeedIncident, SeedJob,
    SeedObservation, SeedRelationship, SeedWebhook,
};
use argus_store::webhooks::NewWebhook;
use argus_types::TenantId;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;

/// Each shipped scenario's name (its file's stem) and source. A test keeps
/// this list and the folder the same.
pub const SHIPPED_SCENARIOS: &[(&str, &str)] = &[
    ("evidence-chain-of-custody", include_str!("../../../../docs/sandbox/scenarios/evidence-chain-of-custody.yaml")),
    ("jobs-fail-and-succeed", include_str!("../../../../docs/sandbox/scenarios/jobs-fail-and-succeed.yaml")),
    ("mass-casualty-incident", include_str!("../../../../docs/sandbox/scenarios/mass-casualty-incident.yaml")),
    ("stemi-transport", include_str!("../../../../docs/sandbox/scenarios/stemi-transport.yaml")),
    ("webhook-receiver-recovers", include_str!("../../../../docs/sandbox/scenarios/webhook-receiver-recovers.yaml")),
];

#[derive(Debug, thiserror::Error)]
#[error("sandbox scenario {scenario}: {reason}")]
pub struct ScenarioError {
    pub scenario: String,
    pub reason: String,
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub description: String,
    /// The scenario's fixed clock: what "now" is in it. Every item's time
    /// is given in minutes after it (`minute`, negative for before).
    pub clock: DateTime<Utc>,
    #[serde(default)]
    pub incidents: Vec<IncidentItem>,
    #[serde(default)]
    pub cases: Vec<CaseItem>,
    #[serde(default)]
    pub entities: Vec<EntityItem>,
    #[serde(default)]
    pub relationships: Vec<RelationshipItem>,
    #[serde(default)]
    pub devices: Vec<DeviceItem>,
    #[serde(default)]
    pub encounters: Vec<EncounterItem>,
    #[serde(default)]
    pub observations: Vec<ObservationItem>,
    #[serde(default)]
    pub jobs: Vec<JobItem>,
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// Webhooks of the scenario's tenant: when there are any, each
    /// incident's `incident.created` is delivered to them (by the sandbox's
    /// worker, to its mock connectors).
    #[serde(default)]
    pub webhooks: Vec<WebhookItem>,
    /// The scripted answers of the scenario's mock connectors.
    #[serde(default)]
    pub connectors: Connectors,
}

/// What the sandbox's mock connectors answer in a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Connectors {
    /// The HTTP statuses a webhook's receiver answers, one delivery
    /// attempt after another; after the last, it keeps answering that.
    /// Empty: 200 every time.
    #[serde(default)]
    pub webhooks: Vec<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentItem {
    pub key: String,
    pub minute: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: String,
    #[serde(default)]
    pub location: Option<String>,
    pub reporter: String,
    #[serde(default)]
    pub occurred_minute: Option<i64>,
    #[serde(default)]
    pub closed_minute: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseItem {
    pub key: String,
    pub minute: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub status: String,
    #[serde(default)]
    pub assignees: Vec<String>,
    /// Keys of the scenario's incidents.
    #[serde(default)]
    pub incidents: Vec<String>,
    #[serde(default)]
    pub closed_minute: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityItem {
    pub key: String,
    pub minute: i64,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub attributes: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipItem {
    pub key: String,
    pub minute: i64,
    pub source: String,
    pub target: String,
    pub kind: String,
}

/// `body` is a `POST /api/v1/devices/enrol` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceItem {
    pub key: String,
    pub minute: i64,
    pub enrolled_by: String,
    pub body: Value,
}

/// `body` is a `POST /api/v1/epcr/encounters` body without `incident_id`
/// and `devices`, which name the scenario's items by key here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncounterItem {
    pub key: String,
    pub minute: i64,
    pub created_by: String,
    #[serde(default)]
    pub incident: Option<String>,
    #[serde(default)]
    pub devices: Vec<String>,
    pub body: Value,
}

/// `body` is a `POST /api/v1/devices/{deviceId}/observations` body
/// without `encounter_id`, which names the scenario's encounter by key here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationItem {
    pub key: String,
    pub minute: i64,
    pub device: String,
    #[serde(default)]
    pub encounter: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobItem {
    pub key: String,
    pub minute: i64,
    pub kind: String,
    pub status: String,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default = "one")]
    pub attempts: i32,
    #[serde(default)]
    pub started_minute: Option<i64>,
    #[serde(default)]
    pub finished_minute: Option<i64>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub result: Option<JobResultItem>,
}

fn one() -> i32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobResultItem {
    pub content_type: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    pub key: String,
    pub minute: i64,
    #[serde(default)]
    pub incident: Option<String>,
    #[serde(default)]
    pub case: Option<String>,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_by: String,
    pub client_id: String,
    /// The chain of custody after the item's `CREATE`, in order.
    #[serde(default)]
    pub operations: Vec<OperationItem>,
}

/// A webhook as `POST /v1/webhooks` takes it; its secret is published
/// with the scenario, so the signatures of what it is sent can be checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookItem {
    pub key: String,
    pub minute: i64,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationItem {
    pub minute: i64,
    pub operation: String,
    pub actor: String,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub custodian: Option<String>,
}

/// One scenario as `GET /v1/sandbox/scenarios` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScenarioView {
    /// What to send as `X-Sandbox-Scenario`.
    pub name: String,
    pub description: String,
    /// What "now" is in the scenario: every time in it is relative to this.
    pub clock: DateTime<Utc>,
    /// The answers its mock connectors are scripted to give.
    pub connectors: Connectors,
}

/// `GET /v1/sandbox/scenarios`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScenarioList {
    /// By name.
    pub scenarios: Vec<ScenarioView>,
}

/// The shipped scenarios, parsed, each checked by seeding it in memory.
#[derive(Debug, Clone)]
pub struct Scenarios {
    by_name: BTreeMap<String, ScenarioFile>,
}

impl Scenarios {
    /// The shipped scenarios; a file that does not parse or whose items
    /// the API would refuse stops the sandbox at start.
    pub fn shipped() -> Result<Self, ScenarioError> {
        let mut by_name = BTreeMap::new();
        for (name, source) in SHIPPED_SCENARIOS {
            let file: ScenarioFile = yaml_serde::from_str(source)
                .map_err(|e| ScenarioError { scenario: (*name).to_owned(), reason: e.to_string() })?;
            let probe = TenantId::derived(0, 0);
            seed_of(name, &file, &probe, &SecretBox::new(b"probe"))?;
            by_name.insert((*name).to_owned(), file);
        }
        Ok(Self { by_name })
    }

    pub fn list(&self) -> ScenarioList {
        ScenarioList { scenarios: self.by_name.iter().map(|(name, file)| view_of(name, file)).collect() }
    }

    /// The scenario `name` as listed.
    pub fn view(&self, name: &str) -> Option<ScenarioView> {
        self.by_name.get_key_value(name).map(|(name, file)| view_of(name, file))
    }

    pub fn get(&self, name: &str) -> Option<&ScenarioFile> {
        self.by_name.get(name)
    }

    /// The seed of `scenario` for `app_tenant`: the same every time (but
    /// for its webhooks' secrets, sealed with `secrets`).
    pub fn seed(
        &self,
        scenario: &str,
        app_tenant: &TenantId,
        secrets: &SecretBox,
    ) -> Result<Option<ScenarioSeed>, ScenarioError> {
        self.by_name.get(scenario).map(|file| seed_of(scenario, file, app_tenant, secrets)).transpose()
    }
}

/// The id of the item of `kind` with `key`.
fn lookup<T: Clone>(ids: &HashMap<&str, T>, kind: &str, key: &str) -> Result<T, String> {
    ids.get(key).cloned().ok_or_else(|| format!("no {kind} `{key}`"))
}

fn view_of(name: &str, file: &ScenarioFile) -> ScenarioView {
    ScenarioView {
        name: name.to_owned(),
        description: file.description.trim().to_owned(),
        clock: file.clock,
        connectors: file.connectors.clone(),
    }
}

/// The scenario tenant of `app_tenant` in `scenario`.
pub fn scenario_tenant(scenario: &str, file: &ScenarioFile, app_tenant: &TenantId) -> TenantId {
    TenantId::derived(millis(file.clock), derived_id_bits(&["scenario-tenant", app_tenant.as_str(), scenario]))
}

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

/// Builds the seed: ids, times and references resolved, every item
/// checked as the API checks it.
fn seed_of(
    scenario: &str,
    file: &ScenarioFile,
    app_tenant: &TenantId,
    secrets: &SecretBox,
) -> Result<ScenarioSeed, ScenarioError> {
    let fail = |reason: String| ScenarioError { scenario: scenario.to_owned(), reason };
    let tenant = scenario_tenant(scenario, file, app_tenant);
    let at = |minute: i64| file.clock + Duration::minutes(minute);
    // Every id from the scenario tenant, the item's kind and its key, at
    // the item's time: distinct per app tenant, the same on every seeding.
    let id = |kind: &str, key: &str, minute: i64| (millis(at(minute)), derived_id_bits(&[tenant.as_str(), kind, key]));
    let mut keys: HashSet<(&'static str, String)> = HashSet::new();
    let mut remember = |kind: &'static str, key: &str, minute: i64| -> Result<(u64, u128), ScenarioError> {
        if keys.insert((kind, key.to_owned())) {
            Ok(id(kind, key, minute))
        } else {
            Err(fail(format!("two {kind} items have the key `{key}`")))
        }
    };
    let bad = |what: &str, value: &str| fail(format!("{what} `{value}`"));
    let mut seed = ScenarioSeed {
        tenant: tenant.clone(),
        app_tenant: app_tenant.clone(),
        scenario: scenario.to_owned(),
        clock: file.clock,
        incidents: Vec::new(),
        cases: Vec::new(),
        entities: Vec::new(),
        relationships: Vec::new(),
        devices: Vec::new(),
        encounters: Vec::new(),
        observations: Vec::new(),
        jobs: Vec::new(),
        evidence: Vec::new(),
        webhooks: Vec::new(),
        webhook_answers: file.connectors.webhooks.iter().map(|&status| i32::from(status)).collect(),
    };
    if let Some(status) = file.connectors.webhooks.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(fail(format!("connectors.webhooks: {status} is not an HTTP status")));
    }
    for w in &file.webhooks {
        let (ms, random) = remember("webhook", &w.key, w.minute)?;
        if let Some(unknown) = w.events.iter().find(|e| !argus_domain::events::is_known_event(e)) {
            return Err(bad("webhook event", unknown));
        }
        argus_crypto::webhook::webhook_signing_key(&w.secret)
            .map_err(|e| fail(format!("webhook `{}`: secret: {e}", w.key)))?;
        seed.webhooks.push(SeedWebhook {
            id: argus_types::WebhookId::derived(ms, random),
            webhook: NewWebhook {
                url: w.url.clone(),
                events: w.events.clone(),
                description: w.description.clone(),
                secret_sealed: secrets.seal(w.secret.as_bytes()),
            },
            created_at: at(w.minute),
        });
    }
    for i in &file.incidents {
        let (ms, random) = remember("incident", &i.key, i.minute)?;
        let Ok(severity) = i.severity.parse::<Severity>() else { return Err(bad("severity", &i.severity)) };
        seed.incidents.push(SeedIncident {
            id: argus_types::IncidentId::derived(ms, random),
            title: i.title.clone(),
            description: i.description.clone(),
            severity,
            status: if i.closed_minute.is_some() { IncidentStatus::Closed } else { IncidentStatus::Open },
            location: i.location.clone(),
            reporter: i.reporter.clone(),
            occurred_at: i.occurred_minute.map(at),
            created_at: at(i.minute),
            closed_at: i.closed_minute.map(at),
        });
    }
    let incident_ids: HashMap<&str, _> =
        file.incidents.iter().map(|i| i.key.as_str()).zip(seed.incidents.iter().map(|s| s.id.clone())).collect();
    let incident = |key: &str| lookup(&incident_ids, "incident", key).map_err(fail);
    let mut cases = Vec::new();
    for c in &file.cases {
        let (ms, random) = remember("case", &c.key, c.minute)?;
        let Ok(status) = c.status.parse::<CaseStatus>() else { return Err(bad("case status", &c.status)) };
        cases.push(SeedCase {
            id: argus_types::CaseId::derived(ms, random),
            title: c.title.clone(),
            description: c.description.clone(),
            status,
            assignees: c.assignees.clone(),
            incidents: c.incidents.iter().map(|k| incident(k)).collect::<Result<_, _>>()?,
            created_at: at(c.minute),
            closed_at: c.closed_minute.map(at),
        });
    }
    let mut entities = Vec::new();
    for e in &file.entities {
        let (ms, random) = remember("entity", &e.key, e.minute)?;
        let Ok(kind) = e.kind.parse::<EntityKind>() else { return Err(bad("entity kind", &e.kind)) };
        entities.push(SeedEntity {
            id: argus_types::EntityId::derived(ms, random),
            kind,
            name: e.name.clone(),
            attributes: e.attributes.clone().unwrap_or_else(|| Value::Object(Default::default())),
            created_at: at(e.minute),
        });
    }
    let entity_ids: HashMap<&str, _> =
        file.entities.iter().map(|i| i.key.as_str()).zip(entities.iter().map(|s| s.id.clone())).collect();
    let entity = |key: &str| lookup(&entity_ids, "entity", key).map_err(fail);
    let mut relationships = Vec::new();
    for r in &file.relationships {
        let (ms, random) = remember("relationship", &r.key, r.minute)?;
        relationships.push(SeedRelationship {
            id: argus_types::RelationshipId::derived(ms, random),
            source: entity(&r.source)?,
            target: entity(&r.target)?,
            kind: r.kind.clone(),
            created_at: at(r.minute),
        });
    }
    let mut devices = Vec::new();
    for d in &file.devices {
        let (ms, random) = remember("device", &d.key, d.minute)?;
        let device = NewDevice::parse(d.body.clone()).map_err(|e| fail(format!("device `{}`: {e}", d.key)))?;
        devices.push(SeedDevice {
            id: argus_types::DeviceId::derived(ms, random),
            device,
            enrolled_by: d.enrolled_by.clone(),
            created_at: at(d.minute),
        });
    }
    let device_ids: HashMap<&str, _> =
        file.devices.iter().map(|i| i.key.as_str()).zip(devices.iter().map(|s| s.id.clone())).collect();
    let device = |key: &str| lookup(&device_ids, "device", key).map_err(fail);
    let mut encounters = Vec::new();
    for e in &file.encounters {
        let (ms, random) = remember("encounter", &e.key, e.minute)?;
        let mut body = e.body.clone();
        let Some(fields) = body.as_object_mut() else { return Err(fail(format!("encounter `{}`: not a map", e.key))) };
        if let Some(key) = &e.incident {
            fields.insert("incident_id".into(), Value::String(incident(key)?.to_string()));
        }
        let ids = e.devices.iter().map(|k| device(k).map(|d| Value::String(d.to_string())));
        fields.insert("devices".into(), Value::Array(ids.collect::<Result<_, _>>()?));
        let record =
            Encounter::parse(body, at(e.minute)).map_err(|err| fail(format!("encounter `{}`: {err}", e.key)))?;
        encounters.push(SeedEncounter {
            id: argus_types::EncounterId::derived(ms, random),
            record,
            created_by: e.created_by.clone(),
            created_at: at(e.minute),
        });
    }
    let encounter_ids: HashMap<&str, _> =
        file.encounters.iter().map(|i| i.key.as_str()).zip(encounters.iter().map(|s| s.id.clone())).collect();
    let encounter = |key: &str| lookup(&encounter_ids, "encounter", key).map_err(fail);
    for o in &file.observations {
        let (ms, random) = remember("observation", &o.key, o.minute)?;
        let mut body = o.body.clone();
        if let (Some(key), Some(fields)) = (&o.encounter, body.as_object_mut()) {
            fields.insert("encounter_id".into(), Value::String(encounter(key)?.to_string()));
        }
        let observation =
            PhdObservation::parse(body, at(o.minute)).map_err(|e| fail(format!("observation `{}`: {e}", o.key)))?;
        seed.observations.push(SeedObservation {
            id: argus_types::ObservationId::derived(ms, random),
            device: device(&o.device)?,
            observation,
            received_at: at(o.minute),
        });
    }
    for j in &file.jobs {
        let (ms, random) = remember("job", &j.key, j.minute)?;
        let Ok(kind) = j.kind.parse::<JobKind>() else { return Err(bad("job kind", &j.kind)) };
        let Ok(status) = j.status.parse::<JobStatus>() else { return Err(bad("job status", &j.status)) };
        seed.jobs.push(SeedJob {
            id: argus_types::JobId::derived(ms, random),
            client_id: "sandbox".to_owned(),
            kind,
            status,
            input: j.input.clone().unwrap_or_else(|| Value::Object(Default::default())),
            progress: if status == JobStatus::Succeeded { 1.0 } else { 0.0 },
            attempts: j.attempts,
            error: j.error.clone(),
            result: j.result.as_ref().map(|r| (r.content_type.clone(), r.body.clone().into_bytes())),
            created_at: at(j.minute),
            started_at: j.started_minute.map(at),
            finished_at: j.finished_minute.map(at),
        });
    }
    let case_ids: HashMap<&str, _> =
        file.cases.iter().map(|i| i.key.as_str()).zip(cases.iter().map(|s| s.id.clone())).collect();
    let case = |key: &str| lookup(&case_ids, "case", key).map_err(fail);
    for e in &file.evidence {
        let (ms, random) = remember("evidence", &e.key, e.minute)?;
        let item = NewEvidence {
            incident_id: e.incident.as_deref().map(incident).transpose()?,
            case_id: e.case.as_deref().map(case).transpose()?,
            name: e.name.clone(),
            media_type: e.media_type.clone(),
            size_bytes: e.size_bytes,
            sha256: e.sha256.clone(),
        };
        item.check().map_err(|err| fail(format!("evidence `{}`: {err}", e.key)))?;
        let mut operations = Vec::new();
        let mut sealed = false;
        for o in &e.operations {
            let Ok(operation) = o.operation.parse::<EvidenceOperation>() else {
                return Err(bad("evidence operation", &o.operation));
            };
            // The custody rule the API enforces: nothing after SEAL but
            // VIEW, no second CREATE.
            operation.check(sealed).map_err(|err| fail(format!("evidence `{}`: {}: {err}", e.key, o.operation)))?;
            sealed |= operation == EvidenceOperation::Seal;
            let record = RecordOperation { operation, details: o.details.clone(), custodian: o.custodian.clone() };
            record.check().map_err(|err| fail(format!("evidence `{}`: {err}", e.key)))?;
            operations.push((record, o.actor.clone(), at(o.minute)));
        }
        seed.evidence.push(SeedEvidence {
            id: argus_types::EvidenceId::derived(ms, random),
            item,
            created_by: e.created_by.clone(),
            client_id: e.client_id.clone(),
            created_at: at(e.minute),
            operations,
        });
    }
    seed.cases = cases;
    seed.entities = entities;
    seed.relationships = relationships;
    seed.devices = devices;
    seed.encounters = encounters;
    Ok(seed)
}

/// The sandbox's [`ScenarioTenants`]: seeds a pair's tenant on its first
/// request and remembers it.
pub struct ScenarioTenantsInStore {
    scenarios: Arc<Scenarios>,
    store: Store,
    sealer: ProvenanceSealer,
    secrets: SecretBox,
    seeded: Mutex<HashMap<(TenantId, String), TenantId>>,
}

/// At most this many pairs are remembered; past it the map starts over
/// (a seeded pair costs one insert that finds its tenant).
const SEEDED_MAX: usize = 100_000;

impl ScenarioTenantsInStore {
    /// `sealer` signs the scenarios' provenance transcripts, `secrets`
    /// seals their webhooks' secrets (the worker opens them).
    pub fn new(scenarios: Arc<Scenarios>, store: Store, sealer: ProvenanceSealer, secrets: SecretBox) -> Self {
        Self { scenarios, store, sealer, secrets, seeded: Mutex::new(HashMap::new()) }
    }

    async fn tenant(&self, app_tenant: &TenantId, scenario: &str) -> Result<TenantId, AuthnError> {
        let key = (app_tenant.clone(), scenario.to_owned());
        if let Some(tenant) = self.seeded.lock().ok().and_then(|seeded| seeded.get(&key).cloned()) {
            return Ok(tenant);
        }
        let seed = match self.scenarios.seed(scenario, app_tenant, &self.secrets) {
            Ok(Some(seed)) => seed,
            Ok(None) => return Err(AuthnError::UnknownScenario(scenario.to_owned())),
            Err(e) => {
                tracing::error!(error = %e, "a shipped scenario does not seed");
                return Err(AuthnError::ScenarioUnavailable);
            }
        };
        let seeded = self.store.seed_scenario(&seed, &self.sealer).await.map_err(|e| {
            tracing::error!(error = %e, scenario, "cannot seed a sandbox scenario");
            AuthnError::ScenarioUnavailable
        })?;
        if seeded {
            tracing::info!(scenario, tenant = %seed.tenant, "sandbox scenario seeded");
        }
        if let Ok(mut remembered) = self.seeded.lock() {
            if remembered.len() >= SEEDED_MAX {
                remembered.clear();
            }
            remembered.insert(key, seed.tenant.clone());
        }
        Ok(seed.tenant)
    }

    /// Seeds the scenario tenant of `app_tenant` in `scenario` afresh (see
    /// `Store::reset_scenario`); `None` when there is no such scenario.
    pub async fn reset(&self, app_tenant: &TenantId, scenario: &str) -> Result<Option<ScenarioView>, ApiError> {
        let seed = match self.scenarios.seed(scenario, app_tenant, &self.secrets) {
            Ok(Some(seed)) => seed,
            Ok(None) => return Ok(None),
            Err(e) => return Err(ApiError::Internal(format!("a shipped scenario does not seed: {e}"))),
        };
        self.store.reset_scenario(&seed, &self.sealer).await?;
        tracing::info!(scenario, tenant = %seed.tenant, "sandbox scenario reset");
        Ok(self.scenarios.view(scenario))
    }
}

impl ScenarioTenants for ScenarioTenantsInStore {
    fn tenant_for<'a>(
        &'a self,
        app_tenant: &'a TenantId,
        scenario: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<TenantId, AuthnError>> + 'a>> {
        Box::pin(self.tenant(app_tenant, scenario))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_scenarios_are_every_file_of_the_folder_and_each_seeds() {
        let files = crate::shipped_bundles::stems_in_docs("sandbox/scenarios", ".yaml");
        let shipped: Vec<&str> = SHIPPED_SCENARIOS.iter().map(|(name, _)| *name).collect();
        assert_eq!(shipped, files);
        let scenarios = Scenarios::shipped().unwrap();
        assert_eq!(scenarios.list().scenarios.len(), SHIPPED_SCENARIOS.len());
    }

    #[test]
    fn ids_follow_the_app_tenant_and_the_scenario_and_nothing_else() {
        let scenarios = Scenarios::shipped().unwrap();
        let (a, b) = (TenantId::derived(1, 1), TenantId::derived(1, 2));
        let secrets = SecretBox::new(b"test");
        let seed = |s: &str, t: &TenantId| scenarios.seed(s, t, &secrets).unwrap().unwrap();
        let first = seed("mass-casualty-incident", &a);
        assert_eq!(first.tenant, seed("mass-casualty-incident", &a).tenant);
        assert_eq!(first.incidents[0].id, seed("mass-casualty-incident", &a).incidents[0].id);
        assert_ne!(first.tenant, seed("mass-casualty-incident", &b).tenant);
        assert_ne!(first.incidents[0].id, seed("mass-casualty-incident", &b).incidents[0].id);
        assert_ne!(first.tenant, seed("stemi-transport", &a).tenant);
        assert!(scenarios.seed("no-such-scenario", &a, &secrets).unwrap().is_none());
    }

    #[test]
    fn a_scenario_the_api_would_refuse_is_refused() {
        let file = |yaml: &str| yaml_serde::from_str::<ScenarioFile>(yaml).unwrap();
        let tenant = TenantId::derived(0, 0);
        let bad = [
            (
                "clock: 2026-05-08T09:00:00Z\ndescription: x\nincidents:\n  - {key: a, minute: 0, title: t, severity: dire, reporter: r}",
                "severity `dire`",
            ),
            (
                "clock: 2026-05-08T09:00:00Z\ndescription: x\nincidents:\n  - {key: a, minute: 0, title: t, severity: low, reporter: r}\n  - {key: a, minute: 1, title: u, severity: low, reporter: r}",
                "two incident items have the key `a`",
            ),
            (
                "clock: 2026-05-08T09:00:00Z\ndescription: x\ncases:\n  - {key: c, minute: 0, title: t, status: open, incidents: [missing]}",
                "no incident `missing`",
            ),
            (
                "clock: 2026-05-08T09:00:00Z\ndescription: x\ndevices:\n  - {key: d, minute: 0, enrolled_by: x, body: {serial_number: s}}",
                "device `d`",
            ),
        ];
        for (yaml, expected) in bad {
            let error = seed_of("bad", &file(yaml), &tenant, &SecretBox::new(b"test")).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        assert!(
            yaml_serde::from_str::<ScenarioFile>("description: x\nclock: 2026-05-08T09:00:00Z\nunknown: 1").is_err()
        );
    }
}
