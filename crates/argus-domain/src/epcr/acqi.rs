//! The Ambulance Clinical Quality Indicators (NHS England's Ambulance
//! Quality Indicators, clinical outcomes part) computed from patient care
//! records; `docs/acqi.md` gives each definition.
//!
//! A report folds records one at a time ([`AcqiAccumulator::add`]), so a
//! store can hand them over a page at a time: only counts and the call
//! intervals the centiles need are kept.

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::{
    CardiacArrest, Condition, Encounter, Medication, Outcome, Procedure, ReadingValue, VitalSign, WithheldReason,
};
use crate::DomainError;

/// Longest range a report covers, in days (a leap year).
pub const MAX_RANGE_DAYS: u64 = 366;

/// GCS at or below which a patient is unconscious and cannot do a FAST test.
const UNCONSCIOUS_GCS: f64 = 8.0;

/// The days a report covers: `from` to `to`, both whole UTC days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcqiRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl AcqiRange {
    /// The range, if `to` is not before `from` and it spans at most
    /// [`MAX_RANGE_DAYS`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, DomainError> {
        if to < from {
            return Err(DomainError::invalid("toDate", format!("({to}) must not be before fromDate ({from})")));
        }
        let days = to.signed_duration_since(from).num_days() + 1;
        if days.unsigned_abs() > MAX_RANGE_DAYS {
            return Err(DomainError::invalid(
                "toDate",
                format!("must be at most {MAX_RANGE_DAYS} days from fromDate, both included (asked: {days})"),
            ));
        }
        // The day after `to` must exist for the range's end.
        if to.checked_add_days(Days::new(1)).is_none() {
            return Err(DomainError::invalid("toDate", "is out of range"));
        }
        Ok(Self { from, to })
    }

    /// The first instant of the range: `from` at 00:00 UTC.
    pub fn start(&self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The first instant after the range: the day after `to` at 00:00 UTC.
    pub fn end(&self) -> DateTime<Utc> {
        // `new` checked that the day after `to` exists.
        let after = self.to.checked_add_days(Days::new(1)).unwrap_or(self.to);
        after.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

/// One proportion indicator: of the `denominator` patients counted,
/// `numerator` met it; `exclusions` patients of the group were left out of
/// both for a reason the definition gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proportion {
    pub numerator: u64,
    pub denominator: u64,
    pub exclusions: u64,
}

impl Proportion {
    /// `numerator / denominator`, between 0 and 1; `None` when nobody was
    /// counted.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    fn count(&mut self, counted: Counted) {
        match counted {
            Counted::Met => {
                self.numerator += 1;
                self.denominator += 1;
            }
            Counted::NotMet => self.denominator += 1,
            Counted::Excluded => self.exclusions += 1,
        }
    }
}

/// Where one patient of an indicator's group falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Met,
    NotMet,
    Excluded,
}

/// The call intervals of a group, in milliseconds, until the report is
/// finished.
#[derive(Debug, Clone, Default)]
struct Intervals(Vec<i64>);

impl Intervals {
    fn add(&mut self, from: DateTime<Utc>, to: Option<DateTime<Utc>>) {
        if let Some(to) = to {
            self.0.push((to - from).num_milliseconds());
        }
    }

    fn finish(mut self) -> IntervalSummary {
        let count = self.0.len() as u64;
        if self.0.is_empty() {
            return IntervalSummary { count, mean_seconds: None, p90_seconds: None };
        }
        self.0.sort_unstable();
        let total: i128 = self.0.iter().map(|&ms| i128::from(ms)).sum();
        let mean_ms = total as f64 / self.0.len() as f64;
        // Nearest rank: the smallest value with at least 90% of the values
        // at or below it, the ceil(0.9 n)-th of n sorted values.
        let rank = (self.0.len() * 9).div_ceil(10);
        let p90_ms = self.0[rank.saturating_sub(1)];
        IntervalSummary { count, mean_seconds: Some(mean_ms / 1000.0), p90_seconds: Some(p90_ms as f64 / 1000.0) }
    }
}

/// A call interval over a group: how many patients had both times, the
/// mean and the 90th centile (nearest rank), in seconds; `None` for an
/// empty group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntervalSummary {
    pub count: u64,
    pub mean_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Every indicator of a range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AcqiReport {
    /// Records read.
    pub encounters: u64,
    pub stemi_care_bundle: Proportion,
    pub stroke_care_bundle: Proportion,
    pub rosc_all: Proportion,
    pub rosc_utstein: Proportion,
    pub stemi_call_to_arrival: IntervalSummary,
    pub stemi_call_to_hospital: IntervalSummary,
    pub stroke_call_to_arrival: IntervalSummary,
    pub stroke_call_to_hospital: IntervalSummary,
}

/// A report being folded: add each record of the range once, then finish.
#[derive(Debug, Clone, Default)]
pub struct AcqiAccumulator {
    encounters: u64,
    stemi_care_bundle: Proportion,
    stroke_care_bundle: Proportion,
    rosc_all: Proportion,
    rosc_utstein: Proportion,
    stemi_call_to_arrival: Intervals,
    stemi_call_to_hospital: Intervals,
    stroke_call_to_arrival: Intervals,
    stroke_call_to_hospital: Intervals,
}

impl AcqiAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, encounter: &Encounter) {
        self.encounters += 1;
        let timeline = &encounter.timeline;
        if encounter.impressions.contains(&Condition::Stemi) {
            self.stemi_care_bundle.count(stemi_care_bundle(encounter));
            self.stemi_call_to_arrival.add(timeline.call_received, timeline.on_scene);
            self.stemi_call_to_hospital.add(timeline.call_received, timeline.at_hospital);
        }
        if encounter.impressions.contains(&Condition::Stroke) {
            self.stroke_care_bundle.count(stroke_care_bundle(encounter));
            self.stroke_call_to_arrival.add(timeline.call_received, timeline.on_scene);
            self.stroke_call_to_hospital.add(timeline.call_received, timeline.at_hospital);
        }
        if let Some(arrest) = &encounter.cardiac_arrest {
            let counted = match (arrest.resuscitation_attempted, encounter.outcome) {
                (false, _) => Counted::Excluded,
                (true, Some(Outcome::Rosc)) => Counted::Met,
                (true, _) => Counted::NotMet,
            };
            self.rosc_all.count(counted);
            // The comparator group's other criteria, resuscitation aside:
            // an arrest that would be in it is an exclusion when nobody
            // tried to resuscitate.
            if (CardiacArrest { resuscitation_attempted: true, ..*arrest }).utstein_comparator() {
                self.rosc_utstein.count(counted);
            }
        }
    }

    pub fn finish(self) -> AcqiReport {
        AcqiReport {
            encounters: self.encounters,
            stemi_care_bundle: self.stemi_care_bundle,
            stroke_care_bundle: self.stroke_care_bundle,
            rosc_all: self.rosc_all,
            rosc_utstein: self.rosc_utstein,
            stemi_call_to_arrival: self.stemi_call_to_arrival.finish(),
            stemi_call_to_hospital: self.stemi_call_to_hospital.finish(),
            stroke_call_to_arrival: self.stroke_call_to_arrival.finish(),
            stroke_call_to_hospital: self.stroke_call_to_hospital.finish(),
        }
    }
}

/// Why a medicine a bundle expects was not given, if the record says.
fn withheld(encounter: &Encounter, medication: Medication) -> Option<WithheldReason> {
    encounter.medications_withheld.iter().find(|w| w.medication == medication).map(|w| w.reason)
}

fn given(encounter: &Encounter, medication: Medication) -> bool {
    encounter.medications.iter().any(|m| m.medication == medication)
}

/// A patient's reason (contraindicated, declined) excludes; a medicine the
/// patient had already taken counts as given; one the crew did not have
/// (unavailable) is a bundle not delivered.
fn excuses(reason: WithheldReason) -> bool {
    matches!(reason, WithheldReason::Contraindicated | WithheldReason::Declined)
}

/// Aspirin, GTN, two pain scores and analgesia.
fn stemi_care_bundle(encounter: &Encounter) -> Counted {
    let medicine = |medication| {
        given(encounter, medication) || withheld(encounter, medication) == Some(WithheldReason::AlreadyTaken)
    };
    let analgesia = encounter.medications.iter().any(|m| m.medication.is_analgesic());
    let excused = [Medication::Aspirin, Medication::GlycerylTrinitrate]
        .into_iter()
        .any(|m| withheld(encounter, m).is_some_and(excuses))
        || (!analgesia
            && encounter.medications_withheld.iter().any(|w| w.medication.is_analgesic() && excuses(w.reason)));
    if excused {
        return Counted::Excluded;
    }
    let pain_scores = encounter.vital_signs.iter().filter(|v| v.sign == VitalSign::PainScore).count();
    if medicine(Medication::Aspirin) && medicine(Medication::GlycerylTrinitrate) && pain_scores >= 2 && analgesia {
        Counted::Met
    } else {
        Counted::NotMet
    }
}

/// FAST, blood glucose and blood pressure recorded; a patient who could
/// not do a FAST test (in cardiac arrest, or unconscious: a GCS of 8 or
/// less) is excluded.
fn stroke_care_bundle(encounter: &Encounter) -> Counted {
    let unconscious = encounter.vital_signs.iter().any(|v| {
        v.sign == VitalSign::Gcs && matches!(v.value, ReadingValue::Single { value } if value <= UNCONSCIOUS_GCS)
    });
    if encounter.cardiac_arrest.is_some() || unconscious {
        return Counted::Excluded;
    }
    let recorded = |sign| encounter.vital_signs.iter().any(|v| v.sign == sign);
    let fast = encounter.procedures.iter().any(|p| p.procedure == Procedure::FastAssessment);
    if fast && recorded(VitalSign::BloodGlucose) && recorded(VitalSign::BloodPressure) {
        Counted::Met
    } else {
        Counted::NotMet
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    /// A record received at 10:00 on 1 May 2026 with `impressions` and the
    /// other fields of `extra`.
    fn record(impressions: &[&str], extra: Value) -> Encounter {
        let mut body = json!({
            "patient": {"sex": "male"},
            "timeline": {"call_received": "2026-05-01T10:00:00Z"},
            "impressions": impressions,
            "crew": [{"name": "Sam Medic", "role": "paramedic"}],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        Encounter::parse(body, now()).unwrap()
    }

    fn pain(minute: u32) -> Value {
        json!({"type": "pain_score", "value": 7, "at": format!("2026-05-01T10:{minute:02}:00Z")})
    }

    fn med(name: &str) -> Value {
        json!({"medication": name, "route": "oral", "at": "2026-05-01T10:20:00Z"})
    }

    fn report(records: &[Encounter]) -> AcqiReport {
        let mut acc = AcqiAccumulator::new();
        for r in records {
            acc.add(r);
        }
        acc.finish()
    }

    #[test]
    fn stemi_care_bundle_counts_met_unmet_and_excluded() {
        let full = json!({
            "vital_signs": [pain(10), pain(30)],
            "medications": [med("aspirin"), med("glyceryl_trinitrate"), med("morphine")],
        });
        let records = [
            // Met.
            record(&["stemi"], full.clone()),
            // Met: aspirin taken before the crew came counts as given.
            record(
                &["stemi"],
                json!({
                    "vital_signs": [pain(10), pain(30)],
                    "medications": [med("glyceryl_trinitrate"), med("fentanyl")],
                    "medications_withheld": [{"medication": "aspirin", "reason": "already_taken"}],
                }),
            ),
            // Not met: one pain score.
            record(
                &["stemi"],
                json!({
                    "vital_signs": [pain(10)],
                    "medications": [med("aspirin"), med("glyceryl_trinitrate"), med("morphine")],
                }),
            ),
            // Not met: GTN unavailable is the service's gap, not an exclusion.
            record(
                &["stemi"],
                json!({
                    "vital_signs": [pain(10), pain(30)],
                    "medications": [med("aspirin"), med("morphine")],
                    "medications_withheld": [{"medication": "glyceryl_trinitrate", "reason": "unavailable"}],
                }),
            ),
            // Excluded: aspirin contraindicated.
            record(
                &["stemi"],
                json!({
                    "medications_withheld": [{"medication": "aspirin", "reason": "contraindicated"}],
                }),
            ),
            // Excluded: declined morphine, no other analgesic.
            record(
                &["stemi"],
                json!({
                    "vital_signs": [pain(10), pain(30)],
                    "medications": [med("aspirin"), med("glyceryl_trinitrate")],
                    "medications_withheld": [{"medication": "morphine", "reason": "declined"}],
                }),
            ),
            // Not in the group: a stroke.
            record(&["stroke"], full),
        ];
        let r = report(&records);
        assert_eq!(r.encounters, 7);
        assert_eq!(r.stemi_care_bundle, Proportion { numerator: 2, denominator: 4, exclusions: 2 });
        assert_eq!(r.stemi_care_bundle.rate(), Some(0.5));
    }

    #[test]
    fn stroke_care_bundle_needs_fast_glucose_and_pressure() {
        let fast = json!({"procedure": "fast_assessment", "at": "2026-05-01T10:12:00Z"});
        let glucose = json!({"type": "blood_glucose", "value": 6.1, "unit": "mmol/L", "at": "2026-05-01T10:13:00Z"});
        let bp = json!({"type": "blood_pressure", "systolic": 170, "diastolic": 95, "at": "2026-05-01T10:14:00Z"});
        let gcs = |v: u32| json!({"type": "gcs", "value": v, "at": "2026-05-01T10:11:00Z"});
        let records = [
            record(&["stroke"], json!({"procedures": [fast], "vital_signs": [glucose, bp, gcs(14)]})),
            record(&["stroke"], json!({"procedures": [fast], "vital_signs": [bp]})),
            record(&["stroke"], json!({"vital_signs": [glucose, bp]})),
            record(&["stroke"], json!({"vital_signs": [gcs(6)]})),
        ];
        let r = report(&records);
        // 1 met of 3 counted; the GCS 6 patient is excluded. 1/3.
        assert_eq!(r.stroke_care_bundle, Proportion { numerator: 1, denominator: 3, exclusions: 1 });
        assert_eq!(r.stroke_care_bundle.rate(), Some(1.0 / 3.0));
    }

    #[test]
    fn rosc_over_all_resuscitated_arrests_and_the_utstein_group() {
        let arrest = |witness: &str, rhythm: &str, attempted: bool, outcome: &str| {
            let mut extra = json!({
                "cardiac_arrest": {"witness": witness, "initial_rhythm": rhythm, "presumed_cardiac": true,
                                   "resuscitation_attempted": attempted},
                "outcome": outcome,
            });
            if outcome != "role" {
                extra["timeline"] =
                    json!({"call_received": "2026-05-01T10:00:00Z", "at_hospital": "2026-05-01T10:40:00Z"});
            }
            record(&["cardiac_arrest"], extra)
        };
        let records = [
            arrest("bystander", "vf", true, "rosc"),
            arrest("bystander", "pvt", true, "conveyed"),
            arrest("unwitnessed", "asystole", true, "rosc"),
            arrest("ems", "vf", true, "conveyed"),
            arrest("bystander", "vf", false, "role"),
            arrest("unwitnessed", "asystole", false, "role"),
        ];
        let r = report(&records);
        // All resuscitated: 4 counted, 2 with ROSC; 2 not resuscitated.
        assert_eq!(r.rosc_all, Proportion { numerator: 2, denominator: 4, exclusions: 2 });
        // Utstein: bystander-witnessed shockable (VF, pVT): 2 counted, 1
        // ROSC; the unresuscitated bystander VF arrest is the exclusion.
        assert_eq!(r.rosc_utstein, Proportion { numerator: 1, denominator: 2, exclusions: 1 });
    }

    #[test]
    fn call_intervals_have_a_mean_and_a_nearest_rank_90th_centile() {
        // Call to arrival of ten STEMI patients: 1, 2, ..., 10 minutes;
        // mean 5.5 min = 330 s; nearest rank ceil(0.9 * 10) = 9th = 540 s.
        let records: Vec<Encounter> = (1..=10)
            .map(|minutes| {
                let mut timeline = json!({
                    "call_received": "2026-05-01T10:00:00Z",
                    "on_scene": format!("2026-05-01T10:{minutes:02}:00Z"),
                });
                // Two reach hospital, at 40 and 50 minutes.
                if minutes <= 2 {
                    timeline["at_hospital"] = json!(format!("2026-05-01T10:{}0:00Z", minutes + 3));
                }
                record(&["stemi"], json!({"timeline": timeline}))
            })
            .collect();
        let r = report(&records);
        assert_eq!(
            r.stemi_call_to_arrival,
            IntervalSummary { count: 10, mean_seconds: Some(330.0), p90_seconds: Some(540.0) }
        );
        // 2400 s and 3000 s: mean 2700, ceil(1.8) = 2nd = 3000.
        assert_eq!(
            r.stemi_call_to_hospital,
            IntervalSummary { count: 2, mean_seconds: Some(2700.0), p90_seconds: Some(3000.0) }
        );
        assert_eq!(r.stroke_call_to_arrival, IntervalSummary::default());
    }

    #[test]
    fn an_empty_report_has_no_rates() {
        let r = AcqiAccumulator::new().finish();
        assert_eq!(r, AcqiReport::default());
        assert_eq!(r.rosc_all.rate(), None);
        assert_eq!(r.stemi_call_to_hospital.mean_seconds, None);
    }

    #[test]
    fn a_range_is_whole_utc_days_up_to_a_leap_year() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let range = AcqiRange::new(day("2026-05-01"), day("2026-05-31")).unwrap();
        assert_eq!(range.start(), "2026-05-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(range.end(), "2026-06-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert!(AcqiRange::new(day("2026-05-01"), day("2026-05-01")).is_ok());
        assert!(AcqiRange::new(day("2028-01-01"), day("2028-12-31")).is_ok(), "366 days");
        let err = AcqiRange::new(day("2026-01-01"), day("2027-01-02")).unwrap_err().to_string();
        assert!(err.contains("at most 366 days"), "{err}");
        let err = AcqiRange::new(day("2026-05-02"), day("2026-05-01")).unwrap_err().to_string();
        assert!(err.contains("must not be before fromDate"), "{err}");
        assert!(AcqiRange::new(NaiveDate::MAX, NaiveDate::MAX).is_err());
    }
}
