"""Features of one candidate (component replica, node) pair: what a learned policy scores.

One function, :func:`candidate_features`, computes them from what a policy can see — the
:class:`~simcontinuum.policy.api.ClusterView`, the arriving :class:`AppView`, the placement
chosen so far in this call and its tentative reservations — so the dataset
(:mod:`simcontinuum.learn.datasets`) and the ML policy (:mod:`simcontinuum.learn.mlpolicy`)
compute exactly the same numbers. Node telemetry (utilisation, queue) is not in a view; the
dataset adds it from the delivered telemetry as :data:`TELEMETRY_FEATURES` (NaN where none was
delivered yet), and the ML policy fills them from the last telemetry its ``plan`` saw.

Every value is a plain float; there are no NaNs in :data:`FEATURES` (an application without an
SLO has ``slo_target_s == 0``). Node state is taken *before* this replica is added: at
placement time the node does not host it yet; in control-interval rows its own reservation is
given back, so both kinds of rows describe the same choice.

Feature (unit)               | meaning
-----------------------------|---------------------------------------------------------------
``comp_cpu`` (cores)         | the component's cpu request
``comp_memory_gib`` (GiB)    | its memory request
``comp_work_s`` (core-s)     | mean work per request at speed 1.0
``comp_is_entry``            | 1 for the application's entry component
``comp_gpu_affinity``        | 1 when the component uses an accelerator
``comp_rate_per_s``          | nominal requests per second reaching the component
``replica_index``            | 0 for its first replica, 1 for the second, ...
``node_cores``               | cores of the node
``node_speed``               | relative core speed (1.0 = reference)
``node_gpu_speedup``         | accelerator speed-up (1 without one)
``service_time_s``           | mean work / effective speed (speed × speed-up if it applies)
``node_cpu_free_frac``       | free cores / cores before this replica (0 while down)
``node_mem_free_frac``       | free memory / memory before this replica (1 if undeclared)
``node_replicas``            | replicas the node hosts (live ones; not this call's)
``demand_frac``              | comp_rate × service_time / cores: the share of the node it needs
``node_price_per_hour``      | the node's price per hour
``node_price_per_core_hour`` | its price per requested core-hour
``node_when_active``         | 1 when billed only while it hosts a replica
``marginal_cost_per_hour``   | what this replica adds per hour (wakes a when_active node)
``tier_<tier>``              | one-hot tier: cloud, edge_infrastructure, edge, far_edge
``source_latency_s``         | rate-weighted one-way latency from the app's sources
``hop_latency_s``            | one-way latency from the component's callers (sources if entry)
``request_size_bytes``       | bytes a call to the component carries (0 for the entry)
``slo_target_s``             | the application's latency target (0: none)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simcontinuum.model import speedup
from simcontinuum.policy.builtins import source_latency

if TYPE_CHECKING:
    from simcontinuum.model import Component
    from simcontinuum.policy.api import AppView, ClusterView
    from simcontinuum.policy.reservations import Reservations

TIERS = ("cloud", "edge_infrastructure", "edge", "far_edge")

FEATURES: tuple[str, ...] = (
    "comp_cpu",
    "comp_memory_gib",
    "comp_work_s",
    "comp_is_entry",
    "comp_gpu_affinity",
    "comp_rate_per_s",
    "replica_index",
    "node_cores",
    "node_speed",
    "node_gpu_speedup",
    "service_time_s",
    "node_cpu_free_frac",
    "node_mem_free_frac",
    "node_replicas",
    "demand_frac",
    "node_price_per_hour",
    "node_price_per_core_hour",
    "node_when_active",
    "marginal_cost_per_hour",
    *(f"tier_{t}" for t in TIERS),
    "source_latency_s",
    "hop_latency_s",
    "request_size_bytes",
    "slo_target_s",
)
"""Features computed from a policy's view, in a stable order (the default model inputs)."""

TELEMETRY_FEATURES: tuple[str, ...] = (
    "node_utilisation",
    "node_queue_length",
    "app_p95_over_slo",
)
"""Features from delivered telemetry: the node's cpu utilisation and queue length and the
application's p95 latency over its SLO target, as last delivered (NaN: none yet)."""

ALL_FEATURES: tuple[str, ...] = FEATURES + TELEMETRY_FEATURES

_GIB = float(2**30)


def mean_work(comp: Component) -> float:
    """Mean work per request (core-seconds at speed 1.0) of ``comp``."""
    w = comp.work
    if w.mean > 0:
        return float(w.mean)
    return float(sum(w.values) / len(w.values)) if w.values else 0.0


def app_rate(app: AppView) -> float:
    """Nominal requests per second into ``app`` (the sum of its sources' rates)."""
    return float(sum(rate for _, rate in app.sources))


def component_rate(app: AppView, cid: str) -> float:
    """Nominal requests per second reaching component ``cid`` (each call counts once)."""
    if cid == app.entry:
        return app_rate(app)
    return app_rate(app) * max(1, sum(1 for c in app.calls if c.dst == cid))


def request_size(app: AppView, cid: str) -> float:
    """Bytes one call to ``cid`` carries (the largest of its calls; 0 for the entry, whose
    request sizes come from sources a policy's view does not describe)."""
    sizes = [c.request_size for c in app.calls if c.dst == cid]
    return float(max(sizes)) if sizes else 0.0


def candidate_features(
    view: ClusterView,
    app: AppView,
    comp: Component,
    nid: str,
    *,
    callers: Sequence[str],
    tentative: Reservations | None = None,
    replica_index: int = 0,
    own: bool = False,
) -> dict[str, float]:
    """The :data:`FEATURES` of putting one replica of ``comp`` (of ``app``) on ``nid``.

    Args:
        view: the snapshot the decision is made on.
        app: the component's application.
        comp: the component.
        nid: the candidate node.
        callers: nodes of the replicas that call ``comp`` (empty for the entry).
        tentative: this call's reservations so far (free capacity and replica counts then
            include them); None: the view as is.
        replica_index: which replica of the component this is (0 = first).
        own: the view already counts this replica on ``nid`` (a control-interval row): its
            cpu, memory and replica slot are given back, so the node is described without it.
    """
    node = view.node(nid)
    work = mean_work(comp)
    gpu = node.gpu.speedup if node.gpu else 1.0
    effective = node.speed * speedup(comp.accelerator, node.gpu)
    service = work / effective if effective > 0 else math.inf
    if tentative is not None:
        free_cpu = tentative.free_cpu(nid)
        free_mem = tentative.free_memory(nid)
        hosts = tentative.hosts_anything(nid)
    else:
        free_cpu, free_mem, hosts = node.cpu_free, node.memory_free, bool(node.replicas)
    replicas = float(len(node.replicas))
    if own and node.up:
        free_cpu += comp.cpu
        free_mem += comp.memory
        replicas -= 1
        hosts = replicas > 0
    rate = component_rate(app, comp.id)
    price = node.price
    wakes = price.billing == "when_active" and not hosts
    src = source_latency(view, app, nid)
    hop = sum(view.latency(c, nid) for c in callers) / len(callers) if callers else src
    target = app.slo.latency_target if app.slo is not None else None
    out = {
        "comp_cpu": float(comp.cpu),
        "comp_memory_gib": float(comp.memory) / _GIB,
        "comp_work_s": work,
        "comp_is_entry": 1.0 if comp.id == app.entry else 0.0,
        "comp_gpu_affinity": 1.0 if comp.accelerator else 0.0,
        "comp_rate_per_s": rate,
        "replica_index": float(replica_index),
        "node_cores": float(node.cores),
        "node_speed": float(node.speed),
        "node_gpu_speedup": float(gpu),
        "service_time_s": service,
        "node_cpu_free_frac": max(0.0, free_cpu) / node.cores if node.up else 0.0,
        "node_mem_free_frac": _mem_frac(node.memory, free_mem, node.up),
        "node_replicas": max(0.0, replicas),
        "demand_frac": rate * service / node.cores,
        "node_price_per_hour": float(price.per_hour),
        "node_price_per_core_hour": float(price.per_core_hour),
        "node_when_active": 1.0 if price.billing == "when_active" else 0.0,
        "marginal_cost_per_hour": price.per_core_hour * comp.cpu
        + (price.per_hour if wakes else 0.0),
        **{f"tier_{t}": 1.0 if node.tier == t else 0.0 for t in TIERS},
        "source_latency_s": _finite(src),
        "hop_latency_s": _finite(hop),
        "request_size_bytes": request_size(app, comp.id),
        "slo_target_s": float(target) if target else 0.0,
    }
    return out


def _mem_frac(memory: float, free: float, up: bool) -> float:
    if not up:
        return 0.0
    if memory <= 0 or math.isinf(free):
        return 1.0
    return max(0.0, min(1.0, free / memory))


def _finite(x: float, cap: float = 10.0) -> float:
    """Latency with no route (``inf``) as a large finite number a model can use."""
    return cap if math.isinf(x) or math.isnan(x) else float(x)


def telemetry_features(latest: Any, nid: str, app: AppView) -> dict[str, float]:
    """:data:`TELEMETRY_FEATURES` of ``nid`` and ``app`` from ``DeliveredTelemetry.latest()``
    (or a dict ``{(kind, id): {metric: value}}``); NaN where nothing was delivered."""
    table = telemetry_table(latest) if not isinstance(latest, dict) else latest
    node = table.get(("node", nid), {})
    row = table.get(("app", app.id), {})
    p95 = row.get("app_latency_p95_seconds", math.nan)
    target = app.slo.latency_target if app.slo is not None else None
    return {
        "node_utilisation": float(node.get("node_cpu_utilisation", math.nan)),
        "node_queue_length": float(node.get("node_queue_length", math.nan)),
        "app_p95_over_slo": float(p95) / target if target else math.nan,
    }


def telemetry_table(latest: Any) -> dict[tuple[str, str], dict[str, float]]:
    """``DeliveredTelemetry.latest()`` as ``{(kind, id): {metric: value}}`` (empty if None)."""
    if latest is None or len(latest) == 0:
        return {}
    metrics = [c for c in latest.columns if c not in ("kind", "id", "time_s")]
    out: dict[tuple[str, str], dict[str, float]] = {}
    for rec in latest.to_dict("records"):  # no column selection: LatestTable needs no pandas
        out[(str(rec["kind"]), str(rec["id"]))] = {m: rec[m] for m in metrics}
    return out


__all__ = [
    "ALL_FEATURES",
    "FEATURES",
    "TELEMETRY_FEATURES",
    "TIERS",
    "app_rate",
    "candidate_features",
    "component_rate",
    "mean_work",
    "request_size",
    "telemetry_features",
    "telemetry_table",
]
