"""The ``kube-scheduler`` policy: kube-scheduler, the ReplicaSet controller, the node
lifecycle controller's evictions and the HPA, as one Kubernetes control plane.

- **place** (an application arrives): each component's Deployment gets ``spec.replicas``
  pods (clamped to the component's replica range), scheduled one by one by
  :class:`~simcontinuum.k8s.scheduler.Scheduler`, each seeing the pods bound before it.
- **plan** every second (the scheduling queue's pace; ``control.interval`` is not used):
  every 15 s the HPAs sync on the delivered ``component_cpu_utilisation``
  (:mod:`~simcontinuum.k8s.hpa`); then each Deployment's missing pods are scheduled, highest
  priority first (PrioritySort), and surplus pods are removed (pending ones first, then those
  on the node holding most of the workload, then the newest), as the ReplicaSet controller
  ranks them. A pod that fits nowhere may preempt lower-priority pods; it is then nominated
  to that node and bound there once the victims are gone.
- **failures**: a pod lost with a node counts as still there until the node lifecycle
  controller evicts it — ``node-monitor-grace-period`` (40 s) plus the pod's
  ``tolerationSeconds`` for ``node.kubernetes.io/unreachable`` (300 s by the
  DefaultTolerationSeconds admission) — and is then replaced; if the node is back before,
  the kubelet restarts it there. A down node carries the ``unreachable`` taints, so nothing
  is scheduled on it.

Every scheduling cycle is recorded as an ``actions`` row (call ``place``/``plan``, kind
``schedule``, outcome ``applied`` or ``rejected``) whose ``reason`` is the JSON of
kube-scheduler-simulator's annotations (``filter-result``, ``score-result``,
``finalscore-result``, ``postfilter-result``, ``selected-node``); HPA syncs that change
``spec.replicas`` are ``hpa`` rows. ``policy.decisions`` keeps them in memory too.

``kube-scheduler-hpa`` is the same control plane with an HPA (60 % cpu, the
``threshold-autoscaler``'s target, v2 default behaviour) for every component whose replica
range allows scaling and that has none of its own.

Invariants: decisions depend only on the views, the delivered telemetry, the manifests and
the generator given to ``reset`` (ties, preemption offsets); every node returned passes every
filter in the snapshot the policy saw.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np

from simcontinuum.k8s.hpa import SYNC_PERIOD, Autoscaler, PodMetric
from simcontinuum.k8s.manifests import HPASpec
from simcontinuum.k8s.objects import Container, Pod, PodSpec, Taint
from simcontinuum.k8s.scheduler import Decision, Scheduler, Snapshot
from simcontinuum.k8s.world import WorkloadInfo, World, build_world
from simcontinuum.policy.api import (
    Action,
    AppView,
    ClusterView,
    Deploy,
    Event,
    Placement,
    Remove,
    TelemetryView,
)

NODE_MONITOR_GRACE = 40.0
"""Seconds before the node lifecycle controller marks a silent node NotReady."""
DEFAULT_TOLERATION_SECONDS = 300.0
"""DefaultTolerationSeconds: how long a pod stays bound to an unreachable node."""
SYNTHETIC_HPA_TARGET = 60
MAX_DECISIONS = 20_000
UNREACHABLE = "node.kubernetes.io/unreachable"
_TERMINATING_PRIORITY = 2**40  # never a preemption victim

Key = tuple[str, str]


def eviction_delay(spec: PodSpec) -> float | None:
    """Seconds from a node failure until its pod is evicted (``None``: never)."""
    taint = Taint(UNREACHABLE, "", "NoExecute")
    matching = [t for t in spec.tolerations if t.tolerates(taint)]
    if not matching:
        return NODE_MONITOR_GRACE + DEFAULT_TOLERATION_SECONDS
    if any(t.seconds is None for t in matching):
        return None
    return NODE_MONITOR_GRACE + max(0.0, min(t.seconds or 0.0 for t in matching))


class KubeScheduler:
    """Kubernetes: kube-scheduler's default profile, ReplicaSets, evictions and HPAs."""

    name = "kube-scheduler"
    control_interval = 1.0
    synthesize_hpa = False

    def __init__(self) -> None:
        self.reset(np.random.default_rng(0))

    # ------------------------------------------------------------------ life cycle
    def reset(self, rng: np.random.Generator) -> None:
        """Start a run: the scheduler's ties and preemption offsets draw from ``rng``."""
        self._rng = rng
        self.scheduler = Scheduler(rng)
        self._sim: Any = None
        self.world: World | None = None
        self.desired: dict[Key, int] = {}
        self.autoscalers: dict[Key, Autoscaler] = {}
        self._next_sync = SYNC_PERIOD
        self._starts: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        self._known: dict[tuple[str, str, str], int] = {}
        self._phantoms: list[tuple[str, str, str, float | None]] = []  # app, comp, node, evict at
        self._nominated: dict[Key, list[str]] = defaultdict(list)
        self._images: dict[str, set[str]] = defaultdict(set)
        self._last_failure: dict[Key, str] = {}
        self.decisions: list[dict[str, Any]] = []

    def bind(self, simulation: Any) -> None:
        """Record into ``simulation``'s run; read its scenario and which replicas run
        (through its public driving API: ``scenario``, ``running_on``, ``record_action``)."""
        self._sim = simulation

    # ------------------------------------------------------------------ world
    def _ensure_world(self, view: ClusterView) -> World:
        apps = {aid: list(a.components) for aid, a in view.apps.items()}
        if self.world is None:
            scenario = self._sim.scenario if self._sim is not None else None
            if scenario is not None:
                nodes = list(scenario.topology.nodes)
                apps = {a.id: list(a.components) for a in scenario.applications}
            else:
                nodes = list(view.nodes.values())
            self.world = build_world(scenario, nodes, apps)
            if self.synthesize_hpa:
                self._synthesize(apps)
            for key, spec in self.world.hpas.items():
                self.autoscalers[key] = Autoscaler(spec)
        else:
            from simcontinuum.k8s.world import workload_of

            for aid, comps in apps.items():
                for c in comps:
                    if (aid, c.id) not in self.world.workloads:
                        self.world.workloads[(aid, c.id)] = workload_of(aid, c)
        return self.world

    def _synthesize(self, apps: dict[str, list[Any]]) -> None:
        assert self.world is not None
        for aid, comps in apps.items():
            for c in comps:
                key = (aid, c.id)
                if key in self.world.hpas or c.replicas_max <= c.replicas_min:
                    continue
                self.world.hpas[key] = HPASpec(
                    f"{c.id}-hpa",
                    "default",
                    "Deployment",
                    c.id,
                    max(1, c.replicas_min),
                    c.replicas_max,
                    SYNTHETIC_HPA_TARGET,
                    None,
                    None,
                    None,
                    "(synthesized)",
                )

    # ------------------------------------------------------------------ snapshot
    def _pods_of(self, view: ClusterView) -> dict[tuple[str, str, str], int]:
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        for aid, comps in view.placements.items():
            for cid, nodes in comps.items():
                for n in nodes:
                    counts[(aid, cid, n)] += 1
        return counts

    def _reconcile(self, view: ClusterView) -> list[Action]:
        """Follow what happened since the last call: lost pods become phantoms until
        evicted; phantoms on a node that is back are restarted there."""
        now = view.now
        counts = self._pods_of(view)
        for key, before in list(self._known.items()):
            after = counts.get(key, 0)
            if after < before:
                aid, cid, nid = key
                starts = self._starts[key]
                del starts[after:]
                node = view.nodes.get(nid)
                wl = self.world.workloads.get((aid, cid)) if self.world else None
                if node is not None and not node.up and wl is not None and aid in view.apps:
                    delay = eviction_delay(wl.spec)
                    for _ in range(before - after):
                        self._phantoms.append(
                            (aid, cid, nid, None if delay is None else now + delay)
                        )
        for key, after in counts.items():
            starts = self._starts[key]
            while len(starts) < after:
                starts.append(now)
        self._known = dict(counts)
        actions: list[Action] = []
        keep = []
        for aid, cid, nid, evict in self._phantoms:
            node = view.nodes.get(nid)
            if aid not in view.apps:
                continue
            if node is not None and node.up:
                actions.append(Deploy(aid, cid, nid))  # the kubelet restarts it
                self._record(
                    "plan", "restart", aid, cid, nid, "applied", "node is back before eviction"
                )
                continue
            if evict is not None and now >= evict:
                self._record(
                    "plan",
                    "evict",
                    aid,
                    cid,
                    nid,
                    "applied",
                    "evicted by the node lifecycle controller",
                )
                continue
            keep.append((aid, cid, nid, evict))
        self._phantoms = keep
        return actions

    def _snapshot(self, view: ClusterView) -> Snapshot:
        world = self.world
        assert world is not None
        nodes = []
        for nid, nv in view.nodes.items():
            kn = world.nodes.get(nid)
            if kn is None:
                continue
            extra = self._images.get(nid)
            if extra or not nv.up:
                from dataclasses import replace

                images = dict(kn.images)
                for img in extra or ():
                    images.setdefault(img, self._image_size(img))
                taints = kn.taints
                if not nv.up:
                    taints = (
                        *taints,
                        Taint(UNREACHABLE, "", "NoSchedule"),
                        Taint(UNREACHABLE, "", "NoExecute"),
                    )
                kn = replace(kn, images=images, taints=taints)
            nodes.append(kn)
        snap = Snapshot(nodes)
        for (aid, cid, nid), count in self._pods_of(view).items():
            if nid not in snap.infos:
                continue
            wl = world.workloads.get((aid, cid))
            if wl is None:
                continue
            starts = self._starts.get((aid, cid, nid), [])
            for k in range(count):
                start = starts[k] if k < len(starts) else view.now
                snap.bind(self._pod(wl, f"{nid}-{k}", start), nid)
        for nid, nv in view.nodes.items():
            info = snap.infos.get(nid)
            if info is None:
                continue
            # draining (terminating) replicas still hold their requests
            cpu = round(nv.cpu_allocated * 1000) - info.cpu
            mem = int(nv.memory_allocated) - info.memory
            if cpu > 0 or mem > 0:
                spec = PodSpec(
                    containers=(Container("terminating", "", max(cpu, 0), max(mem, 0)),),
                    priority=_TERMINATING_PRIORITY,
                )
                info.add(Pod(f"terminating-{nid}", spec, {}, "kube-system", None, view.now))
        return snap

    def _image_size(self, img: str) -> int:
        assert self.world is not None
        for wl in self.world.workloads.values():
            if img in wl.image_sizes:
                return wl.image_sizes[img]
        return 0

    @staticmethod
    def _pod(wl: WorkloadInfo, suffix: str, start: float) -> Pod:
        return Pod(
            f"{wl.component}-{suffix}",
            wl.spec,
            wl.labels,
            wl.namespace,
            f"{wl.app}/{wl.component}",
            start,
        )

    # ------------------------------------------------------------------ scheduling
    def _schedule(
        self, call: str, view: ClusterView, snap: Snapshot, wl: WorkloadInfo, out: list[Action]
    ) -> str | None:
        key = (wl.app, wl.component)
        pod = self._pod(wl, f"new-{len(self.decisions)}", view.now)
        nominated = self._nominated[key].pop(0) if self._nominated[key] else None
        d = self.scheduler.schedule(
            snap, pod, nominated=nominated, default_spread_selector=wl.selected_by
        )
        if d.node is not None:
            snap.bind(pod, d.node)
            for img in wl.spec.images():
                self._images[d.node].add(img)
            self._last_failure.pop(key, None)
            self._note(call, d, wl, "applied")
            return d.node
        if d.nominated is not None:
            for v in d.victims:
                owner = (v.owner or "/").split("/", 1)
                out.append(Remove(owner[0], owner[1], d.nominated))
                snap.unbind(v, d.nominated)
                self._record(
                    call,
                    "preempt",
                    owner[0],
                    owner[1],
                    d.nominated,
                    "applied",
                    f"victim of {wl.app}/{wl.component} "
                    f"(priority {wl.spec.priority} > {v.priority})",
                )
            self._nominated[key].append(d.nominated)
            self._note(call, d, wl, "rejected")
            return None
        if self._last_failure.get(key) != d.message:
            self._last_failure[key] = d.message
            self._note(call, d, wl, "rejected")
        return None

    def _note(self, call: str, d: Decision, wl: WorkloadInfo, outcome: str) -> None:
        ann = d.annotations()
        entry = {"call": call, "app": wl.app, "component": wl.component, "pod": d.pod, **ann}
        if d.message:
            entry["message"] = d.message
        if len(self.decisions) < MAX_DECISIONS:
            self.decisions.append(entry)
        reason = json.dumps(
            {k: v for k, v in entry.items() if k not in ("call", "app", "component")},
            separators=(",", ":"),
            sort_keys=True,
        )
        self._record(call, "schedule", wl.app, wl.component, d.node or d.nominated, outcome, reason)

    def _record(
        self, call: str, kind: str, app: str, comp: str, node: str | None, outcome: str, reason: str
    ) -> None:
        if self._sim is not None:
            self._sim.record_action(
                call, kind, app, comp, node, None, outcome=outcome, reason=reason
            )

    # ------------------------------------------------------------------ hooks
    def place(self, app: AppView, view: ClusterView) -> Placement:
        """Schedule each component's ``spec.replicas`` pods, one cycle per pod."""
        world = self._ensure_world(view)
        snap = self._snapshot(view)
        placement: Placement = {}
        out: list[Action] = []
        for cid in sorted(app.order(), key=lambda c: -world.workloads[(app.id, c)].spec.priority):
            comp = app.component(cid)
            wl = world.workloads[(app.id, cid)]
            want = min(max(wl.replicas, comp.replicas_min), comp.replicas_max)
            self.desired[(app.id, cid)] = want
            for _ in range(want):
                node = self._schedule("place", view, snap, wl, out)
                if node is None:
                    break
                placement.setdefault(cid, []).append(node)
        return placement

    def plan(self, view: ClusterView, telemetry: TelemetryView | None) -> list[Action]:
        """HPA syncs (every 15 s), then the ReplicaSet controller and pending pods."""
        world = self._ensure_world(view)
        actions = self._reconcile(view)
        if view.now + 1e-9 >= self._next_sync:
            self._next_sync = view.now + SYNC_PERIOD
            self._sync_hpas(view, telemetry)
        actions += self._replicasets(view, world)
        return actions

    def on_event(self, event: Event, view: ClusterView) -> list[Action]:
        """Failures and recoveries: follow them (evictions come later, in ``plan``)."""
        self._ensure_world(view)
        return self._reconcile(view)

    # ------------------------------------------------------------------ controllers
    def _live(self, view: ClusterView, key: Key) -> tuple[list[str], int]:
        nodes = list(view.placements.get(key[0], {}).get(key[1], ()))
        phantoms = sum(1 for a, c, _n, _e in self._phantoms if (a, c) == key)
        return nodes, phantoms

    def _replicasets(self, view: ClusterView, world: World) -> list[Action]:
        out: list[Action] = []
        missing: list[tuple[int, Key]] = []
        for key, want in self.desired.items():
            if key[0] not in view.apps:
                continue
            nodes, phantoms = self._live(view, key)
            have = len(nodes) + phantoms
            if have < want:
                missing.append((want - have, key))
            elif have > want and nodes:
                out += self._scale_down(view, key, nodes, have - want)
        if not missing:
            return out
        snap = self._snapshot(view)
        missing.sort(key=lambda x: -world.workloads[x[1]].spec.priority)
        for n, key in missing:
            wl = world.workloads[key]
            for _ in range(n):
                node = self._schedule("plan", view, snap, wl, out)
                if node is None:
                    break
                out.append(Deploy(key[0], key[1], node))
        return out

    def _scale_down(self, view: ClusterView, key: Key, nodes: list[str], n: int) -> list[Action]:
        running = self._running(key)
        per_node: dict[str, int] = defaultdict(int)
        for nid in nodes:
            per_node[nid] += 1
        out: list[Action] = []
        for _ in range(n):
            if not per_node:
                break

            def rank(nid: str) -> tuple[int, int, float]:
                starts = self._starts.get((key[0], key[1], nid), [0.0])
                pending = 0 if running is None or nid not in running else 1
                return (pending, -per_node[nid], -(starts[-1] if starts else 0.0))

            nid = min(per_node, key=rank)
            out.append(Remove(key[0], key[1], nid))
            per_node[nid] -= 1
            if per_node[nid] == 0:
                del per_node[nid]
        return out

    def _running(self, key: Key) -> set[str] | None:
        if self._sim is None:
            return None
        running = self._sim.running_on(key[0], key[1])
        return None if running is None else set(running)

    def _sync_hpas(self, view: ClusterView, telemetry: TelemetryView | None) -> None:
        if not self.autoscalers:
            return
        latest = _component_metrics(telemetry)
        for key, hpa in self.autoscalers.items():
            if key[0] not in view.apps or key not in self.desired:
                continue
            wl = self.world.workloads[key] if self.world else None
            if wl is None:
                continue
            nodes, _ph = self._live(view, key)
            running = self._running(key)
            m = latest.get(f"{key[0]}/{key[1]}", {})
            sample_ready = int(m.get("component_running_replicas", 0) or 0)
            util = m.get("component_cpu_utilisation")
            if running is not None:  # the informer's pod states are fresh
                ready_now = sum(1 for n in nodes if n in running)
            else:  # only the delivered sample knows
                ready_now = min(sample_ready, len(nodes))
            request = wl.spec.request("cpu")
            with_metric = min(sample_ready, ready_now) if util is not None else 0
            pods = [PodMetric("ready", request, round((util or 0.0) * request))] * with_metric
            pods += [PodMetric("missing", request)] * (ready_now - with_metric)
            pods += [PodMetric("unready", request)] * (len(nodes) - ready_now)
            current = self.desired[key]
            desired = hpa.sync(view.now, current, pods)
            if desired != current:
                self.desired[key] = desired
                reason = json.dumps(hpa.last, separators=(",", ":"), sort_keys=True, default=str)
                self._record(
                    "plan",
                    "hpa",
                    key[0],
                    key[1],
                    None,
                    "applied",
                    f"spec.replicas {current} -> {desired}: {reason}",
                )


class KubeSchedulerHPA(KubeScheduler):
    """kube-scheduler plus an HPA (60 % cpu) for every component that may scale."""

    name = "kube-scheduler-hpa"
    synthesize_hpa = True


def _component_metrics(telemetry: TelemetryView | None) -> dict[str, dict[str, float]]:
    if telemetry is None:
        return {}
    try:
        df = telemetry.latest()
    except Exception:  # no telemetry yet
        return {}
    if df is None or df.empty or "kind" not in df.columns:
        return {}
    rows = df[df["kind"] == "component"]
    out: dict[str, dict[str, float]] = {}
    cols = [
        c for c in ("component_running_replicas", "component_cpu_utilisation") if c in rows.columns
    ]
    for rec in rows[["id", *cols]].to_dict("records"):
        out[str(rec["id"])] = {c: float(rec[c]) for c in cols if rec[c] == rec[c]}
    return out


def _karmada() -> type[KubeScheduler]:
    from simcontinuum.k8s.karmada_policy import KarmadaPolicy

    return KarmadaPolicy


K8S_POLICIES: tuple[type[KubeScheduler], ...] = (KubeScheduler, KubeSchedulerHPA, _karmada())
"""The Kubernetes policies, registered beside the built-ins."""

__all__ = ["K8S_POLICIES", "KubeScheduler", "KubeSchedulerHPA", "eviction_delay"]
