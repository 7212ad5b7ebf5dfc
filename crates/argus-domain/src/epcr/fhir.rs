//! The FHIR R4 (4.0.1) export of a patient care record: a `document`
//! Bundle whose first entry is the Composition, then the Patient, the
//! crew (Practitioner), the Encounter and its Observations, Procedures,
//! MedicationAdministrations, Conditions and Devices. Every `fullUrl` is a
//! `urn:uuid:` derived from the record's ids (UUID v5), so the same record
//! exports the same document and every reference resolves inside it.
//!
//! The resources are typed serde structs of our own, holding only the
//! elements written here, rather than a FHIR model crate (measured on this
//! 2-core machine, December 2026): `fhir-r4` 4.1.2 takes 1 min 44 s and
//! 4.5 GB to build (debug) and `fhirbolt` 0.4 brings 400k lines of serde
//! code, and both turn on serde_json's `arbitrary_precision` for the whole
//! workspace, under which a stored [`super::VitalSignReading`] with a
//! fractional value no longer reads back (serde-rs/json#721); `fhir-model`
//! 0.13 has STU3, R4B and R5 but not R4; `fhirkit` 0.1.0 (R4, 7 s) has
//! had one release and writes with its own JSON writer, not serde. The
//! output is checked in the tests against the official R4 JSON schema.

use argus_types::{DeviceId, EncounterId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::codes::{Code, DIASTOLIC, LOCAL_SYSTEM, LOINC, SYSTOLIC, UCUM};
use super::devices::MDC_SYSTEM;
use super::{Encounter, HumanName, ReadingValue, Timeline};

const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// Bundle.identifier's system when the value is a URI (`urn:uuid:`).
const URI_SYSTEM: &str = "urn:ietf:rfc:3986";
const ENCOUNTER_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/encounter";
const INCIDENT_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/incident";
const DEVICE_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/device";
const DEVICE_OBSERVATION_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/device-observation";

/// The namespace of every UUID of an export (UUID v5 of the record's ids).
const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_3c52_9e0d_4b7a_8f21_5d4c_e0b9_a713);

/// A code of a terminology given as data (a device's MDC type, a PHD
/// observation's MDC or LOINC code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodedTerm {
    pub code: String,
    pub display: String,
}

/// A device enrolled in the tenant, as the export describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportDevice {
    pub id: DeviceId,
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    /// The IEEE 11073 MDC device type (system [`MDC_SYSTEM`]).
    pub device_type: CodedTerm,
}

/// A Personal Health Device observation linked to the encounter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceObservation {
    pub id: String,
    /// The MDC code (system [`MDC_SYSTEM`]).
    pub code: CodedTerm,
    /// The LOINC code, where one exists.
    pub loinc: Option<CodedTerm>,
    pub value: ObservedValue,
    pub effective: DateTime<Utc>,
    pub device_id: DeviceId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObservedValue {
    Quantity(Measurement),
    /// A compound value (non-invasive blood pressure: systolic, diastolic,
    /// mean), one component per part.
    Components(Vec<ObservedComponent>),
}

/// A value in a UCUM unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedComponent {
    pub code: CodedTerm,
    pub loinc: Option<CodedTerm>,
    pub value: Measurement,
}

/// What the export reads: a stored record and what the tenant knows of
/// the devices used on it.
#[derive(Debug, Clone, Copy)]
pub struct EncounterExport<'a> {
    pub id: &'a EncounterId,
    pub record: &'a Encounter,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The devices named by the record or by `observations`; one named but
    /// missing here is exported by its id alone.
    pub devices: &'a [ExportDevice],
    pub observations: &'a [DeviceObservation],
}

/// The record as a FHIR R4 `document` Bundle: serialize it as JSON.
///
/// Its `timestamp` (and the Composition's `date`) is the record's last
/// change, and its identifier is derived from the record's id and that
/// time: an unchanged record exports the same document, a changed one a
/// new document.
pub fn document_bundle(export: EncounterExport<'_>) -> Bundle<'_> {
    Exporter::new(export).bundle()
}

/// A FHIR R4 Bundle of type `document`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle<'a> {
    resource_type: &'static str,
    id: String,
    identifier: DocumentIdentifier,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: DateTime<Utc>,
    entry: Vec<Entry<'a>>,
}

/// The document's identifier: its `urn:uuid:`, which changes with every
/// change of the record.
#[derive(Debug, Serialize)]
struct DocumentIdentifier {
    system: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    full_url: String,
    resource: Resource<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "resourceType")]
enum Resource<'a> {
    Composition(Composition<'a>),
    Patient(Patient<'a>),
    Practitioner(Practitioner<'a>),
    Encounter(EncounterResource<'a>),
    Observation(Observation<'a>),
    Procedure(ProcedureResource<'a>),
    MedicationAdministration(MedicationAdministration<'a>),
    Condition(ConditionResource<'a>),
    Device(Device<'a>),
}

#[derive(Debug, Clone, Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

impl From<Code> for Coding<'static> {
    fn from(c: Code) -> Self {
        Coding { system: c.system, code: c.code, display: Some(c.display) }
    }
}

impl<'a> Coding<'a> {
    fn local(code: &'a str) -> Self {
        Coding { system: LOCAL_SYSTEM, code, display: None }
    }

    fn term(system: &'a str, term: &'a CodedTerm) -> Self {
        Coding { system, code: &term.code, display: Some(&term.display) }
    }
}

#[derive(Debug, Clone, Serialize)]
struct CodeableConcept<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    coding: Vec<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl<'a> CodeableConcept<'a> {
    fn of(coding: Coding<'a>) -> Self {
        CodeableConcept { coding: vec![coding], text: None }
    }

    /// The SNOMED CT coding where there is one, then the local code, so a
    /// receiver always has one it can match on.
    fn coded(snomed: Option<Code>, local: &'a str, text: &'a str) -> Self {
        let mut coding: Vec<Coding<'a>> = snomed.map(Coding::from).into_iter().collect();
        coding.push(Coding::local(local));
        CodeableConcept { coding, text: Some(text) }
    }

    fn text(text: &'a str) -> Self {
        CodeableConcept { coding: Vec::new(), text: Some(text) }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Reference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

impl Reference<'_> {
    fn to(full_url: &str) -> Self {
        Reference { reference: Some(full_url.to_owned()), display: None }
    }
}

#[derive(Debug, Serialize)]
struct Identifier<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    value: &'a str,
}

impl<'a> Identifier<'a> {
    fn of(system: &'a str, value: &'a str) -> Self {
        Identifier { kind: None, system: Some(system), value }
    }
}

#[derive(Debug, Serialize)]
struct Quantity<'a> {
    value: f64,
    unit: &'a str,
    system: &'static str,
    code: &'a str,
}

impl<'a> Quantity<'a> {
    fn ucum(value: f64, unit: &'a str) -> Self {
        Quantity { value, unit, system: UCUM, code: unit }
    }
}

#[derive(Debug, Serialize)]
struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct Name<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    given: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
struct Narrative {
    status: &'static str,
    div: String,
}

#[derive(Debug, Serialize)]
struct Annotation<'a> {
    text: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Composition<'a> {
    id: String,
    status: &'static str,
    #[serde(rename = "type")]
    kind: CodeableConcept<'static>,
    subject: Reference<'a>,
    encounter: Reference<'a>,
    date: DateTime<Utc>,
    author: Vec<Reference<'a>>,
    title: &'static str,
    section: Vec<Section<'a>>,
}

#[derive(Debug, Serialize)]
struct Section<'a> {
    title: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<CodeableConcept<'static>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Narrative>,
    entry: Vec<Reference<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Patient<'a> {
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<Identifier<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    name: Vec<Name<'a>>,
    gender: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
struct Practitioner<'a> {
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<Identifier<'a>>,
    name: Vec<Name<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EncounterResource<'a> {
    id: String,
    identifier: Vec<Identifier<'a>>,
    status: &'static str,
    class: Coding<'static>,
    subject: Reference<'a>,
    participant: Vec<Participant<'a>>,
    period: Period,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diagnosis: Vec<Diagnosis<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hospitalization: Option<Hospitalization<'a>>,
}

#[derive(Debug, Serialize)]
struct Participant<'a> {
    #[serde(rename = "type")]
    kind: Vec<CodeableConcept<'a>>,
    individual: Reference<'a>,
}

#[derive(Debug, Serialize)]
struct Diagnosis<'a> {
    condition: Reference<'a>,
    rank: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Hospitalization<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discharge_disposition: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Observation<'a> {
    id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier: Vec<Identifier<'a>>,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    category: Vec<CodeableConcept<'static>>,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    encounter: Reference<'a>,
    effective_date_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    component: Vec<ObservationComponent<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObservationComponent<'a> {
    code: CodeableConcept<'a>,
    value_quantity: Quantity<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcedureResource<'a> {
    id: String,
    status: &'static str,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    encounter: Reference<'a>,
    performed_date_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Annotation<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MedicationAdministration<'a> {
    id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    status_reason: Vec<CodeableConcept<'a>>,
    medication_codeable_concept: CodeableConcept<'a>,
    subject: Reference<'a>,
    context: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dosage: Option<Dosage<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Dosage<'a> {
    route: CodeableConcept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dose: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_quantity: Option<Quantity<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConditionResource<'a> {
    id: String,
    clinical_status: CodeableConcept<'static>,
    verification_status: CodeableConcept<'static>,
    category: Vec<CodeableConcept<'static>>,
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    encounter: Reference<'a>,
    recorded_date: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Device<'a> {
    id: String,
    identifier: Vec<Identifier<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manufacturer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    device_name: Vec<DeviceName<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_number: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Serialize)]
struct DeviceName<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Section codes (LOINC document sections, as the International Patient
/// Summary uses them) and the document's type.
const fn loinc(code: &'static str, display: &'static str) -> Code {
    Code { system: LOINC, code, display }
}
const DOCUMENT_TYPE: Code = loinc("67796-3", "EMS patient care report - version 3 Document NEMSIS");
const VITAL_SIGNS_SECTION: Code = loinc("8716-3", "Vital signs");
const PROCEDURES_SECTION: Code = loinc("47519-4", "History of Procedures Document");
const MEDICATIONS_SECTION: Code = loinc("29549-3", "Medication administered Narrative");
const PROBLEMS_SECTION: Code = loinc("11450-4", "Problem list - Reported");
const DEVICES_SECTION: Code = loinc("46264-8", "History of medical device use");

fn concept(code: Code) -> CodeableConcept<'static> {
    CodeableConcept::of(code.into())
}

/// Builds one export: the entries in document order, and the references
/// the Composition's sections list.
struct Exporter<'a> {
    export: EncounterExport<'a>,
    record: &'a Encounter,
    entries: Vec<Entry<'a>>,
    patient: String,
    encounter: String,
}

impl<'a> Exporter<'a> {
    fn new(export: EncounterExport<'a>) -> Self {
        Exporter {
            export,
            record: export.record,
            entries: Vec::new(),
            patient: full_url(export.id, "patient"),
            encounter: full_url(export.id, "encounter"),
        }
    }

    fn full_url(&self, name: &str) -> String {
        full_url(self.export.id, name)
    }

    /// Adds `resource` under `full_url` and gives back the reference to it.
    fn push(&mut self, full_url: String, resource: Resource<'a>) -> Reference<'a> {
        let reference = Reference::to(&full_url);
        self.entries.push(Entry { full_url, resource });
        reference
    }

    /// The resource id of an entry: its `urn:uuid:` without the prefix.
    fn id_of(full_url: &str) -> String {
        full_url.trim_start_matches("urn:uuid:").to_owned()
    }

    fn subject(&self) -> Reference<'a> {
        Reference::to(&self.patient)
    }

    fn context(&self) -> Reference<'a> {
        Reference::to(&self.encounter)
    }

    fn bundle(mut self) -> Bundle<'a> {
        let record = self.record;
        let patient = self.patient();
        let crew = self.crew();
        let conditions = self.conditions();
        let encounter = self.encounter_resource(&crew, &conditions);
        let vital_signs = self.vital_signs();
        let procedures = self.procedures();
        let medications = self.medications();
        let devices = self.devices();
        let device_observations = self.device_observations();

        let mut section = vec![Section {
            title: "Timeline",
            code: None,
            text: Some(timeline_narrative(&record.timeline)),
            entry: vec![encounter],
        }];
        for (title, code, entry) in [
            ("Vital signs", VITAL_SIGNS_SECTION, vital_signs),
            ("Procedures", PROCEDURES_SECTION, procedures),
            ("Medications", MEDICATIONS_SECTION, medications),
            ("Working impressions", PROBLEMS_SECTION, conditions),
            ("Devices", DEVICES_SECTION, devices),
            ("Device observations", VITAL_SIGNS_SECTION, device_observations),
        ] {
            // An empty section would need an emptyReason; it is left out.
            if !entry.is_empty() {
                section.push(Section { title, code: Some(concept(code)), text: None, entry });
            }
        }
        let composition_url = self.full_url("composition");
        let composition = Composition {
            id: Self::id_of(&composition_url),
            status: "final",
            kind: CodeableConcept { coding: vec![DOCUMENT_TYPE.into()], text: Some("Ambulance patient care record") },
            subject: patient,
            encounter: self.context(),
            date: self.export.updated_at,
            author: crew,
            title: "Ambulance patient care record",
            section,
        };
        self.entries.insert(0, Entry { full_url: composition_url, resource: Resource::Composition(composition) });

        let document = Uuid::new_v5(
            &NAMESPACE,
            format!("{}/document/{}", self.export.id, self.export.updated_at.timestamp_micros()).as_bytes(),
        );
        Bundle {
            resource_type: "Bundle",
            id: document.to_string(),
            identifier: DocumentIdentifier { system: URI_SYSTEM, value: format!("urn:uuid:{document}") },
            kind: "document",
            timestamp: self.export.updated_at,
            entry: self.entries,
        }
    }

    fn patient(&mut self) -> Reference<'a> {
        let p = &self.record.patient;
        let resource = Patient {
            id: Self::id_of(&self.patient),
            identifier: p.identifiers.iter().map(|i| Identifier::of(&i.system, &i.value)).collect(),
            name: p.name.as_ref().map(name).into_iter().collect(),
            gender: p.sex.as_str(),
            birth_date: p.birth_date,
        };
        self.push(self.patient.clone(), Resource::Patient(resource))
    }

    fn crew(&mut self) -> Vec<Reference<'a>> {
        let record = self.record;
        record
            .crew
            .iter()
            .enumerate()
            .map(|(i, member)| {
                let url = self.full_url(&format!("crew/{i}"));
                let resource = Practitioner {
                    id: Self::id_of(&url),
                    identifier: member
                        .registration
                        .iter()
                        .map(|r| Identifier {
                            kind: Some(CodeableConcept::text("Professional registration")),
                            system: None,
                            value: r,
                        })
                        .collect(),
                    name: vec![Name { text: Some(&member.name), family: None, given: Vec::new() }],
                };
                let mut reference = self.push(url, Resource::Practitioner(resource));
                reference.display = Some(&member.name);
                reference
            })
            .collect()
    }

    fn conditions(&mut self) -> Vec<Reference<'a>> {
        let record = self.record;
        record
            .impressions
            .iter()
            .map(|condition| {
                let url = self.full_url(&format!("condition/{condition}"));
                let coding = condition.coding();
                let resource = ConditionResource {
                    id: Self::id_of(&url),
                    clinical_status: concept(Code { system: CONDITION_CLINICAL, code: "active", display: "Active" }),
                    verification_status: concept(Code {
                        system: CONDITION_VERIFICATION,
                        code: "provisional",
                        display: "Provisional",
                    }),
                    category: vec![concept(Code {
                        system: CONDITION_CATEGORY,
                        code: "encounter-diagnosis",
                        display: "Encounter Diagnosis",
                    })],
                    code: CodeableConcept::coded(Some(coding), condition.as_str(), coding.display),
                    subject: self.subject(),
                    encounter: self.context(),
                    recorded_date: self.export.created_at,
                };
                self.push(url, Resource::Condition(resource))
            })
            .collect()
    }

    fn encounter_resource(&mut self, crew: &[Reference<'a>], conditions: &[Reference<'a>]) -> Reference<'a> {
        let record = self.record;
        let mut identifier = vec![Identifier::of(ENCOUNTER_ID_SYSTEM, self.export.id.as_str())];
        identifier.extend(record.incident_id.as_ref().map(|i| Identifier::of(INCIDENT_ID_SYSTEM, i.as_str())));
        let hospitalization = (record.destination.is_some() || record.outcome.is_some()).then(|| Hospitalization {
            destination: record.destination.as_deref().map(|d| Reference { reference: None, display: Some(d) }),
            discharge_disposition: record
                .outcome
                .map(|o| CodeableConcept { coding: vec![Coding::local(o.as_str())], text: Some(o.as_str()) }),
        });
        let resource = EncounterResource {
            id: Self::id_of(&self.encounter),
            identifier,
            // A record with its outcome written is a finished call.
            status: if record.outcome.is_some() { "finished" } else { "in-progress" },
            class: Coding { system: ACT_CODE, code: "EMER", display: Some("emergency") },
            subject: self.subject(),
            participant: record
                .crew
                .iter()
                .zip(crew)
                .map(|(member, individual)| Participant {
                    kind: vec![CodeableConcept {
                        coding: vec![Coding::local(member.role.as_str())],
                        text: Some(member.role.as_str()),
                    }],
                    individual: individual.clone(),
                })
                .collect(),
            period: Period { start: record.timeline.call_received, end: record.timeline.ended() },
            diagnosis: conditions
                .iter()
                .enumerate()
                .map(|(i, condition)| Diagnosis { condition: condition.clone(), rank: i + 1 })
                .collect(),
            hospitalization,
        };
        self.push(self.encounter.clone(), Resource::Encounter(resource))
    }

    fn vital_signs(&mut self) -> Vec<Reference<'a>> {
        let record = self.record;
        record
            .vital_signs
            .iter()
            .enumerate()
            .map(|(i, reading)| {
                let url = self.full_url(&format!("vital-sign/{i}"));
                let spec = reading.sign.spec();
                let mut coding = vec![Coding::from(spec.loinc)];
                coding.extend(spec.also.map(Coding::from));
                let (value_quantity, component) = match reading.value {
                    ReadingValue::Single { value } => (Some(Quantity::ucum(value, &reading.unit)), Vec::new()),
                    ReadingValue::Pressure { systolic, diastolic } => (
                        None,
                        vec![
                            ObservationComponent {
                                code: concept(SYSTOLIC),
                                value_quantity: Quantity::ucum(systolic, &reading.unit),
                            },
                            ObservationComponent {
                                code: concept(DIASTOLIC),
                                value_quantity: Quantity::ucum(diastolic, &reading.unit),
                            },
                        ],
                    ),
                };
                let resource = Observation {
                    id: Self::id_of(&url),
                    identifier: Vec::new(),
                    status: "final",
                    category: vec![vital_signs_category()],
                    code: CodeableConcept { coding, text: Some(spec.loinc.display) },
                    subject: self.subject(),
                    encounter: self.context(),
                    effective_date_time: reading.at,
                    value_quantity,
                    device: None,
                    component,
                };
                self.push(url, Resource::Observation(resource))
            })
            .collect()
    }

    fn procedures(&mut self) -> Vec<Reference<'a>> {
        let record = self.record;
        record
            .procedures
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let url = self.full_url(&format!("procedure/{i}"));
                let resource = ProcedureResource {
                    id: Self::id_of(&url),
                    status: "completed",
                    code: CodeableConcept::coded(p.procedure.coding(), p.procedure.as_str(), p.procedure.display()),
                    subject: self.subject(),
                    encounter: self.context(),
                    performed_date_time: p.at,
                    note: p.note.iter().map(|text| Annotation { text }).collect(),
                };
                self.push(url, Resource::Procedure(resource))
            })
            .collect()
    }

    fn medications(&mut self) -> Vec<Reference<'a>> {
        let record = self.record;
        let medicine = |m: super::Medication| {
            let coding = m.coding();
            CodeableConcept::coded(coding, m.as_str(), coding.map_or(m.as_str(), |c| c.display))
        };
        let mut references = Vec::new();
        for (i, given) in record.medications.iter().enumerate() {
            let url = self.full_url(&format!("medication/{i}"));
            let route = CodeableConcept::coded(given.route.coding(), given.route.as_str(), given.route.as_str());
            // Oxygen by flow is a rate, not a dose.
            let (dose, rate_quantity) = match &given.dose {
                Some(d) if d.unit == "L/min" => (None, Some(Quantity::ucum(d.value, &d.unit))),
                Some(d) => (Some(Quantity::ucum(d.value, &d.unit)), None),
                None => (None, None),
            };
            let resource = MedicationAdministration {
                id: Self::id_of(&url),
                status: "completed",
                status_reason: Vec::new(),
                medication_codeable_concept: medicine(given.medication),
                subject: self.subject(),
                context: self.context(),
                effective_date_time: Some(given.at),
                effective_period: None,
                dosage: Some(Dosage { route, dose, rate_quantity }),
            };
            references.push(self.push(url, Resource::MedicationAdministration(resource)));
        }
        for (i, withheld) in record.medications_withheld.iter().enumerate() {
            let url = self.full_url(&format!("medication-withheld/{i}"));
            // Not given: no time of its own, so the whole encounter.
            let resource = MedicationAdministration {
                id: Self::id_of(&url),
                status: "not-done",
                status_reason: vec![CodeableConcept {
                    coding: vec![Coding::local(withheld.reason.as_str())],
                    text: Some(withheld.reason.as_str()),
                }],
                medication_codeable_concept: medicine(withheld.medication),
                subject: self.subject(),
                context: self.context(),
                effective_date_time: None,
                effective_period: Some(Period { start: record.timeline.call_received, end: record.timeline.ended() }),
                dosage: None,
            };
            references.push(self.push(url, Resource::MedicationAdministration(resource)));
        }
        references
    }

    /// The URL of a device's entry (one per device, however often named).
    fn device_url(&self, id: &DeviceId) -> String {
        self.full_url(&format!("device/{id}"))
    }

    fn devices(&mut self) -> Vec<Reference<'a>> {
        let export = self.export;
        let named = self.record.devices.iter().chain(export.observations.iter().map(|o| &o.device_id));
        let mut seen = Vec::new();
        for id in export.devices.iter().map(|d| &d.id).chain(named) {
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen.into_iter()
            .map(|id| {
                let url = self.device_url(id);
                let known = export.devices.iter().find(|d| &d.id == id);
                let resource = Device {
                    id: Self::id_of(&url),
                    identifier: vec![Identifier::of(DEVICE_ID_SYSTEM, id.as_str())],
                    manufacturer: known.map(|d| d.manufacturer.as_str()),
                    serial_number: known.map(|d| d.serial.as_str()),
                    device_name: known.map(|d| DeviceName { name: &d.model, kind: "model-name" }).into_iter().collect(),
                    model_number: known.map(|d| d.model.as_str()),
                    kind: known.map(|d| CodeableConcept::of(Coding::term(MDC_SYSTEM, &d.device_type))),
                };
                self.push(url, Resource::Device(resource))
            })
            .collect()
    }

    fn device_observations(&mut self) -> Vec<Reference<'a>> {
        let export = self.export;
        export
            .observations
            .iter()
            .map(|o| {
                let url = self.full_url(&format!("device-observation/{}", o.id));
                let (value_quantity, component) = match &o.value {
                    ObservedValue::Quantity(m) => (Some(Quantity::ucum(m.value, &m.unit)), Vec::new()),
                    ObservedValue::Components(parts) => (
                        None,
                        parts
                            .iter()
                            .map(|c| ObservationComponent {
                                code: mdc_concept(&c.code, c.loinc.as_ref()),
                                value_quantity: Quantity::ucum(c.value.value, &c.value.unit),
                            })
                            .collect(),
                    ),
                };
                let resource = Observation {
                    id: Self::id_of(&url),
                    identifier: vec![Identifier::of(DEVICE_OBSERVATION_ID_SYSTEM, &o.id)],
                    status: "final",
                    category: Vec::new(),
                    code: mdc_concept(&o.code, o.loinc.as_ref()),
                    subject: self.subject(),
                    encounter: self.context(),
                    effective_date_time: o.effective,
                    value_quantity,
                    device: Some(Reference::to(&self.device_url(&o.device_id))),
                    component,
                };
                self.push(url, Resource::Observation(resource))
            })
            .collect()
    }
}

/// The `urn:uuid:` of the resource named `name` in the record `id`: a UUID
/// v5, the same at every export.
fn full_url(id: &EncounterId, name: &str) -> String {
    format!("urn:uuid:{}", Uuid::new_v5(&NAMESPACE, format!("{id}/{name}").as_bytes()))
}

fn vital_signs_category() -> CodeableConcept<'static> {
    concept(Code { system: OBSERVATION_CATEGORY, code: "vital-signs", display: "Vital Signs" })
}

/// The MDC coding, then the LOINC one where there is one (the PHD
/// implementation guide's order).
fn mdc_concept<'a>(mdc: &'a CodedTerm, loinc: Option<&'a CodedTerm>) -> CodeableConcept<'a> {
    let mut coding = vec![Coding::term(MDC_SYSTEM, mdc)];
    coding.extend(loinc.map(|l| Coding::term(LOINC, l)));
    CodeableConcept { coding, text: Some(&mdc.display) }
}

fn name(n: &HumanName) -> Name<'_> {
    Name { text: None, family: n.family.as_deref(), given: n.given.iter().map(String::as_str).collect() }
}

/// The timeline as the section's human-readable text: each stage given
/// and its time (times and stage names only, so nothing needs escaping).
fn timeline_narrative(timeline: &Timeline) -> Narrative {
    let mut div = String::from(r#"<div xmlns="http://www.w3.org/1999/xhtml"><ul>"#);
    for (stage, at) in Timeline::STAGES.iter().zip(timeline.stages()) {
        if let Some(at) = at {
            div.push_str(&format!("<li>{}: {}</li>", stage.replace('_', " "), at.to_rfc3339()));
        }
    }
    div.push_str("</ul></div>");
    Narrative { status: "generated", div }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::epcr::codes::SNOMED as SNOMED_SYSTEM;

    fn record() -> Encounter {
        let mut body = crate::epcr::testing::full_record_body();
        body["incident_id"] = json!("inc_01jz0000000000000000000000");
        body["devices"] = json!(["dev_01jz0000000000000000000001", "dev_01jz0000000000000000000002"]);
        Encounter::parse(body, "2026-06-01T12:00:00Z".parse().unwrap()).unwrap()
    }

    fn monitor() -> ExportDevice {
        ExportDevice {
            id: "dev_01jz0000000000000000000001".parse().unwrap(),
            serial: "SN-4711".into(),
            manufacturer: "Acme Medical".into(),
            model: "Vitals 3".into(),
            device_type: CodedTerm { code: "528388".into(), display: "MDC_DEV_SPEC_PROFILE_BPM".into() },
        }
    }

    fn term(code: &str, display: &str) -> CodedTerm {
        CodedTerm { code: code.into(), display: display.into() }
    }

    fn observations() -> Vec<DeviceObservation> {
        let component = |code: &str, display: &str, loinc: &str, value: f64| ObservedComponent {
            code: term(code, display),
            loinc: Some(term(loinc, display)),
            value: Measurement { value, unit: "mm[Hg]".into() },
        };
        vec![
            DeviceObservation {
                id: "obs_1".into(),
                code: term("150020", "MDC_PRESS_BLD_NONINV"),
                loinc: Some(term("85354-9", "Blood pressure panel")),
                value: ObservedValue::Components(vec![
                    component("150021", "MDC_PRESS_BLD_NONINV_SYS", "8480-6", 148.0),
                    component("150022", "MDC_PRESS_BLD_NONINV_DIA", "8462-4", 88.0),
                    component("150023", "MDC_PRESS_BLD_NONINV_MEAN", "8478-0", 108.0),
                ]),
                effective: "2026-05-01T10:20:00Z".parse().unwrap(),
                device_id: "dev_01jz0000000000000000000001".parse().unwrap(),
            },
            DeviceObservation {
                id: "obs_2".into(),
                code: term("150456", "MDC_PULS_OXIM_SAT_O2"),
                loinc: None,
                value: ObservedValue::Quantity(Measurement { value: 96.0, unit: "%".into() }),
                effective: "2026-05-01T10:21:00Z".parse().unwrap(),
                device_id: "dev_01jz0000000000000000000003".parse().unwrap(),
            },
        ]
    }

    fn export_json(record: &Encounter, devices: &[ExportDevice], observations: &[DeviceObservation]) -> Value {
        let id: EncounterId = "enc_01jz0000000000000000000000".parse().unwrap();
        let export = EncounterExport {
            id: &id,
            record,
            created_at: "2026-05-01T11:30:00Z".parse().unwrap(),
            updated_at: "2026-05-01T11:45:00Z".parse().unwrap(),
            devices,
            observations,
        };
        serde_json::to_value(document_bundle(export)).unwrap()
    }

    fn resources<'v>(bundle: &'v Value, kind: &str) -> Vec<&'v Value> {
        let entries = bundle["entry"].as_array().unwrap();
        entries.iter().map(|e| &e["resource"]).filter(|r| r["resourceType"] == kind).collect()
    }

    fn references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("reference", Value::String(r)) => found.push(r.clone()),
                        _ => references(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    fn codes(concept: &Value) -> Vec<(&str, &str)> {
        concept["coding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["system"].as_str().unwrap(), c["code"].as_str().unwrap()))
            .collect()
    }

    #[test]
    fn a_document_bundle_with_the_composition_first_and_every_reference_inside() {
        let bundle = export_json(&record(), &[monitor()], &observations());
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "document");
        assert_eq!(bundle["timestamp"], "2026-05-01T11:45:00Z");
        assert_eq!(bundle["identifier"]["system"], "urn:ietf:rfc:3986");
        assert!(bundle["identifier"]["value"].as_str().unwrap().starts_with("urn:uuid:"));
        let entries = bundle["entry"].as_array().unwrap();
        assert_eq!(entries[0]["resource"]["resourceType"], "Composition");

        let mut urls = HashSet::new();
        for entry in entries {
            let url = entry["fullUrl"].as_str().unwrap();
            let id = url.strip_prefix("urn:uuid:").unwrap();
            assert!(Uuid::parse_str(id).is_ok(), "{url}");
            assert_eq!(entry["resource"]["id"], id);
            assert!(urls.insert(url), "{url} is given twice");
        }
        let mut found = Vec::new();
        references(&bundle, &mut found);
        assert!(found.len() > 40, "{}", found.len());
        for reference in found {
            assert!(urls.contains(reference.as_str()), "{reference} does not resolve");
        }

        let kinds: Vec<&str> = entries.iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
        let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
        assert_eq!(count("Patient"), 1);
        assert_eq!(count("Practitioner"), 2);
        assert_eq!(count("Encounter"), 1);
        assert_eq!(count("Observation"), 8 + 2);
        assert_eq!(count("Procedure"), 2);
        assert_eq!(count("MedicationAdministration"), 3);
        assert_eq!(count("Condition"), 2);
        // The monitor, the record's second device and the oximeter only an
        // observation names.
        assert_eq!(count("Device"), 3);

        let composition = &entries[0]["resource"];
        let titles: Vec<&str> =
            composition["section"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
        assert_eq!(
            titles,
            [
                "Timeline",
                "Vital signs",
                "Procedures",
                "Medications",
                "Working impressions",
                "Devices",
                "Device observations"
            ]
        );
        assert_eq!(composition["section"][1]["entry"].as_array().unwrap().len(), 8);
        assert_eq!(composition["author"].as_array().unwrap().len(), 2);
        assert!(composition["section"][0]["text"]["div"].as_str().unwrap().contains("handover: 2026-05-01T11:20:00"));
    }

    #[test]
    fn vital_signs_carry_their_loinc_codes_and_ucum_units() {
        let bundle = export_json(&record(), &[], &[]);
        let observations = resources(&bundle, "Observation");
        let expected = [
            ("8867-4", Some(("/min", 96.0))),
            ("9279-1", Some(("/min", 18.0))),
            ("59408-5", Some(("%", 97.0))),
            ("8310-5", Some(("Cel", 36.8))),
            ("85354-9", None),
            ("9269-2", Some(("{score}", 15.0))),
            ("2339-0", Some(("mg/dL", 5.5 * crate::epcr::codes::GLUCOSE_MG_DL_PER_MMOL_L))),
            ("72514-3", Some(("{score}", 8.0))),
        ];
        assert_eq!(observations.len(), expected.len());
        for (observation, (code, value)) in observations.iter().zip(expected) {
            assert_eq!(codes(&observation["code"])[0], ("http://loinc.org", code));
            assert_eq!(codes(&observation["category"][0]), [(OBSERVATION_CATEGORY, "vital-signs")]);
            assert_eq!(observation["status"], "final");
            match value {
                Some((unit, v)) => {
                    let quantity = &observation["valueQuantity"];
                    assert_eq!(quantity["system"], UCUM);
                    assert_eq!(quantity["code"], unit, "{code}");
                    assert_eq!(quantity["value"].as_f64(), Some(v), "{code}");
                }
                None => assert!(observation.get("valueQuantity").is_none()),
            }
        }
        assert_eq!(codes(&observations[2]["code"])[1], ("http://loinc.org", "2708-6"));
        let pressure = &observations[4];
        let components: Vec<(&str, f64, &str)> = pressure["component"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["code"]["coding"][0]["code"].as_str().unwrap(),
                    c["valueQuantity"]["value"].as_f64().unwrap(),
                    c["valueQuantity"]["code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(components, [("8480-6", 150.0, "mm[Hg]"), ("8462-4", 90.0, "mm[Hg]")]);
    }

    #[test]
    fn care_given_and_impressions_are_coded() {
        let bundle = export_json(&record(), &[], &[]);
        let medications = resources(&bundle, "MedicationAdministration");
        let aspirin = medications[0];
        assert_eq!(aspirin["status"], "completed");
        assert_eq!(
            codes(&aspirin["medicationCodeableConcept"]),
            [(SNOMED_SYSTEM, "387458008"), (LOCAL_SYSTEM, "aspirin")]
        );
        assert_eq!(aspirin["dosage"]["dose"], json!({"value": 300.0, "unit": "mg", "system": UCUM, "code": "mg"}));
        assert_eq!(codes(&aspirin["dosage"]["route"])[0], (SNOMED_SYSTEM, "26643006"));
        assert_eq!(aspirin["effectiveDateTime"], "2026-05-01T10:15:00Z");
        assert_eq!(medications[1]["dosage"]["rateQuantity"]["code"], "L/min");
        assert!(medications[1]["dosage"].get("dose").is_none());
        let withheld = medications[2];
        assert_eq!(withheld["status"], "not-done");
        assert_eq!(withheld["statusReason"][0]["coding"][0]["code"], "contraindicated");
        assert_eq!(withheld["effectivePeriod"]["start"], "2026-05-01T10:00:00Z");

        let procedures = resources(&bundle, "Procedure");
        assert_eq!(codes(&procedures[0]["code"]), [(SNOMED_SYSTEM, "268400002"), (LOCAL_SYSTEM, "ecg_12_lead")]);
        assert_eq!(procedures[0]["note"][0]["text"], "ST elevation V2-V4");
        // No SNOMED CT concept: the local code alone, with its text.
        assert_eq!(codes(&procedures[1]["code"]), [(LOCAL_SYSTEM, "intravenous_cannulation")]);

        let conditions = resources(&bundle, "Condition");
        assert_eq!(codes(&conditions[0]["code"])[0], (SNOMED_SYSTEM, "401303003"));
        assert_eq!(codes(&conditions[0]["category"][0]), [(CONDITION_CATEGORY, "encounter-diagnosis")]);

        let encounter = resources(&bundle, "Encounter")[0];
        assert_eq!(encounter["class"]["code"], "EMER");
        assert_eq!(encounter["status"], "finished");
        assert_eq!(encounter["period"], json!({"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T11:20:00Z"}));
        assert_eq!(encounter["hospitalization"]["destination"]["display"], "Royal Infirmary, cath lab");
        assert_eq!(encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"], "conveyed");
        assert_eq!(encounter["identifier"][1]["value"], "inc_01jz0000000000000000000000");
        assert_eq!(encounter["diagnosis"][0]["rank"], 1);

        let patient = resources(&bundle, "Patient")[0];
        assert_eq!(patient["gender"], "female");
        assert_eq!(patient["birthDate"], "1956-03-14");
        assert_eq!(patient["name"][0], json!({"family": "Lovelace", "given": ["Ada"]}));
    }

    #[test]
    fn device_observations_are_mdc_coded_and_reference_their_device() {
        let bundle = export_json(&record(), &[monitor()], &observations());
        let entries = bundle["entry"].as_array().unwrap();
        let resource_at = |url: &str| &entries.iter().find(|e| e["fullUrl"] == url).unwrap()["resource"];
        let observations = resources(&bundle, "Observation");
        let nibp = observations[8];
        assert_eq!(codes(&nibp["code"]), [(MDC_SYSTEM, "150020"), (LOINC, "85354-9")]);
        let parts: Vec<&str> = nibp["component"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"]["coding"][0]["code"].as_str().unwrap())
            .collect();
        assert_eq!(parts, ["150021", "150022", "150023"]);
        let monitor = resource_at(nibp["device"]["reference"].as_str().unwrap());
        assert_eq!(monitor["serialNumber"], "SN-4711");
        assert_eq!(monitor["manufacturer"], "Acme Medical");
        assert_eq!(codes(&monitor["type"]), [(MDC_SYSTEM, "528388")]);

        let spo2 = observations[9];
        assert_eq!(codes(&spo2["code"]), [(MDC_SYSTEM, "150456")]);
        assert_eq!(spo2["valueQuantity"]["code"], "%");
        // A device the tenant's list does not describe is named by its id.
        let oximeter = resource_at(spo2["device"]["reference"].as_str().unwrap());
        assert_eq!(oximeter["identifier"][0]["value"], "dev_01jz0000000000000000000003");
        assert!(oximeter.get("serialNumber").is_none());
    }

    #[test]
    fn the_same_record_exports_the_same_document_and_a_change_a_new_one() {
        let record = record();
        let first = export_json(&record, &[monitor()], &observations());
        assert_eq!(first, export_json(&record, &[monitor()], &observations()));

        let id: EncounterId = "enc_01jz0000000000000000000000".parse().unwrap();
        let later = EncounterExport {
            id: &id,
            record: &record,
            created_at: "2026-05-01T11:30:00Z".parse().unwrap(),
            updated_at: "2026-05-02T09:00:00Z".parse().unwrap(),
            devices: &[],
            observations: &[],
        };
        let later_export = later;
        let later = serde_json::to_value(document_bundle(later)).unwrap();
        assert_ne!(later["identifier"], first["identifier"]);
        assert_eq!(later["entry"][1]["fullUrl"], first["entry"][1]["fullUrl"]);

        let other: EncounterId = "enc_01jz0000000000000000000009".parse().unwrap();
        let other = serde_json::to_value(document_bundle(EncounterExport { id: &other, ..later_export })).unwrap();
        assert_ne!(other["entry"][1]["fullUrl"], first["entry"][1]["fullUrl"]);
    }

    #[test]
    fn a_minimal_record_has_only_the_sections_it_fills() {
        let body = json!({
            "patient": {"sex": "unknown"},
            "timeline": {"call_received": "2026-05-01T10:00:00Z"},
            "crew": [{"name": "Sam Medic", "role": "paramedic"}]
        });
        let record = Encounter::parse(body, "2026-06-01T12:00:00Z".parse().unwrap()).unwrap();
        let bundle = export_json(&record, &[], &[]);
        let kinds: Vec<&str> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["Composition", "Patient", "Practitioner", "Encounter"]);
        assert_eq!(bundle["entry"][0]["resource"]["section"].as_array().unwrap().len(), 1);
        let encounter = &bundle["entry"][3]["resource"];
        assert_eq!(encounter["status"], "in-progress");
        assert!(encounter.get("hospitalization").is_none());
        assert_eq!(encounter["period"]["end"], "2026-05-01T10:00:00Z");
    }
}
