"""Generated applications, their devices and their load.

An application is drawn from a :class:`Profile` (the kind of app a template knows: a video
pipeline, a control loop, ...): its size and DAG shape, then per component the cpu/memory
requests, work, image, placement and GPU affinity. Devices (far-edge node groups, one per
attach point and application) send it requests.

Load is calibrated per component, not against the whole continuum: a component starts with
``replicas.min: 1`` replica, a static policy places just that, and a replica only uses the
cores of its one node. With ``load`` = u (:func:`workload`):

- *rate* (:func:`app_rate`): an application's mean rate is the largest at which each of its
  components' peak demand (rate at the diurnal peak x visits per request x mean work) is at
  most ``min(0.8, u x peak factor)`` (u itself when u > 0.8: an overload asked for) of the
  cores x speed of its *reference node* (:func:`reference`: the lower quartile of the
  non-far-edge nodes its constraints allow; a GPU's speed-up counts only when a GPU is
  required). So at the mean the busiest component keeps about u of such a node busy. The
  rate is then capped at ``device_rate`` per device of the profile's kind (cameras up to 30
  fps, sensors 2/s, ...): with few devices that cap, not ``load``, sets the rate; with many
  the per-device rate falls. It is split evenly over the devices.
- *requests* (:func:`size_requests`): a component's cpu request is raised to its peak busy
  cores on its reference node over 0.8, as an operator sizes requests from measured use, so
  that packing replicas onto one node (a latency-greedy policy puts whole applications on
  the gateway nearest their devices) cannot oversubscribe it by much.
- *SLO* (:func:`service_p95`, :func:`network_quantile`): the drawn p95 target is raised to
  what a latency-aware placement can meet: the network round trip of 80% of the requests to
  the entry node nearest the devices (rate-weighted), plus 1.25 x the estimated p95 of the
  compute and call time on the critical path. Placements far from the devices (the cloud,
  other sites) then miss it, which is what makes the challenge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simcontinuum.generate.topology import Distances, Infra, NodeKind, draw, draw_int
from simcontinuum.generate.units import bandwidth, memory, ms, rounded, seconds, size
from simcontinuum.scenario.units import parse_bandwidth, parse_duration, parse_size

Rng = np.random.Generator
WORK_DISTS = ("exponential", "lognormal", "constant")


@dataclass(frozen=True)
class Profile:
    """A kind of application a template generates.

    Attributes:
        name: application id prefix (``video`` -> ``video-0``).
        components: component names, in DAG order (cycled with a suffix when the app is
            larger).
        device: device group prefix (``cam`` -> ``cam0-s3-*``); label: the devices' label and
            kind (its ``device_rate`` caps what one device sends).
        arrival: ``periodic`` or ``poisson`` (poisson becomes diurnal when the template's
            ``diurnal_amplitude`` > 0); ``random`` draws one per application.
        gpu: index of the component with GPU affinity (``accelerator: gpu``), or None.
        gpu_required: that component may only run on nodes labelled ``gpu``.
        gpu_work: work multiplier of the GPU component ("GPU-hungry").
        tiers: allowed tiers of every component; ``tail_tiers``: of the last one, if given.
        random_tiers: draw the tiers per component instead (edge+cloud, edge, or cloud).
        request_scale: multiplier of the ``request_size`` parameter for device requests.
        slo_scale: multiplier of the ``slo`` parameter; shape: overrides ``app_shape``.
    """

    name: str
    components: tuple[str, ...]
    device: str
    label: str
    arrival: str = "poisson"
    gpu: int | None = None
    gpu_required: bool = False
    gpu_work: float = 1.0
    tiers: tuple[str, ...] = ("edge", "cloud")
    tail_tiers: tuple[str, ...] | None = None
    random_tiers: bool = False
    request_scale: float = 1.0
    slo_scale: float = 1.0
    min_size: int = 1
    shape: str | None = None


@dataclass
class AppDraft:
    """One application document plus what the workload step needs."""

    doc: dict[str, Any]
    profile: Profile
    arrival: str
    request_size: float
    response_size: float
    visits: dict[str, int]  # component -> visits per request (call paths from the entry)
    slo: float  # the drawn p95 latency target (seconds), before the achievability floor


def dag(shape: str, n: int, rng: Rng) -> list[tuple[int, int]]:
    """Call edges ``(caller, callee)`` of a DAG on components ``0..n-1`` rooted at 0.

    Every component is reachable from 0 and every edge goes from a lower to a higher index.

    >>> dag("chain", 3, np.random.default_rng(0))
    [(0, 1), (1, 2)]
    >>> dag("fanout", 3, np.random.default_rng(0))
    [(0, 1), (0, 2)]
    """
    if shape == "chain":
        return [(i, i + 1) for i in range(n - 1)]
    if shape == "fanout":
        return [(0, i) for i in range(1, n)]
    edges = [(int(rng.integers(0, i)), i) for i in range(1, n)]  # a random tree
    if shape == "random":
        have = set(edges)
        for j in range(2, n):
            for i in range(1, j):
                if (i, j) not in have and rng.random() < 0.25:
                    edges.append((i, j))
                    have.add((i, j))
    return sorted(edges)


def _depth(edges: list[tuple[int, int]], n: int) -> int:
    """Components on the longest call path from the entry (edges go low -> high index).

    >>> _depth([(0, 1), (1, 2), (0, 3)], 4)
    3
    """
    depth = [1] * n
    for a, b in sorted(edges):
        depth[b] = max(depth[b], depth[a] + 1)
    return max(depth)


def visits(edges: list[tuple[int, int]], n: int) -> list[int]:
    """Visits per request of each component: the number of call paths from the entry (a
    component called by two callers runs once per call).

    >>> visits([(0, 1), (0, 2), (1, 3), (2, 3)], 4)
    [1, 1, 1, 2]
    """
    out = [1] + [0] * (n - 1)
    for a, b in sorted(edges):
        out[b] += out[a]
    return out


def _names(profile: Profile, n: int) -> list[str]:
    base = profile.components
    return [base[j] if j < len(base) else f"{base[j % len(base)]}-{j}" for j in range(n)]


def _tiers(profile: Profile, j: int, n: int, rng: Rng) -> list[str]:
    if profile.random_tiers:
        u = rng.random()
        return ["edge", "cloud"] if u < 0.7 else (["edge"] if u < 0.85 else ["cloud"])
    if profile.tail_tiers is not None and j == n - 1 and n > 1:
        return list(profile.tail_tiers)
    return list(profile.tiers)


def component(
    profile: Profile, j: int, n: int, name: str, p: dict[str, Any], rng: Rng
) -> dict[str, Any]:
    """One component document."""
    cpu = max(0.05, round(draw(rng, p["cpu_request"]), 2))
    work = float(np.exp(draw(rng, (np.log(p["work"][0]), np.log(p["work"][1])))))
    if profile.gpu == j:
        work *= profile.gpu_work
        cpu = max(cpu, 1.0)
    image = rounded(draw(rng, (30e6, 1.2e9 if profile.gpu == j else 400e6)), 2)
    dist = WORK_DISTS[int(rng.integers(len(WORK_DISTS)))]
    doc: dict[str, Any] = {
        "id": name,
        "cpu": cpu,
        "memory": memory(cpu * draw(rng, (0.5, 2.0)) * 2**30),
        "image_size": size(image),
        "startup": seconds(rounded(1.0 + image / 250e6, 2)),
        "work": {"dist": dist, "mean": ms(work)},
    }
    if dist == "lognormal":
        doc["work"]["cv"] = rounded(draw(rng, (0.3, 1.2)), 2)
    if profile.gpu == j:
        doc["accelerator"] = "gpu"
    placement: dict[str, Any] = {"tiers": _tiers(profile, j, n, rng)}
    if profile.gpu == j and profile.gpu_required:
        placement["labels"] = ["gpu"]
    doc["placement"] = placement
    doc["replicas"] = {"min": 1, "max": p["max_replicas"]}
    return doc


def application(profile: Profile, index: int, p: dict[str, Any], rng: Rng) -> AppDraft:
    """Draw application number ``index`` of ``profile``."""
    n = max(profile.min_size, draw_int(rng, p["app_size"]))
    shape = profile.shape or p["app_shape"]
    if shape == "mixed":
        shape = ("chain", "fanout", "tree", "random")[int(rng.integers(4))]
    names = _names(profile, n)
    comps = [component(profile, j, n, names[j], p, rng) for j in range(n)]
    calls = []
    edges = dag(shape, n, rng)
    for a, b in edges:
        calls.append(
            {
                "from": names[a],
                "to": names[b],
                "request_size": size(rounded(draw(rng, (500.0, 50e3)), 2)),
                "response_size": size(rounded(draw(rng, (100.0, 2e3)), 2)),
            }
        )
    slo = draw(rng, p["slo"]) * profile.slo_scale * (1.0 + 0.5 * (_depth(edges, n) - 1))
    doc: dict[str, Any] = {"id": f"{profile.name}-{index}", "entry": names[0], "components": comps}
    if calls:
        doc["calls"] = calls
    doc["slo"] = {"p95_latency": ms(slo)}  # raised later if no placement could meet it
    arrival = profile.arrival
    if arrival == "random":
        arrival = ("poisson", "periodic")[int(rng.integers(2))]
    req = rounded(draw(rng, p["request_size"]) * profile.request_scale, 3)
    resp = rounded(draw(rng, (100.0, 2e3)), 2)
    per_request = dict(zip(names, visits(edges, n), strict=True))
    return AppDraft(doc, profile, arrival, req, resp, per_request, slo)


def device_counts(infra: Infra, weights: np.ndarray, per_point: int, rng: Rng) -> Any:
    """Devices per (attach point, application): a matrix. The devices of one attach point
    serve at most ``per_point`` applications (drawn by weight); every application gets a
    device when there are at least as many devices as applications."""
    k = len(weights)
    counts = np.zeros((len(infra.attach), k), dtype=np.int64)
    m = min(k, per_point)
    for i, at in enumerate(infra.attach):
        if at.count == 0:
            continue
        chosen = np.sort(rng.choice(k, size=m, replace=False, p=weights))
        share = weights[chosen] / weights[chosen].sum()
        counts[i, chosen] = rng.multinomial(at.count, share)
    for a in range(k):  # coverage: move one device to an application that has none
        if counts[:, a].sum() > 0:
            continue
        donors = np.argwhere(counts > 1)
        if len(donors) == 0:
            continue
        i, b = donors[int(np.argmax(counts[donors[:, 0], donors[:, 1]]))]
        counts[i, b] -= 1
        counts[i, a] += 1
    return counts


PEAK_UTILISATION = 0.8
"""The highest utilisation one component may bring its reference node to at its peak (unless
``load`` itself is higher: an overload asked for)."""

REFERENCE_QUANTILE = 0.25
"""Which of the nodes a component may use is its *reference node*: this quantile of their
cores x speed (a smallish typical node, so that most nodes a policy may pick are as large)."""


@dataclass(frozen=True)
class Reference:
    """The node a component's load is sized against: ``cores`` of ``speed`` (x the GPU
    speed-up when the component requires a GPU node)."""

    cores: int
    speed: float
    service_speed: float  # the same quantile of the allowed nodes' speeds

    @property
    def capacity(self) -> float:
        """Core-seconds of reference work the node does per second."""
        return self.cores * self.speed


def peak_factor(arrival_type: str, p: dict[str, Any]) -> float:
    """Peak over mean rate of an arrival process (diurnal: 1 + amplitude; else 1)."""
    return 1.0 + p["diurnal_amplitude"] if arrival_type == "diurnal" else 1.0


def peak_utilisation(load: float, peak: float) -> float:
    """The utilisation a component may bring its reference node to at its peak.

    >>> [round(peak_utilisation(u, 1.5), 3) for u in (0.3, 0.7, 1.2)]
    [0.45, 0.8, 1.2]
    """
    return min(max(PEAK_UTILISATION, load), load * peak)


def allowed(comp: dict[str, Any], kinds: list[NodeKind]) -> list[NodeKind]:
    """The non-far-edge nodes (by kind) ``comp``'s placement constraints allow; all the
    allowed ones when only far-edge nodes are."""
    placement = comp.get("placement", {})
    tiers = set(placement.get("tiers") or ())
    labels = frozenset(placement.get("labels") or ())
    ok = [k for k in kinds if (not tiers or k.tier in tiers) and labels <= k.labels]
    return [k for k in ok if k.tier != "far_edge"] or ok


def _quantile(items: list[tuple[float, int, NodeKind]], q: float) -> NodeKind:
    """The kind at quantile ``q`` of ``(value, count, kind)`` items (counted ``count`` times)."""
    items = sorted(items, key=lambda x: (x[0], x[2].cores))
    rank = int(q * (sum(count for _, count, _ in items) - 1))
    for _, count, kind in items:
        if rank < count:
            return kind
        rank -= count
    return items[-1][2]


def reference(comp: dict[str, Any], kinds: list[NodeKind]) -> Reference | None:
    """The reference node of ``comp``: the :data:`REFERENCE_QUANTILE` by cores x speed of the
    nodes it may use (:func:`allowed`), and the same quantile of their speeds (for service
    times). A GPU's speed-up counts only when the component requires a GPU node (else a
    placement may well miss the GPU). None: no node is allowed.

    >>> k = [NodeKind(f"e{c}", "edge", c, 1.0, 1.0, frozenset(), 1) for c in (4, 8, 16, 32, 64)]
    >>> reference({"placement": {"tiers": ["edge"]}}, k)
    Reference(cores=8, speed=1.0, service_speed=1.0)
    """
    near = allowed(comp, kinds)
    if not near:
        return None
    labels = (comp.get("placement") or {}).get("labels") or ()
    gpu = bool(comp.get("accelerator")) and "gpu" in labels

    def x(k: NodeKind) -> float:
        return k.gpu_speedup if gpu else 1.0

    node = _quantile([(k.capacity * x(k), k.count, k) for k in near], REFERENCE_QUANTILE)
    slow = _quantile([(k.speed * x(k), k.count, k) for k in near], REFERENCE_QUANTILE)
    return Reference(node.cores, node.speed * x(node), slow.speed * x(slow))


def app_rate(d: AppDraft, refs: dict[str, Reference | None], load: float, peak: float) -> float:
    """The mean request rate of application ``d`` at which each component's peak demand
    (``peak`` x rate x visits x mean work) is at most :func:`peak_utilisation` of its
    reference node (``refs``); 0 when no component has a node."""
    u_peak = peak_utilisation(load, peak)
    best = float("inf")
    for c in d.doc["components"]:
        ref = refs[c["id"]]
        demand = d.visits[c["id"]] * parse_duration(c["work"]["mean"])
        if ref is not None and demand > 0:
            best = min(best, u_peak * ref.capacity / (peak * demand))
    return best if best != float("inf") else 0.0


def size_requests(d: AppDraft, refs: dict[str, Reference | None], peak_rate: float) -> None:
    """Raise each component's cpu request to its busy cores at the peak on its reference node
    over :data:`PEAK_UTILISATION` (at most the node's cores), as an operator sizes requests
    from measured use: then a node whose requests fit runs at most about that busy, however
    a policy packs replicas on it (a latency-greedy policy puts a whole application on the
    gateway nearest its devices)."""
    for c in d.doc["components"]:
        ref = refs[c["id"]]
        if ref is None:
            continue
        work = d.visits[c["id"]] * parse_duration(c["work"]["mean"])
        need = min(peak_rate * work / (PEAK_UTILISATION * ref.speed), float(ref.cores))
        need = math.ceil(round(need * 20, 6)) / 20  # up to a multiple of 0.05 cores
        if need > c["cpu"]:
            c["cpu"] = need


SLO_MARGIN = 1.25
"""An application's SLO is at least the network round trip of :data:`SLO_QUANTILE` of its
requests to a latency-aware entry placement plus this times its estimated p95 compute and
call time (:func:`service_p95`)."""

SLO_QUANTILE = 0.8
"""The share of an application's requests (the devices nearest its entry) whose network round
trip its SLO allows for; the others are for replicas near them (or a violation)."""


def service_p95(
    d: AppDraft,
    refs: dict[str, Reference | None],
    site: tuple[float, float],
    cloud: float,
) -> float:
    """Estimated p95 of an application's time in compute and in calls, unloaded: over its call
    paths from the entry, the sum of mean service times (mean work at each component's
    reference ``service_speed``) plus two standard deviations (exponential: sd = mean;
    lognormal: cv x mean), plus per call a round trip carrying the call's bytes: inside a site
    (``site``: latency, bandwidth) when the callee may run on the caller's tier, else between
    the edge and the cloud (``cloud`` latency; the entry runs at the edge when it may).
    Parallel branches count as their slowest path.
    """
    comps = {c["id"]: c for c in d.doc["components"]}
    calls: dict[str, list[dict[str, Any]]] = {}
    for call in d.doc.get("calls", ()):
        calls.setdefault(call["from"], []).append(call)
    lat, bw = site

    def tiers(cid: str) -> set[str]:
        return set(comps[cid].get("placement", {}).get("tiers") or ("edge", "cloud"))

    def walk(cid: str, tier: str, mean: float, var: float) -> float:
        c = comps[cid]
        ref = refs[cid]
        w = parse_duration(c["work"]["mean"]) / (ref.service_speed if ref else 1.0)
        sd = {"exponential": w, "lognormal": w * float(c["work"].get("cv", 1.0))}
        mean = mean + w
        var = var + sd.get(c["work"]["dist"], 0.0) ** 2
        if cid not in calls:
            return mean + 2.0 * math.sqrt(var)
        out = 0.0
        for call in calls[cid]:
            callee = call["to"]
            here = tier if tier in tiers(callee) else min(tiers(callee))
            sent = parse_size(call["request_size"]) + parse_size(call["response_size"])
            trip = 2 * lat + 8 * sent / bw if here == tier else 2 * cloud
            out = max(out, walk(callee, here, mean + trip, var))
        return out

    entry = d.doc["entry"]
    return walk(entry, "edge" if "edge" in tiers(entry) else min(tiers(entry)), 0.0, 0.0)


def network_quantile(
    entry: list[NodeKind],
    sources: list[tuple[str, int, float, float]],
    request_bytes: float,
    dist: Distances,
    q: float = SLO_QUANTILE,
) -> float:
    """Round trip (latency both ways plus the transfer of the request and the response) from
    the sources to the entry's node that a latency-aware policy picks (the least mean
    latency from the sources, weighted), at quantile ``q`` of the sources' weights.

    ``sources``: ``(attach node, weight, device link latency, device link bandwidth)``.
    """
    total = sum(w for _, w, _, _ in sources)
    best: tuple[float, str] | None = None
    for k in entry:
        mean = sum(w * dist.source(a).get(k.name, math.inf) for a, w, _, _ in sources) / total
        if math.isfinite(mean) and (best is None or mean < best[0]):
            best = (mean, k.name)
    if best is None:
        return 0.0
    target = best[1]
    trips = sorted(
        (2 * (dev_lat + dist.source(a)[target]) + 8 * request_bytes / dev_bw, w)
        for a, w, dev_lat, dev_bw in sources
    )
    need, seen = q * total, 0.0
    for rtt, w in trips:
        seen += w
        if seen >= need:
            return rtt
    return trips[-1][0]


def workload(
    infra: Infra,
    drafts: list[AppDraft],
    p: dict[str, Any],
    rng: Rng,
) -> list[dict[str, Any]]:
    """Add device groups (and their links) to ``infra``; return the workload entries."""
    k = len(drafts)
    weights = rng.dirichlet(np.full(k, 2.0))
    counts = device_counts(infra, weights, p["apps_per_site"], rng)
    kinds = list(infra.kinds)  # the compute nodes (devices come next)
    dist = Distances(infra.links)
    site = (p["latency"]["site"][1], p["bandwidth"]["site"][0])
    hw_rng = rng
    entries: list[dict[str, Any]] = []
    for a, d in enumerate(drafts):
        arrival_type = d.arrival
        if arrival_type == "poisson" and p["diurnal_amplitude"] > 0:
            arrival_type = "diurnal"
        peak = peak_factor(arrival_type, p)
        refs = {c["id"]: reference(c, kinds) for c in d.doc["components"]}
        rate = app_rate(d, refs, p["load"], peak)
        devices = int(counts[:, a].sum())
        if devices:
            rate = min(rate, devices * p["device_rate"][d.profile.label])
        per_device = rounded(rate / devices if devices else rate, 4)
        size_requests(d, refs, peak * per_device * max(devices, 1))
        arrival = _arrival(arrival_type, per_device, p)
        sizes = {"request_size": size(d.request_size), "response_size": size(d.response_size)}
        sources: list[tuple[str, int, float, float]] = []
        if devices == 0:  # users entering at the first edge gateway
            node = infra.attach[0].node if infra.attach else infra.registry
            entries.append({"app": d.doc["id"], "from": node, "arrival": arrival, **sizes})
            sources.append((node, 1, 0.0, math.inf))
        for i, at in enumerate(infra.attach):
            if counts[i, a] == 0:
                continue
            prefix = f"{d.profile.device}{a}-{at.name}"
            n = int(counts[i, a])
            link = _device_group(infra, i, prefix, n, d.profile.label, p, hw_rng)
            entries.append({"app": d.doc["id"], "from_group": prefix, "arrival": arrival, **sizes})
            lat, bw = parse_duration(link["latency"]), parse_bandwidth(link["bandwidth"])
            sources.append((at.node, n, lat, bw))
        entry = next(c for c in d.doc["components"] if c["id"] == d.doc["entry"])
        size_bytes = parse_size(sizes["request_size"]) + parse_size(sizes["response_size"])
        net = network_quantile(allowed(entry, kinds), sources, size_bytes, dist)
        floor = net + SLO_MARGIN * service_p95(d, refs, site, p["latency"]["cloud"][1])
        d.doc["slo"] = {"p95_latency": ms(max(d.slo, floor))}
    return entries


def _arrival(kind: str, rate: float, p: dict[str, Any]) -> dict[str, Any]:
    if kind == "diurnal":
        return {
            "type": "diurnal",
            "mean_rate": rate,
            "amplitude": p["diurnal_amplitude"],
            "period": seconds(p["duration"]),
        }
    return {"type": kind, "rate": rate}


def _device_group(
    infra: Infra, i: int, prefix: str, count: int, label: str, p: dict[str, Any], rng: Rng
) -> dict[str, Any]:
    """Add a device group and its link; return the link."""
    at = infra.attach[i]
    cores = draw_int(rng, p["cores"].get("far_edge", (1, 1)))
    group = {
        "prefix": prefix,
        "count": count,
        "tier": "far_edge",
        "cores": cores,
        "speed": rounded(draw(rng, p["speed"].get("far_edge", (0.3, 0.3))), 3),
        "memory": memory(cores * 2**30),
        "labels": [label],
        "power": {"idle_w": 2, "max_w": 5 + 2 * cores},
    }
    infra.clusters[at.cluster].setdefault("node_groups", []).append(group)
    infra.add(prefix, group, count)
    link = {
        "group": prefix,
        "b": at.node,
        "latency": ms(draw(rng, at.latency)),
        "bandwidth": bandwidth(draw(rng, p["bandwidth"]["device"])),
    }
    infra.links.append(link)
    return link


__all__ = [
    "PEAK_UTILISATION",
    "REFERENCE_QUANTILE",
    "AppDraft",
    "Profile",
    "Reference",
    "app_rate",
    "application",
    "dag",
    "device_counts",
    "peak_factor",
    "peak_utilisation",
    "reference",
    "size_requests",
    "visits",
    "workload",
]
