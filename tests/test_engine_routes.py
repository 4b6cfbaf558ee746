"""Routes: reading a latency never changes routing, both directions are the same path each
listed its own way, and the latency matrix is the per-pair latency value for value.

Random topologies with many equal-latency alternatives (latencies from a small set) are where
a route could depend on which pairs were asked first; before routes were canonical, one
earlier ``latency()`` read changed the path of about one pair in six on such graphs.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from simcontinuum.engine.network import Routes
from simcontinuum.model import Link


def _links(seed: int, n: int = 8) -> list[Link]:
    rnd = np.random.default_rng(seed)
    nodes = [f"n{i}" for i in range(n)]
    lat = (0.001, 0.002, 0.003, 0.0015)

    def link(a: str, b: str) -> Link:
        return Link(a, b, lat[int(rnd.integers(len(lat)))], (1e6, 1e9)[int(rnd.integers(2))])

    links = [link(nodes[i], nodes[int(rnd.integers(i))]) for i in range(1, n)]
    for _ in range(4):
        a, b = (nodes[int(k)] for k in rnd.choice(n, 2, replace=False))
        if not any({a, b} == {lk.a, lk.b} for lk in links):
            links.append(link(a, b))
    return links


def _routes(links: list[Link]) -> Routes:
    g = nx.Graph()
    for lk in links:
        g.add_edge(lk.a, lk.b, latency=lk.latency)
    return Routes(g, {frozenset((lk.a, lk.b)): lk for lk in links})


@pytest.mark.parametrize("seed", range(40))
def test_reading_latencies_first_never_changes_a_route(seed: int) -> None:
    links = _links(seed)
    nodes = sorted({lk.a for lk in links} | {lk.b for lk in links})
    rnd = np.random.default_rng(seed)
    pairs = list(itertools.permutations(nodes, 2))
    for a, b in pairs:
        fresh = _routes(links).route(a, b)
        disturbed = _routes(links)
        for k in rnd.choice(len(pairs), 5, replace=False):
            x, y = pairs[int(k)]
            disturbed.latency(x, y)  # what a policy (or the boundary) might read first
        assert disturbed.route(a, b) == fresh, (a, b)


@pytest.mark.parametrize("seed", range(10))
def test_both_directions_are_one_path_each_listed_its_own_way(seed: int) -> None:
    links = _links(seed)
    routes = _routes(links)
    nodes = sorted({lk.a for lk in links} | {lk.b for lk in links})
    for a, b in itertools.combinations(nodes, 2):
        there, back = routes.route(a, b), routes.route(b, a)
        assert there is not None and back is not None
        assert there.links[0][0] == a and there.links[-1][1] == b
        assert back.links == tuple((y, x) for x, y in reversed(there.links))
        assert (back.latency, back.bandwidth) == (there.latency, there.bandwidth)
        assert there.latency == sum(
            routes._links[frozenset(h)].latency for h in (there if a < b else back).links
        )


@pytest.mark.parametrize("seed", range(10))
def test_latency_matrix_is_the_pairwise_latency(seed: int) -> None:
    links = _links(seed)
    nodes = sorted({lk.a for lk in links} | {lk.b for lk in links}, reverse=seed % 2 == 1)
    nodes.append("island")  # a node with no link: unreachable both ways
    g = nx.Graph()
    for lk in links:
        g.add_edge(lk.a, lk.b, latency=lk.latency)
    g.add_node("island")
    matrix = Routes(g, {frozenset((lk.a, lk.b)): lk for lk in links}).latency_matrix(nodes)
    pairwise = Routes(g, {frozenset((lk.a, lk.b)): lk for lk in links})
    assert matrix == [[pairwise.latency(a, b) for b in nodes] for a in nodes]
    assert matrix[-1][0] == float("inf") and matrix[-1][-1] == 0.0
