"""Adaptive built-ins: policies that watch telemetry and act (the MAPE-K loop).

Each places an arriving application with a baseline, then acts in ``plan`` (every control
interval, on *delivered* telemetry only) and in ``on_event`` (failures, recoveries):

- ``threshold-autoscaler`` — a Kubernetes HPA: desired replicas =
  ``ceil(running × utilisation / target)`` on each component's cpu utilisation (used over
  requested), plus one more while the application's delivered latency nears its SLO;
  scale-in only after ``stabilisation`` intervals in a row asked for it (HPA's scale-down
  stabilisation window), the replica that serves its callers least well first.
- ``slo-migrator`` — when an application's delivered latency nears its SLO, moves the
  replica whose estimated latency (network there and back + service + M/M/c queueing on its
  node's delivered utilisation) a move improves most, if by at least ``gain``; then waits
  ``cooldown`` intervals for the move to settle.
- ``failover`` — re-places replicas lost with a failed node at once (Karmada-style: nodes of
  a cluster that is down are avoided until it recovers).

All three also *heal*: any component with fewer live replicas than ``replicas.min`` (a lost
replica, a deploy that was refused) is re-placed in the next ``plan``. Kubernetes' own
controllers do this for pods; in simcontinuum the engine never acts by itself, so a static
policy keeps losing requests after a failure and an adaptive one recovers.

Where a new replica goes (heal, scale-out, move) is *load-aware*, and knows how the engine's
load balancer routes (each caller to its nearest replicas, round-robin among equally near
ones — so replicas share load only where they are equally near to the same callers). The
policy estimates each component's demand (delivered request rate × visits × mean work) and
each node's busy cores (delivered ``node_cpu_utilisation``), and prefers nodes where the
replica's share fits under ``RHO_MAX`` utilisation (a GPU counts where the component uses
one); among those, the one that brings the component nearest to what calls it, then the one
that would take the most of its calls, then one not hosting it yet. When no single node can
carry a lost replica's load, healing restores it as several replicas that the balancer
would actually share it between (and, up to ``replicas.max``, uses more replicas when they
keep the callers nearer by over ``NEARER`` of the SLO target).

Invariants: decisions depend only on the views, delivered telemetry, the policy's own
counters and the generator from ``reset``; every action names nodes that are up, eligible and
had room in the view (the engine re-checks anyway).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simcontinuum.model import Component, speedup
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
)
from simcontinuum.policy.reservations import Reservations

RHO_MAX = 0.75
"""Node cpu utilisation a placement plans for: headroom for bursts and queueing."""

SLO_MARGIN = 0.8
"""An application is *at risk* when its delivered p95 exceeds this share of its target (or
its p99 exceeds the target): acting before the SLO breaks, as an SRE's alert would."""

NEARER = 0.1
"""Share of an application's SLO target that one more replica must save (round trip) to be
worth deploying when fewer would carry the load."""

Latest = dict[tuple[str, str], dict[str, float]]


def _latest(telemetry: TelemetryView | None) -> Latest:
    """``{(kind, id): {metric: value}}`` from the newest delivered samples."""
    if telemetry is None:
        return {}
    try:
        df = telemetry.latest()
    except Exception:  # no telemetry yet is not an error for a policy
        return {}
    out: Latest = {}
    if df is None or df.empty:
        return out
    metrics = [c for c in df.columns if c not in ("kind", "id", "time_s")]
    for rec in df.to_dict("records"):
        values = {m: float(rec[m]) for m in metrics if rec[m] is not None and rec[m] == rec[m]}
        out[(str(rec["kind"]), str(rec["id"]))] = values
    return out


def _visits(app: AppView) -> dict[str, float]:
    """How many times one request visits each component (1 for the entry; a callee is
    visited once per visit of each of its callers)."""
    visits = {c.id: 0.0 for c in app.components}
    visits[app.entry] = 1.0
    for cid in app.order():
        for call in app.app.callees(cid):
            visits[call.dst] += visits[cid]
    return visits


def at_risk(app: AppView, latest: Latest) -> bool:
    """Whether ``app``'s delivered latency is near or over its SLO (see :data:`SLO_MARGIN`)."""
    target = app.slo.latency_target if app.slo else None
    if target is None:
        return False
    m = latest.get(("app", app.id), {})
    p95, p99 = m.get("app_latency_p95_seconds"), m.get("app_latency_p99_seconds")
    return (p95 is not None and p95 > SLO_MARGIN * target) or (p99 is not None and p99 > target)


class _Plan:
    """One decision in the making: the view, what this call already booked (capacity,
    replicas added or removed) and the load the policy believes each node carries."""

    def __init__(self, view: ClusterView, latest: Latest) -> None:
        self.view = view
        self.latest = latest
        self.t = Reservations(view)
        self.placed: dict[str, dict[str, list[str]]] = {
            aid: {cid: list(nodes) for cid, nodes in comps.items()}
            for aid, comps in view.placements.items()
        }
        self._anchors: dict[tuple[Any, ...], list[tuple[str, float]]] = {}
        # busy cores per node, as last delivered (a down node carries nothing)
        self.busy: dict[str, float] = {}
        for nid, node in view.nodes.items():
            util = latest.get(("node", nid), {}).get("node_cpu_utilisation", 0.0)
            self.busy[nid] = util * node.cores if node.up else 0.0

    # ------------------------------------------------------------------ load
    def rate(self, app: AppView) -> float:
        """Requests per second of ``app``: delivered, else the sources' nominal rates."""
        got = self.latest.get(("app", app.id), {}).get("app_request_rate")
        return got if got is not None else sum(r for _, r in app.sources)

    def demand(self, app: AppView, cid: str) -> float:
        """Core-seconds per second (at speed 1.0) that component ``cid`` needs now."""
        return self.rate(app) * _visits(app)[cid] * app.component(cid).work.mean

    def speed(self, comp: Component, nid: str) -> float:
        """How fast ``nid`` runs ``comp`` relative to a reference core."""
        node = self.view.node(nid)
        return node.speed * speedup(comp.accelerator, node.gpu)

    def spare(self, comp: Component, nid: str) -> float:
        """Load (core-seconds per second at speed 1.0) ``nid`` can still take for ``comp``
        while staying under :data:`RHO_MAX`."""
        node = self.view.node(nid)
        return (RHO_MAX * node.cores - self.busy[nid]) * self.speed(comp, nid)

    def shift(self, comp: Component, nid: str, load: float) -> None:
        """Book ``load`` (at speed 1.0; negative to release) of ``comp`` on ``nid``."""
        self.busy[nid] = max(0.0, self.busy[nid] + load / self.speed(comp, nid))

    # ------------------------------------------------------------------ routing
    def anchors(self, app: AppView, cid: str) -> list[tuple[str, float]]:
        """Where the calls to ``cid`` come from, weighted by their share of its visits: the
        nodes of its callers' replicas (each by the share of its caller's visits the load
        balancer sends it), else the application's sources by rate."""
        placed = self.placed.get(app.id, {})
        callers = [(c, tuple(placed.get(c, ()))) for c in app.callers(cid)]
        key = (app.id, cid, tuple(callers))
        found = self._anchors.get(key)
        if found is not None:
            return found
        out: list[tuple[str, float]] = []
        for c, nodes in callers:
            if nodes:
                out += list(self.split(app, c, list(nodes)).items())
        if not out:
            out = [(s, r) for s, r in app.sources if r > 0] or [(s, 1.0) for s, _ in app.sources]
        self._anchors[key] = out
        return out

    def split(self, app: AppView, cid: str, nodes: list[str]) -> dict[str, float]:
        """The share of ``cid``'s visits each node of ``nodes`` would serve: the load balancer
        sends each caller to its nearest replicas, round-robin among equally near ones (so
        replicas share load only where they are equally near to the same callers)."""
        lat = self.view.latency
        anchors = self.anchors(app, cid)
        out: dict[str, float] = {}
        total = sum(w for _, w in anchors)
        for a, w in anchors:
            near = min(lat(a, n) for n in nodes)
            if math.isinf(near):
                continue
            ties = [n for n in nodes if lat(a, n) <= near + 1e-12]
            for n in ties:
                out[n] = out.get(n, 0.0) + w / total / len(ties)
        if not out:
            out = {n: nodes.count(n) / len(nodes) for n in nodes}
        return out

    def coverage(self, app: AppView, cid: str, nodes: list[str], *, onward: bool = True) -> float:
        """One-way network latency through ``cid`` with its replicas on ``nodes``, routed as
        the load balancer does: each caller (weighted) to its nearest replica (equally near
        ones share), and (``onward``) from that replica to the nearest replica of each callee
        (called in parallel: the farthest counts)."""
        if not nodes:
            return math.inf
        lat = self.view.latency
        placed = self.placed.get(app.id, {})
        calls = app.app.callees(cid) if onward else ()
        callees = [ns for call in calls if (ns := placed.get(call.dst))]

        def beyond(n: str) -> float:
            return max((min(lat(n, c) for c in ns) for ns in callees), default=0.0)

        anchors = self.anchors(app, cid)
        if not anchors:
            return min(beyond(n) for n in nodes)
        total = weight = 0.0
        for a, w in anchors:
            near = min(lat(a, n) for n in nodes)
            ties = [n for n in nodes if lat(a, n) <= near + 1e-12]
            total += w * (near + sum(beyond(n) for n in ties) / len(ties))
            weight += w
        return total / weight

    # ------------------------------------------------------------------ choosing
    def choose(
        self,
        app: AppView,
        comp: Component,
        share: float,
        *,
        exclude: frozenset[str] = frozenset(),
        need_fit: bool = False,
    ) -> str | None:
        """The node for one more replica of ``comp`` expected to carry ``share``: where it fits
        under :data:`RHO_MAX`, nearest to its callers (given its other replicas; its callees
        follow it when they heal or scale), taking the most of their calls, not hosting it
        yet, least allocated. ``need_fit``: ``None`` when it fits nowhere."""
        cands = [n for n in self.t.feasible(comp) if n not in exclude]
        if not cands:
            return None
        have = self.placed.get(app.id, {}).get(comp.id, [])

        def key(n: str) -> tuple[float, ...]:
            fits = self.spare(comp, n) >= share
            near = round(self.coverage(app, comp.id, [*have, n], onward=False), 6)
            # the share of the calls this one replica would get (a node's share is split
            # among its replicas)
            taken = self.split(app, comp.id, [*have, n]).get(n, 0.0) / (1 + have.count(n))
            return (
                0.0 if fits else 1.0,
                near if fits else -self.spare(comp, n),
                -round(taken, 6),  # a replica no caller would reach adds nothing
                1.0 if n in have else 0.0,
                -self.t.least_allocated(comp, n),
            )

        best = min(cands, key=key)
        if need_fit and self.spare(comp, best) < share:
            return None
        return best

    def deploy(self, app: AppView, comp: Component, nid: str, share: float) -> Deploy:
        """Book one replica of ``comp`` on ``nid`` carrying ``share`` and return the action."""
        self.t.reserve(comp, nid)
        self.shift(comp, nid, share)
        self.placed.setdefault(app.id, {}).setdefault(comp.id, []).append(nid)
        return Deploy(app.id, comp.id, nid)

    def add(
        self,
        app: AppView,
        comp: Component,
        count: int,
        *,
        exclude: frozenset[str] = frozenset(),
        up_to: int | None = None,
    ) -> list[Action]:
        """``count`` new replicas of ``comp`` such that, as the load balancer spreads the
        component's demand, each new replica's share fits under :data:`RHO_MAX` on its node.
        More of them (up to ``up_to``) only when fewer fit nowhere, or when more keep its
        callers nearer by over :data:`NEARER` of the SLO target, there and back. When no set
        fits: ``count`` replicas, best effort."""
        demand = self.demand(app, comp.id)
        have = list(self.placed.get(app.id, {}).get(comp.id, ()))
        up_to = count if up_to is None else max(count, up_to)
        target = app.slo.latency_target if app.slo and app.slo.latency_target else 0.1
        best: tuple[float, int, list[str], dict[str, float]] | None = None
        for k in range(count, up_to + 1):
            trial = self._copy()
            share = demand / (len(have) + k)
            nodes: list[str] = []
            for _ in range(k):
                nid = trial.choose(app, comp, share, exclude=exclude, need_fit=True)
                if nid is None:
                    break
                trial.t.reserve(comp, nid)
                trial.shift(comp, nid, share)
                trial.placed.setdefault(app.id, {}).setdefault(comp.id, []).append(nid)
                nodes.append(nid)
            if len(nodes) < k:
                continue
            loads = {n: f * demand for n, f in self.split(app, comp.id, [*have, *nodes]).items()}
            if any(self.spare(comp, n) < loads.get(n, 0.0) for n in set(nodes)):
                continue  # the balancer would not spread it so: some new replica overflows
            near = self.coverage(app, comp.id, [*have, *nodes], onward=False)
            if best is None or 2 * (best[0] - near) > NEARER * target:
                best = (near, k, nodes, loads)
        if best is not None:
            _, k, nodes, loads = best
            return [self.deploy(app, comp, n, loads.get(n, 0.0) / nodes.count(n)) for n in nodes]
        out: list[Action] = []
        for _ in range(count):
            nid = self.choose(app, comp, demand / (len(have) + count), exclude=exclude)
            if nid is None:
                break
            out.append(self.deploy(app, comp, nid, demand / (len(have) + count)))
        return out

    def _copy(self) -> _Plan:
        other = object.__new__(_Plan)
        other.view, other.latest = self.view, self.latest
        other.t = self.t.copy()
        other.placed = {
            a: {c: list(n) for c, n in comps.items()} for a, comps in self.placed.items()
        }
        other.busy = dict(self.busy)
        other._anchors = {}
        return other


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

    def heal(self, p: _Plan) -> list[Action]:
        """Re-place what each component lacks below ``replicas.min``, with the capacity the
        lost replicas had: the missing share of its demand, over more replicas (up to
        ``replicas.max``) when no single node can carry it."""
        exclude = self._excluded(p.view)
        actions: list[Action] = []
        for aid, app in p.view.apps.items():
            for cid in app.order():
                comp = app.component(cid)
                live = len(p.placed.get(aid, {}).get(cid, ()))
                need = comp.replicas_min - live
                if need <= 0:
                    continue
                actions += p.add(app, comp, need, exclude=exclude, up_to=comp.replicas_max - live)
        return actions

    def _excluded(self, view: ClusterView) -> frozenset[str]:
        """Nodes never to heal onto (none by default)."""
        return frozenset()

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        return self.heal(_Plan(view, _latest(telemetry)))


class ThresholdAutoscaler(_Adaptive):
    """HPA-like: replicas = ceil(running × cpu utilisation / target), +1 near the SLO."""

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
        p = _Plan(view, _latest(telemetry))
        actions = self.heal(p)
        for app in view.apps.values():
            risky = at_risk(app, p.latest)
            for cid in app.order():
                actions += self._scale(p, app, cid, risky)
        return actions

    def _scale(self, p: _Plan, app: AppView, cid: str, risky: bool) -> list[Action]:
        comp = app.component(cid)
        key = f"{app.id}/{cid}"
        nodes = list(p.placed.get(app.id, {}).get(cid, ()))  # live, and healed just now
        n = len(nodes)
        m = p.latest.get(("component", key), {})
        util = m.get("component_cpu_utilisation")
        running = int(m.get("component_running_replicas", n))
        if n == 0 or util is None or running == 0:
            return []
        # HPA counts the replicas the utilisation was measured on (the running ones)
        desired = math.ceil(running * util / self.target - 1e-9)
        if risky and util > 0.5 * self.target and running >= n:
            desired = max(desired, n + 1)
        desired = min(max(desired, comp.replicas_min, 1), comp.replicas_max)
        if desired > n:
            self._low[key] = 0
            return p.add(app, comp, desired - n)
        if desired < n and running >= n:
            self._low[key] = self._low.get(key, 0) + 1
            if self._low[key] >= self.stabilisation:
                self._low[key] = 0
                return [Remove(app.id, cid, self._victim(p, app, cid, nodes))]
        else:
            self._low[key] = 0
        return []

    @staticmethod
    def _victim(p: _Plan, app: AppView, cid: str, nodes: list[str]) -> str:
        """The replica whose removal hurts its callers' latency least (newest on ties)."""

        def without(i: int) -> float:
            return p.coverage(app, cid, nodes[:i] + nodes[i + 1 :])

        return nodes[min(range(len(nodes)), key=lambda i: (round(without(i), 6), -i))]


def _queueing(service: float, rho: float, cores: int) -> float:
    """Mean wait of an M/M/c queue (Sakasegawa's approximation); ``inf`` when saturated."""
    if rho >= 1.0:
        return math.inf
    return service * rho ** (math.sqrt(2.0 * (cores + 1)) - 1.0) / (cores * (1.0 - rho))


class SloMigrator(_Adaptive):
    """Moves the replica of an app near its SLO whose move most cuts its estimated latency."""

    name = "slo-migrator"
    base_cls = LatencyGreedy

    def __init__(self, gain: float = 0.1, cooldown: int = 2) -> None:
        super().__init__()
        self.gain = gain
        self.cooldown = cooldown
        self._wait: dict[str, int] = {}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._wait.clear()

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        p = _Plan(view, _latest(telemetry))
        actions = self.heal(p)
        for aid, app in view.apps.items():
            if self._wait.get(aid, 0) > 0:
                self._wait[aid] -= 1
                continue
            if not at_risk(app, p.latest):
                continue
            move = self._pick_move(p, app)
            if move is not None:
                actions.append(move)
                self._wait[aid] = self.cooldown
        return actions

    def _estimate(self, p: _Plan, app: AppView, cid: str, nodes: list[str], nid: str) -> float:
        """Latency ``cid`` adds on ``nid`` with its replicas on ``nodes``: network there and
        back, service, and queueing at ``nid``'s booked utilisation."""
        comp = app.component(cid)
        node = p.view.node(nid)
        service = comp.work.mean / p.speed(comp, nid)
        rho = p.busy[nid] / node.cores
        return 2 * p.coverage(app, cid, nodes) + service + _queueing(service, rho, node.cores)

    def _pick_move(self, p: _Plan, app: AppView) -> Action | None:
        placed = p.placed.get(app.id, {})
        best: tuple[float, str, str, str, float] | None = None
        for cid in app.order():
            comp = app.component(cid)
            nodes = list(placed.get(cid, ()))
            if not nodes:
                continue
            share = p.demand(app, cid) / len(nodes)
            for i, src in enumerate(nodes):
                now = self._estimate(p, app, cid, nodes, src)
                p.shift(comp, src, -share)
                for dst in p.t.feasible(comp):
                    if dst in nodes:
                        continue
                    p.shift(comp, dst, share)
                    after = self._estimate(p, app, cid, [*nodes[:i], dst, *nodes[i + 1 :]], dst)
                    p.shift(comp, dst, -share)
                    if after >= (1.0 - self.gain) * now:
                        continue
                    gain = now - after if math.isfinite(now) else 1e9 - after
                    if best is None or gain > best[0] + 1e-12:
                        best = (gain, cid, src, dst, share)
                p.shift(comp, src, share)
        if best is None:
            return None
        _, cid, src, dst, share = best
        comp = app.component(cid)
        p.t.reserve(comp, dst)
        p.shift(comp, src, -share)
        p.shift(comp, dst, share)
        nodes = placed[cid]
        nodes[nodes.index(src)] = dst
        return Move(app.id, cid, src, dst)


class Failover(_Adaptive):
    """Re-places lost replicas at once; a failed cluster's go to the best other cluster."""

    name = "failover"
    base_cls = TwoLevel

    def __init__(self) -> None:
        super().__init__()
        self._down_clusters: set[str] = set()
        self._down_nodes: set[str] = set()
        self._latest: Latest = {}

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self._down_clusters.clear()
        self._down_nodes.clear()
        self._latest = {}

    def plan(self, view: ClusterView, telemetry: TelemetryView) -> list[Action]:
        # remember the load seen last, to size re-placements when a failure strikes
        self._latest = _latest(telemetry)
        return self.heal(_Plan(view, self._latest))

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
        return self.heal(_Plan(view, self._latest))

    def _excluded(self, view: ClusterView) -> frozenset[str]:
        return frozenset(
            n.id
            for n in view.nodes.values()
            if n.id in self._down_nodes or n.cluster in self._down_clusters
        )


ADAPTIVE: tuple[type[Any], ...] = (ThresholdAutoscaler, SloMigrator, Failover)
"""The adaptive built-ins, in the order ``simcontinuum policies`` lists them."""
