//! `graph.compute`: graph algorithms over a tenant's entity graph.
//!
//! The caller loads the entities and relationships (applying [`GraphComputeInput::entity_kinds`] and
//! [`GraphComputeInput::relationship_kinds`] as filters), builds one [`EntityGraph`] and calls [`compute`].
//! The [`GraphComputeOutput`] serialises to the job result (top `N` per algorithm); [`GraphComputeOutput::rows`]
//! yields one JSON object per node for streaming the full result as NDJSON.
//!
//! Semantics follow networkx where it has the same algorithm: parallel relationships between the same two
//! entities count once (as in a `DiGraph`), PageRank matches `networkx.pagerank` (dangling mass spread
//! uniformly, stop when the L1 change is below `N * tolerance`), betweenness matches
//! `networkx.betweenness_centrality` (unweighted, endpoints excluded).

use std::ops::ControlFlow;

use crate::ComputeError;
use crate::progress::Progress;

/// Graphs with at most this many nodes get exact betweenness by default; larger ones are sampled.
pub const DEFAULT_BETWEENNESS_EXACT_MAX_NODES: usize = 2_000;
/// Exact betweenness costs about V·(V+E) steps; above this it is sampled even below `exact_max_nodes`
/// (a dense 2,000-node graph would otherwise take minutes and cannot be cancelled midway).
pub const BETWEENNESS_EXACT_WORK_LIMIT: u64 = 400_000_000;
/// Default number of sampled source nodes (pivots) for sampled betweenness.
pub const DEFAULT_BETWEENNESS_SAMPLE_SIZE: usize = 256;
/// Default seed for choosing betweenness pivots, so that the same graph gives the same result.
pub const DEFAULT_BETWEENNESS_SEED: u64 = 0x5eed;

mod algorithms;
mod entity_graph;
mod output;

use algorithms::*;
pub use entity_graph::EntityGraph;
// The input is the domain's: the API checks it without linking this crate.
pub use argus_domain::jobs::graph::*;
pub use output::*;

/// Runs the requested algorithms. `progress` is called between phases and iterations with the overall
/// progress in 0.0..=1.0; returning `ControlFlow::Break(())` stops with [`ComputeError::Cancelled`].
pub fn compute(
    graph: &EntityGraph,
    input: &GraphComputeInput,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<GraphComputeOutput, ComputeError> {
    input.validate()?;
    let directed = input.directed();
    let top = input.top();
    let mut progress = Progress::new(progress);
    progress.report(0.0)?;

    // Resolve ids first: an unknown entity fails the job before any long computation.
    let mut path_queries = Vec::new();
    if input.wants(Algorithm::ShortestPaths) {
        for q in input.shortest_paths.iter().flatten() {
            let from = graph.node_index(&q.from).ok_or_else(|| ComputeError::UnknownEntity(q.from.clone()))?;
            let to = graph.node_index(&q.to).ok_or_else(|| ComputeError::UnknownEntity(q.to.clone()))?;
            path_queries.push((q, from, to));
        }
    }

    let mut output = GraphComputeOutput {
        directed,
        node_count: graph.node_count(),
        edge_count: graph.edge_count(),
        pagerank: None,
        connected_components: None,
        degree: None,
        betweenness: None,
        shortest_paths: None,
        node_ids: graph.node_ids.clone(),
    };

    // Phases in a fixed order, each an equal share of the progress bar.
    let mut order: Vec<Algorithm> = input.algorithms.clone();
    order.sort();
    let share = 1.0 / order.len() as f64;
    for (i, algorithm) in order.into_iter().enumerate() {
        progress.phase(i as f64 * share, share);
        match algorithm {
            Algorithm::Pagerank => {
                let params = input.pagerank.clone().unwrap_or(PageRankParams {
                    damping: None,
                    max_iterations: None,
                    tolerance: None,
                });
                output.pagerank = Some(pagerank(graph, directed, &params, top, &mut progress)?);
            }
            Algorithm::ConnectedComponents => {
                output.connected_components = Some(connected_components(graph, top));
            }
            Algorithm::Degree => output.degree = Some(degree(graph, directed, top)),
            Algorithm::Betweenness => {
                let params = input.betweenness.clone().unwrap_or(BetweennessParams {
                    sample_size: None,
                    exact_max_nodes: None,
                    seed: None,
                    normalized: None,
                });
                output.betweenness = Some(betweenness(graph, directed, &params, top, &mut progress)?);
            }
            Algorithm::ShortestPaths => {
                let mut results = Vec::with_capacity(path_queries.len());
                for (j, (q, from, to)) in path_queries.iter().enumerate() {
                    results.push(shortest_path(graph, directed, q, *from, *to));
                    progress.report((j + 1) as f64 / path_queries.len() as f64)?;
                }
                output.shortest_paths = Some(results);
            }
        }
        progress.report(1.0)?;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    use super::entity_graph::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ent_{i}")).collect()
    }

    fn input(value: Value) -> GraphComputeInput {
        GraphComputeInput::from_json(value).unwrap()
    }

    fn run(graph: &EntityGraph, value: Value) -> GraphComputeOutput {
        compute(graph, &input(value), &mut |_| ControlFlow::Continue(())).unwrap()
    }

    /// 0→1, 0→2, 1→2, 2→0, 3→2, 1→5; node 4 isolated; 5 dangling. Parallel 0→1 merged.
    fn sample_graph() -> EntityGraph {
        EntityGraph::new(ids(6), vec![(0, 1), (0, 2), (1, 2), (2, 0), (3, 2), (1, 5), (0, 1)])
    }

    fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
        assert_eq!(actual.len(), expected.len());
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() < tolerance, "node {i}: got {a}, expected {e}");
        }
    }

    #[test]
    fn pagerank_matches_networkx_with_dangling_and_isolated_nodes() {
        // networkx 3.6.1 `pagerank` (pure-Python variant, same semantics) on the same DiGraph.
        let expected = [
            0.30126084421805877,
            0.17786285493126802,
            0.29580635152293094,
            0.04982625472738343,
            0.04982625472738343,
            0.1254174398729752,
        ];
        let graph = sample_graph();
        assert_eq!(graph.edge_count(), 6);
        let out = run(&graph, json!({"algorithms": ["pagerank"]}));
        let pr = out.pagerank.as_ref().unwrap();
        assert!(pr.converged);
        assert_close(out.pagerank_scores().unwrap(), &expected, 1e-6);
        assert_eq!(pr.top[0].entity_id, "ent_0");
    }

    #[test]
    fn undirected_pagerank_matches_networkx() {
        // networkx: pagerank(G.to_undirected()).
        let expected = [
            0.1889068523868077,
            0.28196693402095907,
            0.28196693402095907,
            0.10901653298952037,
            0.02912621359223301,
            0.10901653298952037,
        ];
        let out = run(&sample_graph(), json!({"algorithms": ["pagerank"], "directed": false}));
        assert_close(out.pagerank_scores().unwrap(), &expected, 1e-6);
    }

    #[test]
    fn pagerank_reports_non_convergence() {
        let out = run(&sample_graph(), json!({"algorithms": ["pagerank"], "pagerank": {"max_iterations": 2}}));
        let pr = out.pagerank.unwrap();
        assert!(!pr.converged);
        assert_eq!(pr.iterations, 2);
    }

    #[test]
    fn components_are_weak_and_numbered_by_size() {
        // {0,1,2} and {3,4} and {5}.
        let graph = EntityGraph::new(ids(6), vec![(0, 1), (2, 1), (4, 3)]);
        let out = run(&graph, json!({"algorithms": ["connected_components"]}));
        let c = out.connected_components.as_ref().unwrap();
        assert_eq!(c.count, 3);
        assert_eq!(c.singletons, 1);
        assert_eq!(
            c.largest,
            vec![
                ComponentSize { component: 0, size: 3 },
                ComponentSize { component: 1, size: 2 },
                ComponentSize { component: 2, size: 1 }
            ]
        );
        assert_eq!(out.component_labels().unwrap(), &[0, 0, 0, 1, 1, 2]);
    }

    #[test]
    fn degree_counts_in_and_out() {
        let out = run(&sample_graph(), json!({"algorithms": ["degree"], "top": 2}));
        let d = out.degree.unwrap();
        // Node 2: in from 0, 1, 3; out to 0. Node 0: in from 2; out to 1, 2. Node 1: in 1, out 2.
        assert_eq!(d.top.len(), 2);
        assert_eq!(d.top[0], DegreeEntry { entity_id: "ent_2".into(), in_degree: 3, out_degree: 1, degree: 4 });
        assert_eq!(d.top[1], DegreeEntry { entity_id: "ent_0".into(), in_degree: 1, out_degree: 2, degree: 3 });
    }

    #[test]
    fn undirected_degree_counts_distinct_neighbours() {
        // 0↔2 is two relationships but one neighbour.
        let out = run(&sample_graph(), json!({"algorithms": ["degree"], "directed": false}));
        let d = out.degree.unwrap();
        assert_eq!(d.degree, vec![2, 3, 3, 1, 0, 1]);
    }

    #[test]
    fn betweenness_of_a_path_peaks_in_the_middle() {
        let graph = EntityGraph::new(ids(5), vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
        let out = run(&graph, json!({"algorithms": ["betweenness"], "directed": false}));
        let b = out.betweenness.as_ref().unwrap();
        assert_eq!(b.method, BetweennessMethod::Exact);
        // networkx.betweenness_centrality(path_graph(5)).
        assert_close(out.betweenness_scores().unwrap(), &[0.0, 0.5, 2.0 / 3.0, 0.5, 0.0], 1e-9);
        assert_eq!(b.top[0].entity_id, "ent_2");

        let raw = run(
            &graph,
            json!({"algorithms": ["betweenness"], "directed": false, "betweenness": {"normalized": false}}),
        );
        assert_close(raw.betweenness_scores().unwrap(), &[0.0, 3.0, 4.0, 3.0, 0.0], 1e-9);
    }

    #[test]
    fn directed_betweenness_matches_networkx() {
        // networkx.betweenness_centrality on the sample DiGraph and on its undirected view.
        let out = run(&sample_graph(), json!({"algorithms": ["betweenness"]}));
        assert_close(out.betweenness_scores().unwrap(), &[0.2, 0.15, 0.2, 0.0, 0.0, 0.0], 1e-9);
        let out = run(&sample_graph(), json!({"algorithms": ["betweenness"], "directed": false}));
        assert_close(out.betweenness_scores().unwrap(), &[0.0, 0.3, 0.3, 0.0, 0.0, 0.0], 1e-9);
    }

    #[test]
    fn sampled_betweenness_with_every_pivot_equals_exact() {
        let graph = random_graph(300, 1500, 7);
        for directed in [true, false] {
            let exact = exact_betweenness(&graph, directed, true);
            let all: Vec<usize> = (0..graph.node_count()).collect();
            let mut cb = |_| ControlFlow::Continue(());
            let sampled = brandes_from(&graph, directed, true, &all, &mut Progress::new(&mut cb)).unwrap();
            assert_close(&sampled, &exact, 1e-9);
        }
    }

    #[test]
    fn betweenness_is_sampled_above_the_node_threshold() {
        let graph = random_graph(200, 800, 3);
        let value = json!({
            "algorithms": ["betweenness"],
            "betweenness": {"exact_max_nodes": 100, "sample_size": 50, "seed": 9}
        });
        let a = run(&graph, value.clone());
        let b = a.betweenness.as_ref().unwrap();
        assert_eq!(b.method, BetweennessMethod::Sampled);
        assert_eq!(b.sample_size, Some(50));
        assert_eq!(b.seed, Some(9));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["betweenness"]["method"], "sampled");
        // Same seed, same scores.
        let again = run(&graph, value);
        assert_eq!(a.betweenness_scores(), again.betweenness_scores());
        // Below the threshold it is exact.
        let exact = run(&graph, json!({"algorithms": ["betweenness"]}));
        assert_eq!(exact.betweenness.unwrap().method, BetweennessMethod::Exact);
    }

    #[test]
    fn shortest_paths_found_unreachable_and_same_node() {
        let graph = sample_graph();
        let out = run(
            &graph,
            json!({"algorithms": ["shortest_paths"], "shortest_paths": [
                {"from": "ent_3", "to": "ent_5"},
                {"from": "ent_5", "to": "ent_3"},
                {"from": "ent_4", "to": "ent_4"}
            ]}),
        );
        let paths = out.shortest_paths.unwrap();
        assert_eq!(paths[0].path.as_deref().unwrap(), ["ent_3", "ent_2", "ent_0", "ent_1", "ent_5"]);
        assert_eq!(paths[0].length, Some(4));
        assert!(!paths[1].found);
        assert_eq!(paths[1].path, None);
        assert!(paths[1].reason.as_deref().unwrap().contains("no directed path"));
        assert_eq!(paths[2].length, Some(0));

        let undirected = run(
            &graph,
            json!({"algorithms": ["shortest_paths"], "directed": false,
                   "shortest_paths": [{"from": "ent_5", "to": "ent_3"}]}),
        );
        assert_eq!(undirected.shortest_paths.unwrap()[0].length, Some(3));
    }

    #[test]
    fn unknown_entity_in_a_path_query_is_an_error() {
        let graph = sample_graph();
        let i = input(json!({"algorithms": ["shortest_paths"], "shortest_paths": [{"from": "ent_0", "to": "ent_x"}]}));
        let err = compute(&graph, &i, &mut |_| ControlFlow::Continue(())).unwrap_err();
        assert_eq!(err, ComputeError::UnknownEntity("ent_x".into()));
    }

    #[test]
    fn progress_callback_cancels() {
        let graph = random_graph(1000, 5000, 1);
        let i = input(json!({"algorithms": ["pagerank", "degree"]}));
        let mut calls = 0;
        let err = compute(&graph, &i, &mut |_| {
            calls += 1;
            if calls > 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap_err();
        assert_eq!(err, ComputeError::Cancelled);
        assert_eq!(calls, 4);
    }

    #[test]
    fn progress_is_monotonic_and_ends_at_one() {
        let graph = random_graph(500, 2000, 2);
        let i = input(json!({"algorithms": ["pagerank", "betweenness", "connected_components"]}));
        let mut seen = Vec::new();
        compute(&graph, &i, &mut |p| {
            seen.push(p);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert_eq!(seen.last().copied(), Some(1.0));
    }

    #[test]
    fn rows_carry_every_per_node_result() {
        let out =
            run(&sample_graph(), json!({"algorithms": ["pagerank", "degree", "connected_components", "betweenness"]}));
        let rows: Vec<Value> = out.rows().collect();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[2]["entity_id"], "ent_2");
        assert_eq!(rows[2]["in_degree"], 3);
        assert_eq!(rows[4]["component"], 1);
        assert!((rows[0]["pagerank"].as_f64().unwrap() - 0.30126084421805877).abs() < 1e-6);
        assert!(rows[0].get("betweenness").is_some());
        let json = serde_json::to_value(&out).unwrap();
        assert!(json.get("shortest_paths").is_none());
        assert_eq!(json["pagerank"]["top"][0]["entity_id"], "ent_0");
    }

    #[test]
    fn transpose_and_merge_keep_edges_sorted_and_unique() {
        let edges = [(0, 1), (0, 2), (1, 2), (2, 0), (2, 2), (3, 2)];
        let reversed = transpose_sorted(4, &edges);
        assert_eq!(reversed, [(0, 2), (1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]);
        let both = merge_sorted_unique(&edges, &reversed);
        assert_eq!(both, [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2), (2, 3), (3, 2)]);
    }

    #[test]
    fn from_id_pairs_ignores_unknown_endpoints() {
        let graph = EntityGraph::from_id_pairs(ids(3), [("ent_0", "ent_1"), ("ent_1", "ent_9")]);
        assert_eq!(graph.edge_count(), 1);
        assert_eq!(graph.ignored_edges(), 1);
        let graph = EntityGraph::new(ids(2), vec![(0, 1), (0, 7)]);
        assert_eq!(graph.ignored_edges(), 1);
    }

    #[test]
    fn empty_graph_is_fine() {
        let graph = EntityGraph::new(Vec::new(), Vec::new());
        let out = run(&graph, json!({"algorithms": ["pagerank", "degree", "connected_components", "betweenness"]}));
        assert_eq!(out.rows().count(), 0);
        assert_eq!(out.connected_components.unwrap().count, 0);
    }

    fn validation_error(value: Value) -> String {
        GraphComputeInput::from_json(value).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_is_rejected_with_a_clear_message() {
        let cases = [
            (json!({"algorithms": ["pagerank", "closeness"]}), "unknown variant `closeness`"),
            (json!({"algorithms": []}), "`algorithms` must list at least one algorithm"),
            (json!({"algorithms": ["degree", "degree"]}), "`algorithms` lists `degree` twice"),
            (json!({"algorithms": ["degree"], "colour": 1}), "unknown field `colour`"),
            (
                json!({"algorithms": ["pagerank"], "pagerank": {"damping": 1.0}}),
                "`pagerank.damping` must be strictly between 0 and 1, got 1",
            ),
            (json!({"algorithms": ["pagerank"], "pagerank": {"damping": 0.0}}), "`pagerank.damping` must be strictly"),
            (json!({"algorithms": ["pagerank"], "pagerank": {"tolerance": -1.0}}), "`pagerank.tolerance`"),
            (
                json!({"algorithms": ["pagerank"], "pagerank": {"max_iterations": 0}}),
                "`pagerank.max_iterations` must be between 1 and",
            ),
            (
                json!({"algorithms": ["degree"], "pagerank": {}}),
                "`pagerank` is given but `algorithms` does not list `pagerank`",
            ),
            (json!({"algorithms": ["shortest_paths"]}), "`shortest_paths` is required"),
            (
                json!({"algorithms": ["shortest_paths"], "shortest_paths": []}),
                "`shortest_paths` must list at least one",
            ),
            (
                json!({"algorithms": ["shortest_paths"], "shortest_paths": [{"from": "", "to": "ent_1"}]}),
                "`shortest_paths[0].from` must not be empty",
            ),
            (json!({"algorithms": ["degree"], "top": 0}), "`top` must be between 1 and 10000, got 0"),
            (json!({"algorithms": ["degree"], "entity_kinds": []}), "`entity_kinds` must not be empty"),
            (
                json!({"algorithms": ["betweenness"], "betweenness": {"sample_size": 0}}),
                "`betweenness.sample_size` must be between",
            ),
        ];
        for (value, expected) in cases {
            let message = validation_error(value.clone());
            assert!(message.contains(expected), "{value}: `{message}` lacks `{expected}`");
        }
        let pairs: Vec<Value> = (0..=MAX_SHORTEST_PATH_PAIRS).map(|_| json!({"from": "a", "to": "b"})).collect();
        let message = validation_error(json!({"algorithms": ["shortest_paths"], "shortest_paths": pairs}));
        assert_eq!(message, "invalid input: `shortest_paths` lists 101 pairs, at most 100 are allowed");
    }

    #[test]
    fn filters_are_exposed_for_the_loader() {
        let i = input(json!({"algorithms": ["degree"], "relationship_kinds": ["owns"], "entity_kinds": ["person"]}));
        assert_eq!(i.relationship_kinds(), Some(&["owns".to_owned()][..]));
        assert_eq!(i.entity_kinds(), Some(&["person".to_owned()][..]));
        assert!(i.directed());
        let all = input(json!({"algorithms": ["degree"]}));
        assert_eq!(all.relationship_kinds(), None);
    }

    /// A seeded random multigraph (a tiny LCG keeps the test independent of `rand`'s stream).
    fn random_graph(nodes: u32, edges: usize, seed: u64) -> EntityGraph {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(nodes)) as u32
        };
        let list: Vec<(u32, u32)> = (0..edges).map(|_| (next(), next())).collect();
        EntityGraph::new(ids(nodes as usize), list)
    }

    #[test]
    fn random_graph_matches_networkx() {
        // networkx 3.6.1 on the same 60-node graph (same LCG; self-loops and parallel edges included), first 8
        // nodes: pagerank, betweenness_centrality, betweenness_centrality of to_undirected().
        let graph = random_graph(60, 150, 11);
        assert_eq!(graph.edge_count(), 142);
        let pagerank = [
            0.004859597160104968,
            0.015113033155894512,
            0.052800551646071996,
            0.013864428254765453,
            0.028503145901251106,
            0.013751132594873029,
            0.009399025469625788,
            0.00611495569620301,
        ];
        let directed = [
            0.015780245470485097,
            0.06781609195402298,
            0.08988408338203777,
            0.04202220923436588,
            0.10300506526397818,
            0.061382232612507304,
            0.011124794745484399,
            0.008109292811221507,
        ];
        let undirected = [
            0.006678077426177951,
            0.051002405283527445,
            0.06703966693738757,
            0.029438367983078674,
            0.04999776507666629,
            0.049496741650452925,
            0.007342819528675752,
            0.011353958723917814,
        ];
        let out = run(&graph, json!({"algorithms": ["pagerank", "betweenness"]}));
        assert_close(&out.pagerank_scores().unwrap()[..8], &pagerank, 1e-6);
        assert_close(&out.betweenness_scores().unwrap()[..8], &directed, 1e-9);
        let out = run(&graph, json!({"algorithms": ["betweenness"], "directed": false}));
        assert_close(&out.betweenness_scores().unwrap()[..8], &undirected, 1e-9);
    }

    #[test]
    fn pagerank_on_10k_nodes_100k_edges_converges_to_a_distribution() {
        let graph = random_graph(10_000, 100_000, 42);
        let out = run(&graph, json!({"algorithms": ["pagerank"]}));
        let pr = out.pagerank.as_ref().unwrap();
        assert!(pr.converged, "{} iterations", pr.iterations);
        let sum: f64 = out.pagerank_scores().unwrap().iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "sum {sum}");
        assert!(out.pagerank_scores().unwrap().iter().all(|&s| s > 0.0));
    }
}
