"""The ``karmada`` policy: Karmada divides each workload's replicas over member clusters
(:mod:`simcontinuum.k8s.karmada`), then every member cluster's own kube-scheduler places its
share (:mod:`simcontinuum.k8s.scheduler`), with the ReplicaSet, eviction and HPA behaviour of
:class:`~simcontinuum.k8s.policy.KubeScheduler` inside each member.

- Member clusters: the manifests' ``Cluster`` objects (labels, ``spec.provider``,
  ``region``, ``zone``, ``taints``), else the scenario's clusters; a cluster's nodes are
  those of the scenario cluster of that name.
- Which placement a workload gets: the ``PropagationPolicy`` (same namespace) or
  ``ClusterPropagationPolicy`` whose ``resourceSelectors`` name it (kind + name, or a label
  selector), highest ``spec.priority`` first; scenarios without Karmada manifests use
  ``Divided``/``DynamicWeight: AvailableReplicas`` over every cluster.
- When the HPA (or a scale) changes a workload's total, the assignment follows the
  scale-up/scale-down rules; each member's ReplicaSet then converges to its share.
- **Failure detection**: a cluster whose nodes are all down for 30 s (the cluster
  controller's failure threshold) is tainted ``cluster.karmada.io/not-ready:NoSchedule``.
  Failover is off by default (the ``Failover`` feature gate defaults to false): replicas stay
  assigned to the failed cluster. A policy with ``spec.failover.application`` has them
  rescheduled ``decisionConditions.tolerationSeconds`` (default 300 s) later onto the other
  clusters; ``purgeMode`` (Directly | Gracefully | Never) is read and recorded — here the
  failed cluster's pods are already lost, so the modes do not differ in effect.
- **Descheduler** (every 2 min): a cluster holding replicas that its scheduler could not place
  for 5 min gives them back; they are reassigned to clusters with available replicas.

Every assignment is an ``actions`` row (kind ``karmada``) with the candidates, estimates and
result in ``reason``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from simcontinuum.k8s.karmada import (
    NOT_READY,
    Affinity,
    ClusterInfo,
    Placement,
    assign,
    available_replicas,
    parse_placement,
    select_clusters,
    static_weights,
)
from simcontinuum.k8s.manifests import Manifests, _Reader, read_pod_spec
from simcontinuum.k8s.manifests import label_selector as _label_selector
from simcontinuum.k8s.objects import CLUSTER_LABEL, LabelSelector, Taint
from simcontinuum.k8s.override import apply_overriders, rules_for
from simcontinuum.k8s.policy import Key, KubeScheduler
from simcontinuum.k8s.scheduler import (
    Scheduler,
    Snapshot,
    node_matches_affinity,
    subset,
    untolerated,
)
from simcontinuum.k8s.world import WorkloadInfo, World
from simcontinuum.policy.api import Action, AppView, ClusterView, Deploy, Remove
from simcontinuum.policy.api import Placement as Where

FAILURE_THRESHOLD = 30.0
DESCHEDULE_INTERVAL = 120.0
UNSCHEDULABLE_THRESHOLD = 300.0
DEFAULT_FAILOVER_TOLERATION = 300.0


class KarmadaPolicy(KubeScheduler):
    """Karmada: replicas divided over member clusters, kube-scheduler in each."""

    name = "karmada"

    def reset(self, rng: Any) -> None:
        """Start a run (see :meth:`KubeScheduler.reset`)."""
        super().reset(rng)
        self.assignments: dict[Key, dict[str, int]] = {}
        self._schedulers: dict[str, Scheduler] = {}
        self._clusters: list[ClusterInfo] | None = None
        self._placements: dict[Key, tuple[Placement, dict[str, Any]]] = {}
        self._down_since: dict[str, float] = {}
        self._pending_since: dict[tuple[str, str, str], float] = {}
        self._next_deschedule = DESCHEDULE_INTERVAL
        self._node_cluster: dict[str, str] = {}
        self._overrides: dict[tuple[str, str, str], WorkloadInfo] = {}

    # ------------------------------------------------------------------ clusters
    def _members(self, view: ClusterView) -> list[ClusterInfo]:
        if self._clusters is None:
            world = self.world
            objs = [
                (k, d)
                for k, d, _w in (world.manifests.karmada if world and world.manifests else [])
                if k == "Cluster"
            ]
            if objs:
                out = []
                for _k, d in objs:
                    meta, spec = d.get("metadata") or {}, d.get("spec") or {}
                    taints = tuple(
                        Taint(str(t["key"]), str(t.get("value") or ""), str(t["effect"]))
                        for t in spec.get("taints") or ()
                    )
                    out.append(
                        ClusterInfo(
                            str(meta.get("name")),
                            {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
                            str(spec.get("provider") or ""),
                            str(spec.get("region") or ""),
                            str(spec.get("zone") or (spec.get("zones") or [""])[0]),
                            taints,
                        )
                    )
                self._clusters = out
            else:
                assert world is not None
                self._clusters = [
                    ClusterInfo(c)
                    for c, nodes in view.clusters.items()
                    if any(n in world.nodes for n in nodes)
                ]
        self._node_cluster = {n: c for c, ns in view.clusters.items() for n in ns}
        now = view.now
        out = []
        for c in self._clusters:
            nodes = [n for n in view.clusters.get(c.name, ()) if n in view.nodes]
            down = bool(nodes) and not any(view.nodes[n].up for n in nodes)
            if down:
                self._down_since.setdefault(c.name, now)
            else:
                self._down_since.pop(c.name, None)
            since = self._down_since.get(c.name)
            if since is not None and now - since >= FAILURE_THRESHOLD:
                c = ClusterInfo(
                    c.name,
                    c.labels,
                    c.provider,
                    c.region,
                    c.zone,
                    (*c.taints, Taint(NOT_READY, "", "NoSchedule")),
                )
            out.append(c)
        return out

    def _placement(self, wl: WorkloadInfo) -> tuple[Placement, dict[str, Any]]:
        key = (wl.app, wl.component)
        if key in self._placements:
            return self._placements[key]
        world = self.world
        best: tuple[int, Placement, dict[str, Any]] | None = None
        for kind, d, _w in world.manifests.karmada if world and world.manifests else []:
            if kind not in ("PropagationPolicy", "ClusterPropagationPolicy"):
                continue
            meta, spec = d.get("metadata") or {}, d.get("spec") or {}
            if kind == "PropagationPolicy" and (meta.get("namespace") or "default") != wl.namespace:
                continue
            if not any(_selects(s, wl) for s in spec.get("resourceSelectors") or ()):
                continue
            prio = int(spec.get("priority") or 0)
            if best is None or prio > best[0]:
                best = (prio, parse_placement(spec.get("placement") or {}), dict(spec))
        if best is None:
            has_policies = bool(
                world
                and world.manifests
                and any(k.endswith("PropagationPolicy") for k, _d, _w in world.manifests.karmada)
            )
            # a pod pinned to a node or a cluster can only run in that member cluster (what
            # the accurate estimator's node claim would find; the general one cannot)
            pinned = dict(wl.spec.node_selector).get(CLUSTER_LABEL)
            if wl.spec.node_name:
                pinned = self._node_cluster.get(wl.spec.node_name, pinned)
            affinity = Affinity(names=(pinned,)) if pinned else Affinity()
            result = (
                Placement(affinities=(affinity,), strategy="DynamicWeight"),
                {"_default": not has_policies},
            )
        else:
            result = (best[1], best[2])
        self._placements[key] = result
        return result

    def _nodes_of(self, view: ClusterView, cluster: str) -> list[str]:
        world = self.world
        assert world is not None
        return [n for n in view.clusters.get(cluster, ()) if n in world.nodes]

    def _estimate(self, snap: Snapshot, view: ClusterView, cluster: str, wl: WorkloadInfo) -> int:
        """Available replicas as karmada-scheduler-estimator counts them: per Ready node
        the pod's node claim allows (node selector, required affinity, NoSchedule taints),
        the general estimator's formula, summed."""
        total = 0
        probe = self._pod(wl, "estimate", view.now)
        for n in self._nodes_of(view, cluster):
            info = snap.infos.get(n)
            if info is None or not view.nodes[n].up:
                continue
            if not node_matches_affinity(probe, info.node) or untolerated(
                info.node.taints, wl.spec.tolerations, {"NoSchedule", "NoExecute"}
            ):
                continue
            total += available_replicas(
                info.node.cpu - info.cpu,
                info.node.memory - info.memory,
                info.node.pods - len(info.pods),
                wl.spec.request("cpu"),
                wl.spec.request("memory"),
            )
        return total

    # ------------------------------------------------------------------ assignment
    def _assign(
        self,
        call: str,
        view: ClusterView,
        snap: Snapshot,
        wl: WorkloadInfo,
        total: int,
        *,
        fresh: bool = False,
        exclude: frozenset[str] = frozenset(),
    ) -> dict[str, int]:
        key = (wl.app, wl.component)
        members = [c for c in self._members(view) if c.name not in exclude]
        placement, _spec = self._placement(wl)
        avail = {c.name: self._estimate(snap, view, c.name, wl) for c in members}
        names, term = select_clusters(members, placement, avail, total)
        previous = self.assignments.get(key, {})
        uid = f"{wl.namespace}/{wl.app}/{wl.component}"
        try:
            result = assign(
                placement.strategy,
                total,
                [(n, avail[n]) for n in names],
                previous={k: v for k, v in previous.items() if k not in exclude},
                weights=static_weights([c for c in members if c.name in names], placement),
                fresh=fresh,
                uid=uid,
            )
            outcome, why = "applied", ""
        except ValueError as exc:
            result, outcome, why = dict(previous), "rejected", str(exc)
        self.assignments[key] = result
        reason = json.dumps(
            {
                "strategy": placement.strategy,
                "term": term,
                "candidates": names,
                "available": avail,
                "assignment": result,
                "error": why,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        self._record(call, "karmada", wl.app, wl.component, None, outcome, reason)
        return result

    # ------------------------------------------------------------------ hooks
    def place(self, app: AppView, view: ClusterView) -> Where:
        """Divide each component's replicas over the members, then schedule in each."""
        world = self._ensure_world(view)
        snap = self._snapshot(view)
        placement: Where = {}
        out: list[Action] = []
        for cid in app.order():
            comp = app.component(cid)
            wl = world.workloads[(app.id, cid)]
            want = min(max(wl.replicas, comp.replicas_min), comp.replicas_max)
            self.desired[(app.id, cid)] = want
            for cluster, n in self._assign("place", view, snap, wl, want).items():
                for _ in range(n):
                    node = self._schedule_in(cluster, "place", view, snap, wl, out)
                    if node is None:
                        break
                    placement.setdefault(cid, []).append(node)
        return placement

    def _schedule_in(
        self,
        cluster: str,
        call: str,
        view: ClusterView,
        snap: Snapshot,
        wl: WorkloadInfo,
        out: list[Action],
    ) -> str | None:
        wl = self._overridden(view, wl, cluster)
        sched = self._schedulers.setdefault(cluster, Scheduler(self._rng))
        saved = self.scheduler
        self.scheduler = sched
        try:
            return self._schedule(call, view, subset(snap, self._nodes_of(view, cluster)), wl, out)
        finally:
            self.scheduler = saved

    def _overridden(self, view: ClusterView, wl: WorkloadInfo, cluster: str) -> WorkloadInfo:
        """The workload as OverridePolicies deliver it to ``cluster`` (cached)."""
        key = (wl.app, wl.component, cluster)
        if key in self._overrides:
            return self._overrides[key]
        out = wl
        world = self.world
        manifests = world.manifests if world else None
        raw = manifests.workload(wl.app, wl.component) if manifests else None
        policies = [
            (k, d)
            for k, d, _w in (manifests.karmada if manifests else [])
            if k in ("OverridePolicy", "ClusterOverridePolicy")
        ]
        member = next((c for c in self._members(view) if c.name == cluster), None)
        if raw is not None and policies and member is not None and raw.raw_template:
            rules = rules_for(policies, raw.kind, raw.name, raw.namespace, raw.labels, member)
            if rules:
                doc, refused = apply_overriders({"spec": {"template": raw.raw_template}}, rules)
                tpl = doc["spec"]["template"]
                labels = {
                    str(k): str(v)
                    for k, v in ((tpl.get("metadata") or {}).get("labels") or {}).items()
                }
                scratch = Manifests(root="")
                reader = _Reader(scratch, f"OverridePolicy for {cluster}", raw.kind)
                spec = read_pod_spec(
                    reader,
                    tpl.get("spec"),
                    "spec.template.spec",
                    labels,
                    manifests.priority_classes if manifests else {},
                )
                refused += scratch.problems
                out = replace(wl, spec=spec, labels=labels)
                self._record(
                    "place",
                    "override",
                    wl.app,
                    wl.component,
                    None,
                    "rejected" if refused else "applied",
                    json.dumps({"cluster": cluster, "rules": len(rules), "refused": refused}),
                )
        self._overrides[key] = out
        return out

    def _replicasets(self, view: ClusterView, world: World) -> list[Action]:
        out: list[Action] = []
        snap: Snapshot | None = None
        now = view.now
        members = {c.name: c for c in self._members(view)}
        for key, want in self.desired.items():
            if key[0] not in view.apps:
                continue
            wl = world.workloads[key]
            placement, spec = self._placement(wl)
            current = self.assignments.get(key, {})
            tolerance = _failover_seconds(spec)
            failed = (
                frozenset(
                    c
                    for c in current
                    if c in members
                    and any(t.key == NOT_READY for t in members[c].taints)
                    and now - self._down_since.get(c, now) >= FAILURE_THRESHOLD + tolerance
                )
                if tolerance is not None
                else frozenset()
            )
            total = (
                sum(current.values())
                if placement.strategy != "Duplicated"
                else (max(current.values()) if current else 0)
            )
            if failed or total != want:
                snap = snap or self._snapshot(view)
                if failed:
                    self._record(
                        "plan",
                        "failover",
                        wl.app,
                        wl.component,
                        None,
                        "applied",
                        f"clusters {sorted(failed)} not ready; purgeMode {_purge(spec)}",
                    )
                self._assign("plan", view, snap, wl, want, fresh=bool(failed), exclude=failed)
            for cluster, target in self.assignments.get(key, {}).items():
                nodes = set(self._nodes_of(view, cluster))
                live = [n for n in view.placements.get(key[0], {}).get(key[1], ()) if n in nodes]
                phantoms = sum(1 for a, c, n, _e in self._phantoms if (a, c) == key and n in nodes)
                have = len(live) + phantoms
                pkey = (key[0], key[1], cluster)
                if have < target:
                    self._pending_since.setdefault(pkey, now)
                    snap = snap or self._snapshot(view)
                    for _ in range(target - have):
                        node = self._schedule_in(cluster, "plan", view, snap, wl, out)
                        if node is None:
                            break
                        out.append(Deploy(key[0], key[1], node))
                else:
                    self._pending_since.pop(pkey, None)
                    if have > target and live:
                        out += self._scale_down(view, key, live, have - target)
            # replicas on clusters no longer assigned
            assigned = set(self.assignments.get(key, {}))
            for cluster in members:
                if cluster in assigned:
                    continue
                nodes = set(self._nodes_of(view, cluster))
                for n in view.placements.get(key[0], {}).get(key[1], ()):
                    if n in nodes:
                        out.append(Remove(key[0], key[1], n))
        if now + 1e-9 >= self._next_deschedule:
            self._next_deschedule = now + DESCHEDULE_INTERVAL
            self._deschedule(view, world)
        return out

    def _deschedule(self, view: ClusterView, world: World) -> None:
        """Give back replicas a member could not place for 5 minutes."""
        now = view.now
        for (aid, cid, cluster), since in list(self._pending_since.items()):
            if now - since < UNSCHEDULABLE_THRESHOLD:
                continue
            key = (aid, cid)
            current = self.assignments.get(key, {})
            if cluster not in current:
                continue
            nodes = set(self._nodes_of(view, cluster))
            placed = sum(1 for n in view.placements.get(aid, {}).get(cid, ()) if n in nodes)
            if placed < current[cluster]:
                self._record(
                    "plan",
                    "deschedule",
                    aid,
                    cid,
                    None,
                    "applied",
                    f"{current[cluster] - placed} replicas unschedulable in {cluster} "
                    f"for {now - since:.0f} s",
                )
                current = dict(current)
                if placed:
                    current[cluster] = placed
                else:
                    del current[cluster]
                self.assignments[key] = current
                self._pending_since.pop((aid, cid, cluster), None)


def _failover_seconds(spec: Mapping[str, Any]) -> float | None:
    app = (spec.get("failover") or {}).get("application")
    if not app:
        return None
    secs = (app.get("decisionConditions") or {}).get("tolerationSeconds")
    return float(secs) if isinstance(secs, int | float) else DEFAULT_FAILOVER_TOLERATION


def _purge(spec: Mapping[str, Any]) -> str:
    app = (spec.get("failover") or {}).get("application") or {}
    return str(app.get("purgeMode") or "Gracefully")


def _selects(sel: Mapping[str, Any], wl: WorkloadInfo) -> bool:
    if sel.get("kind") and sel["kind"] != wl.kind:
        return False
    if sel.get("name") and sel["name"] != wl.component:
        return False
    if sel.get("namespace") and sel["namespace"] != wl.namespace:
        return False
    ls = sel.get("labelSelector")
    if isinstance(ls, Mapping):
        s = LabelSelector(
            tuple(sorted((str(k), str(v)) for k, v in (ls.get("matchLabels") or {}).items()))
        )
        if not s.matches(wl.labels):
            return False
    return True


_ = (_label_selector, defaultdict)

__all__ = ["KarmadaPolicy"]
