//! A request body read leniently, then checked field by field into an
//! [`Encounter`], so that one 400 names every bad field.

use std::collections::HashSet;

use argus_types::{DeviceId, IncidentId};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::codes::{DOSE_UNITS, GLUCOSE_MG_DL_PER_MMOL_L};
use super::*;

/// How far ahead of the server's clock a time may be (device clocks drift).
pub(super) const CLOCK_SKEW: Duration = Duration::minutes(5);
const MAX_TEXT: usize = 200;
const MAX_NOTE: usize = 2_000;

/// A field read as whatever the body holds: a `T`, or the reason it is not
/// one. serde stops at the first bad value; this lets the check go on.
#[derive(Debug, Clone)]
enum Checked<T> {
    Valid(T),
    Invalid(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(match serde_json::from_value(value) {
            Ok(v) => Self::Valid(v),
            Err(e) => Self::Invalid(e.to_string()),
        })
    }
}

impl<T> Checked<T> {
    /// The value, or `None` with its reason pushed under `name`.
    fn take(self, errors: &mut FieldErrors, name: impl FnOnce() -> String) -> Option<T> {
        match self {
            Self::Valid(v) => Some(v),
            Self::Invalid(reason) => {
                errors.push(name(), reason);
                None
            }
        }
    }
}

/// A list field: at most `max` items, each read leniently.
type List<T> = Option<Vec<T>>;

/// A request body's shape, every value still unchecked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncounterDraft {
    incident_id: Option<Checked<IncidentId>>,
    patient: Option<PatientDraft>,
    timeline: Option<TimelineDraft>,
    vital_signs: List<VitalSignDraft>,
    procedures: List<ProcedureDraft>,
    medications: List<MedicationDraft>,
    medications_withheld: List<WithheldDraft>,
    impressions: List<Checked<Condition>>,
    cardiac_arrest: Option<ArrestDraft>,
    outcome: Option<Checked<Outcome>>,
    destination: Option<String>,
    crew: List<CrewDraft>,
    devices: List<Checked<DeviceId>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientDraft {
    identifiers: List<PatientIdentifier>,
    name: Option<HumanName>,
    birth_date: Option<Checked<NaiveDate>>,
    sex: Option<Checked<AdministrativeSex>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineDraft {
    call_received: Option<Checked<DateTime<Utc>>>,
    dispatched: Option<Checked<DateTime<Utc>>>,
    mobile: Option<Checked<DateTime<Utc>>>,
    on_scene: Option<Checked<DateTime<Utc>>>,
    left_scene: Option<Checked<DateTime<Utc>>>,
    at_hospital: Option<Checked<DateTime<Utc>>>,
    handover: Option<Checked<DateTime<Utc>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VitalSignDraft {
    #[serde(rename = "type")]
    sign: Checked<VitalSign>,
    value: Option<Checked<f64>>,
    systolic: Option<Checked<f64>>,
    diastolic: Option<Checked<f64>>,
    unit: Option<String>,
    at: Checked<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcedureDraft {
    procedure: Checked<Procedure>,
    at: Checked<DateTime<Utc>>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MedicationDraft {
    medication: Checked<Medication>,
    dose: Option<Checked<Dose>>,
    route: Checked<MedicationRoute>,
    at: Checked<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithheldDraft {
    medication: Checked<Medication>,
    reason: Checked<WithheldReason>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArrestDraft {
    witness: Checked<ArrestWitness>,
    initial_rhythm: Checked<ArrestRhythm>,
    presumed_cardiac: Checked<bool>,
    resuscitation_attempted: Checked<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrewDraft {
    name: String,
    role: Checked<CrewRole>,
    registration: Option<String>,
}

impl EncounterDraft {
    /// The body's shape: a body that is not one (a missing required part, a
    /// field of the wrong JSON type, an unknown field) is one error, named
    /// by its path.
    pub fn read(body: Value) -> Result<Self, FieldErrors> {
        read_shape(body)
    }

    /// Every value checked, and the rules between them: the record, or
    /// every bad field.
    pub fn check(self, now: DateTime<Utc>) -> Result<Encounter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let latest = now + CLOCK_SKEW;
        let e = &mut errors;

        let incident_id = self.incident_id.and_then(|id| id.take(e, || "incident_id".into()));
        let patient = check_patient(self.patient, now, e);
        let timeline = check_timeline(self.timeline, latest, e);
        let start = timeline.map(|t| t.call_received);
        let time = |checked: Checked<DateTime<Utc>>, name: String, e: &mut FieldErrors| {
            let at = checked.take(e, || name.clone())?;
            if start.is_some_and(|s| at < s) {
                e.push(name, "must not be before timeline.call_received");
                None
            } else if at > latest {
                e.push(name, "must not be in the future");
                None
            } else {
                Some(at)
            }
        };

        let vital_signs = list(self.vital_signs, "vital_signs", 1_000, e, |d, name, e| {
            let at = time(d.at, format!("{name}.at"), e);
            let sign = d.sign.take(e, || format!("{name}.type"))?;
            let value = check_reading(sign, d.value, d.systolic, d.diastolic, d.unit, &name, e);
            Some(VitalSignReading { sign, value: value?, unit: sign.spec().unit.to_owned(), at: at? })
        });
        let procedures = list(self.procedures, "procedures", 200, e, |d, name, e| {
            let note = d.note.and_then(|n| text(n, MAX_NOTE, &format!("{name}.note"), e));
            Some(ProcedurePerformed {
                procedure: d.procedure.take(e, || format!("{name}.procedure"))?,
                at: time(d.at, format!("{name}.at"), e)?,
                note,
            })
        });
        let medications = list(self.medications, "medications", 200, e, |d, name, e| {
            let dose = match d.dose.map(|d| d.take(e, || format!("{name}.dose")).and_then(|d| check_dose(d, &name, e)))
            {
                None => Ok(None),
                Some(None) => Err(()),
                Some(Some(dose)) => Ok(Some(dose)),
            };
            let medication = d.medication.take(e, || format!("{name}.medication"));
            let route = d.route.take(e, || format!("{name}.route"));
            let at = time(d.at, format!("{name}.at"), e);
            Some(MedicationGiven { medication: medication?, dose: dose.ok()?, route: route?, at: at? })
        });
        let medications_withheld = list(self.medications_withheld, "medications_withheld", 50, e, |d, name, e| {
            let medication = d.medication.take(e, || format!("{name}.medication"))?;
            if medications.iter().any(|m| m.medication == medication) {
                e.push(format!("{name}.medication"), "is also in medications: a medicine is either given or withheld");
                return None;
            }
            Some(MedicationWithheld { medication, reason: d.reason.take(e, || format!("{name}.reason"))? })
        });
        let mut seen = HashSet::new();
        let impressions = list(self.impressions, "impressions", 20, e, |c, name, e| {
            let condition = c.take(e, || name.clone())?;
            if !seen.insert(condition) {
                e.push(name, "is given twice");
                return None;
            }
            Some(condition)
        });
        let cardiac_arrest = self.cardiac_arrest.and_then(|d| {
            let witness = d.witness.take(e, || "cardiac_arrest.witness".into());
            let initial_rhythm = d.initial_rhythm.take(e, || "cardiac_arrest.initial_rhythm".into());
            let presumed_cardiac = d.presumed_cardiac.take(e, || "cardiac_arrest.presumed_cardiac".into());
            let resuscitation_attempted =
                d.resuscitation_attempted.take(e, || "cardiac_arrest.resuscitation_attempted".into());
            Some(CardiacArrest {
                witness: witness?,
                initial_rhythm: initial_rhythm?,
                presumed_cardiac: presumed_cardiac?,
                resuscitation_attempted: resuscitation_attempted?,
            })
        });
        let outcome = self.outcome.and_then(|o| o.take(e, || "outcome".into()));
        let destination = self.destination.and_then(|d| text(d, MAX_TEXT, "destination", e));
        let crew = list(self.crew, "crew", 12, e, |d, name, e| {
            let member_name = text(d.name, MAX_TEXT, &format!("{name}.name"), e);
            let registration = d.registration.and_then(|r| text(r, 64, &format!("{name}.registration"), e));
            Some(CrewMember { name: member_name?, role: d.role.take(e, || format!("{name}.role"))?, registration })
        });
        if crew.is_empty() && !e.0.iter().any(|f| f.name.starts_with("crew")) {
            e.push("crew", "must name at least one crew member");
        }
        let mut seen = HashSet::new();
        let devices = list(self.devices, "devices", 50, e, |d, name, e| {
            let id = d.take(e, || name.clone())?;
            if !seen.insert(id.clone()) {
                e.push(name, "is given twice");
                return None;
            }
            Some(id)
        });

        if let (Some(timeline), Some(outcome)) = (timeline, outcome)
            && !outcome.conveyed()
        {
            for (stage, at) in [("at_hospital", timeline.at_hospital), ("handover", timeline.handover)] {
                if at.is_some() {
                    e.push(format!("timeline.{stage}"), format!("must be absent when the outcome is {outcome}"));
                }
            }
        }
        if outcome == Some(Outcome::Rosc) && cardiac_arrest.is_none() {
            e.push("cardiac_arrest", "is required when the outcome is rosc");
        }
        if cardiac_arrest.is_some() && !impressions.contains(&Condition::CardiacArrest) {
            e.push("impressions", "must include cardiac_arrest when cardiac_arrest is given");
        }

        match (patient, timeline) {
            (Some(patient), Some(timeline)) if errors.is_empty() => Ok(Encounter {
                incident_id,
                patient,
                timeline,
                vital_signs,
                procedures,
                medications,
                medications_withheld,
                impressions,
                cardiac_arrest,
                outcome,
                destination,
                crew,
                devices,
            }),
            _ => Err(errors),
        }
    }
}

/// The items of a list field that pass `check` (at most `max` of them);
/// each bad one's reasons are pushed under `name[i]`.
fn list<D, T>(
    items: List<D>,
    name: &str,
    max: usize,
    errors: &mut FieldErrors,
    mut check: impl FnMut(D, String, &mut FieldErrors) -> Option<T>,
) -> Vec<T> {
    let items = items.unwrap_or_default();
    if items.len() > max {
        errors.push(name, format!("must hold at most {max} items"));
        return Vec::new();
    }
    items.into_iter().enumerate().filter_map(|(i, item)| check(item, format!("{name}[{i}]"), errors)).collect()
}

/// A body read as `T`'s shape: a body that is not one is one error, named
/// by its path (`body` for the whole).
pub(super) fn read_shape<T: DeserializeOwned>(body: Value) -> Result<T, FieldErrors> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let mut errors = FieldErrors::default();
        errors.push(if path == "." { "body".to_owned() } else { path }, e.into_inner().to_string());
        errors
    })
}

/// `value` trimmed, if it is not empty and at most `max` characters long.
pub(super) fn text(value: String, max: usize, name: &str, errors: &mut FieldErrors) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(name, "must not be empty");
        None
    } else if trimmed.chars().count() > max {
        errors.push(name, format!("must be at most {max} characters"));
        None
    } else {
        Some(trimmed.to_owned())
    }
}

fn check_patient(draft: Option<PatientDraft>, now: DateTime<Utc>, e: &mut FieldErrors) -> Option<Patient> {
    let Some(draft) = draft else {
        e.push("patient", "is required");
        return None;
    };
    let identifiers = list(draft.identifiers, "patient.identifiers", 10, e, |id, name, e| {
        let system = text(id.system, MAX_TEXT, &format!("{name}.system"), e)?;
        if !(system.starts_with("https://") || system.starts_with("http://") || system.starts_with("urn:")) {
            e.push(format!("{name}.system"), "must be an absolute URI (http, https or urn)");
            return None;
        }
        let value = text(id.value, 64, &format!("{name}.value"), e)?;
        if system == NHS_NUMBER_SYSTEM && !is_nhs_number(&value) {
            e.push(format!("{name}.value"), "is not a valid NHS number (ten digits, modulus 11)");
            return None;
        }
        Some(PatientIdentifier { system, value })
    });
    let name = draft.name.and_then(|n| {
        let given = list(Some(n.given), "patient.name.given", 10, e, |g, name, e| text(g, MAX_TEXT, &name, e));
        let family = match n.family {
            None => None,
            Some(f) => Some(text(f, MAX_TEXT, "patient.name.family", e)?),
        };
        Some(HumanName { given, family })
    });
    let birth_date = draft.birth_date.and_then(|d| {
        let date = d.take(e, || "patient.birth_date".into())?;
        let today = now.date_naive();
        if date > today {
            e.push("patient.birth_date", "must not be in the future");
            return None;
        }
        if today.years_since(date).is_none_or(|years| years > 130) {
            e.push("patient.birth_date", "must be within the last 130 years");
            return None;
        }
        Some(date)
    });
    let sex = match draft.sex {
        None => {
            e.push("patient.sex", format!("is required: one of {}", AdministrativeSex::NAMES.join(", ")));
            None
        }
        Some(sex) => sex.take(e, || "patient.sex".into()),
    };
    Some(Patient { identifiers, name, birth_date, sex: sex? })
}

fn check_timeline(draft: Option<TimelineDraft>, latest: DateTime<Utc>, e: &mut FieldErrors) -> Option<Timeline> {
    let Some(d) = draft else {
        e.push("timeline", "is required, with at least call_received");
        return None;
    };
    let given = [d.call_received, d.dispatched, d.mobile, d.on_scene, d.left_scene, d.at_hospital, d.handover];
    let mut times = [None; 7];
    let mut previous: Option<(&str, DateTime<Utc>)> = None;
    let mut bad = false;
    for ((stage, checked), slot) in Timeline::STAGES.iter().zip(given).zip(&mut times) {
        let name = format!("timeline.{stage}");
        let Some(checked) = checked else { continue };
        let Some(at) = checked.take(e, || name.clone()) else {
            bad = true;
            continue;
        };
        if at > latest {
            e.push(name, "must not be in the future");
            bad = true;
        } else if let Some((before, then)) = previous.filter(|(_, then)| at < *then) {
            e.push(name, format!("must not be before timeline.{before} ({then})"));
            bad = true;
        } else {
            previous = Some((stage, at));
        }
        *slot = Some(at);
    }
    let [call_received, dispatched, mobile, on_scene, left_scene, at_hospital, handover] = times;
    if handover.is_some() && at_hospital.is_none() {
        e.push("timeline.handover", "requires timeline.at_hospital");
        bad = true;
    }
    let Some(call_received) = call_received else {
        if !e.0.iter().any(|f| f.name == "timeline.call_received") {
            e.push("timeline.call_received", "is required");
        }
        return None;
    };
    (!bad).then_some(Timeline { call_received, dispatched, mobile, on_scene, left_scene, at_hospital, handover })
}

fn check_reading(
    sign: VitalSign,
    value: Option<Checked<f64>>,
    systolic: Option<Checked<f64>>,
    diastolic: Option<Checked<f64>>,
    unit: Option<String>,
    name: &str,
    e: &mut FieldErrors,
) -> Option<ReadingValue> {
    let spec = sign.spec();
    // Blood glucose may come in mmol/L (the UK's unit); it is kept in the
    // mg/dL of its LOINC code, 2339-0.
    let factor = match unit.as_deref() {
        None => 1.0,
        Some(u) if u == spec.unit => 1.0,
        Some("mmol/L") if sign == VitalSign::BloodGlucose => GLUCOSE_MG_DL_PER_MMOL_L,
        Some(u) => {
            e.push(format!("{name}.unit"), format!("must be {} for {sign}, not `{u}`", spec.unit));
            return None;
        }
    };
    let mut number = |field: &str, checked: Checked<f64>| {
        let field = format!("{name}.{field}");
        let v = checked.take(e, || field.clone())?;
        let (low, high) = spec.range;
        if !v.is_finite() || v < low || v > high {
            e.push(field, format!("must be between {low} and {high} {}", spec.unit));
            None
        } else if spec.whole && v.fract() != 0.0 {
            e.push(field, "must be a whole number");
            None
        } else {
            Some(v * factor)
        }
    };
    match (sign, value, systolic, diastolic) {
        (VitalSign::BloodPressure, None, Some(s), Some(d)) => {
            let (s, d) = (number("systolic", s), number("diastolic", d));
            let (s, d) = (s?, d?);
            if d >= s {
                e.push(format!("{name}.diastolic"), "must be lower than systolic");
                return None;
            }
            Some(ReadingValue::Pressure { systolic: s, diastolic: d })
        }
        (VitalSign::BloodPressure, ..) => {
            e.push(name.to_owned(), "blood_pressure takes systolic and diastolic, not value");
            None
        }
        (_, Some(v), None, None) => Some(ReadingValue::Single { value: number("value", v)? }),
        _ => {
            e.push(name.to_owned(), format!("{sign} takes value, not systolic or diastolic"));
            None
        }
    }
}

fn check_dose(dose: Dose, name: &str, e: &mut FieldErrors) -> Option<Dose> {
    if !dose.value.is_finite() || dose.value <= 0.0 {
        e.push(format!("{name}.dose.value"), "must be a positive number");
        return None;
    }
    if !DOSE_UNITS.contains(&dose.unit.as_str()) {
        e.push(format!("{name}.dose.unit"), format!("must be one of {}", DOSE_UNITS.join(", ")));
        return None;
    }
    Some(dose)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn stemi() -> Value {
        json!({
            "patient": {
                "identifiers": [{"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}],
                "name": {"given": ["Ada"], "family": "Lovelace"},
                "birth_date": "1956-03-14",
                "sex": "female"
            },
            "timeline": {
                "call_received": "2026-05-01T10:00:00Z",
                "dispatched": "2026-05-01T10:01:00Z",
                "on_scene": "2026-05-01T10:09:00Z",
                "left_scene": "2026-05-01T10:40:00Z",
                "at_hospital": "2026-05-01T11:00:00Z"
            },
            "vital_signs": [
                {"type": "pain_score", "value": 8, "at": "2026-05-01T10:10:00Z"},
                {"type": "blood_pressure", "systolic": 150, "diastolic": 90, "unit": "mm[Hg]", "at": "2026-05-01T10:11:00Z"},
                {"type": "blood_glucose", "value": 5.5, "unit": "mmol/L", "at": "2026-05-01T10:12:00Z"}
            ],
            "medications": [
                {"medication": "aspirin", "dose": {"value": 300, "unit": "mg"}, "route": "oral", "at": "2026-05-01T10:15:00Z"}
            ],
            "medications_withheld": [{"medication": "glyceryl_trinitrate", "reason": "contraindicated"}],
            "impressions": ["stemi"],
            "outcome": "conveyed",
            "crew": [{"name": "Sam Medic", "role": "paramedic"}]
        })
    }

    #[test]
    fn a_whole_record_is_read_and_its_json_round_trips() {
        let encounter = Encounter::parse(stemi(), now()).unwrap();
        assert_eq!(encounter.patient.sex, AdministrativeSex::Female);
        assert_eq!(encounter.vital_signs[1].value, ReadingValue::Pressure { systolic: 150.0, diastolic: 90.0 });
        // Glucose is kept in the mg/dL of LOINC 2339-0.
        assert_eq!(encounter.vital_signs[2].unit, "mg/dL");
        assert_eq!(encounter.vital_signs[2].value, ReadingValue::Single { value: 5.5 * GLUCOSE_MG_DL_PER_MMOL_L });
        assert_eq!(encounter.vital_signs[0].unit, "{score}");
        let stored = serde_json::to_value(&encounter).unwrap();
        assert_eq!(stored["vital_signs"][1]["systolic"], 150.0);
        assert_eq!(serde_json::from_value::<Encounter>(stored.clone()).unwrap(), encounter);
        assert_eq!(Encounter::parse(stored, now()).unwrap(), encounter);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut body = stemi();
        body["patient"]["sex"] = json!("f");
        body["patient"]["identifiers"][0]["value"] = json!("9434765910");
        body["timeline"]["on_scene"] = json!("2026-05-01T09:59:00Z");
        body["vital_signs"][0]["value"] = json!(11);
        body["vital_signs"][1]["diastolic"] = json!(160);
        body["vital_signs"][2]["unit"] = json!("g/L");
        body["medications"][0]["route"] = json!("by mouth");
        body["medications"][0]["dose"]["unit"] = json!("tablets");
        body["impressions"] = json!(["stemi", "heartache"]);
        body["crew"] = json!([]);
        let errors = Encounter::parse(body, now()).unwrap_err();
        let names: Vec<&str> = errors.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "patient.identifiers[0].value",
                "patient.sex",
                "timeline.on_scene",
                "vital_signs[0].value",
                "vital_signs[1].diastolic",
                "vital_signs[2].unit",
                "medications[0].dose.unit",
                "medications[0].route",
                "impressions[1]",
                "crew",
            ],
            "{errors}"
        );
        assert!(errors.0[2].reason.contains("before timeline.dispatched"), "{errors}");
        assert!(errors.0[7].reason.contains("unknown variant") || errors.0[7].reason.contains("must be one of"));
    }

    #[test]
    fn a_shape_error_is_named_by_its_path() {
        let mut body = stemi();
        body["vital_signs"][0]["colour"] = json!("red");
        let errors = Encounter::parse(body, now()).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].name, "vital_signs[0].colour");
        assert!(errors.0[0].reason.contains("colour"));
        let errors = Encounter::parse(json!([1]), now()).unwrap_err();
        assert_eq!(errors.0[0].name, "body");
    }

    #[test]
    fn the_rules_between_fields_hold() {
        let mut body = stemi();
        body["outcome"] = json!("not_conveyed");
        body["timeline"]["handover"] = json!("2026-05-01T11:10:00Z");
        body["medications_withheld"] = json!([{"medication": "aspirin", "reason": "declined"}]);
        body["medications"][0]["at"] = json!("2026-05-01T09:00:00Z");
        body["cardiac_arrest"] = json!({"witness": "bystander", "initial_rhythm": "vf", "presumed_cardiac": true, "resuscitation_attempted": true});
        let errors = Encounter::parse(body, now()).unwrap_err().to_string();
        for expected in [
            "timeline.at_hospital: must be absent when the outcome is not_conveyed",
            "timeline.handover: must be absent",
            "medications[0].at: must not be before timeline.call_received",
            "impressions: must include cardiac_arrest",
        ] {
            assert!(errors.contains(expected), "{expected} not in {errors}");
        }
        let mut body = stemi();
        body["timeline"]["call_received"] = json!("2026-06-01T13:00:00Z");
        let errors = Encounter::parse(body, now()).unwrap_err().to_string();
        assert!(errors.starts_with("timeline.call_received: must not be in the future"), "{errors}");
    }

    #[test]
    fn nhs_numbers_are_checked_by_modulus_11() {
        assert!(is_nhs_number("9434765919"));
        assert!(is_nhs_number("4010232137"));
        assert!(!is_nhs_number("9434765918"));
        assert!(!is_nhs_number("943476591"));
        assert!(!is_nhs_number("94347659１9"));
    }

    #[test]
    fn utstein_comparator_needs_every_part() {
        let arrest = CardiacArrest {
            witness: ArrestWitness::Bystander,
            initial_rhythm: ArrestRhythm::VentricularFibrillation,
            presumed_cardiac: true,
            resuscitation_attempted: true,
        };
        assert!(arrest.utstein_comparator());
        assert!(!CardiacArrest { initial_rhythm: ArrestRhythm::Asystole, ..arrest }.utstein_comparator());
        assert!(!CardiacArrest { witness: ArrestWitness::Ems, ..arrest }.utstein_comparator());
    }
}
