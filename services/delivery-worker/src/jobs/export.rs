//! `export.bulk`: the tenant's incidents, cases, entities and
//! relationships (filtered by the input) as NDJSON, one record per line
//! with its `type`.

use argus_store::domain::{CaseFilter, EntityFilter, IncidentFilter};
use argus_store::job_input::{EXPORT_TYPES, ExportInput};
use serde::Serialize;
use serde_json::Value;

use super::{JobRunner, Output, Run, RunError};

/// Records read per query.
const PAGE: usize = 1000;

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

fn parse_after<T: std::str::FromStr>(cursor: Option<String>) -> Option<T> {
    cursor.and_then(|c| c.parse().ok())
}

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let input: ExportInput =
        serde_json::from_value(run.job.input.clone()).map_err(|e| RunError::invalid(format!("input: {e}")))?;
    input.validate().map_err(RunError::invalid)?;
    let store = &runner.store;
    let tenant = run.tenant;
    let types: Vec<&str> = EXPORT_TYPES.iter().copied().filter(|t| input.includes(t)).collect();
    let mut out = Vec::new();
    for (done, kind) in types.iter().enumerate() {
        let mut cursor: Option<String> = None;
        loop {
            let next = match *kind {
                "incidents" => {
                    let filter = IncidentFilter {
                        status: input.incident_status.clone(),
                        severity: input.incident_severity.clone(),
                        created_after: input.created_after,
                        created_before: input.created_before,
                    };
                    let page = store.list_incidents(tenant, &filter, parse_after(cursor).as_ref(), PAGE).await?;
                    for r in &page.items {
                        line(&mut out, "incident", r)?;
                    }
                    page.next_cursor
                }
                "cases" => {
                    let filter = CaseFilter { status: input.case_status.clone(), assignee: None };
                    let page = store.list_cases(tenant, &filter, parse_after(cursor).as_ref(), PAGE).await?;
                    for r in &page.items {
                        line(&mut out, "case", r)?;
                    }
                    page.next_cursor
                }
                "entities" => {
                    let filter = EntityFilter { kind: input.entity_kind.clone(), name_contains: None };
                    let page = store.list_entities(tenant, &filter, parse_after(cursor).as_ref(), PAGE).await?;
                    for r in &page.items {
                        line(&mut out, "entity", r)?;
                    }
                    page.next_cursor
                }
                _ => {
                    let kind = input.relationship_kind.as_deref();
                    let page = store.list_relationships(tenant, kind, parse_after(cursor).as_ref(), PAGE).await?;
                    for r in &page.items {
                        line(&mut out, "relationship", r)?;
                    }
                    page.next_cursor
                }
            };
            run.control.check(done as f64 / types.len() as f64)?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(Output { content_type: "application/x-ndjson", body: out })
}
