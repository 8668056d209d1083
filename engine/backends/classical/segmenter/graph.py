"""Inference on the superpixel graph: geodesic distances from the clicks, an edge-aware smoothing
solve (random walker with priors) and connectivity to the positive clicks. Pure functions of arrays,
so each piece is testable on its own."""

from __future__ import annotations

import heapq

import numpy as np


def geodesic_distance(neighbours: list, count: int, seeds: dict[int, float]) -> np.ndarray:
    """Multi-source Dijkstra: the cheapest path cost from any seed (node → starting cost) to each node.
    Edge costs are high across colour edges, so a region enclosed by strong edges is 'near' its click."""
    dist = np.full(count, np.inf)
    heap = []
    for node, start in seeds.items():
        if start < dist[node]:
            dist[node] = start
            heap.append((start, node))
    heapq.heapify(heap)
    dist_list = dist.tolist()
    while heap:
        d, node = heapq.heappop(heap)
        if d > dist_list[node]:
            continue
        for other, cost in neighbours[node]:
            nd = d + cost
            if nd < dist_list[other]:
                dist_list[other] = nd
                heapq.heappush(heap, (nd, other))
    return np.array(dist_list)


def smooth_solve(edges: np.ndarray, weights: np.ndarray, target: np.ndarray, strength: np.ndarray,
                 fixed: dict[int, float], iterations: int = 150) -> np.ndarray:
    """Minimise Σ strength_i (x_i − target_i)² + Σ w_ij (x_i − x_j)² with x fixed at clicked nodes
    (Grady's random walker with priors), by Jacobi iterations, which are vectorised edge sums.
    Strong edges get tiny w, so labels flow inside regions but not across object boundaries."""
    n = len(target)
    i, j = edges[:, 0], edges[:, 1]
    degree = np.bincount(i, weights, n) + np.bincount(j, weights, n)
    x = target.astype(np.float64).copy()
    fixed_nodes = np.fromiter(fixed.keys(), int, len(fixed))
    fixed_values = np.fromiter(fixed.values(), float, len(fixed))
    x[fixed_nodes] = fixed_values
    denom = strength + degree + 1e-9
    base = strength * target
    for _ in range(iterations):
        flow = np.bincount(i, weights * x[j], n) + np.bincount(j, weights * x[i], n)
        x = (base + flow) / denom
        x[fixed_nodes] = fixed_values
    return x


def connected_to(selected: np.ndarray, edges: np.ndarray, sources: list[int]) -> np.ndarray:
    """The selected nodes reachable from `sources` through selected nodes (flood fill on the graph)."""
    keep = np.zeros(len(selected), bool)
    both = selected[edges[:, 0]] & selected[edges[:, 1]]
    inside = edges[both]
    if not len(sources):
        return keep
    n = len(selected)
    # symmetric adjacency in CSR form for a vectorised frontier expansion
    src = np.concatenate([inside[:, 0], inside[:, 1]])
    dst = np.concatenate([inside[:, 1], inside[:, 0]])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(n + 1))
    frontier = np.array([s for s in sources if selected[s]], int)
    keep[frontier] = True
    while len(frontier):
        nxt = np.unique(np.concatenate([dst[start[f]:start[f + 1]] for f in frontier]))
        nxt = nxt[~keep[nxt]]
        keep[nxt] = True
        frontier = nxt
    return keep
