//! `acqiMetrics`: the Ambulance Clinical Quality Indicators of a range of
//! days (definitions in `docs/acqi.md`).

use argus_domain::epcr::acqi::{AcqiAccumulator, AcqiRange, AcqiReport, IntervalSummary, Proportion};
use argus_types::pagination::MAX_PAGE as STORE_PAGE;
use chrono::NaiveDate;
use juniper::graphql_object;

use super::*;

/// The indicators of the tenant's records whose call was received in
/// `range`, read a page at a time so that memory holds one page and the
/// report's counts.
pub(super) async fn acqi_metrics(ctx: &Ctx, from: NaiveDate, to: NaiveDate) -> GqlResult<AcqiMetrics> {
    let range = AcqiRange::new(from, to).map_err(|e| GqlError::new("BAD_USER_INPUT", e.to_string()))?;
    let mut report = AcqiAccumulator::new();
    let mut page = PageRequest { after: None, limit: STORE_PAGE as usize };
    loop {
        let records = ctx.store.list_encounters_received(ctx.tenant(), range.start(), range.end(), &page).await?;
        for encounter in &records.items {
            report.add(&encounter.record);
        }
        match (records.next_cursor, records.items.last()) {
            (Some(_), Some(last)) => page.after = Some(last.id.clone()),
            _ => break,
        }
    }
    Ok(AcqiMetrics { range, report: report.finish() })
}

pub struct AcqiMetrics {
    range: AcqiRange,
    report: AcqiReport,
}

/// Counts as GraphQL's 32-bit `Int` (no range holds 2^31 records).
fn int(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The Ambulance Clinical Quality Indicators of the records whose call was
/// received from `fromDate` to `toDate` (both whole UTC days).
#[graphql_object(context = Ctx)]
impl AcqiMetrics {
    /// The range's first day.
    #[graphql(name = "fromDate")]
    fn first_day(&self) -> NaiveDate {
        self.range.from
    }
    /// The range's last day.
    #[graphql(name = "toDate")]
    fn last_day(&self) -> NaiveDate {
        self.range.to
    }
    /// Records read: every record of the range, in a group or not.
    fn encounters(&self) -> i32 {
        int(self.report.encounters)
    }
    /// STEMI: aspirin, GTN, two pain scores and analgesia.
    fn stemi_care_bundle(&self) -> AcqiIndicator {
        AcqiIndicator("stemi_care_bundle", self.report.stemi_care_bundle)
    }
    /// Stroke: FAST, blood glucose and blood pressure recorded.
    fn stroke_care_bundle(&self) -> AcqiIndicator {
        AcqiIndicator("stroke_care_bundle", self.report.stroke_care_bundle)
    }
    /// ROSC at hospital, of the cardiac arrests where resuscitation was
    /// attempted.
    fn rosc_all(&self) -> AcqiIndicator {
        AcqiIndicator("rosc_all", self.report.rosc_all)
    }
    /// ROSC at hospital, of the Utstein comparator group.
    fn rosc_utstein(&self) -> AcqiIndicator {
        AcqiIndicator("rosc_utstein", self.report.rosc_utstein)
    }
    /// STEMI: call received to first arrival on scene.
    fn stemi_call_to_arrival(&self) -> AcqiInterval {
        AcqiInterval("stemi_call_to_arrival", self.report.stemi_call_to_arrival)
    }
    /// STEMI: call received to arrival at hospital.
    fn stemi_call_to_hospital(&self) -> AcqiInterval {
        AcqiInterval("stemi_call_to_hospital", self.report.stemi_call_to_hospital)
    }
    /// Stroke: call received to first arrival on scene.
    fn stroke_call_to_arrival(&self) -> AcqiInterval {
        AcqiInterval("stroke_call_to_arrival", self.report.stroke_call_to_arrival)
    }
    /// Stroke: call received to arrival at hospital.
    fn stroke_call_to_hospital(&self) -> AcqiInterval {
        AcqiInterval("stroke_call_to_hospital", self.report.stroke_call_to_hospital)
    }
}

pub struct AcqiIndicator(&'static str, Proportion);

/// A proportion: of `denominator` patients, `numerator` met the indicator;
/// `exclusions` were left out of both.
#[graphql_object(context = Ctx)]
impl AcqiIndicator {
    fn name(&self) -> &str {
        self.0
    }
    fn numerator(&self) -> i32 {
        int(self.1.numerator)
    }
    fn denominator(&self) -> i32 {
        int(self.1.denominator)
    }
    fn exclusions(&self) -> i32 {
        int(self.1.exclusions)
    }
    /// `numerator / denominator`, from 0 to 1; null when the denominator is 0.
    fn rate(&self) -> Option<f64> {
        self.1.rate()
    }
}

pub struct AcqiInterval(&'static str, IntervalSummary);

/// A call interval in seconds over the patients whose record has both times.
#[graphql_object(context = Ctx)]
impl AcqiInterval {
    fn name(&self) -> &str {
        self.0
    }
    /// Patients with both times.
    fn count(&self) -> i32 {
        int(self.1.count)
    }
    /// Null when `count` is 0.
    fn mean_seconds(&self) -> Option<f64> {
        self.1.mean_seconds
    }
    /// The 90th centile by nearest rank; null when `count` is 0.
    fn p90_seconds(&self) -> Option<f64> {
        self.1.p90_seconds
    }
}
