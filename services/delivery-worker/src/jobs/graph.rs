//! `graph.compute`: the tenant's entity graph (filtered by the input's
//! kinds) through `argus_analytics::graph` on a blocking thread, progress
//! and cancel through the job's checkpoints. The result is NDJSON: a
//! `summary` line (the algorithms' outputs, top-N lists) and one `node`
//! line per entity with every per-node score.

use std::ops::ControlFlow;

use argus_analytics::graph::{EntityGraph, GraphComputeInput, compute};
use serde_json::Value;

use super::{JobRunner, Output, Run, RunError, analytics_error};

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let input = GraphComputeInput::from_json(run.job.input.clone()).map_err(|e| RunError::invalid(e.to_string()))?;
    let (nodes, edges) =
        runner.store.entity_graph(run.tenant, input.entity_kinds(), input.relationship_kinds()).await?;
    run.control.check(0.05)?;
    let control = run.control.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let graph = EntityGraph::new(nodes, edges);
        let mut progress = |p: f64| match control.check(0.05 + 0.9 * p) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        };
        let output = compute(&graph, &input, &mut progress)?;
        let mut out = Vec::new();
        let mut summary = serde_json::to_value(&output).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut summary {
            map.insert("type".into(), Value::String("summary".into()));
        }
        write_line(&mut out, &summary);
        for mut row in output.rows() {
            if let Value::Object(map) = &mut row {
                map.insert("type".into(), Value::String("node".into()));
            }
            write_line(&mut out, &row);
        }
        Ok::<_, argus_analytics::ComputeError>(out)
    })
    .await
    .map_err(|e| RunError::Failed { code: "internal", message: format!("the computation panicked: {e}") })?;
    let body = computed.map_err(|e| analytics_error(e, &run.control))?;
    Ok(Output { content_type: "application/x-ndjson", body })
}

fn write_line(out: &mut Vec<u8>, value: &Value) {
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}
