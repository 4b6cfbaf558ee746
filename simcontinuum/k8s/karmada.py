"""Karmada's scheduler: which member clusters get how many replicas, then kube-scheduler in
each cluster.

Followed: karmada-io/karmada **v1.16.0** (commit b1ff49568525b6bff36869af7dc3beb2add92425):
``pkg/scheduler/core/assignment.go``, ``division_algorithm.go``,
``pkg/util/helper/webstermethod.go`` and ``binding.go``, ``pkg/estimator/client/general.go``,
``pkg/apis/policy/v1alpha1``.

- **Cluster selection**: ``clusterAffinity`` (``clusterNames``, ``exclude``,
  ``labelSelector``, ``fieldSelector`` on provider/region/zone) or ordered
  ``clusterAffinities``, the next term tried when the current one cannot hold the replicas;
  ``clusterTolerations`` against the Cluster's ``spec.taints`` (NoSchedule/NoExecute) and the
  ``cluster.karmada.io/not-ready`` / ``unreachable`` taints of a failed cluster;
  ``spreadConstraints`` by ``cluster``/``region``/``zone``/``provider``: the groups with the
  most available replicas first, at most ``maxGroups``, failing below ``minGroups``.
- **Estimation** (:func:`available_replicas`, the general estimator's formula): ``min`` over
  cpu and memory of ``floor(free / request)``, at most the allowed pods left; the policy
  applies it per node the pod's node claim allows and sums, as karmada-scheduler-estimator
  does.
- **Assignment**: ``Duplicated`` gives every cluster all replicas; ``Divided`` with static
  weights (default 1 each) apportions all replicas by the **Webster (Sainte-Laguë) method**:
  each next replica goes to the cluster with the largest ``weight / (2·replicas + 1)``; ties
  to the one with fewer replicas, then by name ascending or descending as the FNV-32a hash of
  the binding's UID is even or odd. ``DynamicWeight: AvailableReplicas`` weighs clusters by
  their available replicas: on scale-up only the added replicas are divided (over what is
  available now), on scale-down the new total is divided by the current assignment, fresh
  scheduling divides the total over available + assigned. ``Aggregated`` keeps the clusters
  already used first, then takes as few clusters (by available replicas) as hold the
  replicas, and divides among them the same way.

Invariants: pure functions of their inputs; no randomness (the UID hash decides ties).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simcontinuum.k8s.objects import LabelSelector, Requirement, Taint, Toleration, tolerated

NOT_READY = "cluster.karmada.io/not-ready"
UNREACHABLE = "cluster.karmada.io/unreachable"

TieBreaker = Callable[[tuple[str, int], tuple[str, int]], bool]


# ----------------------------------------------------------------------------- Webster


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bits (Go's ``hash/fnv.New32a``).

    >>> hex(fnv32a(b"a"))
    '0xe40c292c'
    """
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def tie_breaker_by_uid(uid: str) -> TieBreaker:
    """``tieBreakerByUID``: fewer seats first, then names ascending (even hash or no UID)
    or descending (odd hash)."""
    descending = bool(uid) and fnv32a(uid.encode()) & 1 == 1

    def better(a: tuple[str, int], b: tuple[str, int]) -> bool:
        if a[1] != b[1]:
            return a[1] < b[1]
        return a[0] > b[0] if descending else a[0] < b[0]

    return better


class _Entry:
    __slots__ = ("name", "seats", "tie", "votes")

    def __init__(self, name: str, votes: int, seats: int, tie: TieBreaker | None) -> None:
        self.name, self.votes, self.seats, self.tie = name, votes, seats, tie

    def __lt__(self, other: _Entry) -> bool:  # heapq pops the smallest: "comes first"
        a = self.votes / (2 * self.seats + 1)
        b = other.votes / (2 * other.seats + 1)
        if a == b:
            if self.tie is not None:
                return self.tie((self.name, self.seats), (other.name, other.seats))
            if self.seats != other.seats:
                return self.seats < other.seats
            return self.name < other.name
        return a > b


def webster(
    seats: int,
    votes: Mapping[str, int],
    initial: Mapping[str, int] | None = None,
    tie_breaker: TieBreaker | None = None,
) -> dict[str, int]:
    """``AllocateWebsterSeats``: ``seats`` more seats over the parties, by name.

    >>> webster(7, {"a": 6, "b": 2, "c": 1})
    {'a': 4, 'b': 2, 'c': 1}
    >>> webster(12, {"m1": 6, "m2": 12, "m3": 18})
    {'m1': 2, 'm2': 4, 'm3': 6}
    """
    parties: dict[str, list[int]] = {n: [0, s] for n, s in (initial or {}).items()}
    for n, v in votes.items():
        parties.setdefault(n, [0, 0])[0] = v
    if not parties:
        return {}
    heap = [_Entry(n, v, s, tie_breaker) for n, (v, s) in parties.items()]
    heapq.heapify(heap)
    for _ in range(seats):
        e = heapq.heappop(heap)
        e.seats += 1
        heapq.heappush(heap, e)
    return {e.name: e.seats for e in sorted(heap, key=lambda e: e.name)}


# ----------------------------------------------------------------------------- division


def _by_replicas_desc(items: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    # sort.Sort on TargetClustersList: replicas descending (Go's sort is not stable; a
    # stable order by name keeps runs reproducible)
    return sorted(items, key=lambda x: -x[1])


def dynamic_divide(
    target: int,
    available: Sequence[tuple[str, int]],
    *,
    aggregated: bool = False,
    scheduled: Mapping[str, int] | None = None,
    uid: str = "",
) -> dict[str, int]:
    """``dynamicDivideReplicas``: ``target`` replicas over ``available`` (cluster, available
    replicas), merged with ``scheduled`` (the replicas kept).

    Raises:
        ValueError: the clusters' available replicas are fewer than ``target``.
    """
    total = sum(r for _n, r in available)
    if total < target:
        raise ValueError(f"Clusters available replicas {total} are not enough to schedule.")
    clusters = list(available)
    if aggregated:
        prior = {n for n, r in (scheduled or {}).items() if r > 0}
        if prior:
            clusters = [c for c in clusters if c[0] in prior] + [
                c for c in clusters if c[0] not in prior
            ]
        acc = 0
        for i, (_n, r) in enumerate(clusters):
            acc += r
            if acc >= target:
                clusters = clusters[: i + 1]
                break
    spread = webster(target, {n: r for n, r in clusters}, None, tie_breaker_by_uid(uid))
    out = dict(scheduled or {})
    for n, r in spread.items():
        out[n] = out.get(n, 0) + r
    return {n: r for n, r in out.items() if r > 0}


def assign(
    strategy: str,
    replicas: int,
    candidates: Sequence[tuple[str, int]],
    *,
    previous: Mapping[str, int] | None = None,
    weights: Mapping[str, int] | None = None,
    fresh: bool = False,
    uid: str = "",
) -> dict[str, int]:
    """Replicas per cluster (``assignByDuplicatedStrategy`` / ``StaticWeight`` /
    ``DynamicWeight`` / ``Aggregated``) over ``candidates`` = (cluster, available
    replicas) in candidate order, given the ``previous`` assignment."""
    if strategy == "Duplicated":
        return {n: replicas for n, _r in candidates}
    if strategy == "StaticWeight":
        w = {n: (weights or {}).get(n, 0) for n, _r in candidates}
        if sum(w.values()) == 0:
            w = {n: 1 for n, _r in candidates}
        w = {n: v for n, v in w.items() if v > 0}
        got = webster(replicas, w, None, tie_breaker_by_uid(uid))
        return {n: r for n, r in got.items() if r > 0}
    aggregated = strategy == "Aggregated"
    names = {n for n, _r in candidates}
    scheduled = {n: r for n, r in (previous or {}).items() if n in names}
    assigned = sum(scheduled.values())
    if fresh:
        avail = dict(candidates)
        for n, r in scheduled.items():
            avail[n] = avail.get(n, 0) + r
        return dynamic_divide(
            replicas, _by_replicas_desc(list(avail.items())), aggregated=aggregated, uid=uid
        )
    if assigned > replicas:  # scale down: divide the new total by the current assignment
        return dynamic_divide(
            replicas, _by_replicas_desc(list(scheduled.items())), aggregated=aggregated, uid=uid
        )
    if assigned < replicas:  # scale up: only the added replicas, over what is available
        return dynamic_divide(
            replicas - assigned,
            _by_replicas_desc(list(candidates)),
            aggregated=aggregated,
            scheduled=scheduled,
            uid=uid,
        )
    return dict(scheduled)


# ----------------------------------------------------------------------------- estimator


def available_replicas(
    free_cpu: int, free_memory: int, allowed_pods: int, cpu: int, memory: int
) -> int:
    """The general estimator: ``min`` over requested resources of ``free // request``,
    bounded by the pods the cluster may still run.

    >>> available_replicas(4000, 8 * 2**30, 100, 500, 2**30)
    8
    >>> available_replicas(4000, 8 * 2**30, 3, 500, 2**30)
    3
    """
    best = max(0, allowed_pods)
    if cpu > 0:
        best = min(best, max(0, free_cpu) // cpu)
    if memory > 0:
        best = min(best, max(0, free_memory) // memory)
    return best


# ----------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class ClusterInfo:
    """A member cluster as the Karmada scheduler sees it."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    provider: str = ""
    region: str = ""
    zone: str = ""
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class Affinity:
    """``ClusterAffinity``: names, exclusions, a label selector and field requirements."""

    names: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    selector: LabelSelector | None = None
    fields: tuple[Requirement, ...] = ()

    def matches(self, c: ClusterInfo) -> bool:
        if c.name in self.exclude:
            return False
        if self.names and c.name not in self.names:
            return False
        if self.selector is not None and not self.selector.matches(c.labels):
            return False
        values = {"provider": c.provider, "region": c.region, "zone": c.zone}
        return all(r.matches({k: v for k, v in values.items() if v}) for r in self.fields)


@dataclass(frozen=True)
class Placement:
    """A PropagationPolicy's ``placement``."""

    affinities: tuple[Affinity, ...] = (Affinity(),)
    tolerations: tuple[Toleration, ...] = ()
    spread: tuple[tuple[str, int, int], ...] = ()  # (field, minGroups, maxGroups)
    strategy: str = "DynamicWeight"  # Duplicated | StaticWeight | DynamicWeight | Aggregated
    weights: tuple[tuple[Affinity, int], ...] = ()


def schedulable(c: ClusterInfo, placement: Placement) -> bool:
    """``TaintToleration``: every NoSchedule/NoExecute taint must be tolerated."""
    return all(
        t.effect not in ("NoSchedule", "NoExecute") or tolerated(t, placement.tolerations)
        for t in c.taints
    )


def select_clusters(
    clusters: Sequence[ClusterInfo],
    placement: Placement,
    available: Mapping[str, int],
    replicas: int,
) -> tuple[list[str], str]:
    """Candidate clusters (best first) for ``replicas``: the first affinity term whose
    clusters pass the filters and spread constraints and can hold the replicas (the last
    term's clusters when none can). Returns the names and which term was used."""
    last: list[str] = []
    used = ""
    for i, aff in enumerate(placement.affinities):
        names = [c for c in clusters if aff.matches(c) and schedulable(c, placement)]
        chosen = _spread(names, placement, available)
        last, used = [c.name for c in chosen], f"clusterAffinities[{i}]"
        need = replicas if placement.strategy != "Duplicated" else 1
        if chosen and (
            placement.strategy == "Duplicated" or sum(available.get(n, 0) for n in last) >= need
        ):
            return last, used
    return last, used


def _spread(
    cands: list[ClusterInfo], placement: Placement, available: Mapping[str, int]
) -> list[ClusterInfo]:
    ordered = sorted(cands, key=lambda c: (-available.get(c.name, 0), c.name))
    for fld, lo, hi in placement.spread:
        groups: dict[str, list[ClusterInfo]] = {}
        for c in ordered:
            key = c.name if fld == "cluster" else getattr(c, fld, "") or ""
            groups.setdefault(key, []).append(c)
        if len(groups) < lo:
            return []
        ranked = sorted(
            groups.items(), key=lambda kv: (-sum(available.get(c.name, 0) for c in kv[1]), kv[0])
        )
        keep = ranked[: hi if hi > 0 else len(ranked)]
        names = {c.name for _k, cs in keep for c in cs}
        ordered = [c for c in ordered if c.name in names]
    return ordered


def parse_placement(spec: Mapping[str, Any]) -> Placement:
    """The ``placement`` of a PropagationPolicy manifest."""

    def affinity(d: Mapping[str, Any] | None) -> Affinity:
        d = d or {}
        sel = d.get("labelSelector")
        selector = None
        if isinstance(sel, Mapping):
            selector = LabelSelector(
                tuple(sorted((str(k), str(v)) for k, v in (sel.get("matchLabels") or {}).items())),
                tuple(
                    Requirement(
                        str(e["key"]),
                        str(e["operator"]),
                        tuple(str(x) for x in e.get("values") or ()),
                    )
                    for e in sel.get("matchExpressions") or ()
                ),
            )
        fields = tuple(
            Requirement(
                str(e["key"]), str(e["operator"]), tuple(str(x) for x in e.get("values") or ())
            )
            for e in (d.get("fieldSelector") or {}).get("matchExpressions") or ()
        )
        return Affinity(
            tuple(str(x) for x in d.get("clusterNames") or ()),
            tuple(str(x) for x in d.get("exclude") or ()),
            selector,
            fields,
        )

    if spec.get("clusterAffinities"):
        affs = tuple(affinity(a) for a in spec["clusterAffinities"])
    else:
        affs = (affinity(spec.get("clusterAffinity")),)
    tols = tuple(
        Toleration(
            str(t.get("key") or ""),
            str(t.get("operator") or "Equal"),
            str(t.get("value") or ""),
            str(t.get("effect") or ""),
            t.get("tolerationSeconds"),
        )
        for t in spec.get("clusterTolerations") or ()
    )
    spread = tuple(
        (
            str(s.get("spreadByField") or "cluster"),
            int(s.get("minGroups") or 1),
            int(s.get("maxGroups") or 0),
        )
        for s in spec.get("spreadConstraints") or ()
    )
    rs = spec.get("replicaScheduling") or {}
    strategy = "Duplicated"
    weights: tuple[tuple[Affinity, int], ...] = ()
    if rs.get("replicaSchedulingType", "Duplicated") == "Divided":
        pref = rs.get("replicaDivisionPreference", "Weighted")
        wp = rs.get("weightPreference") or {}
        if pref == "Aggregated":
            strategy = "Aggregated"
        elif wp.get("dynamicWeight"):
            strategy = "DynamicWeight"
        else:
            strategy = "StaticWeight"
            weights = tuple(
                (affinity(w.get("targetCluster")), int(w.get("weight") or 0))
                for w in wp.get("staticWeightList") or ()
            )
    return Placement(affs, tols, spread, strategy, weights)


def static_weights(clusters: Sequence[ClusterInfo], placement: Placement) -> dict[str, int]:
    """``getStaticWeightInfoList``: each cluster's largest matching weight."""
    out = {}
    for c in clusters:
        w = max((weight for aff, weight in placement.weights if aff.matches(c)), default=0)
        out[c.name] = w
    return out


__all__ = [
    "NOT_READY",
    "UNREACHABLE",
    "Affinity",
    "ClusterInfo",
    "Placement",
    "assign",
    "available_replicas",
    "dynamic_divide",
    "fnv32a",
    "parse_placement",
    "schedulable",
    "select_clusters",
    "static_weights",
    "tie_breaker_by_uid",
    "webster",
]
