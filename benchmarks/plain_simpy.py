"""A plain-SimPy model of the reference workload: the floor simcontinuum is compared against.

Written the way users usually write SimPy, on purpose:

* one generator process per source, drawing exponential gaps one at a time from its own seeded
  numpy ``Generator`` and starting one process per request;
* each request process does ``yield env.timeout(path_latency + size / bandwidth)`` to reach the
  replica node, ``with node.request() as req: yield req; yield env.timeout(work)`` on the node's
  ``simpy.Resource`` (capacity = cores), then ``yield env.timeout(return transfer)`` and appends
  its latency to a list;
* routes are networkx min-latency shortest paths, computed once per (source, replica) pair and
  cached (latency = sum of link latencies, bandwidth = bottleneck bandwidth). Each replica's
  shortest-path tree is computed once with ``single_source_dijkstra_path`` (the graph is
  undirected), which gives every (source, replica) pair at the cost of ten Dijkstra runs
  instead of one per source (per-pair ``nx.shortest_path`` takes ~11 s of setup at 10k).

For ``chain3`` each request walks the chain: work at a component, the call transfer to the next
component, ...; the responses then return along the chain and to the source (no work happens
after a call returns, so the return is one timeout of the summed transfers).

``python benchmarks/plain_simpy.py --scale x1`` runs one case and prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import (
    SCALES,
    app_of,
    build_links,
    chain_nodes,
    component_work_s,
    reference_topology_params,
)

Stage = tuple[simpy.Resource, float, float]  # (node resource, work seconds, transfer to next)


def build_graph(params: dict[str, Any]) -> nx.Graph:
    """The undirected link graph with ``latency`` (s) and ``bandwidth`` (bit/s) per edge."""
    kinds = {
        "far": params["far_link"],
        "edge_cloud": params["edge_cloud_link"],
        "ring": params["ring_link"],
    }
    graph = nx.Graph()
    for a, b, kind in build_links(int(params["n_edge"]), int(params["n_far"])):
        spec = kinds[kind]
        graph.add_edge(a, b, latency=spec["latency_s"], bandwidth=spec["bandwidth_bps"])
    return graph


class Routes:
    """Min-latency routes, cached per (source, destination) pair."""

    def __init__(self, graph: nx.Graph) -> None:
        self.graph = graph
        self._trees: dict[str, dict[str, list[str]]] = {}
        self._pairs: dict[tuple[str, str], tuple[float, float]] = {}

    def route(self, src: str, dst: str) -> tuple[float, float]:
        """``(latency_s, bottleneck_bandwidth_bps)`` of the min-latency path src → dst."""
        key = (src, dst)
        cached = self._pairs.get(key)
        if cached is not None:
            return cached
        # The graph is undirected: reuse a tree rooted at either end (the replica's, in practice).
        if src in self._trees:
            path = self._trees[src][dst]
        else:
            tree = self._trees.get(dst)
            if tree is None:
                tree = nx.single_source_dijkstra_path(self.graph, dst, weight="latency")
                self._trees[dst] = tree
            path = tree[src]
        latency, bandwidth = 0.0, float("inf")
        for u, v in itertools.pairwise(path):
            data = self.graph.edges[u, v]
            latency += data["latency"]
            bandwidth = min(bandwidth, data["bandwidth"])
        self._pairs[key] = (latency, bandwidth)
        return latency, bandwidth

    def transfer_s(self, src: str, dst: str, size_bytes: float) -> float:
        """Time for a message of ``size_bytes`` from src to dst (0 on the same node)."""
        if src == dst:
            return 0.0
        latency, bandwidth = self.route(src, dst)
        return latency + size_bytes * 8.0 / bandwidth


def request(
    env: simpy.Environment,
    out_s: float,
    stages: list[Stage],
    back_s: float,
    latencies: list[float],
) -> Generator[simpy.Event, Any, None]:
    """One request: travel to the replica, queue and work there (per stage), travel back."""
    start = env.now
    yield env.timeout(out_s)
    for node, work_s, next_s in stages:
        with node.request() as req:
            yield req
            yield env.timeout(work_s)
        if next_s:
            yield env.timeout(next_s)
    yield env.timeout(back_s)
    latencies.append(env.now - start)


def source(
    env: simpy.Environment,
    rng: np.random.Generator,
    mean_gap_s: float,
    out_s: float,
    stages: list[Stage],
    back_s: float,
    latencies: list[float],
    arrivals: list[int],
) -> Generator[simpy.Event, Any, None]:
    """A Poisson source: exponential gaps, one new process per request."""
    while True:
        yield env.timeout(rng.exponential(mean_gap_s))
        arrivals[0] += 1
        env.process(request(env, out_s, stages, back_s, latencies))


def run_plain(params: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    """Run the plain-SimPy model of ``params`` (see ``reference_topology_params``).

    Returns ``requests`` (arrivals within the horizon), ``completed``, ``mean_latency_s`` and
    ``p95_latency_s`` (completed requests), ``wall_s`` and ``cpu_s`` (process CPU time) of
    ``env.run`` only, and ``total_s`` (wall time of graph, routes, processes and run).
    """
    t_total = time.perf_counter()
    n_edge, n_far = int(params["n_edge"]), int(params["n_far"])
    n_apps, chain_length = int(params["n_apps"]), int(params["chain_length"])
    req_b, resp_b = float(params["request_bytes"]), float(params["response_bytes"])
    work_s = component_work_s(params)
    mean_gap_s = 1.0 / float(params["rate_per_source"])

    routes = Routes(build_graph(params))
    env = simpy.Environment()
    nodes = {
        f"edge-{i}": simpy.Resource(env, capacity=int(params["edge_cores"])) for i in range(n_edge)
    }

    # Per application: the stages and the summed response transfers back along the chain.
    app_plan: list[tuple[list[str], list[Stage], float]] = []
    for a in range(n_apps):
        hosts = chain_nodes(a, chain_length, n_edge)
        stages: list[Stage] = []
        back_chain = 0.0
        for k, host in enumerate(hosts):
            nxt = routes.transfer_s(host, hosts[k + 1], req_b) if k + 1 < len(hosts) else 0.0
            stages.append((nodes[host], work_s, nxt))
            if k + 1 < len(hosts):
                back_chain += routes.transfer_s(hosts[k + 1], host, resp_b)
        app_plan.append((hosts, stages, back_chain))

    latencies: list[float] = []
    arrivals = [0]
    seeds = np.random.SeedSequence(seed).spawn(n_far)
    for f in range(n_far):
        src = f"far-{f}"
        hosts, stages, back_chain = app_plan[app_of(f, n_apps)]
        out_s = routes.transfer_s(src, hosts[0], req_b)
        back_s = back_chain + routes.transfer_s(hosts[0], src, resp_b)
        rng = np.random.default_rng(seeds[f])
        env.process(source(env, rng, mean_gap_s, out_s, stages, back_s, latencies, arrivals))

    t_run, c_run = time.perf_counter(), time.process_time()
    env.run(until=float(params["horizon_s"]))
    wall_s, cpu_s = time.perf_counter() - t_run, time.process_time() - c_run
    total_s = time.perf_counter() - t_total

    lat = np.asarray(latencies)
    return {
        "requests": arrivals[0],
        "completed": len(latencies),
        "mean_latency_s": float(lat.mean()) if len(lat) else float("nan"),
        "p95_latency_s": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "total_s": total_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Run one case of the plain model and print its figures as JSON."""
    parser = argparse.ArgumentParser(description="plain-SimPy model of the reference benchmark")
    parser.add_argument("--scale", default="x1", choices=SCALES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=float, default=None, help="horizon in seconds")
    args = parser.parse_args(argv)
    params = reference_topology_params(args.scale)
    if args.horizon is not None:
        params["horizon_s"] = args.horizon
    out = run_plain(params, seed=args.seed)
    out["requests_per_s"] = out["requests"] / out["wall_s"]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
