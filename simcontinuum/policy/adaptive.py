"""Adaptive built-ins: policies that watch telemetry and act (the MAPE-K loop).

Each places an arriving application with a baseline, then acts in ``plan`` (every control
interval, on *delivered* telemetry only) and in ``on_event`` (failures, recoveries):

- ``threshold-autoscaler`` — a Kubernetes HPA: desired replicas =
  ``ceil(current × utilisation / target)`` on each component's cpu utilisation (used over
  requested), plus one more while the application's p95 breaks its SLO; scale-in only after
  ``stabilisation`` intervals in a row asked for it (HPA's scale-down stabilisation window).
  New replicas go to the lowest-latency feasible node, the farthest replica is removed first.
- ``slo-migrator`` — when an application's delivered p95 breaks its SLO, moves the component
  whose node is busiest (or, when no node is busy, the one farthest from its callers) to the
  node with the lowest estimated latency, if that is at least ``gain`` better; then waits
  ``cooldown`` intervals for the move to settle.
- ``failover`` — re-places replicas lost with a failed node at once (Karmada-style: when a
  whole cluster is down, into the best other cluster).

All three also *heal*: any component with fewer live replicas than ``replicas.min`` (a lost
replica, a deploy that was refused) is re-placed in the next ``plan``. Kubernetes' own
controllers do this for pods; in simcontinuum the engine never acts by itself, so a static
policy keeps losing requests after a failure and an adaptive one recovers.

Invariants: decisions depend only on the views, delivered telemetry, the policy's own
counters and the generator from ``reset``; every action names nodes that are up, eligible and
had room in the view (the engine re-checks anyway).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simcontinuum.model import Component
from simcontinuum.policy.api import (
    Action,
    AppView,
    ClusterView,
    Deploy,
    Event,
    Move,
    Placement,
    Remove,
    TelemetryView,
)
from simcontinuum.policy.builtins import (
    K8sDefault,
    LatencyGreedy,
    TwoLevel,
    _least_allocated,
    _Tentative,
    source_latency,
)


def _anchor_latency(view: ClusterView, app: AppView, cid: str, nid: str) -> float:
    """Mean latency from what calls ``cid`` (its callers' nodes, or the app's sources) to
    ``nid``, plus the mean latency from ``nid`` to its callees' nodes."""
    placed = view.placements.get(app.id, {})
    callers = [n for c in app.callers(cid) for n in placed.get(c, ())]
    total = (
        sum(view.latency(n, nid) for n in callers) / len(callers)
        if callers
        else source_latency(view, app, nid)
    )
    callees = [n for call in app.app.callees(cid) for n in placed.get(call.dst, ())]
    if callees:
        total += sum(view.latency(nid, n) for n in callees) / len(callees)
    return total


def _best_node(
    t: _Tentative, app: AppView, comp: Component, *, exclude: frozenset[str] = frozenset()
) -> str | None:
    """The feasible node nearest to what ``comp`` talks to; ties → least allocated."""
    cands = [n for n in t.feasible(comp) if n not in exclude]
    if not cands:
        return None
    return min(
        cands,
        key=lambda n: (_anchor_latency(t.view, app, comp.id, n), -_least_allocated(t, comp, n)),
    )


def _latest(telemetry: TelemetryView | None) -> dict[tuple[str, str], dict[str, float]]:
    """``{(kind, id): {metric: value}}`` from the newest delivered samples."""
    if telemetry is None:
        return {}
    try:
        df = telemetry.latest()
    except Exception:  # no telemetry yet is not an error for a policy
        return {}
    out: dict[tuple[str, str], dict[str, float]] = {}
    if df is None or df.empty:
        return out
    metrics = [c for c in df.columns if c not in ("kind", "id", "time_s")]
    for rec in df.to_dict("records"):
        values = {m: float(rec[m]) for m in metrics if rec[m] is not None and rec[m] == rec[m]}
        out[(str(rec["kind"]), str(rec["id"]))] = values
    return out


class _Adaptive:
    """Place with a baseline; heal missing replicas in ``plan``."""

    name = "adaptive"
    base_cls: type = LatencyGreedy

    def __init__(self) -> None:
        self.base = self.base_cls()
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.base.reset(rng)

    def place(self, app: AppView, view: ClusterView) -> Placement:
        placement: Placement = self.base.place(app, view)
        return placement

    def heal(self, view: ClusterView, t: _Tentative | None = None) -> list[Action]:
        """Deploy the replicas each component lacks below ``replicas.min``."""
        t = t or _Tentative(view)
        exclude = self._excluded(view)
        actions: list[Action] = []
        for aid, app in view.apps.items():
            placed = view.placements.get(aid, {})
            for cid in app.order():
                comp = app.component(cid)
                for _ in range(comp.replicas_min - len(placed.get(cid, ()))):
                    nid = _best_node(t, app, comp, exclude=exclude)
                    if nid is None:
                        break
                    t.reserve(comp, nid)
                    actions.append(Deploy(aid, cid, nid))
        return actions

    def _excluded(self, view: ClusterView) -> frozenset[str]:
        """Nodes never to heal onto (none by default)."""
        return frozenset()

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        return self.heal(view)


class ThresholdAutoscaler(_Adaptive):
    """HPA-like: replicas = ceil(n × cpu utilisation / target), +1 while the SLO breaks."""

    name = "threshold-autoscaler"
    base_cls = K8sDefault

    def __init__(self, target: float = 0.6, stabilisation: int = 3) -> None:
        super().__init__()
        self.target = target
        self.stabilisation = stabilisation
        self._low: dict[str, int] = {}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._low.clear()

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        t = _Tentative(view)
        actions = self.heal(view, t)
        latest = _latest(telemetry)
        for aid, app in view.apps.items():
            p95 = latest.get(("app", aid), {}).get("app_latency_p95_seconds")
            target = app.slo.latency_target if app.slo else None
            breaking = p95 is not None and target is not None and p95 > target
            for cid in app.order():
                actions += self._scale(view, t, app, cid, latest, breaking)
        return actions

    def _scale(
        self,
        view: ClusterView,
        t: _Tentative,
        app: AppView,
        cid: str,
        latest: dict[tuple[str, str], dict[str, float]],
        breaking: bool,
    ) -> list[Action]:
        comp = app.component(cid)
        key = f"{app.id}/{cid}"
        nodes = list(view.placements.get(app.id, {}).get(cid, ()))
        n = len(nodes)
        util = latest.get(("component", key), {}).get("component_cpu_utilisation")
        if n == 0 or util is None:
            return []
        desired = math.ceil(n * util / self.target - 1e-9)
        if breaking and util > 0.5 * self.target:
            desired = max(desired, n + 1)
        desired = min(max(desired, comp.replicas_min, 1), comp.replicas_max)
        if desired > n:
            self._low[key] = 0
            out: list[Action] = []
            for _ in range(desired - n):
                nid = _best_node(t, app, comp)
                if nid is None:
                    break
                t.reserve(comp, nid)
                out.append(Deploy(app.id, cid, nid))
            return out
        if desired < n:
            self._low[key] = self._low.get(key, 0) + 1
            if self._low[key] >= self.stabilisation:
                self._low[key] = 0
                far = max(nodes, key=lambda nid: _anchor_latency(view, app, cid, nid))
                return [Remove(app.id, cid, far)]
        else:
            self._low[key] = 0
        return []


class SloMigrator(_Adaptive):
    """Moves the bottleneck component of an app whose delivered p95 breaks its SLO."""

    name = "slo-migrator"
    base_cls = LatencyGreedy

    def __init__(self, gain: float = 0.1, cooldown: int = 3, busy: float = 0.7) -> None:
        super().__init__()
        self.gain = gain
        self.cooldown = cooldown
        self.busy = busy
        self._wait: dict[str, int] = {}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._wait.clear()

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        t = _Tentative(view)
        actions = self.heal(view, t)
        latest = _latest(telemetry)
        for aid, app in view.apps.items():
            if self._wait.get(aid, 0) > 0:
                self._wait[aid] -= 1
                continue
            p95 = latest.get(("app", aid), {}).get("app_latency_p95_seconds")
            target = app.slo.latency_target if app.slo else None
            if p95 is None or target is None or p95 <= target:
                continue
            move = self._pick_move(view, t, app, latest)
            if move is not None:
                actions.append(move)
                self._wait[aid] = self.cooldown
        return actions

    def _cost(
        self, view: ClusterView, app: AppView, cid: str, nid: str, util: dict[str, float]
    ) -> float:
        """Estimated latency of ``cid`` on ``nid``: network there and back + M/M/1-like
        queueing on the node's delivered utilisation."""
        comp = app.component(cid)
        node = view.node(nid)
        service = comp.work.mean / node.speed
        u = min(util.get(nid, 0.0), 0.95)
        return 2 * _anchor_latency(view, app, cid, nid) + service / (1.0 - u)

    def _pick_move(
        self,
        view: ClusterView,
        t: _Tentative,
        app: AppView,
        latest: dict[tuple[str, str], dict[str, float]],
    ) -> Action | None:
        util = {
            key[1]: m.get("node_cpu_utilisation", 0.0)
            for key, m in latest.items()
            if key[0] == "node"
        }
        placed = view.placements.get(app.id, {})
        candidates = [(cid, nid) for cid in app.order() for nid in placed.get(cid, ())]
        if not candidates:
            return None
        # the bottleneck: the busiest node, else the replica farthest from its callers
        busiest = max(candidates, key=lambda c: util.get(c[1], 0.0))
        if util.get(busiest[1], 0.0) >= self.busy:
            cid, src = busiest
        else:
            cid, src = max(candidates, key=lambda c: _anchor_latency(view, app, c[0], c[1]))
        comp = app.component(cid)
        now_cost = self._cost(view, app, cid, src, util)
        best, best_cost = None, now_cost * (1.0 - self.gain)
        for nid in t.feasible(comp):
            if nid == src or nid in placed.get(cid, ()):
                continue
            cost = self._cost(view, app, cid, nid, util)
            if cost < best_cost:
                best, best_cost = nid, cost
        if best is None:
            return None
        t.reserve(comp, best)
        return Move(app.id, cid, src, best)


class Failover(_Adaptive):
    """Re-places lost replicas at once; a failed cluster's go to the best other cluster."""

    name = "failover"
    base_cls = TwoLevel

    def __init__(self) -> None:
        super().__init__()
        self._down_clusters: set[str] = set()
        self._down_nodes: set[str] = set()

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._down_clusters.clear()
        self._down_nodes.clear()

    def on_event(self, event: Event, view: ClusterView) -> list[Action]:
        kind = event.kind
        if kind == "node_failed":
            self._down_nodes.add(event.target)
        elif kind == "node_recovered":
            self._down_nodes.discard(event.target)
        elif kind == "cluster_failed":
            self._down_clusters.add(event.target)
        elif kind == "cluster_recovered":
            self._down_clusters.discard(event.target)
        if kind not in ("node_failed", "cluster_failed"):
            return []
        return self.heal(view)

    def _excluded(self, view: ClusterView) -> frozenset[str]:
        return frozenset(
            n.id
            for n in view.nodes.values()
            if n.id in self._down_nodes or n.cluster in self._down_clusters
        )


ADAPTIVE: tuple[type[Any], ...] = (ThresholdAutoscaler, SloMigrator, Failover)
"""The adaptive built-ins, in the order ``simcontinuum policies`` lists them."""
