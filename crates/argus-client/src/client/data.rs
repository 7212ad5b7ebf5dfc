//! The api-service's REST resources beside GraphQL and jobs: traces,
//! ePCR encounters, devices, evidence provenance and discovery.

use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ArgusClient, Call, Host, segment};
use crate::error::Result;
use crate::provenance::{Algorithm, ConsistencyProof, EarlierHead, JwkSet, Transcript, Verification};

/// A recorded trace: the tenant's spans of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Trace {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// Its spans.
    pub spans: Vec<Span>,
}

/// One span of a [`Trace`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Span {
    /// 16 hex digits.
    pub span_id: String,
    /// The parent span, if any.
    #[serde(default)]
    pub parent_span_id: Option<String>,
    /// The service that recorded it.
    pub service: String,
    /// Its name.
    pub name: String,
    /// `server`, `client`, `internal`, …
    pub kind: String,
    /// When it started.
    pub start: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: f64,
    /// `ok`, `error` or `unset`.
    pub status: String,
    /// Its attributes.
    pub attributes: Value,
}

/// A stored ePCR encounter: its id and provenance, and the record as sent
/// (checked; units filled in) in `record`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Encounter<R = Value> {
    /// `enc_…`.
    pub id: String,
    /// Who created it (a user's or an app's id).
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The record's own fields.
    #[serde(flatten)]
    pub record: R,
}

/// A coded value (FHIR `Coding`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The code system's URI.
    pub system: String,
    /// The code.
    pub code: String,
    /// Its human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// Codings of one concept (FHIR `CodeableConcept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concept {
    /// The codings.
    pub coding: Vec<Coding>,
}

/// A measured amount (FHIR `Quantity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    /// The value.
    pub value: f64,
    /// The unit as shown.
    pub unit: String,
    /// The unit's code system (UCUM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The unit's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One part of a multi-part observation (a blood pressure's systolic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// What the part is.
    pub code: Concept,
    /// Its value.
    pub value_quantity: Quantity,
}

/// `POST /api/v1/devices/enrol`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDevice {
    /// The manufacturer's serial number (unique in the tenant).
    pub serial_number: String,
    /// The manufacturer.
    pub manufacturer: String,
    /// The model.
    pub model: String,
    /// The device type (ISO/IEEE 11073 code).
    #[serde(rename = "type")]
    pub device_type: Coding,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Device {
    /// The device's id.
    pub id: String,
    /// Its serial number.
    pub serial_number: String,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Its model.
    pub model: String,
    /// Its type.
    #[serde(rename = "type")]
    pub device_type: Coding,
    /// Who enrolled it.
    pub enrolled_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

page!(DeviceList, devices, Device);

/// Which devices to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only of this type code.
    pub device_type: Option<String>,
    /// Only by this manufacturer.
    pub manufacturer: Option<String>,
    /// Only this serial number.
    pub serial_number: Option<String>,
    /// Page size, 1 to 100.
    pub page_size: Option<u32>,
}

/// `POST /api/v1/devices/{id}/observations`'s body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewObservation {
    /// What was measured.
    pub code: Concept,
    /// The value, for a single-value observation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity>,
    /// The parts, for a multi-part one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Vec<Component>>,
    /// When it was measured.
    pub effective_date_time: DateTime<Utc>,
    /// The encounter it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter_id: Option<String>,
}

/// A stored observation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Observation {
    /// Its id.
    pub id: String,
    /// The device that measured it.
    pub device_id: String,
    /// The encounter it belongs to.
    #[serde(default)]
    pub encounter_id: Option<String>,
    /// What was measured.
    pub code: Concept,
    /// The value.
    #[serde(default)]
    pub value_quantity: Option<Quantity>,
    /// The parts.
    #[serde(default)]
    pub component: Option<Vec<Component>>,
    /// When it was measured.
    pub effective_date_time: DateTime<Utc>,
    /// When the API received it.
    pub received_at: DateTime<Utc>,
}

/// An evidence item, as its provenance shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EvidenceSummary {
    /// `evd_…`.
    pub id: String,
    /// The incident it belongs to.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// The case it belongs to.
    #[serde(default)]
    pub case_id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size_bytes: i64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was sealed, if it was.
    #[serde(default)]
    pub sealed_at: Option<DateTime<Utc>>,
}

/// An evidence item's provenance: the transcript to keep and verify offline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Provenance {
    /// The item.
    pub evidence: EvidenceSummary,
    /// Its custody transcript.
    pub transcript: Transcript,
    /// The proof from `since_size`, when asked for.
    #[serde(default)]
    pub consistency_proof: Option<ConsistencyProof>,
}

/// Whether a data schema describes a REST body or a GraphQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// A REST route's JSON body.
    Rest,
    /// A GraphQL object type.
    Graphql,
}

/// One data schema the caller can read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataSchemaEntry {
    /// The resource type's name (`Incident`, `JobView`).
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Where it appears.
    pub surface: Surface,
    /// The scope that reads it.
    pub scope: String,
    /// The JSON Schema's URL (its `$id`).
    pub url: String,
}

/// One data schema: a JSON Schema (draft 2020-12) document whose `$schema`,
/// `$id` and `title` the API always sets; the rest (`type`, `properties`,
/// `required`, `$defs`, …) is the schema itself, kept as JSON for a JSON
/// Schema validator to take.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataSchema {
    /// The dialect, `https://json-schema.org/draft/2020-12/schema`.
    #[serde(rename = "$schema")]
    pub dialect: String,
    /// The schema's URL, the `url` of its [`DataSchemaEntry`].
    #[serde(rename = "$id")]
    pub id: String,
    /// The resource type's name.
    pub title: String,
    /// What the resource type is, when the API describes it.
    #[serde(default)]
    pub description: Option<String>,
    /// The schema's other keywords.
    #[serde(flatten)]
    pub schema: Map<String, Value>,
}

/// The RFC 9727 API catalog (`/.well-known/api-catalog`): an RFC 9264
/// linkset with one entry per API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiCatalog {
    /// The APIs: the api-service's, then the auth-service's.
    pub linkset: Vec<CatalogEntry>,
}

/// One API of the [`ApiCatalog`], anchored at its host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogEntry {
    /// The API's base URL (`https://api.knogin.com/`).
    pub anchor: String,
    /// Its OpenAPI documents (JSON and YAML).
    #[serde(rename = "service-desc", default)]
    pub service_desc: Vec<CatalogLink>,
    /// Its documentation.
    #[serde(rename = "service-doc", default)]
    pub service_doc: Vec<CatalogLink>,
    /// Its metadata (the docs index; the OAuth server metadata for the
    /// auth-service).
    #[serde(rename = "service-meta", default)]
    pub service_meta: Vec<CatalogLink>,
    /// Its status document.
    #[serde(default)]
    pub status: Vec<CatalogLink>,
}

/// A link of a [`CatalogEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogLink {
    /// The target's URL.
    pub href: String,
    /// The target's media type.
    #[serde(rename = "type")]
    pub media_type: String,
}

impl ArgusClient {
    /// `GET /v1/observability/traces/{trace_id}` (`traces:read`): the
    /// tenant's spans of a trace.
    pub async fn trace(&self, trace_id: &str) -> Result<Trace> {
        self.json(&Call::get(Host::Api, format!("/v1/observability/traces/{}", segment(trace_id)))).await
    }

    /// `POST /api/v1/epcr/encounters` (`epcr:write`): stores a record
    /// (its fields as the API reference lists them); a 400's problem names
    /// every bad field in `invalid-params`.
    pub async fn create_encounter<R: DeserializeOwned>(&self, record: &impl Serialize) -> Result<Encounter<R>> {
        self.json(&Call::post(Host::Api, "/api/v1/epcr/encounters").json(record)?).await
    }

    /// `GET /api/v1/epcr/encounters/{id}` (`epcr:read`).
    pub async fn encounter<R: DeserializeOwned>(&self, id: &str) -> Result<Encounter<R>> {
        self.json(&Call::get(Host::Api, format!("/api/v1/epcr/encounters/{}", segment(id)))).await
    }

    /// `GET /api/v1/epcr/encounters/{id}/fhir-bundle`: the record as a FHIR
    /// R4 document Bundle.
    ///
    /// The Bundle is JSON, not a typed model: the Rust FHIR R4 crates
    /// (`fhir`, `fhirkit`, `fhirbolt`) generate every one of R4's 146
    /// resources, which every SDK user would compile for this one call.
    /// Deserialize it into the model of your choice with
    /// `serde_json::from_value`.
    pub async fn encounter_fhir_bundle(&self, id: &str) -> Result<Value> {
        self.json(&Call::get(Host::Api, format!("/api/v1/epcr/encounters/{}/fhir-bundle", segment(id)))).await
    }

    /// `POST /api/v1/devices/enrol` (`devices:write`).
    pub async fn enrol_device(&self, device: &NewDevice) -> Result<Device> {
        self.json(&Call::post(Host::Api, "/api/v1/devices/enrol").json(device)?).await
    }

    /// `GET /api/v1/devices`: every page, in enrolment order.
    pub fn list_devices(&self, filter: &DeviceFilter) -> impl Stream<Item = Result<Device>> + Send + 'static {
        let call = Call::get(Host::Api, "/api/v1/devices")
            .query("type", filter.device_type.as_deref())
            .query("manufacturer", filter.manufacturer.as_deref())
            .query("serial_number", filter.serial_number.as_deref())
            .query("limit", filter.page_size);
        self.paginate::<DeviceList>(call)
    }

    /// `POST /api/v1/devices/{id}/observations` (`devices:write`).
    pub async fn submit_observation(&self, device_id: &str, observation: &NewObservation) -> Result<Observation> {
        let path = format!("/api/v1/devices/{}/observations", segment(device_id));
        self.json(&Call::post(Host::Api, path).json(observation)?).await
    }

    /// `GET /v1/evidence/{id}/provenance` (`evidence:read`): the transcript
    /// to keep and verify with [`crate::provenance::verify_offline`].
    pub async fn evidence_provenance(&self, evidence_id: &str) -> Result<Provenance> {
        self.json(&Call::get(Host::Api, format!("/v1/evidence/{}/provenance", segment(evidence_id)))).await
    }

    /// `GET /v1/evidence/{id}/provenance?since_size=N`: the transcript with
    /// the consistency proof from an earlier size the caller kept.
    pub async fn evidence_provenance_since(&self, evidence_id: &str, since_size: i64) -> Result<Provenance> {
        let call = Call::get(Host::Api, format!("/v1/evidence/{}/provenance", segment(evidence_id)))
            .query("since_size", Some(since_size));
        self.json(&call).await
    }

    /// `POST /v1/evidence/{id}/provenance/verify` (`evidence:verify`): the
    /// server checks `transcript` (the stored one when `None`) against the
    /// entries it recorded and the tenant's keys, retired HMAC keys
    /// included, and, with `earlier`, that it extends that tree head. Every
    /// check and failure is in the answer; a tampered transcript is a
    /// `valid: false` answer, not an error. The body is at most 256 KiB
    /// (a longer transcript: verify it as stored, or offline).
    pub async fn verify_evidence_provenance(
        &self,
        evidence_id: &str,
        transcript: Option<&Transcript>,
        earlier: Option<&EarlierHead>,
    ) -> Result<Verification> {
        #[derive(Serialize)]
        struct VerifyRequest<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            transcript: Option<&'a Transcript>,
            #[serde(skip_serializing_if = "Option::is_none")]
            earlier_tree_head: Option<&'a EarlierHead>,
        }
        let path = format!("/v1/evidence/{}/provenance/verify", segment(evidence_id));
        // It changes nothing, so a lost answer may be asked for again.
        let call = Call::post(Host::Api, path)
            .json(&VerifyRequest { transcript, earlier_tree_head: earlier })?
            .idempotent(true);
        self.json(&call).await
    }

    /// `GET /.well-known/provenance-keys/{algorithm}?tenant=…` (public):
    /// the tenant's published tree-head keys (ML-DSA-65; HMAC-SHA256 keys
    /// are never published, so that is a 404).
    pub async fn provenance_keys(&self, algorithm: Algorithm, tenant: &str) -> Result<JwkSet> {
        let call = Call::get(Host::Api, format!("/.well-known/provenance-keys/{}", algorithm.as_str()))
            .query("tenant", Some(tenant))
            .anonymous();
        self.json(&call).await
    }

    /// `GET /v1/discovery/data-schemas`: the data schemas the caller's
    /// scopes can read.
    pub async fn data_schemas(&self) -> Result<Vec<DataSchemaEntry>> {
        #[derive(Deserialize)]
        struct List {
            schemas: Vec<DataSchemaEntry>,
        }
        Ok(self.json::<List>(&Call::get(Host::Api, "/v1/discovery/data-schemas")).await?.schemas)
    }

    /// `GET /v1/discovery/data-schemas/{name}`: one JSON Schema (2020-12).
    pub async fn data_schema(&self, name: &str) -> Result<DataSchema> {
        self.json(&Call::get(Host::Api, format!("/v1/discovery/data-schemas/{}", segment(name)))).await
    }

    /// `GET /.well-known/api-catalog` (RFC 9727, public): both APIs with
    /// their OpenAPI documents, docs and status, as a linkset.
    pub async fn api_catalog(&self) -> Result<ApiCatalog> {
        self.json(&Call::get(Host::Auth, "/.well-known/api-catalog").anonymous()).await
    }
}
