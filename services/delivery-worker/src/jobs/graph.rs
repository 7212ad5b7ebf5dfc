//! `graph.compute`: the tenant's entity graph (filtered by the input's
//! kinds) through `argus_analytics::graph` on a blocking thread, progress
//! and cancel through the job's checkpoints. The result is NDJSON: a
//! `summary` line (the algorithms' outputs, top-N lists) and one `node`
//! line per entity with every per-node score.
//!
//! Built graphs are kept in memory ([`GraphCache`]) by the graph version
//! the store reports, like a graph database's in-memory projection: loading
//! and building a million-edge graph takes about a second, running PageRank
//! on it milliseconds. `import.bulk` builds the tenant's whole graph when it
//! is done, so the first computation after an import finds it ready.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use argus_analytics::graph::{EntityGraph, GraphComputeInput, compute};
use argus_types::TenantId;
use serde_json::Value;

use super::{JobRunner, Output, Run, RunError, analytics_error};

pub(crate) async fn run(runner: &JobRunner, run: &Run<'_>) -> Result<Output, RunError> {
    let input = GraphComputeInput::from_json(run.job.input.clone()).map_err(|e| RunError::invalid(e.to_string()))?;
    let key = GraphKey::new(run.tenant, input.entity_kinds(), input.relationship_kinds());
    let graph = runner.graphs.graph(&runner.store, key).await?;
    run.control.check(0.05)?;
    let control = run.control.clone();
    let computed = tokio::task::spawn_blocking(move || {
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
    Ok(Output::Body { content_type: "application/x-ndjson", body })
}

fn write_line(out: &mut Vec<u8>, value: &Value) {
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}

/// Which graph: a tenant's, filtered by kinds (sorted, so the same filter
/// in another order is the same graph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphKey {
    tenant: TenantId,
    entity_kinds: Option<Vec<String>>,
    relationship_kinds: Option<Vec<String>>,
}

impl GraphKey {
    pub(crate) fn new(
        tenant: &TenantId,
        entity_kinds: Option<&[String]>,
        relationship_kinds: Option<&[String]>,
    ) -> Self {
        let sorted = |kinds: Option<&[String]>| {
            kinds.map(|k| {
                let mut k = k.to_vec();
                k.sort_unstable();
                k.dedup();
                k
            })
        };
        Self {
            tenant: tenant.clone(),
            entity_kinds: sorted(entity_kinds),
            relationship_kinds: sorted(relationship_kinds),
        }
    }

    /// The tenant's whole graph, as an import leaves it.
    pub(crate) fn whole(tenant: &TenantId) -> Self {
        Self::new(tenant, None, None)
    }
}

/// Built graphs by key and version, the most recently used last; at most
/// `capacity` (`ARGUS_GRAPH_CACHE_GRAPHS`), since a million-edge graph
/// holds some 30 MB.
pub struct GraphCache {
    capacity: usize,
    graphs: Mutex<Vec<(GraphKey, i64, Arc<EntityGraph>)>>,
}

impl GraphCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, graphs: Mutex::new(Vec::new()) }
    }

    /// The graph as it is now: from memory if the tenant's graph version is
    /// still the one it was built at, else loaded, built and kept.
    pub(crate) async fn graph(&self, store: &argus_store::Store, key: GraphKey) -> Result<Arc<EntityGraph>, RunError> {
        if self.capacity > 0 {
            let version = store.graph_version(&key.tenant).await?;
            let mut graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(i) = graphs.iter().position(|(k, v, _)| *k == key && *v == version) {
                let hit = graphs.remove(i);
                let graph = hit.2.clone();
                graphs.push(hit);
                return Ok(graph);
            }
        }
        self.load(store, key).await
    }

    /// Loads and builds the graph, and keeps it.
    pub(crate) async fn load(&self, store: &argus_store::Store, key: GraphKey) -> Result<Arc<EntityGraph>, RunError> {
        let loaded =
            store.entity_graph(&key.tenant, key.entity_kinds.as_deref(), key.relationship_kinds.as_deref()).await?;
        let version = loaded.version;
        let graph =
            tokio::task::spawn_blocking(move || Arc::new(EntityGraph::new(loaded.nodes, loaded.edges))).await.map_err(
                |e| RunError::Failed { code: "internal", message: format!("building the graph panicked: {e}") },
            )?;
        if self.capacity > 0 {
            let mut graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
            // Older versions of the same graph are of no more use.
            graphs.retain(|(k, v, _)| !(*k == key && *v <= version));
            if graphs.len() >= self.capacity {
                graphs.remove(0);
            }
            graphs.push((key, version, graph.clone()));
        }
        Ok(graph)
    }

    pub(crate) fn keeps_graphs(&self) -> bool {
        self.capacity > 0
    }
}
