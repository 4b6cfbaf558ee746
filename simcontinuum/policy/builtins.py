"""Built-in placement baselines: the simple rules a new policy should beat.

Every baseline places ``replicas_min`` replicas of each component of the arriving application,
walking components in ``app.order()`` (callers before callees). The view is a snapshot, so
within one ``place`` call a policy keeps its own tentative reservations on top of it
(:class:`~simcontinuum.policy.reservations.Reservations`): two replicas put on one node by the
same call must both fit. A component with no feasible node is left out of the placement (the
engine records it as unplaced); a baseline never raises for lack of room.

Invariants:
- every node a baseline returns is up, satisfies the component's constraints and has room
  (cpu and memory) for all the replicas that call put there;
- a baseline's choice depends only on the view, the application, its own state (the
  round-robin cursor) and the generator given to ``reset(rng)``; ``reset`` restores the state
  a fresh instance has, so the same seed replays the same placements.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simcontinuum.model import Component
from simcontinuum.policy.api import (
    AppView,
    ClusterView,
    Placement,
    constraint_violation,
)
from simcontinuum.policy.reservations import Reservations

_EPS = 1e-9
TWO_LEVEL_LATENCY_SCALE = 0.010
"""Seconds of mean source latency that cost a cluster as much as all its free cpu share."""


# ----------------------------------------------------------------------------- helpers


def source_latency(view: ClusterView, app: AppView, nid: str) -> float:
    """Request-rate-weighted mean latency (s) from ``app.sources`` to ``nid``.

    Sources with a zero rate count equally when no source has a positive rate; an application
    without sources gives 0 (every node is as good).
    """
    weighted = [(rate, src) for src, rate in app.sources if rate > 0]
    if not weighted:
        weighted = [(1.0, src) for src, _ in app.sources]
    if not weighted:
        return 0.0
    total = sum(w for w, _ in weighted)
    return sum(w * view.latency(src, nid) for w, src in weighted) / total


def _argmin(nids: list[str], key: Callable[[str], tuple[float, ...]]) -> str | None:
    """The first node with the smallest key (scenario order breaks exact ties)."""
    return min(nids, key=key) if nids else None


# ----------------------------------------------------------------------------- base


class _Baseline:
    """Shared loop: ``replicas_min`` replicas per component, chosen one by one."""

    name = "baseline"

    def reset(self, rng: np.random.Generator) -> None:
        """Forget per-run state (none by default)."""

    def place(self, app: AppView, view: ClusterView) -> Placement:
        """Place ``replicas_min`` replicas of every component of ``app``.

        Args:
            app: the arriving application.
            view: a snapshot of the continuum.

        Returns:
            ``{component: [node, ...]}``; components that fit nowhere are left out.
        """
        t = Reservations(view)
        placement: Placement = {}
        for cid in app.order():
            comp = app.component(cid)
            nodes = _place_replicas(comp, t, lambda c: self._choose(c, app, t, placement))
            if nodes:
                placement[cid] = nodes
        return placement

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _place_replicas(
    comp: Component, t: Reservations, choose: Callable[[Component], str | None]
) -> list[str]:
    """Choose and reserve up to ``replicas_min`` nodes for ``comp``; stop at the first miss."""
    nodes: list[str] = []
    for _ in range(comp.replicas_min):
        nid = choose(comp)
        if nid is None:
            break
        t.reserve(comp, nid)
        nodes.append(nid)
    return nodes


class _Seeded(_Baseline):
    """A baseline that draws from a generator: ``reset(rng)``'s, else a private seed-0 one."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        """Use the run's ``"policy"`` stream for every draw from now on."""
        self._rng = rng


# ----------------------------------------------------------------------------- baselines


class RandomPolicy(_Seeded):
    """Uniformly random feasible node for each replica."""

    name = "random"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        nodes = t.feasible(comp)
        return nodes[int(self._rng.integers(len(nodes)))] if nodes else None


class RoundRobin(_Baseline):
    """Next feasible node after the last one used, cycling in scenario order across calls."""

    name = "round-robin"

    def __init__(self) -> None:
        self._last: str | None = None

    def reset(self, rng: np.random.Generator) -> None:
        """Start the cycle again from the first node."""
        self._last = None

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        order = list(t.view.nodes)
        last = self._last
        start = order.index(last) + 1 if last is not None and last in t.view.nodes else 0
        for nid in order[start:] + order[:start]:
            if t.fits(comp, nid):
                self._last = nid
                return nid
        return None


class FirstFit(_Baseline):
    """First feasible node in scenario order."""

    name = "first-fit"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        return next(iter(t.feasible(comp)), None)


class BestFit(_Baseline):
    """Feasible node with the least cpu left after placing (the tightest fit)."""

    name = "best-fit"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        return _argmin(t.feasible(comp), lambda n: (t.free_cpu(n) - comp.cpu,))


class LatencyGreedy(_Baseline):
    """Entry nearest its sources (rate-weighted), each callee nearest its callers' nodes."""

    name = "latency-greedy"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        view = t.view
        live = view.placements.get(app.id, {})
        callers = [n for c in app.callers(comp.id) for n in placement.get(c, live.get(c, ()))]

        def latency(nid: str) -> float:
            if not callers:
                return source_latency(view, app, nid)
            return sum(view.latency(c, nid) for c in callers) / len(callers)

        return _argmin(t.feasible(comp), lambda n: (latency(n), -t.free_cpu(n)))


class CostGreedy(_Baseline):
    """Cheapest marginal cost per hour of one replica; ties go to lower source latency."""

    name = "cost-greedy"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        def cost(nid: str) -> float:
            price = t.view.node(nid).price
            wakes = price.billing == "when_active" and not t.hosts_anything(nid)
            return price.per_core_hour * comp.cpu + (price.per_hour if wakes else 0.0)

        return _argmin(t.feasible(comp), lambda n: (cost(n), source_latency(t.view, app, n)))


class K8sDefault(_Seeded):
    """kube-scheduler: filter, score least-allocated (cpu, memory), random among the best."""

    name = "k8s-default"

    def _choose(
        self, comp: Component, app: AppView, t: Reservations, placement: Placement
    ) -> str | None:
        return _reservoir_best(t.feasible(comp), lambda n: t.least_allocated(comp, n), self._rng)


def _reservoir_best(
    nids: list[str], score: Callable[[str], float], rng: np.random.Generator
) -> str | None:
    """Highest score; ties replaced with probability 1/count (kube-scheduler's selectHost)."""
    best: str | None = None
    best_score, ties = -float("inf"), 0
    for nid in nids:
        s = score(nid)
        if best is None or s > best_score + _EPS:
            best, best_score, ties = nid, s, 1
        elif abs(s - best_score) <= _EPS:
            ties += 1
            if int(rng.integers(ties)) == 0:
                best = nid
    return best


class TwoLevel(_Baseline):
    """Karmada-like: best cluster (free cpu share − latency/10 ms), then least-allocated node.

    A cluster's score for a component is ``free_cpu / cores`` over its up nodes minus the mean,
    over its nodes eligible for the component, of the rate-weighted source latency divided by
    ``TWO_LEVEL_LATENCY_SCALE`` (10 ms). The whole application first goes into the single best
    cluster that can hold all of it; when none can, each replica goes to the best cluster that
    can host it. Inside a cluster the node with the highest least-allocated score wins (ties:
    scenario order).
    """

    name = "two-level"

    def place(self, app: AppView, view: ClusterView) -> Placement:
        """Place ``app`` in one cluster when one can hold it all, else cluster by cluster."""
        t = Reservations(view)
        entry = app.component(app.entry)
        for cluster in sorted(view.clusters, key=lambda c: -_cluster_score(t, app, entry, c)):
            placement = self._fill(app, t.copy(), cluster)
            if _complete(app, placement):
                return placement
        return self._fill(app, t, None)

    def _fill(self, app: AppView, t: Reservations, cluster: str | None) -> Placement:
        """Place every component inside ``cluster``, or (``None``) each in its best cluster."""

        def choose(comp: Component) -> str | None:
            where = cluster if cluster is not None else _best_cluster(t, app, comp)
            return _node_in(t, comp, where)

        placement: Placement = {}
        for cid in app.order():
            nodes = _place_replicas(app.component(cid), t, choose)
            if nodes:
                placement[cid] = nodes
        return placement


def _cluster_nodes(view: ClusterView, cluster: str) -> list[str]:
    return [n for n in view.clusters.get(cluster, ()) if n in view.nodes]


def _cluster_score(t: Reservations, app: AppView, comp: Component, cluster: str) -> float:
    view = t.view
    nids = _cluster_nodes(view, cluster)
    cores = sum(view.node(n).cores for n in nids if view.node(n).up)
    share = sum(t.free_cpu(n) for n in nids) / cores if cores else 0.0
    eligible = [n for n in nids if constraint_violation(comp, view.node(n)) is None]
    if not eligible:
        return -float("inf")
    latency = sum(source_latency(view, app, n) for n in eligible) / len(eligible)
    return share - latency / TWO_LEVEL_LATENCY_SCALE


def _best_cluster(t: Reservations, app: AppView, comp: Component) -> str | None:
    hosts = [c for c in t.view.clusters if t.feasible(comp, _cluster_nodes(t.view, c))]
    return max(hosts, key=lambda c: _cluster_score(t, app, comp, c), default=None)


def _node_in(t: Reservations, comp: Component, cluster: str | None) -> str | None:
    if cluster is None:
        return None
    nids = t.feasible(comp, _cluster_nodes(t.view, cluster))
    return max(nids, key=lambda n: t.least_allocated(comp, n), default=None)


def _complete(app: AppView, placement: Placement) -> bool:
    return all(len(placement.get(c.id, ())) >= c.replicas_min for c in app.components)


BUILTINS: tuple[type[_Baseline], ...] = (
    RandomPolicy,
    RoundRobin,
    FirstFit,
    BestFit,
    LatencyGreedy,
    CostGreedy,
    K8sDefault,
    TwoLevel,
)
"""The built-in baselines, in the order ``simcontinuum policies`` lists them."""

__all__ = [
    "BUILTINS",
    "TWO_LEVEL_LATENCY_SCALE",
    "BestFit",
    "CostGreedy",
    "FirstFit",
    "K8sDefault",
    "LatencyGreedy",
    "RandomPolicy",
    "RoundRobin",
    "TwoLevel",
    "source_latency",
]
