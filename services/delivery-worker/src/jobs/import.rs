//! `import.bulk`: NDJSON lines of entities, relationships and incidents,
//! upserted by external id in batches (one statement per record type and
//! batch). Bad lines are reported, with their line numbers, in the result;
//! the rest are imported. A relationship names its entities by external
//! id, so they must be imported in an earlier line (or the same batch).

use std::collections::HashMap;

use argus_store::bulk::{ImportEntity, ImportIncident, ImportRelationship, Upserted};
use argus_store::job_input::{ImportInput, ImportLine};
use serde_json::{Value, json};

use super::graph::GraphKey;
use super::{JobRunner, Output, Run, RunError};

/// At most this many line errors are listed (all are counted).
const MAX_REPORTED_ERRORS: usize = 1000;

#[derive(Default)]
struct Tally {
    created: u64,
    updated: u64,
    unchanged: u64,
}

impl Tally {
    fn add(&mut self, rows: usize, done: Upserted) {
        self.created += done.created;
        self.updated += done.updated;
        self.unchanged += rows as u64 - done.created - done.updated;
    }

    fn json(&self) -> Value {
        json!({ "created": self.created, "updated": self.updated, "unchanged": self.unchanged })
    }
}

#[derive(Default)]
struct Report {
    lines: u64,
    entities: Tally,
    relationships: Tally,
    incidents: Tally,
    errors: Vec<Value>,
    error_count: u64,
}

impl Report {
    fn error(&mut self, line: usize, message: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(json!({ "line": line, "error": message }));
        }
    }
}

/// The payload's NDJSON (stored apart from `input`), or the input's.
fn ndjson(run: &Run<'_>) -> Result<String, RunError> {
    if let Some(bytes) = &run.payload {
        return String::from_utf8(bytes.clone()).map_err(|_| RunError::invalid("input.ndjson is not UTF-8"));
    }
    let input: ImportInput =
        serde_json::from_value(run.job.input.clone()).map_err(|e| RunError::invalid(format!("input: {e}")))?;
    Ok(input.ndjson)
}

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let text = ndjson(run)?;
    // (line number, text) of every non-blank line.
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let total = lines.len().max(1);
    let mut report = Report { lines: lines.len() as u64, ..Report::default() };
    let reporter = format!("import:{}", run.job.id);
    let batch = runner.import_batch.max(1);
    for (n, chunk) in lines.chunks(batch).enumerate() {
        import_batch(runner, run, &reporter, chunk, &mut report).await?;
        run.control.check(((n + 1) * batch).min(total) as f64 / total as f64)?;
    }
    let graph_changed = [&report.entities, &report.relationships].iter().any(|t| t.created + t.updated > 0);
    if graph_changed && runner.graphs.keeps_graphs() {
        // Leaves the tenant's graph built for the next graph.compute. Not
        // part of the import's outcome: a failure here is only logged.
        if let Err(e) = runner.graphs.load(&runner.store, GraphKey::whole(run.tenant)).await {
            tracing::warn!(error = ?e, "cannot build the imported graph ahead of graph.compute");
        }
    }
    Ok(Output::json(&json!({
        "lines": report.lines,
        "entities": report.entities.json(),
        "relationships": report.relationships.json(),
        "incidents": report.incidents.json(),
        "error_count": report.error_count,
        "errors": report.errors,
    })))
}

async fn import_batch(
    runner: &JobRunner,
    run: &Run<'_>,
    reporter: &str,
    chunk: &[(usize, &str)],
    report: &mut Report,
) -> Result<(), RunError> {
    // Later lines win over earlier ones with the same external id.
    let mut entities: HashMap<String, ImportEntity> = HashMap::new();
    let mut incidents: HashMap<String, ImportIncident> = HashMap::new();
    let mut relationships: Vec<(usize, String, String, String, String)> = Vec::new();
    for (line, raw) in chunk {
        match ImportLine::parse(raw) {
            Err(e) => report.error(*line, e),
            Ok(ImportLine::Entity { external_id, kind, name, attributes }) => {
                let row = ImportEntity { external_id: external_id.clone(), kind, name, attributes: attributes.into() };
                entities.insert(external_id, row);
            }
            Ok(ImportLine::Relationship { external_id, source, target, kind }) => {
                relationships.push((*line, external_id, source, target, kind));
            }
            Ok(ImportLine::Incident { external_id, title, description, severity, status, location, occurred_at }) => {
                let row = ImportIncident {
                    external_id: external_id.clone(),
                    title,
                    description,
                    severity,
                    status,
                    location,
                    occurred_at,
                };
                incidents.insert(external_id, row);
            }
        }
    }
    if !entities.is_empty() {
        let rows: Vec<ImportEntity> = entities.into_values().collect();
        let done = runner.store.upsert_entities(run.tenant, &rows).await?;
        report.entities.add(rows.len(), done);
    }
    if !incidents.is_empty() {
        let rows: Vec<ImportIncident> = incidents.into_values().collect();
        let done = runner.store.upsert_incidents(run.tenant, reporter, &rows).await?;
        report.incidents.add(rows.len(), done);
    }
    if !relationships.is_empty() {
        let mut wanted: Vec<&str> = relationships.iter().flat_map(|(_, _, s, t, _)| [s.as_str(), t.as_str()]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let ids = runner.store.entity_ids_by_external_id(run.tenant, &wanted).await?;
        let mut rows = Vec::with_capacity(relationships.len());
        let mut seen = std::collections::HashSet::new();
        for (line, external_id, source, target, kind) in &relationships {
            let (Some(s), Some(t)) = (ids.get(source), ids.get(target)) else {
                let missing = if ids.contains_key(source) { target } else { source };
                report.error(*line, format!("no entity with external_id `{missing}`"));
                continue;
            };
            if seen.insert(external_id.as_str()) {
                rows.push(ImportRelationship {
                    external_id: external_id.clone(),
                    source_id: s.clone(),
                    target_id: t.clone(),
                    kind: kind.clone(),
                });
            }
        }
        let created = runner.store.insert_relationships(run.tenant, &rows).await?;
        report.relationships.add(rows.len(), Upserted { created, updated: 0 });
    }
    Ok(())
}
