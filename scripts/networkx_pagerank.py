"""networkx's PageRank on an edge list (`source target` per line) over
nodes 0..N-1, for `just bench jobs`. Prints JSON timings."""
import json
import sys
import time

import networkx as nx

path, nodes = sys.argv[1], int(sys.argv[2])
damping, max_iter, tol = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
started = time.perf_counter()
graph = nx.DiGraph()
graph.add_nodes_from(range(nodes))
with open(path) as f:
    graph.add_edges_from((int(s), int(t)) for s, t in (line.split() for line in f))
loaded = time.perf_counter()
ranks = nx.pagerank(graph, alpha=damping, max_iter=max_iter, tol=tol)
done = time.perf_counter()
top = max(ranks.values())
print(json.dumps({
    "networkx_version": nx.__version__,
    "networkx_load_seconds": round(loaded - started, 3),
    "networkx_pagerank_seconds": round(done - loaded, 3),
    "networkx_top_score": top,
}))
