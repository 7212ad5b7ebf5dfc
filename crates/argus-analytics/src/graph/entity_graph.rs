//! The entity graph every algorithm runs on: compressed adjacency, built once.

use petgraph::csr::Csr;
use std::collections::HashMap;

pub(super) type AdjacencyCsr = Csr<(), (), petgraph::Directed, u32>;
/// Id → node index. foldhash instead of SipHash: resolving a million relationships' endpoints is a large part
/// of building the graph, and the ids are ours (no hash-flooding concern beyond what its random seed covers).
pub(super) type IdIndex = HashMap<String, u32, foldhash::fast::RandomState>;

/// The entity graph, built once and reused by every algorithm.
///
/// Nodes are entities (by index into the `node_ids` given to [`EntityGraph::new`]); edges are relationships
/// directed from source to target. Parallel edges are merged and self-loops kept, as in a networkx `DiGraph`.
pub struct EntityGraph {
    pub(super) node_ids: Vec<String>,
    pub(super) index: IdIndex,
    /// Out-edges, sorted and deduplicated.
    pub(super) out: AdjacencyCsr,
    /// In-edges (the transpose of `out`): PageRank pulls along them, betweenness walks back along them.
    pub(super) inc: AdjacencyCsr,
    /// Both directions, deduplicated: the undirected view (a symmetric CSR is how petgraph represents one).
    pub(super) sym: AdjacencyCsr,
    pub(super) ignored_edges: usize,
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

    pub(super) fn build(node_ids: Vec<String>, index: IdIndex, edges: Vec<(u32, u32)>, ignored: usize) -> Self {
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
    pub(super) fn edges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.node_count() as u32).flat_map(move |s| self.out.neighbors_slice(s).iter().map(move |&t| (s, t)))
    }

    /// The adjacency (out-edges) and the reverse adjacency for the directed or undirected view.
    pub(super) fn views(&self, directed: bool) -> (&AdjacencyCsr, &AdjacencyCsr) {
        if directed { (&self.out, &self.inc) } else { (&self.sym, &self.sym) }
    }
}

pub(super) fn index_ids(node_ids: &[String]) -> IdIndex {
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
pub(super) fn transpose_sorted(n: usize, edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
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
pub(super) fn merge_sorted_unique(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
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

pub(super) fn csr_from_sorted(n: usize, edges: &[(u32, u32)]) -> AdjacencyCsr {
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
