//! Ambulance patient care records (ePCR encounters): the record, its coded
//! values, and the checks a record passes on the way in.
//!
//! A request body is read leniently ([`EncounterDraft`]) so that every bad
//! field is reported at once ([`FieldErrors`], a 400's `invalid-params`),
//! then checked into an [`Encounter`], whose JSON form is the API's and the
//! stored one.

pub mod acqi;
pub mod codes;
pub mod devices;
mod draft;
pub mod fhir;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use argus_types::{DeviceId, IncidentId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use codes::{
    AdministrativeSex, ArrestRhythm, ArrestWitness, Condition, CrewRole, Medication, MedicationRoute, Outcome,
    Procedure, VitalSign, WithheldReason,
};
pub use draft::EncounterDraft;

/// A checked patient care record.
// Unknown fields are refused on the way in by `EncounterDraft`; not here, so
// that the API's stored view (this record with its id beside it, an OpenAPI
// `allOf`) does not contradict this schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Encounter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    pub patient: Patient,
    pub timeline: Timeline,
    #[serde(default)]
    pub vital_signs: Vec<VitalSignReading>,
    #[serde(default)]
    pub procedures: Vec<ProcedurePerformed>,
    #[serde(default)]
    pub medications: Vec<MedicationGiven>,
    #[serde(default)]
    pub medications_withheld: Vec<MedicationWithheld>,
    /// Working impressions, in the order the clinician formed them.
    #[serde(default)]
    pub impressions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardiac_arrest: Option<CardiacArrest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Where the patient was taken (free text: a hospital and department).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub crew: Vec<CrewMember>,
    /// Devices used on the patient (enrolled in the tenant).
    #[serde(default)]
    pub devices: Vec<DeviceId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    #[serde(default)]
    pub identifiers: Vec<PatientIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<HumanName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    pub sex: AdministrativeSex,
}

/// An identifier in a namespace (FHIR `Identifier`): the NHS number is
/// `https://fhir.nhs.uk/Id/nhs-number`, and is checked (modulus 11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientIdentifier {
    pub system: String,
    pub value: String,
}

/// The NHS number's namespace.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanName {
    #[serde(default)]
    pub given: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// The times of the call, in the order they happen; only `call_received`
/// is required, and each time given is no earlier than those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    pub call_received: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_scene: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_scene: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hospital: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<DateTime<Utc>>,
}

impl Timeline {
    /// The field names, in order.
    pub const STAGES: [&'static str; 7] =
        ["call_received", "dispatched", "mobile", "on_scene", "left_scene", "at_hospital", "handover"];

    /// Each stage's time, in [`Self::STAGES`] order.
    pub fn stages(&self) -> [Option<DateTime<Utc>>; 7] {
        [
            Some(self.call_received),
            self.dispatched,
            self.mobile,
            self.on_scene,
            self.left_scene,
            self.at_hospital,
            self.handover,
        ]
    }

    /// The last time the record gives: when the encounter ended.
    pub fn ended(&self) -> DateTime<Utc> {
        self.stages().into_iter().flatten().max().unwrap_or(self.call_received)
    }
}

/// One vital-sign reading: `value` in the sign's unit, or `systolic` and
/// `diastolic` for blood pressure.
// No `deny_unknown_fields`: serde does not support it beside `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VitalSignReading {
    #[serde(rename = "type")]
    pub sign: VitalSign,
    #[serde(flatten)]
    pub value: ReadingValue,
    /// The UCUM unit the value is in: always the sign's own
    /// ([`codes::VitalSignSpec::unit`]). A request may leave it out, and
    /// may send blood glucose in `mmol/L` (kept in `mg/dL`).
    #[schema(required = false)]
    pub unit: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ReadingValue {
    Pressure { systolic: f64, diastolic: f64 },
    Single { value: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcedurePerformed {
    pub procedure: Procedure,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicationGiven {
    pub medication: Medication,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<Dose>,
    pub route: MedicationRoute,
    pub at: DateTime<Utc>,
}

/// A dose (a UCUM quantity, the unit one of [`codes::DOSE_UNITS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dose {
    pub value: f64,
    pub unit: String,
}

/// A medicine a care bundle expects that was not given, and why: it takes
/// the patient out of the bundle's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicationWithheld {
    pub medication: Medication,
    pub reason: WithheldReason,
}

/// The Utstein facts of an out-of-hospital cardiac arrest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardiacArrest {
    pub witness: ArrestWitness,
    pub initial_rhythm: ArrestRhythm,
    /// Presumed of cardiac cause (not trauma, drowning, overdose...).
    pub presumed_cardiac: bool,
    pub resuscitation_attempted: bool,
}

impl CardiacArrest {
    /// The Utstein comparator group: witnessed by a bystander, with a
    /// shockable first rhythm, of presumed cardiac cause, resuscitation
    /// attempted.
    pub fn utstein_comparator(&self) -> bool {
        self.witness == ArrestWitness::Bystander
            && self.initial_rhythm.shockable()
            && self.presumed_cardiac
            && self.resuscitation_attempted
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrewMember {
    pub name: String,
    pub role: CrewRole,
    /// A professional registration (HCPC, NMC, GMC number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
}

/// One bad field: its path in the body (`vital_signs[2].value`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub name: String,
    pub reason: String,
}

/// Every bad field of a body (at least one), in body order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError { name: name.into(), reason: reason.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for FieldErrors {
    /// `name: reason; name: reason`, for a problem's `detail`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.name, e.reason)?;
        }
        Ok(())
    }
}

impl Encounter {
    /// A request body checked into a record, `now` bounding its times; or
    /// every bad field.
    pub fn parse(body: serde_json::Value, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        EncounterDraft::read(body)?.check(now)
    }
}

/// Whether `value` is a valid NHS number: ten digits whose last is the
/// modulus-11 check digit of the first nine.
pub fn is_nhs_number(value: &str) -> bool {
    let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || value.len() != 10 {
        return false;
    }
    let sum: u32 = digits[..9].iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => digits[9] == 0,
        10 => false,
        check => digits[9] == check,
    }
}
