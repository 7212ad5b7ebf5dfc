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

mod exporter;
mod resources;

use argus_types::{DeviceId, EncounterId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Encounter;
use exporter::Exporter;
pub use resources::Bundle;

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

/// The `urn:uuid:` of the resource named `name` in the record `id`: a UUID
/// v5, the same at every export.
fn full_url(id: &EncounterId, name: &str) -> String {
    format!("urn:uuid:{}", Uuid::new_v5(&NAMESPACE, format!("{id}/{name}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::{Value, json};

    use super::exporter::*;
    use super::*;
    use crate::epcr::codes::SNOMED as SNOMED_SYSTEM;
    use crate::epcr::codes::{LOCAL_SYSTEM, LOINC, UCUM};
    use crate::epcr::devices::MDC_SYSTEM;

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
