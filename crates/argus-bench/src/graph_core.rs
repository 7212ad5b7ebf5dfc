//! `argus-bench graph-core`: the graph algorithms alone, in process, on the
//! benchmark's graph size: building the graph, PageRank to the default
//! tolerance, PageRank to the tightest tolerance (up to 100 iterations, or
//! until the scores stop changing), and sampled betweenness with components
//! and degree. No database, broker or HTTP: this is the
//! compute floor under `graph.compute`'s end-to-end figure.

use std::ops::ControlFlow;
use std::time::Instant;

use argus_analytics::graph::{EntityGraph, GraphComputeInput, GraphComputeOutput, compute};
use serde_json::{Value, json};

pub fn bench(nodes: u32, edges: usize, seed: u64) -> Result<Value, Box<dyn std::error::Error>> {
    let node_ids: Vec<String> = (0..nodes).map(|i| format!("ent_{i}")).collect();
    // A small LCG: the same pairs for the same seed, with no dependency.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        format!("ent_{}", (state >> 33) % u64::from(nodes))
    };
    let pairs: Vec<(String, String)> = (0..edges).map(|_| (next(), next())).collect();

    let start = Instant::now();
    let graph = EntityGraph::from_id_pairs(node_ids, pairs.iter().map(|(s, t)| (s.as_str(), t.as_str())));
    let build_seconds = start.elapsed().as_secs_f64();

    let run = |input: Value| -> Result<(GraphComputeOutput, f64), Box<dyn std::error::Error>> {
        let input = GraphComputeInput::from_json(input)?;
        let start = Instant::now();
        let out = compute(&graph, &input, &mut |_| ControlFlow::Continue(()))?;
        Ok((out, start.elapsed().as_secs_f64()))
    };
    let (default, default_seconds) = run(json!({"algorithms": ["pagerank"]}))?;
    let default_pr = default.pagerank.ok_or("no pagerank in the output")?;
    let (fixed, fixed_seconds) = run(json!({
        "algorithms": ["pagerank"],
        "pagerank": {"max_iterations": 100, "tolerance": 1e-300}
    }))?;
    let fixed_pr = fixed.pagerank.ok_or("no pagerank in the output")?;
    let (rest, rest_seconds) = run(json!({"algorithms": ["betweenness", "connected_components", "degree"]}))?;
    let pivots = rest.betweenness.and_then(|b| b.sample_size).unwrap_or(0);

    Ok(json!({
        "nodes": graph.node_count(),
        "edges": graph.edge_count(),
        "build_graph_seconds": build_seconds,
        "pagerank_default_tolerance_seconds": default_seconds,
        "pagerank_default_tolerance_iterations": default_pr.iterations,
        "pagerank_converged": default_pr.converged,
        "pagerank_tightest_tolerance_seconds": fixed_seconds,
        "pagerank_tightest_tolerance_iterations": fixed_pr.iterations,
        "sampled_betweenness_components_degree_seconds": rest_seconds,
        "betweenness_pivots_0_is_exact": pivots,
    }))
}
