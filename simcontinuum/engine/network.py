"""The network: an undirected ``networkx`` graph of links, with min-latency routes on demand.

A message of ``size`` bytes from node a to node b takes ``latency(path) + 8 * size /
bottleneck_bandwidth(path)`` seconds (no contention mode). Routes are never computed all-pairs
unless asked (:meth:`Routes.latency_matrix`): a single-source Dijkstra runs from the pair's
lower id the first time the pair is asked for, and both the search and the pair are cached
until a link changes state. Same node: zero.

Invariants: ``route(a, b)`` and ``route(b, a)`` are the same path, each listing its links in
its own direction (a contended link is a queue per direction); a pair with no path gives
``None``; no route passes through a link or a node that is down. The path of a pair, among
equal-latency ones, does not depend on which pairs were asked before: it is always the one
the search from the lower id finds, so reading a latency (a policy's ``view.latency``, the
boundary's latency matrix) never changes how later messages are routed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import networkx as nx

from simcontinuum.model import Link, Topology


@dataclass(frozen=True, slots=True)
class Route:
    """A path between two nodes, with what a transfer over it needs."""

    latency: float  # seconds, sum over links
    bandwidth: float  # bits/s, bottleneck (inf for the same node)
    egress_price_per_byte: float  # sum over billable links
    links: tuple[tuple[str, str], ...]  # each link as (a, b) in path order

    def transfer_time(self, size: float) -> float:
        """Seconds to move ``size`` bytes along this route."""
        return self.latency + (8.0 * size / self.bandwidth if size else 0.0)

    def reverse(self) -> Route:
        """The same path, the other way (its links listed from the other end)."""
        back = tuple((y, x) for x, y in reversed(self.links))
        return Route(self.latency, self.bandwidth, self.egress_price_per_byte, back)


LOCAL = Route(0.0, float("inf"), 0.0, ())


class Routes:
    """Min-latency routes over one state of the network (an immutable graph), cached.

    The network makes a new ``Routes`` whenever a link or node changes state, so an old one
    keeps answering as of its time: a policy's view binds to the ``Routes`` of its call.
    """

    def __init__(self, graph: nx.Graph, links: dict[frozenset[str], Link]) -> None:
        self.graph = graph  # never mutated once routes are asked for
        self._links = links
        self._preds: dict[str, tuple[dict[str, list[str]], dict[str, float]]] = {}
        self._pairs: dict[tuple[str, str], Route | None] = {}

    def route(self, a: str, b: str) -> Route | None:
        """The min-latency route from ``a`` to ``b``, or ``None`` when unreachable."""
        if a == b:
            return LOCAL
        key = (a, b)
        if key in self._pairs:
            return self._pairs[key]
        lo, hi = (a, b) if a < b else (b, a)
        route = self._compute(lo, hi)
        self._pairs[(lo, hi)] = route
        self._pairs[(hi, lo)] = None if route is None else route.reverse()
        return self._pairs[key]

    def latency(self, a: str, b: str) -> float:
        """Path latency in seconds (``inf`` when unreachable)."""
        r = self.route(a, b)
        return float("inf") if r is None else r.latency

    def latency_matrix(self, ids: list[str]) -> list[list[float]]:
        """``[[latency(a, b) for b in ids] for a in ids]``, equal to it value for value, with
        one search per node instead of a route per pair (the policy boundary sends it)."""
        dist = [self._search(a)[1] for a in ids]
        inf = float("inf")
        return [
            [
                0.0 if a == b else (dist[i].get(b, inf) if a < b else dist[j].get(a, inf))
                for j, b in enumerate(ids)
            ]
            for i, a in enumerate(ids)
        ]

    def _search(self, root: str) -> tuple[dict[str, list[str]], dict[str, float]]:
        found = self._preds.get(root)
        if found is None:
            found = nx.dijkstra_predecessor_and_distance(self.graph, root, weight="latency")
            self._preds[root] = found
        return found

    def _compute(self, lo: str, hi: str) -> Route | None:
        """The route ``lo -> hi`` found by the search from ``lo``. Its latency is the search's
        distance: the link latencies added from ``lo`` outward, as the sum over the links."""
        preds, dist = self._search(lo)
        if hi not in dist:
            return None
        path = [hi]
        while path[-1] != lo:
            path.append(preds[path[-1]][0])
        path.reverse()
        hops = tuple(itertools.pairwise(path))
        links = [self._links[frozenset(h)] for h in hops]
        return Route(
            latency=dist[hi],
            bandwidth=min(lk.bandwidth for lk in links),
            egress_price_per_byte=sum(lk.egress_price_per_gb for lk in links) / 1e9,
            links=hops,
        )


class Network:
    """Routes between nodes of one topology; owned by one simulation."""

    def __init__(self, topology: Topology) -> None:
        graph = nx.Graph()
        graph.add_nodes_from(n.id for n in topology.nodes)
        self._links: dict[frozenset[str], Link] = {}
        for link in topology.links:
            self._links[frozenset((link.a, link.b))] = link
            graph.add_edge(link.a, link.b, latency=link.latency)
        self._down: set[frozenset[str]] = set()  # links down
        self._nodes_down: set[str] = set()  # nodes down that carry routes
        self.current = Routes(graph, self._links)
        self.version = 0  # bumped whenever routes may have changed

    @property
    def graph(self) -> nx.Graph:
        """The graph of the links and nodes up now (do not mutate)."""
        return self.current.graph

    def link(self, a: str, b: str) -> Link:
        """The link between ``a`` and ``b`` (KeyError if none)."""
        return self._links[frozenset((a, b))]

    def route(self, a: str, b: str) -> Route | None:
        """The min-latency route from ``a`` to ``b`` now, or ``None`` when unreachable."""
        return self.current.route(a, b)

    def latency(self, a: str, b: str) -> float:
        """Path latency in seconds now (``inf`` when unreachable)."""
        return self.current.latency(a, b)

    def set_link_up(self, a: str, b: str, up: bool) -> None:
        """Take a link down or bring it back; routes are computed anew."""
        key = frozenset((a, b))
        if up:
            self._down.discard(key)
        else:
            self._down.add(key)
        self._rebuild([key])

    def set_node_up(self, nid: str, up: bool) -> bool:
        """A failed node forwards nothing: its links leave the graph until it recovers.

        Returns whether routes may have changed (a node with one link carries no route
        but its own, so nothing is recomputed for it)."""
        incident = [k for k in self._links if nid in k]
        if len(incident) <= 1:
            return False
        if up:
            self._nodes_down.discard(nid)
        else:
            self._nodes_down.add(nid)
        self._rebuild(incident)
        return True

    def _rebuild(self, keys: list[frozenset[str]]) -> None:
        """A new graph (copy on write) with each link in ``keys`` present iff it and both
        its ends are up; older ``Routes`` keep their graph."""
        graph = self.current.graph.copy()
        for key in keys:
            link = self._links[key]
            usable = key not in self._down and not (key & self._nodes_down)
            present = graph.has_edge(link.a, link.b)
            if usable and not present:
                graph.add_edge(link.a, link.b, latency=link.latency)
            elif present and not usable:
                graph.remove_edge(link.a, link.b)
        self.current = Routes(graph, self._links)
        self.version += 1
