//! The algorithms themselves: PageRank, components, degree, betweenness, shortest paths.

use crate::ComputeError;
use crate::progress::Progress;
use petgraph::unionfind::UnionFind;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use std::collections::HashMap;

use super::*;

/// Indices of the `top` largest scores, largest first, ties by index.
pub(super) fn top_indices<T: Copy>(scores: &[T], top: usize, cmp: impl Fn(T, T) -> std::cmp::Ordering) -> Vec<usize> {
    let order = |a: &usize, b: &usize| cmp(scores[*b], scores[*a]).then(a.cmp(b));
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    if top < idx.len() {
        idx.select_nth_unstable_by(top, order);
        idx.truncate(top);
    }
    idx.sort_unstable_by(order);
    idx
}

pub(super) fn scored_top(graph: &EntityGraph, scores: &[f64], top: usize) -> Vec<ScoredEntity> {
    top_indices(scores, top, |a: f64, b: f64| a.total_cmp(&b))
        .into_iter()
        .map(|i| ScoredEntity { entity_id: graph.node_ids[i].clone(), score: scores[i] })
        .collect()
}

// petgraph's `algo::page_rank` is O(iterations·V²·E) and has neither a tolerance nor networkx's dangling-node
// handling, so this is the plain power iteration of `networkx.pagerank`, pulling along the in-edge CSR:
// O(iterations·(V+E)).
pub(super) fn pagerank(
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

pub(super) fn connected_components(graph: &EntityGraph, top: usize) -> ComponentsOutput {
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

pub(super) fn degree(graph: &EntityGraph, directed: bool, top: usize) -> DegreeOutput {
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

pub(super) fn betweenness(
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

pub(super) fn exact_betweenness(graph: &EntityGraph, directed: bool, normalized: bool) -> Vec<f64> {
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
pub(super) fn brandes_from(
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

pub(super) fn shortest_path(graph: &EntityGraph, directed: bool, q: &PathQuery, from: u32, to: u32) -> PathResult {
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
