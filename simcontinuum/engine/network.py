"""The network: an undirected ``networkx`` graph of links, with min-latency routes on demand.

A message of ``size`` bytes from node a to node b takes ``latency(path) + 8 * size /
bottleneck_bandwidth(path)`` seconds (no contention mode). Routes are never computed all-pairs:
a single-source Dijkstra runs from one end the first time a pair is asked for, and both the
search and the pair are cached until a link changes state. Same node: zero.

Invariants: ``route(a, b)`` and ``route(b, a)`` describe the same path (links are undirected);
a pair with no path gives ``None``; no route passes through a link or a node that is down.
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
        route = self._compute(a, b)
        self._pairs[key] = route
        self._pairs[(b, a)] = route
        return route

    def latency(self, a: str, b: str) -> float:
        """Path latency in seconds (``inf`` when unreachable)."""
        r = self.route(a, b)
        return float("inf") if r is None else r.latency

    def _search(self, root: str) -> tuple[dict[str, list[str]], dict[str, float]]:
        found = self._preds.get(root)
        if found is None:
            found = nx.dijkstra_predecessor_and_distance(self.graph, root, weight="latency")
            self._preds[root] = found
        return found

    def _compute(self, a: str, b: str) -> Route | None:
        # Search from whichever end was searched before; otherwise from b, the callee side,
        # since many callers share a few replica hosts.
        if a in self._preds and b not in self._preds:
            root, other = a, b
        else:
            root, other = b, a
        preds, dist = self._search(root)
        if other not in dist:
            return None
        path = [other]
        while path[-1] != root:
            path.append(preds[path[-1]][0])
        hops = list(itertools.pairwise(path))
        if root == a:  # path runs other(b) -> root(a): reverse it to go a -> b
            hops = [(y, x) for x, y in reversed(hops)]
        links = [self._links[frozenset(h)] for h in hops]
        return Route(
            latency=sum(lk.latency for lk in links),
            bandwidth=min(lk.bandwidth for lk in links),
            egress_price_per_byte=sum(lk.egress_price_per_gb for lk in links) / 1e9,
            links=tuple(hops),
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
