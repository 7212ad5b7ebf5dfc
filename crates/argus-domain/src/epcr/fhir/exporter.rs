//! Builds one export: the Composition and its sections, and each
//! resource of the record in document order.

use argus_types::DeviceId;
use uuid::Uuid;

use super::resources::*;
use super::{CodedTerm, EncounterExport, NAMESPACE, ObservedValue, full_url};
use crate::epcr::codes::{Code, DIASTOLIC, LOINC, SYSTOLIC, loinc};
use crate::epcr::devices::MDC_SYSTEM;
use crate::epcr::{Encounter, HumanName, Medication, ReadingValue, Timeline};

pub(super) const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub(super) const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub(super) const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub(super) const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
pub(super) const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// Bundle.identifier's system when the value is a URI (`urn:uuid:`).
pub(super) const URI_SYSTEM: &str = "urn:ietf:rfc:3986";
pub(super) const ENCOUNTER_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/encounter";
pub(super) const INCIDENT_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/incident";
pub(super) const DEVICE_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/device";
pub(super) const DEVICE_OBSERVATION_ID_SYSTEM: &str = "https://api.knogin.com/fhir/Id/device-observation";

/// Section codes (LOINC document sections, as the International Patient
/// Summary uses them) and the document's type.
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
pub(super) struct Exporter<'a> {
    export: EncounterExport<'a>,
    record: &'a Encounter,
    entries: Vec<Entry<'a>>,
    patient: String,
    encounter: String,
}

impl<'a> Exporter<'a> {
    pub(super) fn new(export: EncounterExport<'a>) -> Self {
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

    pub(super) fn bundle(mut self) -> Bundle<'a> {
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
        let medicine = |m: Medication| {
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
