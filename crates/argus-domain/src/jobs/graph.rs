//! The job input of `graph.compute`, parsed and checked (the algorithms
//! run in `argus-analytics`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check_kinds_filter, check_list_len, check_range, parse_input};
use crate::DomainError;

/// Largest `top` accepted.
pub const MAX_TOP: usize = 10_000;
/// Most shortest-path pairs in one job.
pub const MAX_SHORTEST_PATH_PAIRS: usize = 100;
/// Most PageRank iterations accepted.
pub const MAX_PAGERANK_ITERATIONS: u32 = 10_000;
/// Largest betweenness sample size accepted.
pub const MAX_BETWEENNESS_SAMPLE_SIZE: usize = 100_000;

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
    pub fn as_str(self) -> &'static str {
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
    /// `argus_analytics::graph::BETWEENNESS_EXACT_WORK_LIMIT`. Default 2000.
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
    pub fn from_json(value: Value) -> Result<Self, DomainError> {
        parse_input(value, Self::validate)
    }

    /// Checks the values serde cannot: ranges, emptiness, parameters for algorithms not asked for.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.algorithms.is_empty() {
            return Err(DomainError::invalid("algorithms", "must list at least one algorithm"));
        }
        let mut seen = HashSet::new();
        for a in &self.algorithms {
            if !seen.insert(*a) {
                return Err(DomainError::invalid("algorithms", format!("lists `{}` twice", a.as_str())));
            }
        }
        check_kinds_filter("relationship_kinds", self.relationship_kinds())?;
        check_kinds_filter("entity_kinds", self.entity_kinds())?;
        check_range("top", self.top, 1..=MAX_TOP)?;
        self.validate_pagerank()?;
        self.validate_betweenness()?;
        self.validate_shortest_paths()
    }

    fn validate_pagerank(&self) -> Result<(), DomainError> {
        let Some(p) = &self.pagerank else { return Ok(()) };
        self.requires(Algorithm::Pagerank, "pagerank")?;
        if let Some(d) = p.damping
            && !(d > 0.0 && d < 1.0)
        {
            return Err(DomainError::invalid("pagerank.damping", format!("must be strictly between 0 and 1, got {d}")));
        }
        check_range("pagerank.max_iterations", p.max_iterations, 1..=MAX_PAGERANK_ITERATIONS)?;
        if let Some(t) = p.tolerance
            && !(t > 0.0 && t < 1.0)
        {
            return Err(DomainError::invalid(
                "pagerank.tolerance",
                format!("must be strictly between 0 and 1, got {t}"),
            ));
        }
        Ok(())
    }

    fn validate_betweenness(&self) -> Result<(), DomainError> {
        let Some(b) = &self.betweenness else { return Ok(()) };
        self.requires(Algorithm::Betweenness, "betweenness")?;
        check_range("betweenness.sample_size", b.sample_size, 1..=MAX_BETWEENNESS_SAMPLE_SIZE)
    }

    fn validate_shortest_paths(&self) -> Result<(), DomainError> {
        let wanted = self.algorithms.contains(&Algorithm::ShortestPaths);
        match &self.shortest_paths {
            None if wanted => Err(DomainError::invalid(
                "shortest_paths",
                "is required when `algorithms` lists `shortest_paths`: give [{\"from\": ..., \"to\": ...}]",
            )),
            None => Ok(()),
            Some(pairs) => {
                self.requires(Algorithm::ShortestPaths, "shortest_paths")?;
                let empty = "must list at least one {from, to} pair";
                check_list_len("shortest_paths", pairs, MAX_SHORTEST_PATH_PAIRS, "pairs", empty)?;
                for (i, p) in pairs.iter().enumerate() {
                    if p.from.trim().is_empty() {
                        return Err(DomainError::invalid(format!("shortest_paths[{i}].from"), "must not be empty"));
                    }
                    if p.to.trim().is_empty() {
                        return Err(DomainError::invalid(format!("shortest_paths[{i}].to"), "must not be empty"));
                    }
                }
                Ok(())
            }
        }
    }

    fn requires(&self, algorithm: Algorithm, field: &str) -> Result<(), DomainError> {
        if self.algorithms.contains(&algorithm) {
            Ok(())
        } else {
            Err(DomainError::invalid(
                field,
                format!("is given but `algorithms` does not list `{}`", algorithm.as_str()),
            ))
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

    /// How many nodes each score list keeps (default 100).
    pub fn top(&self) -> usize {
        self.top.unwrap_or(100)
    }

    /// Whether `algorithm` is asked for.
    pub fn wants(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }
}
