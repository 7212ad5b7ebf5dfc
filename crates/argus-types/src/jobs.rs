//! Async jobs (`/v1/jobs`): their kinds and states.

/// `import.bulk`: NDJSON of entities, relationships and incidents, upserted
/// by external id.
pub const IMPORT_BULK: &str = "import.bulk";
/// `export.bulk`: the tenant's incidents, cases, entities and relationships
/// as NDJSON.
pub const EXPORT_BULK: &str = "export.bulk";
/// `intelligence.enrich.bulk`: normalisation, likely duplicates and link
/// suggestions for given entities.
pub const ENRICH_BULK: &str = "intelligence.enrich.bulk";
/// `graph.compute`: algorithms over the tenant's entity graph.
pub const GRAPH_COMPUTE: &str = "graph.compute";

/// Every kind `POST /v1/jobs` accepts.
pub const JOB_KINDS: &[&str] = &[IMPORT_BULK, EXPORT_BULK, ENRICH_BULK, GRAPH_COMPUTE];

/// Every state a job can be in; the last three are terminal.
pub const JOB_STATUSES: &[&str] = &["queued", "running", "succeeded", "failed", "cancelled"];

/// Whether a job in `status` has finished (for good).
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled")
}

/// The event a job's terminal state announces (`job.succeeded`, ...).
pub fn terminal_event(status: &str) -> Option<&'static str> {
    match status {
        "succeeded" => Some("job.succeeded"),
        "failed" => Some("job.failed"),
        "cancelled" => Some("job.cancelled"),
        _ => None,
    }
}
