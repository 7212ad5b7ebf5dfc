//! What `graph.compute` returns: top-N lists per algorithm and per-node rows.

use serde::Serialize;
use serde_json::{Map, Value, json};

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
    pub(super) scores: Vec<f64>,
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
    pub(super) labels: Vec<u32>,
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
    pub(super) in_degree: Vec<u32>,
    #[serde(skip)]
    pub(super) out_degree: Vec<u32>,
    #[serde(skip)]
    pub(super) degree: Vec<u32>,
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
    pub(super) scores: Vec<f64>,
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
    pub(super) node_ids: Vec<String>,
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
