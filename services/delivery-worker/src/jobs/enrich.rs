//! `intelligence.enrich.bulk`: the input's entities (or all of the
//! tenant's, optionally of some kinds) through `argus_analytics::enrich`
//! on a blocking thread: normalised names, phone numbers, e-mails and
//! addresses, likely duplicates and suggested links, each with a score and
//! its reasons. The result is one JSON document.

use std::ops::ControlFlow;

use argus_analytics::enrich::{EnrichInput, EntityRecord, enrich};
use serde_json::{Map, Value};

use super::{JobRunner, Output, Run, RunError, analytics_error};

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let input = EnrichInput::from_json(run.job.input.clone()).map_err(|e| RunError::invalid(e.to_string()))?;
    let loaded = runner.store.entities_matching(run.tenant, input.entity_ids(), input.entity_kinds()).await?;
    run.control.check(0.05)?;
    let entities: Vec<EntityRecord> = loaded
        .into_iter()
        .map(|e| EntityRecord {
            id: e.id.into(),
            kind: e.kind.to_string(),
            name: e.name,
            attributes: match e.attributes {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        })
        .collect();
    let control = run.control.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let mut progress = |p: f64| match control.check(0.05 + 0.95 * p) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        };
        enrich(&entities, &input, &mut progress)
    })
    .await
    .map_err(|e| RunError::Failed { code: "internal", message: format!("the computation panicked: {e}") })?;
    let output = computed.map_err(|e| analytics_error(e, &run.control))?;
    let value =
        serde_json::to_value(&output).map_err(|e| RunError::Failed { code: "internal", message: e.to_string() })?;
    Ok(Output::json(&value))
}
