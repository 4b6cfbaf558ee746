"""Generated applications, their devices and their load.

An application is drawn from a :class:`Profile` (the kind of app a template knows: a video
pipeline, a control loop, ...): its size and DAG shape, then per component the cpu/memory
requests, work, image, placement and GPU affinity. Devices (far-edge node groups, one per
attach point and application) send it requests.

Load: the arrival rates are set so that the mean offered work equals ``load`` times the
compute capacity (cores x speed) of the tiers the applications may use. Each application gets
a random share of that work (Dirichlet); its rate is the share over its mean work per request
(the sum of its components' mean work, at speed 1.0, GPU speed-ups ignored), split evenly
over its devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simcontinuum.generate.topology import Infra, draw, draw_int
from simcontinuum.generate.units import bandwidth, memory, ms, rounded, seconds, size
from simcontinuum.scenario.units import parse_duration

Rng = np.random.Generator
WORK_DISTS = ("exponential", "lognormal", "constant")


@dataclass(frozen=True)
class Profile:
    """A kind of application a template generates.

    Attributes:
        name: application id prefix (``video`` -> ``video-0``).
        components: component names, in DAG order (cycled with a suffix when the app is
            larger).
        device: device group prefix (``cam`` -> ``cam0-s3-*``); label: the devices' label.
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
    work: float  # mean core-seconds per request at speed 1.0
    tiers: frozenset[str]
    arrival: str
    request_size: float
    response_size: float


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
    doc["slo"] = {"p95_latency": ms(slo)}
    work = sum(parse_duration(c["work"]["mean"]) for c in comps)  # the rounded values
    tiers = frozenset(t for c in comps for t in c["placement"]["tiers"])
    arrival = profile.arrival
    if arrival == "random":
        arrival = ("poisson", "periodic")[int(rng.integers(2))]
    req = rounded(draw(rng, p["request_size"]) * profile.request_scale, 3)
    resp = rounded(draw(rng, (100.0, 2e3)), 2)
    return AppDraft(doc, profile, work, tiers, arrival, req, resp)


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
    eligible = frozenset(t for d in drafts for t in d.tiers)
    capacity = sum(infra.capacity.get(t, 0.0) for t in eligible)
    hw_rng = rng
    entries: list[dict[str, Any]] = []
    for a, d in enumerate(drafts):
        rate = weights[a] * p["load"] * capacity / max(d.work, 1e-9)
        devices = int(counts[:, a].sum())
        arrival_type = d.arrival
        if arrival_type == "poisson" and p["diurnal_amplitude"] > 0:
            arrival_type = "diurnal"
        per_device = rate / devices if devices else rate
        arrival = _arrival(arrival_type, rounded(per_device, 4), p)
        sizes = {"request_size": size(d.request_size), "response_size": size(d.response_size)}
        if devices == 0:  # users entering at the first edge gateway
            node = infra.attach[0].node if infra.attach else infra.registry
            entries.append({"app": d.doc["id"], "from": node, "arrival": arrival, **sizes})
            continue
        for i, at in enumerate(infra.attach):
            if counts[i, a] == 0:
                continue
            prefix = f"{d.profile.device}{a}-{at.name}"
            _device_group(infra, i, prefix, int(counts[i, a]), d.profile.label, p, hw_rng)
            entries.append({"app": d.doc["id"], "from_group": prefix, "arrival": arrival, **sizes})
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
) -> None:
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
    link = {
        "group": prefix,
        "b": at.node,
        "latency": ms(draw(rng, at.latency)),
        "bandwidth": bandwidth(draw(rng, p["bandwidth"]["device"])),
    }
    infra.links.append(link)


__all__ = ["AppDraft", "Profile", "application", "dag", "device_counts", "workload"]
