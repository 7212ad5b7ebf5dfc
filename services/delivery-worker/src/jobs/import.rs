//! `import.bulk`: NDJSON lines of entities, relationships and incidents,
//! upserted by external id in batches (one statement per record type and
//! batch). Bad lines are reported, with their line numbers, in the result;
//! the rest are imported. A relationship names its entities by external
//! id, so they must be imported in an earlier line (or the same batch).
//!
//! The input is read from storage one chunk (~1 MiB of whole lines) at a
//! time, so memory does not grow with it. After each batch the next line
//! and the report so far are saved as the job's checkpoint; a later
//! attempt (the worker died) starts there. A batch imported but not yet
//! checkpointed is imported again, which the upserts make harmless.

use std::collections::HashMap;

use argus_domain::jobs::import::ImportLine;
use argus_store::bulk::{ImportEntity, ImportIncident, ImportRelationship, Upserted};
use argus_store::jobs::Checkpoint;
use argus_types::JobId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::graph::GraphKey;
use super::{JobRunner, Output, Run, RunError};

/// At most this many line errors are listed (all are counted).
const MAX_REPORTED_ERRORS: usize = 1000;

#[derive(Default, Serialize, Deserialize)]
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

#[derive(Default, Serialize, Deserialize)]
struct Report {
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

/// How far an import got: saved after each batch.
#[derive(Serialize, Deserialize)]
struct Resume {
    /// The first line (1-based) not imported yet.
    next_line: i64,
    /// Lines that are not blank imported so far (for progress).
    done: u64,
    report: Report,
}

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let lines = run.job.input["lines"].as_u64().unwrap_or(0);
    let mut at: Resume = run.checkpoint.clone().and_then(|c| serde_json::from_value(c).ok()).unwrap_or(Resume {
        next_line: 1,
        done: 0,
        report: Report::default(),
    });
    let reporter = format!("import:{}", run.job.id);
    let batch_size = runner.import_batch.max(1);
    let mut batch: Vec<(usize, String)> = Vec::with_capacity(batch_size);
    let mut chunk = runner.store.job_input_chunk_at(run.tenant, &run.job.id, at.next_line).await?;
    while let Some(current) = chunk {
        let text = String::from_utf8(current.data).map_err(|_| RunError::invalid("input.ndjson is not UTF-8"))?;
        for (number, line) in (current.first_line..).zip(text.split_terminator('\n')) {
            if number < at.next_line || line.trim().is_empty() {
                continue;
            }
            batch.push((usize::try_from(number).unwrap_or(usize::MAX), line.to_owned()));
            if batch.len() == batch_size {
                import_batch(runner, run, &reporter, &batch, &mut at.report).await?;
                at.done += batch.len() as u64;
                at.next_line = number + 1;
                batch.clear();
                save(runner, run, &run.job.id, &at, lines).await?;
            }
        }
        chunk = runner.store.job_input_chunk(run.tenant, &run.job.id, current.seq + 1).await?;
    }
    if !batch.is_empty() {
        import_batch(runner, run, &reporter, &batch, &mut at.report).await?;
        at.done += batch.len() as u64;
    }
    let report = at.report;
    let graph_changed = [&report.entities, &report.relationships].iter().any(|t| t.created + t.updated > 0);
    if graph_changed && runner.graphs.keeps_graphs() {
        // Leaves the tenant's graph built for the next graph.compute. Not
        // part of the import's outcome: a failure here is only logged.
        if let Err(e) = runner.graphs.load(&runner.store, GraphKey::whole(run.tenant)).await {
            tracing::warn!(error = ?e, "cannot build the imported graph ahead of graph.compute");
        }
    }
    Ok(Output::json(&json!({
        "lines": lines,
        "entities": report.entities.json(),
        "relationships": report.relationships.json(),
        "incidents": report.incidents.json(),
        "error_count": report.error_count,
        "errors": report.errors,
    })))
}

/// Saves the checkpoint (and progress) of this attempt; stops when the
/// job was cancelled or taken over.
async fn save(runner: &JobRunner, run: &Run<'_>, id: &JobId, at: &Resume, lines: u64) -> Result<(), RunError> {
    let progress = at.done as f64 / lines.max(1) as f64;
    let checkpoint = serde_json::to_value(at).map_err(|e| RunError::invalid(e.to_string()))?;
    match runner.store.checkpoint_job(run.tenant, id, run.attempt, progress, Some(&checkpoint), runner.lease).await? {
        Checkpoint::Continue => run.control.check(progress),
        Checkpoint::Cancel => Err(RunError::Cancelled),
        Checkpoint::Lost => Err(RunError::Lost),
    }
}

async fn import_batch(
    runner: &JobRunner,
    run: &Run<'_>,
    reporter: &str,
    chunk: &[(usize, String)],
    report: &mut Report,
) -> Result<(), RunError> {
    // Later lines win over earlier ones with the same external id.
    let mut entities: HashMap<String, ImportEntity> = HashMap::new();
    let mut incidents: HashMap<String, ImportIncident> = HashMap::new();
    let mut relationships: Vec<(usize, String, String, String, String)> = Vec::new();
    for (line, raw) in chunk {
        match ImportLine::parse(raw.as_str()) {
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
