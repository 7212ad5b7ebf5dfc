//! `export.bulk`: the tenant's incidents, cases, entities and
//! relationships (filtered by the input) as NDJSON, one record per line
//! with its `type`. Written out in result chunks as it goes, so the worker
//! holds about one chunk of it at a time, and bounded by
//! `ARGUS_JOB_MAX_ROWS`.

use std::str::FromStr;

use argus_domain::jobs::export::{EXPORT_TYPES, ExportInput};
use argus_store::domain::{CaseFilter, EntityFilter, IncidentFilter};
use argus_store::jobs::RESULT_CHUNK_BYTES;
use argus_store::{Page, PageRequest, StoreError};
use serde::Serialize;
use serde_json::Value;

use super::{JobRunner, Output, Run, RunError};

/// Records read per query.
const PAGE: usize = 1000;

/// The NDJSON written so far: a chunk's worth is stored as soon as it is
/// there.
struct Writer<'a> {
    runner: &'a JobRunner,
    run: &'a Run<'a>,
    pending: Vec<u8>,
    seq: i32,
    bytes: i64,
    rows: u64,
}

impl Writer<'_> {
    fn line<T: Serialize>(&mut self, kind: &str, record: &T) -> Result<(), RunError> {
        self.rows += 1;
        if self.rows > self.runner.max_rows {
            let max = self.runner.max_rows;
            return Err(RunError::Failed {
                code: "too_many_rows",
                message: format!("the export holds more than {max} rows; narrow it with the input's filters"),
            });
        }
        line(&mut self.pending, kind, record)
    }

    /// Writes every record `list` pages through, from the first page on, as
    /// lines of `kind`; `progress` is the share of the export done before.
    async fn all_pages<C: FromStr, T: Serialize, F: Future<Output = Result<Page<T>, StoreError>>>(
        &mut self,
        kind: &str,
        progress: f64,
        list: impl Fn(PageRequest<C>) -> F,
    ) -> Result<(), RunError> {
        let mut after = None;
        loop {
            let page = list(PageRequest { after, limit: PAGE }).await?;
            for record in &page.items {
                self.line(kind, record)?;
            }
            self.flush(false).await?;
            self.run.control.check(progress)?;
            match page.next_cursor {
                Some(cursor) => after = cursor.parse().ok(),
                None => return Ok(()),
            }
        }
    }

    /// Stores what is pending once it makes a chunk, or at the end.
    async fn flush(&mut self, last: bool) -> Result<(), RunError> {
        let full = self.pending.len() >= RESULT_CHUNK_BYTES;
        if self.pending.is_empty() || !(full || last) {
            return Ok(());
        }
        let (store, run) = (&self.runner.store, self.run);
        if !store.append_result_chunk(run.tenant, run.id, run.attempt, self.seq, &self.pending).await? {
            return Err(RunError::Lost);
        }
        self.bytes += i64::try_from(self.pending.len()).unwrap_or(i64::MAX);
        self.seq += 1;
        self.pending.clear();
        Ok(())
    }
}

fn line<T: Serialize>(out: &mut Vec<u8>, kind: &str, record: &T) -> Result<(), RunError> {
    let mut value =
        serde_json::to_value(record).map_err(|e| RunError::Failed { code: "internal", message: e.to_string() })?;
    if let Value::Object(map) = &mut value {
        map.remove("tenant_id");
        map.insert("type".into(), Value::String(kind.to_owned()));
    }
    serde_json::to_writer(&mut *out, &value)
        .map_err(|e| RunError::Failed { code: "internal", message: e.to_string() })?;
    out.push(b'\n');
    Ok(())
}

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let input: ExportInput =
        serde_json::from_value(run.job.input.clone()).map_err(|e| RunError::invalid(format!("input: {e}")))?;
    let filters = input.validate().map_err(RunError::invalid)?;
    let store = &runner.store;
    let tenant = run.tenant;
    let types: Vec<&str> = EXPORT_TYPES.iter().copied().filter(|t| input.includes(t)).collect();
    let mut out =
        Writer { runner, run, pending: Vec::with_capacity(RESULT_CHUNK_BYTES + (64 << 10)), seq: 0, bytes: 0, rows: 0 };
    for (done, kind) in types.iter().enumerate() {
        let progress = done as f64 / types.len() as f64;
        match *kind {
            "incidents" => {
                let filter = &IncidentFilter {
                    status: filters.incident_status,
                    severity: filters.incident_severity,
                    created_after: input.created_after,
                    created_before: input.created_before,
                };
                let list = |page| async move { store.list_incidents(tenant, filter, &page).await };
                out.all_pages("incident", progress, list).await?;
            }
            "cases" => {
                let filter = &CaseFilter { status: filters.case_status, assignee: None };
                let list = |page| async move { store.list_cases(tenant, filter, &page).await };
                out.all_pages("case", progress, list).await?;
            }
            "entities" => {
                let filter = &EntityFilter { kind: filters.entity_kind, name_contains: None };
                let list = |page| async move { store.list_entities(tenant, filter, &page).await };
                out.all_pages("entity", progress, list).await?;
            }
            _ => {
                let kind = input.relationship_kind.as_deref();
                let list = |page| async move { store.list_relationships(tenant, kind, &page).await };
                out.all_pages("relationship", progress, list).await?;
            }
        }
    }
    out.flush(true).await?;
    Ok(Output::Written { content_type: "application/x-ndjson", bytes: out.bytes })
}
