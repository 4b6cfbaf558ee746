"""The cluster mechanism ``fluidity``: its state as policies see it, and its plans executed
with the framework's rules, turned into simcontinuum actions.

A fluidity plan is ``{"name": app, "deployment_plan": {"initial_plan": bool, <component>:
[action, ...]}}`` with actions ``deploy {host}``, ``remove {host}``, ``move {src_host,
target_host}`` and ``change_spec {new_spec, host}``. Rules (contract §4):

- a component has a *host list*, at most one replica per host: ``deploy`` on another host is a
  scale-out, ``remove`` a scale-in (it fails when the host is not in the list);
- ``initial_plan: True`` accepts only ``deploy``; ``initial_plan: False`` is refused until
  every component of the application has been deployed once;
- every target host must be a node of this cluster with an ``MLSysOpsNode`` description, pass
  :func:`~simcontinuum.mlsysops.requirements.node_matches_requirements` and have the first
  container's requests within its ``allocatable`` (running pods ignored);
- any other action string fails the plan (``invalid action``).

A plan is validated as a whole before anything is applied: one invalid action fails the plan
(the framework's ``Failed`` outcome) and nothing of it is applied. Accepted actions become
:class:`~simcontinuum.policy.api.Deploy` / ``Remove`` / ``Move`` / ``ChangeSpec``, which the
engine applies and records (it may still refuse one, e.g. for capacity: the engine bin-packs
where Kubernetes would leave the pod ``Pending``). Refusals by the rules above are returned as
:class:`Note` rows with the reason.

Invariant: host lists are re-read from the engine's placements at every cycle (:meth:`sync`);
fluidity never believes in a replica the engine does not have.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simcontinuum.mlsysops.requirements import (
    allocatable_mismatch,
    cpu_cores,
    memory_bytes,
    quantity_cpu,
    quantity_memory,
    raw_requests,
    requests_of,
    requirement_mismatch,
)
from simcontinuum.policy.api import Action, ChangeSpec, ClusterView, Deploy, Move, Remove

ACTIONS = ("deploy", "remove", "move", "change_spec")


@dataclass(frozen=True, slots=True)
class Note:
    """One row the adapter adds to ``results.actions`` (see ``ACTION_COLUMNS``)."""

    call: str
    kind: str
    outcome: str
    reason: str | None = None
    app: str | None = None
    component: str | None = None
    node: str | None = None
    target: str | None = None


class PlanFailed(Exception):
    """A fluidity plan broke a rule; nothing of it is applied."""

    def __init__(self, reason: str, component: str | None = None, action: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.component = component
        self.action = action


@dataclass
class AppState:
    """What fluidity knows of one application."""

    name: str
    spec: dict[str, Any]  # the MLSysOpsApp dict; change_spec updates its components
    hosts: dict[str, list[str]] = field(default_factory=dict)  # component -> hosts, oldest first
    deployed_once: set[str] = field(default_factory=set)

    def component(self, name: str) -> dict[str, Any] | None:
        for c in self.spec.get("components") or []:
            if isinstance(c, dict) and (c.get("metadata") or {}).get("name") == name:
                return c
        return None

    def component_names(self) -> list[str]:
        out = []
        for c in self.spec.get("components") or []:
            name = (c.get("metadata") or {}).get("name") if isinstance(c, Mapping) else None
            if name:
                out.append(str(name))
        return out


class Fluidity:
    """The fluidity mechanism of one cluster agent.

    Args:
        cluster_id: the cluster.
        hosts: the cluster's node names, in order.
        nodes: host -> MLSysOpsNode description (hosts without one can never be targets).
        cluster_description: the MLSysOpsCluster dict.
    """

    def __init__(
        self,
        cluster_id: str,
        hosts: list[str],
        nodes: Mapping[str, dict[str, Any]],
        cluster_description: dict[str, Any],
    ) -> None:
        self.cluster_id = cluster_id
        self.hosts = list(hosts)
        self.nodes = dict(nodes)
        self.cluster_description = cluster_description
        self.apps: dict[str, AppState] = {}

    # ------------------------------------------------------------------ bookkeeping
    def register(self, name: str, spec: Mapping[str, Any]) -> None:
        """Start managing application ``name`` (its MLSysOpsApp dict)."""
        if name not in self.apps:
            self.apps[name] = AppState(name, copy.deepcopy(dict(spec)))

    def unregister(self, name: str) -> None:
        self.apps.pop(name, None)

    def sync(self, view: ClusterView) -> None:
        """Host lists from the engine's live replicas (on this cluster's nodes)."""
        mine = set(self.hosts)
        for name, st in self.apps.items():
            placed = view.placements.get(name, {})
            st.hosts = {}
            for comp in st.component_names():
                hosts: list[str] = []
                for nid in placed.get(comp, ()):
                    if nid in mine and nid not in hosts:
                        hosts.append(nid)
                st.hosts[comp] = hosts
                if hosts:
                    st.deployed_once.add(comp)

    # ------------------------------------------------------------------ state
    def state(self, view: ClusterView, running: Any) -> dict[str, Any]:
        """``mechanisms["fluidity"]["state"]`` as the agent passes it.

        Args:
            running: ``running(app, component) -> set of hosts`` with a running replica, or
                None when unknown (then a placed component counts as ``Running``).
        """
        apps: dict[str, Any] = {}
        per_node: dict[str, dict[str, Any]] = {h: {} for h in self.hosts}
        for name, st in self.apps.items():
            comps: dict[str, Any] = {}
            for comp in st.component_names():
                spec = st.component(comp) or {}
                hosts = st.hosts.get(comp, [])
                placed = hosts[0] if hosts else None
                entry = {
                    "uid": (spec.get("metadata") or {}).get("uid"),
                    "qos_metrics": copy.deepcopy(spec.get("qos_metrics") or []),
                    "state": _pod_state(view, placed, running(name, comp) if running else None),
                    "node_placed": placed,
                    "labels": {"mlsysops.eu/app": name, "mlsysops.eu/component": comp},
                }
                comps[comp] = entry
                for h in hosts:
                    per_node.setdefault(h, {})[comp] = {**entry, "app": name, "node_placed": h}
            apps[name] = {
                "name": name,
                "spec": copy.deepcopy(st.spec),
                "global_metrics": copy.deepcopy(st.spec.get("global_satisfaction")),
                "components": comps,
            }
        nodes = {}
        for h in self.hosts:
            nv = view.nodes.get(h)
            res = self.resources(h, view)
            nodes[h] = {
                "ready": "True" if nv is not None and nv.up else "False",
                "resources": {"capacity": res, "allocatable": dict(res)},
                "spec": copy.deepcopy(self.nodes.get(h)),
                "components": per_node.get(h, {}),
            }
        return {
            "applications": apps,
            "nodes": nodes,
            "cluster": {"description": copy.deepcopy(self.cluster_description)},
        }

    def resources(self, host: str, view: ClusterView) -> dict[str, str]:
        """A node's capacity as Kubernetes quantities (cpu cores, memory in Ki)."""
        nv = view.nodes.get(host)
        if nv is None:
            return {}
        out = {"cpu": quantity_cpu(nv.cores)}
        if nv.memory > 0:
            out["memory"] = quantity_memory(nv.memory)
        return out

    # ------------------------------------------------------------------ validation
    def host_problem(
        self, comp_spec: Mapping[str, Any], host: Any, view: ClusterView
    ) -> str | None:
        """Why ``host`` may not run ``comp_spec`` (the framework's ``validate_host``), or None."""
        if not isinstance(host, str) or host not in self.hosts:
            return f"host {host!r} is not a node of cluster {self.cluster_id!r}"
        desc = self.nodes.get(host)
        if desc is None:
            return f"no MLSysOpsNode description for host {host!r}"
        why = requirement_mismatch(desc, comp_spec)
        if why:
            return f"node_matches_requirements failed on {host!r}: {why}"
        why = allocatable_mismatch(comp_spec, self.resources(host, view))
        if why:
            return f"{why} on {host!r}"
        return None

    def eligible(self, comp_spec: Mapping[str, Any], view: ClusterView) -> list[str]:
        """Up hosts of this cluster that pass :meth:`host_problem`, in cluster order."""
        return [
            h
            for h in self.hosts
            if h in view.nodes
            and view.nodes[h].up
            and self.host_problem(comp_spec, h, view) is None
        ]

    # ------------------------------------------------------------------ execution
    def execute(
        self, payload: Any, view: ClusterView, call: str = "plan"
    ) -> tuple[list[Action], list[Note]]:
        """Validate one fluidity plan and turn it into actions (or refusal rows)."""
        name = payload.get("name") if isinstance(payload, Mapping) else None
        try:
            st, steps, work = self._validate(payload, view)
        except PlanFailed as fail:
            return [], [
                Note(
                    call,
                    _kind(fail.action),
                    "rejected",
                    f"fluidity plan failed: {fail.reason}",
                    app=str(name) if name is not None else None,
                    component=fail.component,
                    node=_host(fail.action),
                    target=_target(fail.action),
                )
            ]
        st.hosts.update(work)  # later plans of this cycle see these hosts
        actions: list[Action] = []
        for comp, act in steps:
            kind = act["action"]
            if kind == "deploy":
                actions.append(Deploy(st.name, comp, act["host"]))
            elif kind == "remove":
                actions.append(Remove(st.name, comp, act["host"]))
            elif kind == "move":
                actions.append(Move(st.name, comp, act["src_host"], act["target_host"]))
            else:
                new_spec = act["new_spec"]
                cpu, mem = requests_of(new_spec)
                image = _image(new_spec)
                actions.append(
                    ChangeSpec(st.name, comp, act["host"], cpu=cpu, memory=mem, image=image)
                )
                self._replace_spec(st, comp, new_spec)
        return actions, []

    def _validate(
        self, payload: Any, view: ClusterView
    ) -> tuple[AppState, list[tuple[str, dict[str, Any]]], dict[str, list[str]]]:
        if not isinstance(payload, Mapping):
            raise PlanFailed(
                "expected {'name': app, 'deployment_plan': {...}}, "
                f"got {type(payload).__name__}"
            )
        name = payload.get("name")
        st = self.apps.get(name) if isinstance(name, str) else None
        if st is None:
            raise PlanFailed(f"application {name!r} is not managed by cluster {self.cluster_id!r}")
        plan = payload.get("deployment_plan")
        if not isinstance(plan, Mapping):
            raise PlanFailed("'deployment_plan' is required and must be a dict")
        initial = bool(plan.get("initial_plan", False))
        comps = st.component_names()
        if not initial:
            never = [c for c in comps if c not in st.deployed_once]
            if never:
                raise PlanFailed(
                    f"initial deployment not complete: {never} never deployed; a non-initial "
                    "plan is refused until every component was deployed once"
                )
        work = {c: list(st.hosts.get(c, [])) for c in comps}
        steps: list[tuple[str, dict[str, Any]]] = []
        for comp, acts in plan.items():
            if comp == "initial_plan":
                continue
            if comp not in work:
                raise PlanFailed(f"unknown component {comp!r} of {st.name!r}", str(comp))
            if not isinstance(acts, list | tuple):
                raise PlanFailed("expected a list of actions", comp)
            for act in acts:
                steps.append((comp, self._check(st, comp, act, work[comp], initial, view)))
        return st, steps, work

    def _check(
        self,
        st: AppState,
        comp: str,
        act: Any,
        hosts: list[str],
        initial: bool,
        view: ClusterView,
    ) -> dict[str, Any]:
        """Check one action against the working host list (updated as the plan goes)."""
        if not isinstance(act, Mapping):
            raise PlanFailed(f"an action is a dict with 'action', got {act!r}", comp)
        kind = act.get("action")
        if kind not in ACTIONS:
            raise PlanFailed(f"invalid action {kind!r} (expected {', '.join(ACTIONS)})", comp, act)
        if initial and kind != "deploy":
            raise PlanFailed(f"an initial plan accepts only deploy, got {kind!r}", comp, act)
        spec = st.component(comp) or {}
        if kind == "deploy":
            host = act.get("host")
            self._target_ok(spec, host, hosts, view, comp, act)
            hosts.append(str(host))
        elif kind == "remove":
            host = act.get("host")
            if host not in hosts:
                raise PlanFailed(
                    f"cannot remove: {host!r} is not in the host list {hosts}", comp, act
                )
            hosts.remove(host)
        elif kind == "move":
            src, dst = act.get("src_host"), act.get("target_host")
            if src not in hosts:
                raise PlanFailed(f"cannot move: {src!r} is not in the host list {hosts}", comp, act)
            self._target_ok(spec, dst, hosts, view, comp, act)
            hosts[hosts.index(src)] = str(dst)
        else:
            new_spec, host = act.get("new_spec"), act.get("host")
            if not isinstance(new_spec, Mapping):
                raise PlanFailed(
                    "change_spec requires 'new_spec' (a full component dict)", comp, act
                )
            if host not in hosts:
                raise PlanFailed(
                    f"cannot change spec: {host!r} is not in the host list {hosts}", comp, act
                )
            for key, raw, parse in zip(
                ("cpu", "memory"), raw_requests(new_spec), (cpu_cores, memory_bytes), strict=True
            ):
                if raw is not None and parse(raw) is None:
                    raise PlanFailed(f"new_spec {key} request {raw!r} is not a quantity", comp, act)
            why = self.host_problem(new_spec, host, view)
            if why:
                raise PlanFailed(why, comp, act)
        return dict(act)

    def _target_ok(
        self,
        spec: Mapping[str, Any],
        host: Any,
        hosts: list[str],
        view: ClusterView,
        comp: str,
        act: Any,
    ) -> None:
        if host in hosts:
            raise PlanFailed(
                f"{comp!r} already runs on {host!r} (fluidity keeps at most one replica per node)",
                comp,
                act,
            )
        why = self.host_problem(spec, host, view)
        if why:
            raise PlanFailed(why, comp, act)

    def _replace_spec(self, st: AppState, comp: str, new_spec: Mapping[str, Any]) -> None:
        comps = st.spec.get("components") or []
        for i, c in enumerate(comps):
            if isinstance(c, Mapping) and (c.get("metadata") or {}).get("name") == comp:
                merged = copy.deepcopy(dict(new_spec))
                merged.setdefault("metadata", copy.deepcopy(c.get("metadata")))
                comps[i] = merged


def _pod_state(view: ClusterView, host: str | None, running: set[str] | None) -> str:
    if host is None:
        return "Pending"
    nv = view.nodes.get(host)
    if nv is None or not nv.up:
        return "Unknown"
    if running is None or host in running:
        return "Running"
    return "Pending"


def _image(spec: Mapping[str, Any]) -> str | None:
    containers = spec.get("containers") or []
    first = containers[0] if containers and isinstance(containers[0], Mapping) else {}
    image = first.get("image")
    return str(image) if image else None


def _kind(act: Any) -> str:
    if isinstance(act, Mapping) and isinstance(act.get("action"), str):
        return str(act["action"])
    return "plan"


def _host(act: Any) -> str | None:
    if not isinstance(act, Mapping):
        return None
    h = act.get("host", act.get("src_host"))
    return str(h) if h is not None else None


def _target(act: Any) -> str | None:
    if isinstance(act, Mapping) and act.get("target_host") is not None:
        return str(act["target_host"])
    return None


__all__ = ["ACTIONS", "AppState", "Fluidity", "Note", "PlanFailed"]
