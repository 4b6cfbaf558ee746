"""Generated infrastructure: clusters, nodes, node groups and links as scenario-file data.

Two layouts:

- :func:`sites` (smart-city, industrial-iot, video-analytics): a cloud (``cloud-0`` plus up to
  three instance-type node groups behind it) and edge sites. A site is a cluster with a
  gateway node ``s<k>-gw`` (linked to ``cloud-0`` and, as a metro ring, to the next site's
  gateway) and one or two node groups of workers (``s<k>-w-*``, ``s<k>-x-*``) behind it; about
  sqrt(edge nodes) sites unless ``site_size`` says otherwise. Hardware is drawn per site and
  per node group, so sites differ while the file stays small.
- :func:`geometric` (random): locations drawn in the unit square; the ones nearest the centre
  are cloud data centres, the next ring edge zones, the outermost device clusters ("tiers by
  distance"). A data centre or zone is a cluster: a hub node (``cloud-<i>``, ``edge-<i>``)
  and a node group behind it. Hubs are linked to their three nearest hubs (plus the shortest
  links that make the graph connected), latency growing with distance; a device cluster
  attaches to the nearest edge hub. About sqrt(n) locations per tier keep the file small.

Both leave the far-edge devices to the caller as :class:`Attach` points (a node and how many
devices hang off it), because devices belong to applications, which come later. Draws come
from the generator passed in, never from global state.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simcontinuum.generate.units import bandwidth, memory, ms, rounded
from simcontinuum.scenario.units import parse_duration

Rng = np.random.Generator


@dataclass
class Attach:
    """Where devices attach: ``count`` far-edge devices linked to ``node``; ``name`` is unique
    and short (it names the device groups)."""

    name: str
    node: str
    cluster: int  # index into Infra.clusters
    count: int
    latency: tuple[float, float]  # device link latency range, seconds


@dataclass(frozen=True)
class NodeKind:
    """Hardware shared by ``count`` nodes (one named node, or one node group): what the load
    calibration needs to know about the nodes a component may use."""

    name: str  # node id, or node group prefix
    tier: str
    cores: int
    speed: float
    gpu_speedup: float  # 1.0 without a GPU
    labels: frozenset[str]
    count: int

    @property
    def capacity(self) -> float:
        """Cores x speed of one node: core-seconds of reference work it does per second."""
        return self.cores * self.speed


@dataclass
class Infra:
    """The generated infrastructure so far (documents, plus what later steps need)."""

    clusters: list[dict[str, Any]]
    links: list[dict[str, Any]]
    attach: list[Attach]
    registry: str
    edge_nodes: list[str] = field(default_factory=list)  # named edge nodes (outage targets)
    kinds: list[NodeKind] = field(default_factory=list)  # every node, by hardware

    def add(self, name: str, fields: dict[str, Any], count: int = 1) -> None:
        """Count ``count`` nodes with the hardware ``fields`` (a node or node group document)
        called ``name`` (node id or group prefix)."""
        tier = str(fields["tier"])
        gpu = fields.get("gpu")
        speedup = float(gpu["speedup"]) if gpu else 1.0
        labels = frozenset(fields.get("labels", ()))
        cores, speed = int(fields["cores"]), float(fields["speed"])
        self.kinds.append(NodeKind(name, tier, cores, speed, speedup, labels, count))


class Distances:
    """One-way latency (seconds) of min-latency paths over ``links`` (scenario link documents)
    between named nodes and node groups; a group stands for each of its members. Searches are
    cached per source; links added later are not seen (devices are leaves: no path needs them).

    >>> d = Distances([{"a": "gw", "b": "cloud-0", "latency": "20ms"},
    ...                {"group": "gw-w", "b": "gw", "latency": "1ms"}])
    >>> round(d.source("gw-w")["cloud-0"], 6)
    0.021
    """

    def __init__(self, links: list[dict[str, Any]]) -> None:
        adj: dict[str, list[tuple[str, float]]] = {}
        for link in links:
            a, b = str(link.get("a") or link["group"]), str(link["b"])
            lat = parse_duration(link["latency"])
            adj.setdefault(a, []).append((b, lat))
            adj.setdefault(b, []).append((a, lat))
        self._adj = adj
        self._cache: dict[str, dict[str, float]] = {}

    def source(self, src: str) -> dict[str, float]:
        """Latency from ``src`` to every node or group it reaches (itself: 0)."""
        if src in self._cache:
            return self._cache[src]
        dist = {src: 0.0}
        heap = [(0.0, src)]
        while heap:
            d, v = heapq.heappop(heap)
            if d > dist[v]:
                continue
            for w, lat in self._adj.get(v, ()):
                nd = d + lat
                if nd < dist.get(w, math.inf):
                    dist[w] = nd
                    heapq.heappush(heap, (nd, w))
        self._cache[src] = dist
        return dist


def tier_counts(n: int, mix: dict[str, float]) -> tuple[int, int, int]:
    """``(cloud, edge, far_edge)`` node counts for ``n`` nodes: at least one cloud and one edge.

    >>> tier_counts(100, {"cloud": 0.02, "edge": 0.13, "far_edge": 0.85})
    (2, 13, 85)
    >>> tier_counts(2, {"cloud": 0.0, "edge": 0.0, "far_edge": 1.0})
    (1, 1, 0)
    """
    total = sum(mix.get(t, 0.0) for t in ("cloud", "edge", "far_edge")) or 1.0
    cloud = max(1, round(n * mix.get("cloud", 0.0) / total))
    edge = max(1, round(n * mix.get("edge", 0.0) / total))
    while cloud + edge > n and (cloud > 1 or edge > 1):
        if cloud >= edge and cloud > 1:
            cloud -= 1
        else:
            edge -= 1
    far = n - cloud - edge
    if mix.get("far_edge", 0.0) == 0.0:
        edge, far = edge + far, 0
    return cloud, edge, far


def draw(rng: Rng, r: tuple[float, float]) -> float:
    """Uniform in ``[low, high]`` (the value itself when they are equal)."""
    lo, hi = r
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def draw_int(rng: Rng, r: tuple[float, float]) -> int:
    """A whole number uniform in ``[low, high]``."""
    lo, hi = int(r[0]), int(r[1])
    return lo if hi <= lo else int(rng.integers(lo, hi + 1))


class _Hardware:
    """Draws node hardware for one tier from the parameters."""

    def __init__(self, params: dict[str, Any], rng: Rng) -> None:
        self.p = params
        self.rng = rng

    def fields(self, tier: str, extra_labels: tuple[str, ...] = ()) -> dict[str, Any]:
        p, rng = self.p, self.rng
        cores = draw_int(rng, p["cores"].get(tier, (1, 1)))
        speed = rounded(draw(rng, p["speed"].get(tier, (1.0, 1.0))), 3)
        out: dict[str, Any] = {"tier": tier, "cores": cores, "speed": speed}
        out["memory"] = memory(cores * p["memory_per_core"])
        labels = list(extra_labels)
        if rng.random() < p["gpu_share"].get(tier, 0.0):
            speedup = rounded(draw(rng, p["gpu_speedup"]), 3)
            model = "a100" if tier == "cloud" else "t4"
            out["gpu"] = {"model": model, "count": 1, "speedup": speedup}
            labels.append("gpu")
        if labels:
            out["labels"] = labels
        per_hour = rounded(draw(rng, p["price"].get(tier, (0.0, 0.0))), 4)
        if tier == "cloud":
            price: dict[str, Any] = {"per_hour": per_hour, "billing": "when_active"}
            if p["core_price"]:
                price["per_core_hour"] = p["core_price"]
            out["price"] = price
        elif per_hour:
            out["price"] = {"per_hour": per_hour, "billing": "always"}
        if tier == "far_edge":
            out["power"] = {"idle_w": 2, "max_w": 5 + 2 * cores}
        else:
            idle = 10 + 3 * cores
            out["power"] = {"idle_w": idle, "max_w": idle + 8 * cores}
        return out


def _link(a: str, b: str, lat: float, bw: float, group: bool = False) -> dict[str, Any]:
    return {("group" if group else "a"): a, "b": b, "latency": ms(lat), "bandwidth": bandwidth(bw)}


def _cloud(p: dict[str, Any], hw: _Hardware, rng: Rng, n_cloud: int, infra: Infra) -> None:
    """``cloud-0`` plus up to three instance-type groups behind it."""
    head = {"id": "cloud-0", **hw.fields("cloud")}
    cluster: dict[str, Any] = {"id": "cloud", "nodes": [head]}
    infra.add("cloud-0", head)
    rest = n_cloud - 1
    kinds = min(rest, 3)
    groups = []
    for k in range(kinds):
        count = rest // kinds + (1 if k < rest % kinds else 0)
        fields = hw.fields("cloud")
        prefix = f"cloud-{'abc'[k]}"
        groups.append({"prefix": prefix, "count": count, **fields})
        infra.add(prefix, fields, count)
        lat, bw = draw(rng, p["latency"]["site"]), draw(rng, p["bandwidth"]["site"])
        infra.links.append(_link(prefix, "cloud-0", lat, bw, group=True))
    if groups:
        cluster["node_groups"] = groups
    infra.clusters.append(cluster)


def _site_sizes(rng: Rng, n_edge: int, size: tuple[float, float] | None) -> list[int]:
    """Sizes of the edge sites: drawn from ``size``, or around sqrt(n_edge) when None."""
    if size is None:
        mean = max(2, round(math.sqrt(n_edge)))
        size = (max(1, mean // 2), mean + mean // 2)
    sizes: list[int] = []
    left = n_edge
    while left > 0:
        s = min(left, max(1, draw_int(rng, size)))
        sizes.append(s)
        left -= s
    return sizes


def sites(n_nodes: int, p: dict[str, Any], rng: Rng) -> Infra:
    """A cloud and edge sites (see the module docstring); devices are left as attach points."""
    n_cloud, n_edge, n_far = tier_counts(n_nodes, p["tier_mix"])
    infra = Infra([], [], [], "cloud-0")
    hw = _Hardware(p, rng)
    _cloud(p, hw, rng, n_cloud, infra)
    sizes = _site_sizes(rng, n_edge, p["site_size"])
    gateways: list[str] = []
    for k, size in enumerate(sizes):
        gw = f"s{k}-gw"
        gateways.append(gw)
        node = {"id": gw, **hw.fields("edge")}
        cluster: dict[str, Any] = {"id": f"site-{k}", "nodes": [node]}
        infra.add(gw, node)
        infra.edge_nodes.append(gw)
        lat, bw = draw(rng, p["latency"]["cloud"]), draw(rng, p["bandwidth"]["cloud"])
        uplink = _link(gw, "cloud-0", lat, bw)
        if p["egress_price"]:
            uplink["egress_price_per_gb"] = p["egress_price"]
        infra.links.append(uplink)
        workers = size - 1
        kinds = [workers] if workers < 4 else [workers // 2, workers - workers // 2]
        for j, count in enumerate(c for c in kinds if c > 0):
            fields = hw.fields("edge")
            prefix = f"s{k}-{'wx'[j]}"
            cluster.setdefault("node_groups", []).append(
                {"prefix": prefix, "count": count, **fields}
            )
            infra.add(prefix, fields, count)
            lat, bw = draw(rng, p["latency"]["site"]), draw(rng, p["bandwidth"]["site"])
            infra.links.append(_link(prefix, gw, lat, bw, group=True))
        infra.clusters.append(cluster)
    ring = list(zip(gateways, gateways[1:] + gateways[:1], strict=True))
    for a, b in ring[: len(gateways) if len(gateways) > 2 else len(gateways) - 1]:
        lat, bw = draw(rng, p["latency"]["metro"]), draw(rng, p["bandwidth"]["metro"])
        infra.links.append(_link(a, b, lat, bw))
    weights = np.asarray(sizes, dtype=float)
    counts = rng.multinomial(n_far, weights / weights.sum()) if n_far else np.zeros(len(sizes))
    for k, gw in enumerate(gateways):
        infra.attach.append(Attach(f"s{k}", gw, k + 1, int(counts[k]), p["latency"]["device"]))
    return infra


# ----------------------------------------------------------------------------- geometric


def _knn_edges(points: np.ndarray, k: int) -> set[tuple[int, int]]:
    """Links to each point's ``k`` nearest neighbours, plus the shortest links that make the
    graph connected."""
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    edges: set[tuple[int, int]] = set()
    kk = min(k, len(points) - 1)
    if kk > 0:
        nearest = np.argsort(d, axis=1, kind="stable")[:, :kk]
        for i, row in enumerate(nearest):
            for j in row:
                edges.add((min(i, int(j)), max(i, int(j))))
    _connect(d, edges)
    return edges


def _connect(d: np.ndarray, edges: set[tuple[int, int]]) -> None:
    """Add the shortest link from the component of point 0 to the rest until connected."""
    n = len(d)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    while True:
        root = find(0)
        inside = np.array([find(i) == root for i in range(n)])
        if inside.all():
            return
        rows, cols = np.flatnonzero(inside), np.flatnonzero(~inside)
        sub = d[np.ix_(rows, cols)]
        i, j = np.unravel_index(int(np.argmin(sub)), sub.shape)
        a, b = int(rows[i]), int(cols[j])
        edges.add((min(a, b), max(a, b)))
        parent[find(a)] = find(b)


def _split(rng: Rng, total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` positive-ish shares at random (each >= 1 if possible)."""
    if parts <= 0:
        return []
    base = [1] * min(parts, total) + [0] * max(0, parts - total)
    extra = total - sum(base)
    if extra > 0:
        base = [
            b + int(x)
            for b, x in zip(base, rng.multinomial(extra, [1 / parts] * parts), strict=True)
        ]
    return base


def geometric(n_nodes: int, p: dict[str, Any], rng: Rng) -> Infra:
    """A random geometric continuum with tiers by distance from the centre (module docstring)."""
    n_cloud, n_edge, n_far = tier_counts(n_nodes, p["tier_mix"])
    m_cloud = max(1, round(math.sqrt(n_cloud) / 2))
    m_edge = _location_count(n_edge, p["site_size"])
    m_dev = max(1, round(math.sqrt(n_far))) if n_far else 0
    pts = rng.random((m_cloud + m_edge + m_dev, 2))
    order = np.argsort(np.hypot(pts[:, 0] - 0.5, pts[:, 1] - 0.5), kind="stable")
    pts = pts[order]
    infra = Infra([], [], [], "cloud-0")
    hw = _Hardware(p, rng)
    hubs: list[str] = []
    counts = _split(rng, n_cloud, m_cloud) + _split(rng, n_edge, m_edge)
    for i, count in enumerate(counts):
        tier, j = ("cloud", i) if i < m_cloud else ("edge", i - m_cloud)
        hub = f"{tier}-{j}"
        hubs.append(hub)
        x, y = pts[i]
        location = [rounded(23.0 + float(x), 5), rounded(37.5 + float(y), 5)]
        node = {"id": hub, **hw.fields(tier), "location": location}
        cluster: dict[str, Any] = {"id": f"{'dc' if tier == 'cloud' else 'zone'}-{j}"}
        cluster["nodes"] = [node]
        infra.add(hub, node)
        if tier == "edge":
            infra.edge_nodes.append(hub)
        if count > 1:
            fields = {**hw.fields(tier), "location": location}
            cluster["node_groups"] = [{"prefix": f"{hub}-n", "count": count - 1, **fields}]
            infra.add(f"{hub}-n", fields, count - 1)
            lat, bw = draw(rng, p["latency"]["site"]), draw(rng, p["bandwidth"]["site"])
            infra.links.append(_link(f"{hub}-n", hub, lat, bw, group=True))
        infra.clusters.append(cluster)
    hub_pts = pts[: len(hubs)]
    for a, b in sorted(_knn_edges(hub_pts, 3)):
        d = float(np.hypot(*(hub_pts[a] - hub_pts[b])))
        clouds = (a < m_cloud) + (b < m_cloud)
        cls = ("metro", "cloud", "site")[clouds]
        lat = _by_distance(p["latency"][cls], d)
        link = _link(hubs[a], hubs[b], lat, draw(rng, p["bandwidth"][cls]))
        if cls == "cloud" and p["egress_price"]:
            link["egress_price_per_gb"] = p["egress_price"]
        infra.links.append(link)
    if m_dev:
        dev_pts = pts[len(hubs) :]
        first = m_cloud if m_edge else 0
        targets = hub_pts[first:]
        for i, ((x, y), count) in enumerate(zip(dev_pts, _split(rng, n_far, m_dev), strict=True)):
            d = np.hypot(targets[:, 0] - x, targets[:, 1] - y)
            t = int(np.argmin(d))
            lat = _by_distance(p["latency"]["device"], float(d[t]))
            infra.attach.append(Attach(f"d{i}", hubs[first + t], first + t, count, (lat, lat)))
    return infra


def _by_distance(r: tuple[float, float], d: float) -> float:
    """A latency in range ``r`` growing linearly with distance ``d`` (the square's
    half-diagonal and beyond get the top of the range)."""
    return r[0] + min(1.0, d / math.sqrt(0.5)) * (r[1] - r[0])


def _location_count(n: int, size: tuple[float, float] | None) -> int:
    """How many sites (zones) hold ``n`` edge nodes: about sqrt(n), or from ``site_size``."""
    if n <= 0:
        return 0
    if size is None:
        return max(1, round(math.sqrt(n)))
    return max(1, round(n / max(1.0, (size[0] + size[1]) / 2)))


__all__ = [
    "Attach",
    "Distances",
    "Infra",
    "NodeKind",
    "draw",
    "draw_int",
    "geometric",
    "sites",
    "tier_counts",
]
