//! Medical devices and the Personal Health Device (PHD) observations they
//! submit, coded as the HL7 PHD implementation guide codes them: an IEEE
//! 11073-10101 (MDC) code, its LOINC equivalent where one exists, and a
//! value in one of the code's UCUM units, or components for a compound
//! measurement (non-invasive blood pressure).

use std::collections::HashSet;

use argus_types::EncounterId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codes::{Code, LOINC, UCUM, loinc};
use super::draft::{CLOCK_SKEW, read_shape, text};
use crate::FieldErrors;
use crate::text_enum::text_enum;

/// The IEEE 11073-10101 nomenclature's code system.
pub const MDC_SYSTEM: &str = "urn:iso:std:iso:11073:10101";

const MAX_SERIAL: usize = 64;
const MAX_NAME: usize = 200;
/// More codings or components than any PHD observation has.
const MAX_CODINGS: usize = 8;

text_enum! {
    /// A device specialization (`MDC_DEV_SPEC_PROFILE_*`, partition 8 of
    /// IEEE 11073-10101: 524288 + the specialization's term code), the PHD
    /// implementation guide's `DeviceTypes11073MDC`.
    pub enum DeviceType("device type") {
        /// A device of several measurements under the 20601 generic profile
        /// (a multi-parameter monitor).
        Generic = "528385",
        PulseOximeter = "528388",
        Electrocardiograph = "528390",
        BloodPressureMonitor = "528391",
        Thermometer = "528392",
        RespirationRateMonitor = "528397",
        WeighingScale = "528399",
        GlucoseMeter = "528401",
    }
}

impl DeviceType {
    /// The code's reference identifier, the PHD guide's display.
    pub const fn reference_id(self) -> &'static str {
        match self {
            Self::Generic => "MDC_DEV_SPEC_PROFILE_GENERIC",
            Self::PulseOximeter => "MDC_DEV_SPEC_PROFILE_PULS_OXIM",
            Self::Electrocardiograph => "MDC_DEV_SPEC_PROFILE_MIN_ECG",
            Self::BloodPressureMonitor => "MDC_DEV_SPEC_PROFILE_BP",
            Self::Thermometer => "MDC_DEV_SPEC_PROFILE_TEMP",
            Self::RespirationRateMonitor => "MDC_DEV_SPEC_PROFILE_RESP_RATE",
            Self::WeighingScale => "MDC_DEV_SPEC_PROFILE_SCALE",
            Self::GlucoseMeter => "MDC_DEV_SPEC_PROFILE_GLUCOSE",
        }
    }

    pub const fn coding(self) -> Code {
        Code { system: MDC_SYSTEM, code: self.as_str(), display: self.reference_id() }
    }
}

text_enum! {
    /// An observation a device submits, by its MDC code.
    pub enum MdcCode("observation code") {
        HeartRate = "147842",
        PulseRate = "149530",
        BloodPressure = "150020",
        Systolic = "150021",
        Diastolic = "150022",
        MeanPressure = "150023",
        BodyTemperature = "150364",
        OxygenSaturation = "150456",
        RespirationRate = "151562",
        BloodGlucose = "160184",
        BodyMass = "188736",
    }
}

/// One unit a code's value may be in, and what goes with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitSpec {
    /// The UCUM code.
    pub ucum: &'static str,
    /// The LOINC equivalent of the code in this unit (glucose has one per
    /// unit: mass or moles per volume).
    pub loinc: Option<Code>,
    /// The lowest and highest value accepted (a typo guard, wider than life).
    pub range: (f64, f64),
}

const fn unit(ucum: &'static str, loinc: Code, range: (f64, f64)) -> UnitSpec {
    UnitSpec { ucum, loinc: Some(loinc), range }
}

/// How an MDC code is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MdcSpec {
    /// The code's reference identifier (`MDC_PULS_OXIM_SAT_O2`).
    pub reference_id: &'static str,
    pub units: &'static [UnitSpec],
    /// A compound code's components, and whether each is required; empty
    /// for a code with a value of its own.
    pub components: &'static [(MdcCode, bool)],
    /// The compound code a component code belongs to.
    pub component_of: Option<MdcCode>,
}

const PER_MINUTE: (f64, f64) = (0.0, 350.0);
const MM_HG: (f64, f64) = (0.0, 350.0);
const KPA: (f64, f64) = (0.0, 47.0);

const fn pressure(code: Code) -> [UnitSpec; 2] {
    [unit("mm[Hg]", code, MM_HG), unit("kPa", code, KPA)]
}

impl MdcCode {
    pub const fn spec(self) -> MdcSpec {
        const HEART_RATE: &[UnitSpec] = &[unit("/min", loinc("8867-4", "Heart rate"), PER_MINUTE)];
        const PULSE_RATE: &[UnitSpec] = &[unit("/min", loinc("8889-8", "Heart rate by Pulse oximetry"), PER_MINUTE)];
        const PANEL: &[UnitSpec] = &pressure(loinc("85354-9", "Blood pressure panel with all children optional"));
        const SYSTOLIC: &[UnitSpec] = &pressure(loinc("8480-6", "Systolic blood pressure"));
        const DIASTOLIC: &[UnitSpec] = &pressure(loinc("8462-4", "Diastolic blood pressure"));
        const MEAN: &[UnitSpec] = &pressure(loinc("8478-0", "Mean blood pressure"));
        const TEMPERATURE: &[UnitSpec] = &[
            unit("Cel", loinc("8310-5", "Body temperature"), (20.0, 46.0)),
            unit("[degF]", loinc("8310-5", "Body temperature"), (68.0, 115.0)),
        ];
        const SATURATION: &[UnitSpec] =
            &[unit("%", loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"), (0.0, 100.0))];
        const RESPIRATION: &[UnitSpec] = &[unit("/min", loinc("9279-1", "Respiratory rate"), (0.0, 100.0))];
        const GLUCOSE: &[UnitSpec] = &[
            unit("mg/dL", loinc("2339-0", "Glucose [Mass/volume] in Blood"), (0.0, 2000.0)),
            unit("mmol/L", loinc("15074-8", "Glucose [Moles/volume] in Blood"), (0.0, 111.0)),
        ];
        const MASS: &[UnitSpec] = &[
            unit("kg", loinc("29463-7", "Body weight"), (0.0, 700.0)),
            unit("[lb_av]", loinc("29463-7", "Body weight"), (0.0, 1550.0)),
        ];
        const NIBP: &[(MdcCode, bool)] =
            &[(MdcCode::Systolic, true), (MdcCode::Diastolic, true), (MdcCode::MeanPressure, false)];
        let (reference_id, units, components, component_of) = match self {
            Self::HeartRate => ("MDC_ECG_HEART_RATE", HEART_RATE, &[] as &[_], None),
            Self::PulseRate => ("MDC_PULS_OXIM_PULS_RATE", PULSE_RATE, &[] as &[_], None),
            Self::BloodPressure => ("MDC_PRESS_BLD_NONINV", PANEL, NIBP, None),
            Self::Systolic => ("MDC_PRESS_BLD_NONINV_SYS", SYSTOLIC, &[] as &[_], Some(Self::BloodPressure)),
            Self::Diastolic => ("MDC_PRESS_BLD_NONINV_DIA", DIASTOLIC, &[] as &[_], Some(Self::BloodPressure)),
            Self::MeanPressure => ("MDC_PRESS_BLD_NONINV_MEAN", MEAN, &[] as &[_], Some(Self::BloodPressure)),
            Self::BodyTemperature => ("MDC_TEMP_BODY", TEMPERATURE, &[] as &[_], None),
            Self::OxygenSaturation => ("MDC_PULS_OXIM_SAT_O2", SATURATION, &[] as &[_], None),
            Self::RespirationRate => ("MDC_RESP_RATE", RESPIRATION, &[] as &[_], None),
            Self::BloodGlucose => ("MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", GLUCOSE, &[] as &[_], None),
            Self::BodyMass => ("MDC_MASS_BODY_ACTUAL", MASS, &[] as &[_], None),
        };
        MdcSpec { reference_id, units, components, component_of }
    }

    pub const fn coding(self) -> Code {
        Code { system: MDC_SYSTEM, code: self.as_str(), display: self.spec().reference_id }
    }

    /// The spec of the code in `ucum`, if the code may be measured in it.
    pub fn unit(self, ucum: &str) -> Option<UnitSpec> {
        self.spec().units.iter().copied().find(|u| u.ucum == ucum)
    }

    /// The LOINC equivalent of the code measured in `ucum`.
    pub fn loinc(self, ucum: &str) -> Option<Code> {
        self.unit(ucum).and_then(|u| u.loinc)
    }

    fn units_text(self) -> String {
        self.spec().units.iter().map(|u| u.ucum).collect::<Vec<_>>().join(", ")
    }
}

/// A device to enrol, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub serial_number: String,
    pub manufacturer: String,
    pub model: String,
    pub device_type: DeviceType,
}

/// A coding as a body gives it (FHIR `Coding`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodingDraft {
    system: String,
    code: String,
    #[serde(default, rename = "display")]
    _display: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceDraft {
    serial_number: String,
    manufacturer: String,
    model: String,
    #[serde(rename = "type")]
    device_type: CodingDraft,
}

impl NewDevice {
    /// An enrol body checked, or every bad field.
    pub fn parse(body: Value) -> Result<Self, FieldErrors> {
        let draft: DeviceDraft = read_shape(body)?;
        let mut errors = FieldErrors::default();
        let e = &mut errors;
        let serial_number = text(draft.serial_number, MAX_SERIAL, "serial_number", e);
        let manufacturer = text(draft.manufacturer, MAX_NAME, "manufacturer", e);
        let model = text(draft.model, MAX_NAME, "model", e);
        let device_type = mdc(&draft.device_type, "type", e).and_then(|c| parsed(c, "type.code", e));
        match (serial_number, manufacturer, model, device_type) {
            (Some(serial_number), Some(manufacturer), Some(model), Some(device_type)) if errors.is_empty() => {
                Ok(Self { serial_number, manufacturer, model, device_type })
            }
            _ => Err(errors),
        }
    }
}

/// The code of an MDC coding, or an error under `name.system`.
fn mdc<'a>(coding: &'a CodingDraft, name: &str, e: &mut FieldErrors) -> Option<&'a str> {
    if coding.system == MDC_SYSTEM {
        Some(&coding.code)
    } else {
        e.push(format!("{name}.system"), format!("must be {MDC_SYSTEM}"));
        None
    }
}

fn parsed<T: std::str::FromStr<Err: std::fmt::Display>>(code: &str, name: &str, e: &mut FieldErrors) -> Option<T> {
    code.parse().map_err(|err: T::Err| e.push(name, err.to_string())).ok()
}

/// A checked PHD observation.
#[derive(Debug, Clone, PartialEq)]
pub struct PhdObservation {
    pub code: MdcCode,
    /// The UCUM unit of the value (of every component, for a compound).
    pub unit: String,
    pub value: ObservationValue,
    pub effective: DateTime<Utc>,
    pub encounter_id: Option<EncounterId>,
}

/// A value of its own, or a compound's components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationValue {
    Quantity(f64),
    Components(Vec<ComponentValue>),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentValue {
    pub code: MdcCode,
    pub value: f64,
}

/// A FHIR `CodeableConcept`: the MDC coding, and the LOINC one if given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptDraft {
    coding: Vec<CodingDraft>,
    #[serde(default, rename = "text")]
    _text: Option<String>,
}

/// A FHIR `Quantity`: `unit` is the UCUM code; `system` and `code`, if
/// given, must say the same.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityDraft {
    value: f64,
    unit: String,
    system: Option<String>,
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentDraft {
    code: ConceptDraft,
    value_quantity: QuantityDraft,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationDraft {
    code: ConceptDraft,
    value_quantity: Option<QuantityDraft>,
    component: Option<Vec<ComponentDraft>>,
    effective_date_time: DateTime<Utc>,
    encounter_id: Option<EncounterId>,
}

/// A concept's codes, checked but for its LOINC code, which is checked
/// once the unit is known.
struct Coded {
    code: MdcCode,
    loinc: Option<String>,
    /// Where the concept is in the body (`code`, `component[1].code`).
    name: String,
}

fn check_concept(concept: &ConceptDraft, name: String, e: &mut FieldErrors) -> Option<Coded> {
    if concept.coding.len() > MAX_CODINGS {
        e.push(format!("{name}.coding"), format!("must hold at most {MAX_CODINGS} items"));
        return None;
    }
    let (mut mdc, mut loinc, mut bad) = (None, None, false);
    for (i, coding) in concept.coding.iter().enumerate() {
        let at = format!("{name}.coding[{i}]");
        match coding.system.as_str() {
            MDC_SYSTEM if mdc.is_none() => mdc = Some(parsed::<MdcCode>(&coding.code, &format!("{at}.code"), e)),
            LOINC if loinc.is_none() => loinc = Some(coding.code.clone()),
            MDC_SYSTEM | LOINC => {
                e.push(at, "gives a second coding of its system");
                bad = true;
            }
            _ => {
                e.push(format!("{at}.system"), format!("must be {MDC_SYSTEM} or {LOINC}"));
                bad = true;
            }
        }
    }
    if mdc.is_none() {
        e.push(format!("{name}.coding"), format!("must hold a coding of {MDC_SYSTEM}"));
    }
    match (bad, mdc) {
        (false, Some(Some(code))) => Some(Coded { code, loinc, name }),
        _ => None,
    }
}

/// The quantity's value, if its unit is one of `code`'s (and `expected`,
/// for a compound's later components) and the value is in range; the
/// LOINC code given must be the code's in that unit.
fn check_quantity(
    coded: &Coded,
    quantity: &QuantityDraft,
    expected: Option<&str>,
    name: &str,
    e: &mut FieldErrors,
) -> Option<f64> {
    let before = e.0.len();
    if quantity.system.as_deref().is_some_and(|s| s != UCUM) {
        e.push(format!("{name}.system"), format!("must be {UCUM}"));
    }
    if quantity.code.as_deref().is_some_and(|c| c != quantity.unit) {
        e.push(format!("{name}.code"), "must be the same UCUM code as unit");
    }
    let code = coded.code;
    let Some(spec) = code.unit(&quantity.unit) else {
        e.push(
            format!("{name}.unit"),
            format!("must be one of {} for {code}, not `{}`", code.units_text(), quantity.unit),
        );
        return None;
    };
    if let Some(expected) = expected
        && expected != spec.ucum
    {
        e.push(format!("{name}.unit"), format!("must be {expected}, the unit of the other components"));
    }
    if let Some(given) = &coded.loinc {
        match spec.loinc {
            Some(l) if l.code == given => {}
            Some(l) => {
                let reason = format!("the LOINC code of {code} in {} is {}, not `{given}`", spec.ucum, l.code);
                e.push(coded.name.clone(), reason);
            }
            None => e.push(coded.name.clone(), format!("{code} has no LOINC code")),
        }
    }
    let (low, high) = spec.range;
    if !(low..=high).contains(&quantity.value) {
        e.push(format!("{name}.value"), format!("must be between {low} and {high} {}", spec.ucum));
    }
    (e.0.len() == before).then_some(quantity.value)
}

impl PhdObservation {
    /// A body shaped as the PHD guide's observation, checked; `now`
    /// bounds its time. Or every bad field.
    pub fn parse(body: Value, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        let draft: ObservationDraft = read_shape(body)?;
        let mut errors = FieldErrors::default();
        let e = &mut errors;
        if draft.effective_date_time > now + CLOCK_SKEW {
            e.push("effective_date_time", "must not be in the future");
        }
        let checked = check_concept(&draft.code, "code".into(), e).and_then(|coded| {
            let code = coded.code;
            let spec = code.spec();
            if let Some(compound) = spec.component_of {
                e.push("code", format!("{code} is a component of {compound}, not an observation of its own"));
                return None;
            }
            match (spec.components.is_empty(), draft.value_quantity, draft.component) {
                (true, Some(quantity), None) => {
                    let value = check_quantity(&coded, &quantity, None, "value_quantity", e)?;
                    Some((code, quantity.unit, ObservationValue::Quantity(value)))
                }
                (true, _, _) => {
                    e.push("value_quantity", format!("{code} takes value_quantity, and no component"));
                    None
                }
                (false, None, Some(components)) => {
                    let (unit, components) = check_components(&coded, components, e)?;
                    Some((code, unit, ObservationValue::Components(components)))
                }
                (false, _, _) => {
                    e.push("component", format!("{code} takes component, and no value_quantity"));
                    None
                }
            }
        });
        match checked {
            Some((code, unit, value)) if errors.is_empty() => {
                Ok(Self { code, unit, value, effective: draft.effective_date_time, encounter_id: draft.encounter_id })
            }
            _ => Err(errors),
        }
    }

    /// The observation's LOINC code, where it has one.
    pub fn loinc(&self) -> Option<Code> {
        self.code.loinc(&self.unit)
    }
}

/// A compound's components: each one of its codes, at most once, all in
/// one unit, the required ones present; systolic above diastolic.
fn check_components(
    coded: &Coded,
    drafts: Vec<ComponentDraft>,
    e: &mut FieldErrors,
) -> Option<(String, Vec<ComponentValue>)> {
    if drafts.len() > MAX_CODINGS {
        e.push("component", format!("must hold at most {MAX_CODINGS} items"));
        return None;
    }
    let before = e.0.len();
    let compound = coded.code;
    // The compound's own LOINC code is checked in the first component's unit.
    if let (Some(given), Some(first)) = (&coded.loinc, drafts.first())
        && let Some(spec) = compound.unit(&first.value_quantity.unit)
        && spec.loinc.is_some_and(|l| l.code != given)
    {
        e.push(coded.name.clone(), format!("the LOINC code of {compound} in {} is not `{given}`", spec.ucum));
    }
    let mut unit: Option<String> = None;
    let mut seen = HashSet::new();
    let mut components = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        let name = format!("component[{i}]");
        let Some(coded) = check_concept(&draft.code, format!("{name}.code"), e) else { continue };
        let code = coded.code;
        if !compound.spec().components.iter().any(|(c, _)| *c == code) {
            e.push(format!("{name}.code"), format!("{code} is not a component of {compound}"));
            continue;
        }
        if !seen.insert(code) {
            e.push(format!("{name}.code"), format!("{code} is given twice"));
            continue;
        }
        let quantity = &draft.value_quantity;
        let at = format!("{name}.value_quantity");
        if let Some(value) = check_quantity(&coded, quantity, unit.as_deref(), &at, e) {
            components.push(ComponentValue { code, value });
        }
        unit.get_or_insert_with(|| quantity.unit.clone());
    }
    for (code, required) in compound.spec().components {
        if *required && !seen.contains(code) {
            e.push("component", format!("must include {code} ({})", code.spec().reference_id));
        }
    }
    let value_of = |code| components.iter().find(|c| c.code == code).map(|c| c.value);
    if let (Some(systolic), Some(diastolic)) = (value_of(MdcCode::Systolic), value_of(MdcCode::Diastolic))
        && diastolic >= systolic
    {
        e.push("component", "diastolic must be lower than systolic");
    }
    if e.0.len() != before {
        return None;
    }
    Some((unit?, components))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-06T03:00:00Z".parse().unwrap()
    }

    fn coding(system: &str, code: &str) -> Value {
        json!({ "system": system, "code": code })
    }

    fn spo2() -> Value {
        json!({
            "code": { "coding": [coding(MDC_SYSTEM, "150456"), coding(LOINC, "59408-5")] },
            "value_quantity": { "value": 97, "unit": "%", "system": UCUM, "code": "%" },
            "effective_date_time": "2026-12-06T02:50:00Z",
        })
    }

    fn nibp(unit: &str, systolic: f64, diastolic: f64) -> Value {
        let mean = (systolic + 2.0 * diastolic) / 3.0;
        let component = |code: &str, value: f64| json!({ "code": { "coding": [coding(MDC_SYSTEM, code)] }, "value_quantity": { "value": value, "unit": unit } });
        json!({
            "code": { "coding": [coding(MDC_SYSTEM, "150020"), coding(LOINC, "85354-9")] },
            "component": [component("150021", systolic), component("150022", diastolic), component("150023", mean)],
            "effective_date_time": "2026-12-06T02:50:00Z",
        })
    }

    fn names(errors: &FieldErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn a_simple_observation_is_read_with_its_loinc_code() {
        let obs = PhdObservation::parse(spo2(), now()).unwrap();
        assert_eq!(
            (obs.code, obs.unit.as_str(), &obs.value),
            (MdcCode::OxygenSaturation, "%", &ObservationValue::Quantity(97.0))
        );
        assert_eq!(obs.loinc().map(|c| c.code), Some("59408-5"));
        let mut glucose = spo2();
        glucose["code"] = json!({ "coding": [coding(MDC_SYSTEM, "160184")] });
        glucose["value_quantity"] = json!({ "value": 5.4, "unit": "mmol/L" });
        assert_eq!(PhdObservation::parse(glucose, now()).unwrap().loinc().map(|c| c.code), Some("15074-8"));
    }

    #[test]
    fn a_compound_observation_takes_its_components_in_one_unit() {
        let obs = PhdObservation::parse(nibp("mm[Hg]", 120.0, 80.0), now()).unwrap();
        assert_eq!(obs.unit, "mm[Hg]");
        let ObservationValue::Components(components) = &obs.value else { panic!("components") };
        assert_eq!(
            components.iter().map(|c| c.code).collect::<Vec<_>>(),
            [MdcCode::Systolic, MdcCode::Diastolic, MdcCode::MeanPressure]
        );
        let mut mixed = nibp("mm[Hg]", 120.0, 80.0);
        mixed["component"][1]["value_quantity"] = json!({ "value": 10.6, "unit": "kPa" });
        let errors = PhdObservation::parse(mixed, now()).unwrap_err();
        assert_eq!(names(&errors), ["component[1].value_quantity.unit"], "{errors}");
        let errors = PhdObservation::parse(nibp("mm[Hg]", 80.0, 120.0), now()).unwrap_err();
        assert_eq!(names(&errors), ["component"], "{errors}");
        let mut short = nibp("kPa", 16.0, 10.6);
        short["component"].as_array_mut().unwrap().remove(1);
        let errors = PhdObservation::parse(short, now()).unwrap_err();
        assert_eq!(names(&errors), ["component"], "{errors}");
        assert!(errors.0[0].reason.contains("150022"), "{errors}");
    }

    #[test]
    fn unknown_codes_and_units_that_do_not_fit_are_named() {
        let mut body = spo2();
        body["code"]["coding"][0]["code"] = json!("999999");
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["code.coding[0].code"], "{errors}");
        let mut body = spo2();
        body["value_quantity"] = json!({ "value": 97, "unit": "/min" });
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["value_quantity.unit"], "{errors}");
        let mut body = spo2();
        body["code"]["coding"][1]["code"] = json!("8867-4");
        body["value_quantity"]["value"] = json!(140);
        body["effective_date_time"] = json!("2026-12-07T00:00:00Z");
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["effective_date_time", "code", "value_quantity.value"], "{errors}");
        let mut body = spo2();
        body["code"]["coding"][0]["code"] = json!("150021");
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["code"], "{errors}");
        let mut body = spo2();
        body["code"]["coding"][0]["code"] = json!("999999");
        body["code"]["coding"][1] = coding(MDC_SYSTEM, "150456");
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["code.coding[0].code", "code.coding[1]"], "{errors}");
        let mut body = nibp("mm[Hg]", 120.0, 80.0);
        body["code"]["coding"][1]["code"] = json!("55284-4");
        let errors = PhdObservation::parse(body, now()).unwrap_err();
        assert_eq!(names(&errors), ["code"], "{errors}");
        let errors = PhdObservation::parse(json!({ "code": 1 }), now()).unwrap_err();
        assert_eq!(names(&errors), ["code"], "{errors}");
    }

    #[test]
    fn a_device_is_enrolled_by_its_mdc_type() {
        let body = json!({
            "serial_number": " SN-1 ",
            "manufacturer": "Nonin",
            "model": "Onyx",
            "type": coding(MDC_SYSTEM, "528388"),
        });
        let device = NewDevice::parse(body).unwrap();
        assert_eq!((device.serial_number.as_str(), device.device_type), ("SN-1", DeviceType::PulseOximeter));
        let body = json!({
            "serial_number": "",
            "manufacturer": "Nonin",
            "model": "Onyx",
            "type": coding(MDC_SYSTEM, "150456"),
        });
        let errors = NewDevice::parse(body).unwrap_err();
        assert_eq!(names(&errors), ["serial_number", "type.code"], "{errors}");
    }
}
