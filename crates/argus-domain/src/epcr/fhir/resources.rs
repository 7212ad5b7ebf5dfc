//! The FHIR R4 resources and data types the export writes: typed serde
//! structs holding only the elements it fills (see the parent module for
//! why not a FHIR model crate).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::CodedTerm;
use crate::epcr::codes::{Code, LOCAL_SYSTEM, UCUM};

/// A FHIR R4 Bundle of type `document`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle<'a> {
    pub(super) resource_type: &'static str,
    pub(super) id: String,
    pub(super) identifier: DocumentIdentifier,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) timestamp: DateTime<Utc>,
    pub(super) entry: Vec<Entry<'a>>,
}

/// The document's identifier: its `urn:uuid:`, which changes with every
/// change of the record.
#[derive(Debug, Serialize)]
pub(super) struct DocumentIdentifier {
    pub(super) system: &'static str,
    pub(super) value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Entry<'a> {
    pub(super) full_url: String,
    pub(super) resource: Resource<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "resourceType")]
pub(super) enum Resource<'a> {
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
pub(super) struct Coding<'a> {
    pub(super) system: &'a str,
    pub(super) code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) display: Option<&'a str>,
}

impl From<Code> for Coding<'static> {
    fn from(c: Code) -> Self {
        Coding { system: c.system, code: c.code, display: Some(c.display) }
    }
}

impl<'a> Coding<'a> {
    pub(super) fn local(code: &'a str) -> Self {
        Coding { system: LOCAL_SYSTEM, code, display: None }
    }

    pub(super) fn term(system: &'a str, term: &'a CodedTerm) -> Self {
        Coding { system, code: &term.code, display: Some(&term.display) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct CodeableConcept<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) coding: Vec<Coding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<&'a str>,
}

impl<'a> CodeableConcept<'a> {
    pub(super) fn of(coding: Coding<'a>) -> Self {
        CodeableConcept { coding: vec![coding], text: None }
    }

    /// The SNOMED CT coding where there is one, then the local code, so a
    /// receiver always has one it can match on.
    pub(super) fn coded(snomed: Option<Code>, local: &'a str, text: &'a str) -> Self {
        let mut coding: Vec<Coding<'a>> = snomed.map(Coding::from).into_iter().collect();
        coding.push(Coding::local(local));
        CodeableConcept { coding, text: Some(text) }
    }

    pub(super) fn text(text: &'a str) -> Self {
        CodeableConcept { coding: Vec::new(), text: Some(text) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Reference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) display: Option<&'a str>,
}

impl Reference<'_> {
    pub(super) fn to(full_url: &str) -> Self {
        Reference { reference: Some(full_url.to_owned()), display: None }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Identifier<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) system: Option<&'a str>,
    pub(super) value: &'a str,
}

impl<'a> Identifier<'a> {
    pub(super) fn of(system: &'a str, value: &'a str) -> Self {
        Identifier { kind: None, system: Some(system), value }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Quantity<'a> {
    pub(super) value: f64,
    pub(super) unit: &'a str,
    pub(super) system: &'static str,
    pub(super) code: &'a str,
}

impl<'a> Quantity<'a> {
    pub(super) fn ucum(value: f64, unit: &'a str) -> Self {
        Quantity { value, unit, system: UCUM, code: unit }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Period {
    pub(super) start: DateTime<Utc>,
    pub(super) end: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub(super) struct Name<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) family: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) given: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
pub(super) struct Narrative {
    pub(super) status: &'static str,
    pub(super) div: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Annotation<'a> {
    pub(super) text: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Composition<'a> {
    pub(super) id: String,
    pub(super) status: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: CodeableConcept<'static>,
    pub(super) subject: Reference<'a>,
    pub(super) encounter: Reference<'a>,
    pub(super) date: DateTime<Utc>,
    pub(super) author: Vec<Reference<'a>>,
    pub(super) title: &'static str,
    pub(super) section: Vec<Section<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Section<'a> {
    pub(super) title: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) code: Option<CodeableConcept<'static>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<Narrative>,
    pub(super) entry: Vec<Reference<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Patient<'a> {
    pub(super) id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) identifier: Vec<Identifier<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) name: Vec<Name<'a>>,
    pub(super) gender: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) birth_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub(super) struct Practitioner<'a> {
    pub(super) id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) identifier: Vec<Identifier<'a>>,
    pub(super) name: Vec<Name<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EncounterResource<'a> {
    pub(super) id: String,
    pub(super) identifier: Vec<Identifier<'a>>,
    pub(super) status: &'static str,
    pub(super) class: Coding<'static>,
    pub(super) subject: Reference<'a>,
    pub(super) participant: Vec<Participant<'a>>,
    pub(super) period: Period,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) diagnosis: Vec<Diagnosis<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) hospitalization: Option<Hospitalization<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Participant<'a> {
    #[serde(rename = "type")]
    pub(super) kind: Vec<CodeableConcept<'a>>,
    pub(super) individual: Reference<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct Diagnosis<'a> {
    pub(super) condition: Reference<'a>,
    pub(super) rank: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Hospitalization<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) destination: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) discharge_disposition: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Observation<'a> {
    pub(super) id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) identifier: Vec<Identifier<'a>>,
    pub(super) status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) category: Vec<CodeableConcept<'static>>,
    pub(super) code: CodeableConcept<'a>,
    pub(super) subject: Reference<'a>,
    pub(super) encounter: Reference<'a>,
    pub(super) effective_date_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) device: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) component: Vec<ObservationComponent<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ObservationComponent<'a> {
    pub(super) code: CodeableConcept<'a>,
    pub(super) value_quantity: Quantity<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProcedureResource<'a> {
    pub(super) id: String,
    pub(super) status: &'static str,
    pub(super) code: CodeableConcept<'a>,
    pub(super) subject: Reference<'a>,
    pub(super) encounter: Reference<'a>,
    pub(super) performed_date_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) note: Vec<Annotation<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MedicationAdministration<'a> {
    pub(super) id: String,
    pub(super) status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) status_reason: Vec<CodeableConcept<'a>>,
    pub(super) medication_codeable_concept: CodeableConcept<'a>,
    pub(super) subject: Reference<'a>,
    pub(super) context: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) effective_date_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) effective_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dosage: Option<Dosage<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Dosage<'a> {
    pub(super) route: CodeableConcept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dose: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) rate_quantity: Option<Quantity<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConditionResource<'a> {
    pub(super) id: String,
    pub(super) clinical_status: CodeableConcept<'static>,
    pub(super) verification_status: CodeableConcept<'static>,
    pub(super) category: Vec<CodeableConcept<'static>>,
    pub(super) code: CodeableConcept<'a>,
    pub(super) subject: Reference<'a>,
    pub(super) encounter: Reference<'a>,
    pub(super) recorded_date: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Device<'a> {
    pub(super) id: String,
    pub(super) identifier: Vec<Identifier<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) manufacturer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) serial_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) device_name: Vec<DeviceName<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model_number: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct DeviceName<'a> {
    pub(super) name: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
}
