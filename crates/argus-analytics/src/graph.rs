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

use std::collections::HashMap;
use std::collections::HashSet;
use std::ops::ControlFlow;

use petgraph::csr::Csr;
use petgraph::unionfind::UnionFind;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::progress::Progress;
use crate::{ComputeError, InputError};

/// Largest `top` accepted.
pub const MAX_TOP: usize = 10_000;
/// Most shortest-path pairs in one job.
pub const MAX_SHORTEST_PATH_PAIRS: usize = 100;
/// Most PageRank iterations accepted.
pub const MAX_PAGERANK_ITERATIONS: u32 = 10_000;
/// Graphs with at most this many nodes get exact betweenness by default; larger ones are sampled.
pub const DEFAULT_BETWEENNESS_EXACT_MAX_NODES: usize = 2_000;
/// Exact betweenness costs about V·(V+E) steps; above this it is sampled even below `exact_max_nodes`
/// (a dense 2,000-node graph would otherwise take minutes and cannot be cancelled midway).
pub const BETWEENNESS_EXACT_WORK_LIMIT: u64 = 400_000_000;
/// Default number of sampled source nodes (pivots) for sampled betweenness.
pub const DEFAULT_BETWEENNESS_SAMPLE_SIZE: usize = 256;
/// Largest sample size accepted.
pub const MAX_BETWEENNESS_SAMPLE_SIZE: usize = 100_000;
/// Default seed for choosing betweenness pivots, so that the same graph gives the same result.
pub const DEFAULT_BETWEENNESS_SEED: u64 = 0x5eed;

type AdjacencyCsr = Csr<(), (), petgraph::Directed, u32>;
/// Id → node index. foldhash instead of SipHash: resolving a million relationships' endpoints is a large part
/// of building the graph, and the ids are ours (no hash-flooding concern beyond what its random seed covers).
type IdIndex = HashMap<String, u32, foldhash::fast::RandomState>;

/// The entity graph, built once and reused by every algorithm.
///
/// Nodes are entities (by index into the `node_ids` given to [`EntityGraph::new`]); edges are relationships
/// directed from source to target. Parallel edges are merged and self-loops kept, as in a networkx `DiGraph`.
pub struct EntityGraph {
    node_ids: Vec<String>,
    index: IdIndex,
    /// Out-edges, sorted and deduplicated.
    out: AdjacencyCsr,
    /// In-edges (the transpose of `out`): PageRank pulls along them, betweenness walks back along them.
    inc: AdjacencyCsr,
    /// Both directions, deduplicated: the undirected view (a symmetric CSR is how petgraph represents one).
    sym: AdjacencyCsr,
    ignored_edges: usize,
}

impl std::fmt::Debug for EntityGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityGraph")
            .field("nodes", &self.node_count())
            .field("edges", &self.edge_count())
            .field("ignored_edges", &self.ignored_edges)
            .finish()
    }
}

impl EntityGraph {
    /// `node_ids`: entity ids; `edges`: `(source_index, target_index)` into `node_ids`.
    ///
    /// Edges with an index out of range are ignored and counted by [`EntityGraph::ignored_edges`]; parallel
    /// edges count once. If an id occurs twice, lookups by id find its first index.
    pub fn new(node_ids: Vec<String>, edges: Vec<(u32, u32)>) -> Self {
        let index = index_ids(&node_ids);
        Self::build(node_ids, index, edges, 0)
    }

    /// Builds the graph from relationships given by entity id. Relationships with an endpoint that is not in
    /// `node_ids` (for instance an entity filtered out by kind) are ignored and counted as ignored edges.
    pub fn from_id_pairs<'a>(node_ids: Vec<String>, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let index = index_ids(&node_ids);
        let mut ignored = 0;
        let mut edges = Vec::new();
        for (s, t) in pairs {
            match (index.get(s), index.get(t)) {
                (Some(&s), Some(&t)) => edges.push((s, t)),
                _ => ignored += 1,
            }
        }
        Self::build(node_ids, index, edges, ignored)
    }

    fn build(node_ids: Vec<String>, index: IdIndex, edges: Vec<(u32, u32)>, ignored: usize) -> Self {
        let n = node_ids.len();
        let before = edges.len();
        // Packed into u64 so the one O(E log E) sort of the build compares integers, not tuples.
        let mut packed: Vec<u64> = edges
            .into_iter()
            .filter(|&(s, t)| (s as usize) < n && (t as usize) < n)
            .map(|(s, t)| (u64::from(s) << 32) | u64::from(t))
            .collect();
        let ignored_edges = ignored + before - packed.len();
        packed.sort_unstable();
        packed.dedup();
        let edges: Vec<(u32, u32)> = packed.into_iter().map(|e| ((e >> 32) as u32, e as u32)).collect();
        let out = csr_from_sorted(n, &edges);
        let reversed = transpose_sorted(n, &edges);
        let inc = csr_from_sorted(n, &reversed);
        let sym = csr_from_sorted(n, &merge_sorted_unique(&edges, &reversed));
        Self { node_ids, index, out, inc, sym, ignored_edges }
    }

    pub fn node_count(&self) -> usize {
        self.node_ids.len()
    }

    /// Distinct directed edges (parallel relationships counted once).
    pub fn edge_count(&self) -> usize {
        self.out.edge_count()
    }

    /// Edges dropped when building: index out of range, or an endpoint id not in the node list.
    pub fn ignored_edges(&self) -> usize {
        self.ignored_edges
    }

    pub fn node_ids(&self) -> &[String] {
        &self.node_ids
    }

    /// The index of an entity id.
    pub fn node_index(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The distinct directed edges, sorted.
    fn edges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.node_count() as u32).flat_map(move |s| self.out.neighbors_slice(s).iter().map(move |&t| (s, t)))
    }

    /// The adjacency (out-edges) and the reverse adjacency for the directed or undirected view.
    fn views(&self, directed: bool) -> (&AdjacencyCsr, &AdjacencyCsr) {
        if directed { (&self.out, &self.inc) } else { (&self.sym, &self.sym) }
    }
}

fn index_ids(node_ids: &[String]) -> IdIndex {
    let mut index = IdIndex::with_capacity_and_hasher(node_ids.len(), foldhash::fast::RandomState::default());
    for (i, id) in node_ids.iter().enumerate() {
        // Edges are u32 pairs, so a node past u32::MAX could not be reached anyway.
        if let Ok(i) = u32::try_from(i) {
            index.entry(id.clone()).or_insert(i);
        }
    }
    index
}

/// The sorted edge list reversed and still sorted, by a counting sort on the target: O(V + E). Because the
/// input is sorted by source, each target's sources come out in ascending order.
fn transpose_sorted(n: usize, edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut position = vec![0usize; n + 1];
    for &(_, t) in edges {
        position[t as usize + 1] += 1;
    }
    for i in 0..n {
        position[i + 1] += position[i];
    }
    let mut reversed = vec![(0, 0); edges.len()];
    for &(s, t) in edges {
        reversed[position[t as usize]] = (t, s);
        position[t as usize] += 1;
    }
    reversed
}

/// The union of two sorted, duplicate-free edge lists, sorted and duplicate-free.
fn merge_sorted_unique(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                merged.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                merged.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                merged.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    merged
}

fn csr_from_sorted(n: usize, edges: &[(u32, u32)]) -> AdjacencyCsr {
    // The edges are sorted and unique, which is all `from_sorted_edges` checks; fall back to adding them one by
    // one rather than panicking should that ever not hold.
    let mut csr = AdjacencyCsr::from_sorted_edges(edges).unwrap_or_else(|_| {
        let mut csr = AdjacencyCsr::with_nodes(n);
        for &(s, t) in edges {
            csr.add_edge(s, t, ());
        }
        csr
    });
    // `from_sorted_edges` only creates nodes up to the largest endpoint.
    while csr.node_count() < n {
        csr.add_node(());
    }
    csr
}

/// An algorithm of `graph.compute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Pagerank,
    ConnectedComponents,
    Degree,
    Betweenness,
    ShortestPaths,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Self::Pagerank => "pagerank",
            Self::ConnectedComponents => "connected_components",
            Self::Degree => "degree",
            Self::Betweenness => "betweenness",
            Self::ShortestPaths => "shortest_paths",
        }
    }
}

/// PageRank parameters; every field is optional and defaults to networkx's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRankParams {
    /// Damping factor, in (0, 1). Default 0.85.
    pub damping: Option<f64>,
    /// Iteration limit, 1..=10000. Default 100.
    pub max_iterations: Option<u32>,
    /// Convergence tolerance per node, in (0, 1): iteration stops when the L1 change is below
    /// `node_count * tolerance`. Default 1e-6.
    pub tolerance: Option<f64>,
}

/// Betweenness parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BetweennessParams {
    /// Number of source nodes (pivots) sampled when the graph is larger than `exact_max_nodes`. Default 256.
    pub sample_size: Option<usize>,
    /// Graphs with at most this many nodes get exact betweenness (O(V·E)), provided V·(V+E) is at most
    /// [`BETWEENNESS_EXACT_WORK_LIMIT`]. Default 2000.
    pub exact_max_nodes: Option<usize>,
    /// Seed for choosing the pivots (PCG64), so that a rerun gives the same scores. Default 0x5eed.
    pub seed: Option<u64>,
    /// Scale by 1/((n-1)(n-2)) as networkx's `normalized=True`. Default true.
    pub normalized: Option<bool>,
}

/// One shortest-path query, by entity id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    pub from: String,
    pub to: String,
}

/// The job input for kind `graph.compute`.
///
/// ```json
/// {
///   "algorithms": ["pagerank", "connected_components", "degree", "betweenness", "shortest_paths"],
///   "directed": true,
///   "relationship_kinds": ["owns", "employs"],
///   "entity_kinds": ["person", "organisation"],
///   "pagerank": {"damping": 0.85, "max_iterations": 100, "tolerance": 1e-6},
///   "betweenness": {"sample_size": 256, "exact_max_nodes": 2000, "seed": 24301, "normalized": true},
///   "shortest_paths": [{"from": "ent_01", "to": "ent_02"}],
///   "top": 100
/// }
/// ```
///
/// Only `algorithms` is required. `relationship_kinds` / `entity_kinds` are filters the caller applies when
/// loading (absent: all kinds). `directed` (default true) chooses between following relationships from
/// source to target and treating them as undirected (paths, PageRank and betweenness then go both ways).
/// `top` (default 100, at most 10000) is how many nodes each score list in the output keeps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphComputeInput {
    pub algorithms: Vec<Algorithm>,
    pub directed: Option<bool>,
    pub relationship_kinds: Option<Vec<String>>,
    pub entity_kinds: Option<Vec<String>>,
    pub pagerank: Option<PageRankParams>,
    pub betweenness: Option<BetweennessParams>,
    pub shortest_paths: Option<Vec<PathQuery>>,
    pub top: Option<usize>,
}

impl GraphComputeInput {
    /// Parses and validates the job input.
    pub fn from_json(value: Value) -> Result<Self, InputError> {
        let input: Self = serde_json::from_value(value).map_err(|e| InputError::Malformed(e.to_string()))?;
        input.validate()?;
        Ok(input)
    }

    /// Checks the values serde cannot: ranges, emptiness, parameters for algorithms not asked for.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.algorithms.is_empty() {
            return Err(InputError::invalid("algorithms", "must list at least one algorithm"));
        }
        let mut seen = HashSet::new();
        for a in &self.algorithms {
            if !seen.insert(*a) {
                return Err(InputError::invalid("algorithms", format!("lists `{}` twice", a.name())));
            }
        }
        for (field, kinds) in [("relationship_kinds", &self.relationship_kinds), ("entity_kinds", &self.entity_kinds)] {
            if let Some(kinds) = kinds {
                if kinds.is_empty() {
                    return Err(InputError::invalid(field, "must not be empty (omit it to include every kind)"));
                }
                if kinds.iter().any(|k| k.trim().is_empty()) {
                    return Err(InputError::invalid(field, "must not contain an empty kind"));
                }
            }
        }
        if let Some(top) = self.top
            && !(1..=MAX_TOP).contains(&top)
        {
            return Err(InputError::invalid("top", format!("must be between 1 and {MAX_TOP}, got {top}")));
        }
        self.validate_pagerank()?;
        self.validate_betweenness()?;
        self.validate_shortest_paths()
    }

    fn validate_pagerank(&self) -> Result<(), InputError> {
        let Some(p) = &self.pagerank else { return Ok(()) };
        self.requires(Algorithm::Pagerank, "pagerank")?;
        if let Some(d) = p.damping
            && !(d > 0.0 && d < 1.0)
        {
            return Err(InputError::invalid("pagerank.damping", format!("must be strictly between 0 and 1, got {d}")));
        }
        if let Some(m) = p.max_iterations
            && !(1..=MAX_PAGERANK_ITERATIONS).contains(&m)
        {
            return Err(InputError::invalid(
                "pagerank.max_iterations",
                format!("must be between 1 and {MAX_PAGERANK_ITERATIONS}, got {m}"),
            ));
        }
        if let Some(t) = p.tolerance
            && !(t > 0.0 && t < 1.0)
        {
            return Err(InputError::invalid(
                "pagerank.tolerance",
                format!("must be strictly between 0 and 1, got {t}"),
            ));
        }
        Ok(())
    }

    fn validate_betweenness(&self) -> Result<(), InputError> {
        let Some(b) = &self.betweenness else { return Ok(()) };
        self.requires(Algorithm::Betweenness, "betweenness")?;
        if let Some(k) = b.sample_size
            && !(1..=MAX_BETWEENNESS_SAMPLE_SIZE).contains(&k)
        {
            return Err(InputError::invalid(
                "betweenness.sample_size",
                format!("must be between 1 and {MAX_BETWEENNESS_SAMPLE_SIZE}, got {k}"),
            ));
        }
        Ok(())
    }

    fn validate_shortest_paths(&self) -> Result<(), InputError> {
        let wanted = self.algorithms.contains(&Algorithm::ShortestPaths);
        match &self.shortest_paths {
            None if wanted => Err(InputError::invalid(
                "shortest_paths",
                "is required when `algorithms` lists `shortest_paths`: give [{\"from\": ..., \"to\": ...}]",
            )),
            None => Ok(()),
            Some(pairs) => {
                self.requires(Algorithm::ShortestPaths, "shortest_paths")?;
                if pairs.is_empty() {
                    return Err(InputError::invalid("shortest_paths", "must list at least one {from, to} pair"));
                }
                if pairs.len() > MAX_SHORTEST_PATH_PAIRS {
                    return Err(InputError::invalid(
                        "shortest_paths",
                        format!("lists {} pairs, at most {MAX_SHORTEST_PATH_PAIRS} are allowed", pairs.len()),
                    ));
                }
                for (i, p) in pairs.iter().enumerate() {
                    if p.from.trim().is_empty() {
                        return Err(InputError::invalid(format!("shortest_paths[{i}].from"), "must not be empty"));
                    }
                    if p.to.trim().is_empty() {
                        return Err(InputError::invalid(format!("shortest_paths[{i}].to"), "must not be empty"));
                    }
                }
                Ok(())
            }
        }
    }

    fn requires(&self, algorithm: Algorithm, field: &str) -> Result<(), InputError> {
        if self.algorithms.contains(&algorithm) {
            Ok(())
        } else {
            Err(InputError::invalid(field, format!("is given but `algorithms` does not list `{}`", algorithm.name())))
        }
    }

    /// Relationship kinds to load (`None`: all).
    pub fn relationship_kinds(&self) -> Option<&[String]> {
        self.relationship_kinds.as_deref()
    }

    /// Entity kinds to load (`None`: all).
    pub fn entity_kinds(&self) -> Option<&[String]> {
        self.entity_kinds.as_deref()
    }

    /// Whether relationships are followed only from source to target (default true).
    pub fn directed(&self) -> bool {
        self.directed.unwrap_or(true)
    }

    fn top(&self) -> usize {
        self.top.unwrap_or(100)
    }

    fn wants(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }
}

/// One node and its score in a top-N list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredEntity {
    pub entity_id: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageRankOutput {
    pub damping: f64,
    pub max_iterations: u32,
    pub tolerance: f64,
    pub iterations: u32,
    /// False when `max_iterations` ran out first (networkx raises; the scores are still returned here).
    pub converged: bool,
    pub top: Vec<ScoredEntity>,
    #[serde(skip)]
    scores: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentSize {
    pub component: u32,
    pub size: usize,
}

/// Weakly connected components (relationship direction ignored), numbered by size, largest first (ties by
/// the first node's position in the input).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentsOutput {
    pub count: usize,
    /// Components with a single entity.
    pub singletons: usize,
    /// The `top` largest components.
    pub largest: Vec<ComponentSize>,
    #[serde(skip)]
    labels: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DegreeEntry {
    pub entity_id: String,
    pub in_degree: u32,
    pub out_degree: u32,
    /// In the directed view `in + out`; in the undirected view the number of distinct neighbours.
    pub degree: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DegreeOutput {
    /// The `top` nodes by `degree`.
    pub top: Vec<DegreeEntry>,
    #[serde(skip)]
    in_degree: Vec<u32>,
    #[serde(skip)]
    out_degree: Vec<u32>,
    #[serde(skip)]
    degree: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BetweennessMethod {
    /// Brandes' algorithm from every node (rustworkx-core).
    Exact,
    /// Brandes' algorithm from `sample_size` pivots, scaled by `n / sample_size` (an unbiased estimate).
    Sampled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BetweennessOutput {
    pub method: BetweennessMethod,
    /// Pivots used when sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub normalized: bool,
    pub top: Vec<ScoredEntity>,
    #[serde(skip)]
    scores: Vec<f64>,
}

/// The result of one shortest-path query. `path` and `length` are null when no path exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathResult {
    pub from: String,
    pub to: String,
    pub found: bool,
    /// Number of relationships on the path.
    pub length: Option<u32>,
    /// Entity ids from `from` to `to`.
    pub path: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The job result of `graph.compute`. Absent algorithms are absent keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphComputeOutput {
    pub directed: bool,
    pub node_count: usize,
    pub edge_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerank: Option<PageRankOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_components: Option<ComponentsOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degree: Option<DegreeOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub betweenness: Option<BetweennessOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortest_paths: Option<Vec<PathResult>>,
    #[serde(skip)]
    node_ids: Vec<String>,
}

impl GraphComputeOutput {
    /// One JSON object per node, in node order, with every per-node result computed, e.g.
    /// `{"entity_id":"ent_1","pagerank":0.12,"component":0,"in_degree":1,"out_degree":2,"degree":3,"betweenness":0.5}`.
    /// Meant to be written as NDJSON next to the (top-N) job result.
    pub fn rows(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.node_ids.len()).map(move |i| {
            let mut row = Map::new();
            row.insert("entity_id".into(), Value::String(self.node_ids[i].clone()));
            if let Some(p) = &self.pagerank {
                row.insert("pagerank".into(), json!(p.scores[i]));
            }
            if let Some(c) = &self.connected_components {
                row.insert("component".into(), json!(c.labels[i]));
            }
            if let Some(d) = &self.degree {
                row.insert("in_degree".into(), json!(d.in_degree[i]));
                row.insert("out_degree".into(), json!(d.out_degree[i]));
                row.insert("degree".into(), json!(d.degree[i]));
            }
            if let Some(b) = &self.betweenness {
                row.insert("betweenness".into(), json!(b.scores[i]));
            }
            Value::Object(row)
        })
    }

    /// The full PageRank vector, by node index.
    pub fn pagerank_scores(&self) -> Option<&[f64]> {
        self.pagerank.as_ref().map(|p| p.scores.as_slice())
    }

    /// The full betweenness vector, by node index.
    pub fn betweenness_scores(&self) -> Option<&[f64]> {
        self.betweenness.as_ref().map(|b| b.scores.as_slice())
    }

    /// The component of every node, by node index.
    pub fn component_labels(&self) -> Option<&[u32]> {
        self.connected_components.as_ref().map(|c| c.labels.as_slice())
    }
}

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

/// Indices of the `top` largest scores, largest first, ties by index.
fn top_indices<T: Copy>(scores: &[T], top: usize, cmp: impl Fn(T, T) -> std::cmp::Ordering) -> Vec<usize> {
    let order = |a: &usize, b: &usize| cmp(scores[*b], scores[*a]).then(a.cmp(b));
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    if top < idx.len() {
        idx.select_nth_unstable_by(top, order);
        idx.truncate(top);
    }
    idx.sort_unstable_by(order);
    idx
}

fn scored_top(graph: &EntityGraph, scores: &[f64], top: usize) -> Vec<ScoredEntity> {
    top_indices(scores, top, |a: f64, b: f64| a.total_cmp(&b))
        .into_iter()
        .map(|i| ScoredEntity { entity_id: graph.node_ids[i].clone(), score: scores[i] })
        .collect()
}

// petgraph's `algo::page_rank` is O(iterations·V²·E) and has neither a tolerance nor networkx's dangling-node
// handling, so this is the plain power iteration of `networkx.pagerank`, pulling along the in-edge CSR:
// O(iterations·(V+E)).
fn pagerank(
    graph: &EntityGraph,
    directed: bool,
    params: &PageRankParams,
    top: usize,
    progress: &mut Progress<'_>,
) -> Result<PageRankOutput, ComputeError> {
    let damping = params.damping.unwrap_or(0.85);
    let max_iterations = params.max_iterations.unwrap_or(100);
    let tolerance = params.tolerance.unwrap_or(1e-6);
    let (out, inc) = graph.views(directed);
    let n = graph.node_count();
    let mut result = PageRankOutput {
        damping,
        max_iterations,
        tolerance,
        iterations: 0,
        converged: true,
        top: Vec::new(),
        scores: Vec::new(),
    };
    if n == 0 {
        return Ok(result);
    }
    let nf = n as f64;
    let out_degree: Vec<f64> = (0..n as u32).map(|u| out.out_degree(u) as f64).collect();
    let mut x = vec![1.0 / nf; n];
    let mut next = vec![0.0; n];
    let mut contribution = vec![0.0; n];
    result.converged = false;
    for iteration in 1..=max_iterations {
        let mut dangling = 0.0;
        for u in 0..n {
            if out_degree[u] == 0.0 {
                dangling += x[u];
                contribution[u] = 0.0;
            } else {
                contribution[u] = x[u] / out_degree[u];
            }
        }
        let base = (1.0 - damping) / nf + damping * dangling / nf;
        let mut err = 0.0;
        for (v, slot) in next.iter_mut().enumerate() {
            let pulled: f64 = inc.neighbors_slice(v as u32).iter().map(|&u| contribution[u as usize]).sum();
            *slot = base + damping * pulled;
            err += (*slot - x[v]).abs();
        }
        std::mem::swap(&mut x, &mut next);
        result.iterations = iteration;
        if err < nf * tolerance {
            result.converged = true;
            break;
        }
        progress.report(f64::from(iteration) / f64::from(max_iterations))?;
    }
    result.top = scored_top(graph, &x, top);
    result.scores = x;
    Ok(result)
}

fn connected_components(graph: &EntityGraph, top: usize) -> ComponentsOutput {
    let n = graph.node_count();
    let mut sets = UnionFind::<u32>::new(n);
    for (s, t) in graph.edges() {
        sets.union(s, t);
    }
    let roots = sets.into_labeling();
    // Number components by size (largest first), ties by their first node.
    let mut size: HashMap<u32, (usize, usize)> = HashMap::new();
    for (i, &r) in roots.iter().enumerate() {
        size.entry(r).or_insert((0, i)).0 += 1;
    }
    let mut order: Vec<(u32, usize, usize)> = size.into_iter().map(|(r, (s, first))| (r, s, first)).collect();
    order.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let number: HashMap<u32, u32> = order.iter().enumerate().map(|(c, &(r, _, _))| (r, c as u32)).collect();
    let labels: Vec<u32> = roots.iter().map(|r| number.get(r).copied().unwrap_or(0)).collect();
    ComponentsOutput {
        count: order.len(),
        singletons: order.iter().filter(|c| c.1 == 1).count(),
        largest: order
            .iter()
            .take(top)
            .enumerate()
            .map(|(c, &(_, size, _))| ComponentSize { component: c as u32, size })
            .collect(),
        labels,
    }
}

fn degree(graph: &EntityGraph, directed: bool, top: usize) -> DegreeOutput {
    let n = graph.node_count() as u32;
    let out_degree: Vec<u32> = (0..n).map(|u| graph.out.out_degree(u) as u32).collect();
    let in_degree: Vec<u32> = (0..n).map(|u| graph.inc.out_degree(u) as u32).collect();
    let degree: Vec<u32> = if directed {
        out_degree.iter().zip(&in_degree).map(|(o, i)| o + i).collect()
    } else {
        (0..n).map(|u| graph.sym.out_degree(u) as u32).collect()
    };
    let top = top_indices(&degree, top, |a: u32, b: u32| a.cmp(&b))
        .into_iter()
        .map(|i| DegreeEntry {
            entity_id: graph.node_ids[i].clone(),
            in_degree: in_degree[i],
            out_degree: out_degree[i],
            degree: degree[i],
        })
        .collect();
    DegreeOutput { top, in_degree, out_degree, degree }
}

fn betweenness(
    graph: &EntityGraph,
    directed: bool,
    params: &BetweennessParams,
    top: usize,
    progress: &mut Progress<'_>,
) -> Result<BetweennessOutput, ComputeError> {
    let n = graph.node_count();
    let normalized = params.normalized.unwrap_or(true);
    let exact_max = params.exact_max_nodes.unwrap_or(DEFAULT_BETWEENNESS_EXACT_MAX_NODES);
    let work = (n as u64).saturating_mul((n + graph.edge_count()) as u64);
    let (method, scores, sample_size, seed) = if n <= exact_max && work <= BETWEENNESS_EXACT_WORK_LIMIT {
        (BetweennessMethod::Exact, exact_betweenness(graph, directed, normalized), None, None)
    } else {
        let k = params.sample_size.unwrap_or(DEFAULT_BETWEENNESS_SAMPLE_SIZE).min(n);
        let seed = params.seed.unwrap_or(DEFAULT_BETWEENNESS_SEED);
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut pivots = rand::seq::index::sample(&mut rng, n, k).into_vec();
        pivots.sort_unstable();
        let scores = brandes_from(graph, directed, normalized, &pivots, progress)?;
        (BetweennessMethod::Sampled, scores, Some(k), Some(seed))
    };
    Ok(BetweennessOutput { method, sample_size, seed, normalized, top: scored_top(graph, &scores, top), scores })
}

fn exact_betweenness(graph: &EntityGraph, directed: bool, normalized: bool) -> Vec<f64> {
    // rustworkx-core needs `IntoNeighborsDirected`, which petgraph's `Csr` lacks, so copy into a `Graph`;
    // this path only runs on graphs small enough for O(V·E). `usize::MAX` keeps it on this thread: the job
    // runner decides how many jobs share the cores.
    let n = graph.node_count();
    let edges = graph.edges();
    let scores = if directed {
        let mut g = petgraph::graph::DiGraph::<(), (), u32>::with_capacity(n, graph.edge_count());
        (0..n).for_each(|_| {
            g.add_node(());
        });
        g.extend_with_edges(edges);
        rustworkx_core::centrality::betweenness_centrality(&g, false, normalized, usize::MAX)
    } else {
        let mut g = petgraph::graph::UnGraph::<(), (), u32>::with_capacity(n, graph.edge_count());
        (0..n).for_each(|_| {
            g.add_node(());
        });
        // One undirected edge per connected pair; self-loops never lie on a shortest path.
        g.extend_with_edges(edges.filter(|(s, t)| s < t || (s > t && !graph.out.contains_edge(*t, *s))));
        rustworkx_core::centrality::betweenness_centrality(&g, false, normalized, usize::MAX)
    };
    scores.into_iter().map(|s| s.unwrap_or(0.0)).collect()
}

// Brandes' algorithm from a subset of sources. Neither petgraph nor rustworkx-core offers betweenness from
// sampled pivots (networkx's `k=`), and exact betweenness is O(V·E), hours on 100k nodes / 1M edges.
// Unweighted BFS; successors on shortest paths are found again by distance instead of stored per node.
fn brandes_from(
    graph: &EntityGraph,
    directed: bool,
    normalized: bool,
    sources: &[usize],
    progress: &mut Progress<'_>,
) -> Result<Vec<f64>, ComputeError> {
    let n = graph.node_count();
    let (out, _) = graph.views(directed);
    let mut bc = vec![0.0f64; n];
    // One record per node so that each neighbour visit touches one cache line, not three arrays.
    #[derive(Clone, Copy)]
    struct State {
        dist: i32,
        sigma: f64,
        delta: f64,
    }
    const UNSEEN: State = State { dist: -1, sigma: 0.0, delta: 0.0 };
    let mut state = vec![UNSEEN; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    for (done, &s) in sources.iter().enumerate() {
        order.clear();
        state[s] = State { dist: 0, sigma: 1.0, delta: 0.0 };
        order.push(s as u32);
        let mut head = 0;
        while head < order.len() {
            let v = order[head];
            head += 1;
            let State { dist: dv, sigma: sv, .. } = state[v as usize];
            for &w in out.neighbors_slice(v) {
                let sw = &mut state[w as usize];
                if sw.dist < 0 {
                    sw.dist = dv + 1;
                    order.push(w);
                }
                if sw.dist == dv + 1 {
                    sw.sigma += sv;
                }
            }
        }
        // Dependencies pulled from successors (Brandes' recurrence read forwards), so only `w` is written.
        for &w in order.iter().rev() {
            let State { dist: dw, sigma: sw, .. } = state[w as usize];
            let mut delta = 0.0;
            for &v in out.neighbors_slice(w) {
                let sv = state[v as usize];
                if sv.dist == dw + 1 {
                    delta += sw / sv.sigma * (1.0 + sv.delta);
                }
            }
            state[w as usize].delta = delta;
            if w as usize != s {
                bc[w as usize] += delta;
            }
        }
        for &w in &order {
            state[w as usize] = UNSEEN;
        }
        if done % 8 == 7 {
            progress.report((done + 1) as f64 / sources.len() as f64)?;
        }
    }
    // networkx's `_rescale`, times n/k to extrapolate from k sources to all n.
    let mut scale = if normalized {
        if n > 2 { 1.0 / ((n - 1) as f64 * (n - 2) as f64) } else { 1.0 }
    } else if directed {
        1.0
    } else {
        0.5
    };
    if !sources.is_empty() {
        scale *= n as f64 / sources.len() as f64;
    }
    bc.iter_mut().for_each(|b| *b *= scale);
    Ok(bc)
}

fn shortest_path(graph: &EntityGraph, directed: bool, q: &PathQuery, from: u32, to: u32) -> PathResult {
    let (out, _) = graph.views(directed);
    let found = petgraph::algo::astar(out, from, |v| v == to, |_| 1u32, |_| 0u32);
    match found {
        Some((length, nodes)) => PathResult {
            from: q.from.clone(),
            to: q.to.clone(),
            found: true,
            length: Some(length),
            path: Some(nodes.into_iter().map(|v| graph.node_ids[v as usize].clone()).collect()),
            reason: None,
        },
        None => PathResult {
            from: q.from.clone(),
            to: q.to.clone(),
            found: false,
            length: None,
            path: None,
            reason: Some(if directed {
                "no directed path from `from` to `to` (try \"directed\": false)".to_owned()
            } else {
                "`from` and `to` are in different connected components".to_owned()
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
