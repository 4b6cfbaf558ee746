"""The cluster mechanism ``fluidity``: its state as policies see it, and its plans executed
as the framework's fluidity controller 0.1.12 executes them, turned into simcontinuum actions.

A fluidity plan is ``{"name": app, "deployment_plan": {"initial_plan": bool, <component>:
[action, ...]}}`` with actions ``deploy {host}``, ``remove {host}``, ``move {src_host,
target_host}`` and ``change_spec {new_spec, host}``. Fluidity keeps, per component, a *host
list* of ``{host, status}`` entries (``PENDING`` → a pod is created, ``ACTIVE``, ``INACTIVE`` →
its pods are deleted) and the pods it created. It is its own belief: a pod the engine lost is
still listed (Kubernetes keeps a pod bound to its node). What 0.1.12 does, including what a
team would not expect (each printed once per run as "the framework 0.1.12 would ..."):

- a plan whose ``deployment_plan`` lacks ``initial_plan`` (or holds nothing else) is dropped
  without a reply; a payload without ``name``/``deployment_plan`` fails validation;
- ``initial_plan: True``: actions other than ``deploy`` are skipped; one host failing
  ``validate_host`` fails the plan; otherwise the host list of every planned component is
  *replaced* by the plan's hosts and a pod is created per ``deploy`` — two deploys on one host
  make two pods, and a component already deployed keeps its old pod, no longer tracked
  (orphaned). Components whose cluster (first ``cluster_placement.cluster_id``) is not this
  cluster are skipped;
- ``initial_plan: False`` fails while a component has an empty host list; then the actions run
  in order on the live host lists: ``move`` marks the source ``INACTIVE`` (fails if absent) and
  the target ``PENDING``; ``remove`` marks the host ``INACTIVE`` (fails if absent); ``deploy``
  on a listed host marks it ``PENDING`` again (a second pod there), on a new host appends it
  ``PENDING`` and then *fails* (0.1.12 treats the append's ``None`` as "host not found") —
  the entry stays and gets its pod at the next successful plan; ``change_spec`` re-creates the
  component's first pod (the first of the application's pods whose name starts with the
  component's name) on ``host`` with the new spec — on another host that is a move, and the
  host list is not updated. A failure stops the plan but keeps what earlier actions changed in
  the host lists (only some failures restore them); an unknown action or component raises
  inside the controller: no reply, changes kept;
- after the actions (success only): a pod for every ``PENDING`` entry of every component (stale
  ones of earlier failed plans too), and every pod on an ``INACTIVE`` host deleted.

``validate_host``: the host has an ``MLSysOpsNode`` description, passes
:func:`~simcontinuum.mlsysops.requirements.node_matches_requirements` for the component's
description and the first container's requests fit its ``allocatable`` (running pods ignored).

Pods created become :class:`~simcontinuum.policy.api.Deploy`, deleted ones ``Remove``; a
created/deleted pair of one component in one plan becomes a ``Move`` (the engine drains the
source once the target runs; the framework deletes it at once). ``change_spec`` becomes
``ChangeSpec`` (after a ``Move`` when the host differs). The engine applies and records them
(it may still refuse one, e.g. for capacity, where Kubernetes would leave the pod Pending).
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
    """What fluidity knows of one application (the controller's ``apps_dict`` entry)."""

    name: str
    spec: dict[str, Any]  # the MLSysOpsApp dict; change_spec updates its components
    hosts: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # comp -> entries
    pods: list[tuple[str, str]] = field(default_factory=list)  # (component, host), creation order
    unsent: list[tuple[str, str]] = field(default_factory=list)  # manifests made, pod not created

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

    def host_names(self, comp: str) -> list[str]:
        """The hosts listed for ``comp``, in order (any status)."""
        return [e["host"] for e in self.hosts.get(comp, [])]

    def cluster_id(self) -> str | None:
        ids = (self.spec.get("cluster_placement") or {}).get("cluster_id") or []
        return str(ids[0]) if isinstance(ids, list) and ids else None


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
        """Nothing to do: fluidity's host lists are its own belief (see the module docstring);
        what runs is read from the engine where the framework reads pod events (:meth:`state`)."""

    def record_pod(self, app: str, comp: str, host: str) -> None:
        """A pod created outside a plan (the core staticPlacement's deploy, a cluster move)."""
        st = self.apps.get(app)
        if st is None:
            return
        entries = st.hosts.setdefault(comp, [])
        if host not in [e["host"] for e in entries]:
            entries.append({"host": host, "status": "ACTIVE"})
        st.pods.append((comp, host))

    def placed(self, app: str, comp: str, view: ClusterView) -> list[str]:
        """This cluster's nodes with a replica of ``app/comp`` in the engine (any state): the
        framework's pod watcher sees a pod as soon as it is bound to a node."""
        mine = set(self.hosts)
        out: list[str] = []
        for nid in view.placements.get(app, {}).get(comp, ()):
            if nid in mine and nid not in out:
                out.append(nid)
        return out

    # ------------------------------------------------------------------ state
    def state(self, view: ClusterView, running: Any) -> dict[str, Any]:
        """``mechanisms["fluidity"]["state"]`` as the agent passes it (``node_placed`` and
        ``state`` from the pods that exist, as the framework's pod watcher reports them).

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
                hosts = self.placed(name, comp, view)
                first = hosts[0] if hosts else None
                entry = {
                    "uid": (spec.get("metadata") or {}).get("uid"),
                    "qos_metrics": copy.deepcopy(spec.get("qos_metrics") or []),
                    "state": _pod_state(view, first, running(name, comp) if running else None),
                    "node_placed": first,
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
        self,
        comp_spec: Mapping[str, Any],
        host: Any,
        view: ClusterView,
        requests: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Why ``host`` may not run ``comp_spec`` (the framework's ``validate_host``), or None.

        ``requests``: the component dict whose first container's requests are checked
        against ``allocatable`` (``change_spec`` checks the new spec's, but the requirements
        of the component's description)."""
        if not isinstance(host, str) or host not in self.hosts:
            return f"host {host!r} is not a node of cluster {self.cluster_id!r}"
        desc = self.nodes.get(host)
        if desc is None:
            return f"no MLSysOpsNode description for host {host!r}"
        why = requirement_mismatch(desc, comp_spec)
        if why:
            return f"node_matches_requirements failed on {host!r}: {why}"
        why = allocatable_mismatch(
            requests if requests is not None else comp_spec, self.resources(host, view)
        )
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
        """Run one fluidity plan as the 0.1.12 controller does (see the module docstring);
        the actions for the engine and the rows to record (outcome ``applied`` / ``rejected``
        / ``ignored`` / ``error``, and ``warning`` rows for surprises)."""
        run = _PlanRun(self, payload, view, call)
        run.go()
        return run.actions, run.notes


class _PlanRun:
    """One plan through the controller: ``apps_dict`` mutations, pods made and deleted."""

    def __init__(self, fl: Fluidity, payload: Any, view: ClusterView, call: str) -> None:
        self.fl = fl
        self.payload = payload
        self.view = view
        self.call = call
        self.actions: list[Action] = []
        self.notes: list[Note] = []
        self.app: str | None = None
        self.created: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str]] = []
        self.respecs: list[tuple[str, str, dict[str, Any], str | None]] = []

    # -- rows
    def note(
        self, kind: str, outcome: str, reason: str, comp: str | None = None, act: Any = None
    ) -> None:
        self.notes.append(
            Note(self.call, kind, outcome, reason, self.app, comp, _host(act), _target(act))
        )

    def would(self, text: str, comp: str | None = None, act: Any = None) -> None:
        """A surprise: what the framework 0.1.12 does that a team may not expect."""
        self.note(
            _kind(act) if act is not None else "plan",
            "warning",
            f"the framework 0.1.12 would {text}",
            comp,
            act,
        )

    # -- the plan
    def go(self) -> None:
        p = self.payload
        if (
            not isinstance(p, Mapping)
            or not isinstance(p.get("name"), str)
            or not isinstance(p.get("deployment_plan"), dict)
        ):
            self.note(
                "plan",
                "rejected",
                "fluidity plan failed: FluidityPlanPayload "
                "validation needs 'name' (str) and 'deployment_plan' (dict), got "
                f"{_short(p)}",
            )
            return
        self.app = str(p["name"])
        plan = p["deployment_plan"]
        if not plan or list(plan) == ["initial_plan"]:
            self.note(
                "plan",
                "ignored",
                "the framework 0.1.12 drops a deployment_plan with no component (no reply)",
            )
            return
        initial = plan.get("initial_plan")
        if initial is None:
            self.note(
                "plan",
                "ignored",
                "the framework 0.1.12 would drop this plan "
                "silently: deployment_plan has no 'initial_plan' key (add "
                "'initial_plan': False for an adaptation, True for a first deployment)",
            )
            return
        st = self.fl.apps.get(self.app)
        if st is None:
            self.note(
                "plan",
                "error",
                f"the framework 0.1.12's controller raises KeyError: "
                f"application {self.app!r} is not managed by cluster "
                f"{self.fl.cluster_id!r} (no reply)",
            )
            return
        steps = {k: v for k, v in plan.items() if k != "initial_plan"}
        try:
            if initial:
                ok, why = self.initial(st, steps)
            else:
                ok, why = self.adapt(st, steps)
        except _Crash as crash:
            self.note(
                "plan",
                "error",
                f"the framework 0.1.12's controller raises {crash} "
                "handling this plan: no PLAN_EXECUTED reply; host-list changes made "
                "before it are kept",
            )
            self.emit(st)  # pods already created by the initial deployment stay
            return
        if not ok:
            self.note("plan", "rejected", f"fluidity plan failed: {why}")
            return
        self.emit(st)

    def check_host(
        self, spec: Mapping[str, Any], host: Any, requests: Mapping[str, Any] | None = None
    ) -> str | None:
        """``validate_host``, including where 0.1.12's ``node_matches_requirements`` raises."""
        desc = self.fl.nodes.get(host) if isinstance(host, str) else None
        why = self.fl.host_problem(spec, host, self.view, requests=requests)
        if desc is not None and (why is None or "cpu" in why):
            crash = requirements_raise(desc, spec)
            if crash:
                raise _Crash(crash)
        return why

    def initial(self, st: AppState, steps: Mapping[str, Any]) -> tuple[bool, str]:
        checked: dict[str, list[Any]] = {}
        failed = ""
        for comp, acts in steps.items():
            if comp not in st.component_names():
                self.would(f"skip unknown component {comp!r} of an initial plan", str(comp))
                continue
            spec = st.component(comp) or {}
            checked[comp] = []
            for act in _as_list(acts):
                if not isinstance(act, Mapping) or act.get("action") != "deploy":
                    self.would(
                        f"skip the non-deploy action {_short(act)} of an initial plan "
                        "(initial plans accept only deploy)",
                        comp,
                        act,
                    )
                    checked[comp].append(None)
                    continue
                why = self.check_host(spec, act.get("host"))
                if why:
                    failed = f"{comp!r}: {why}"
                    break
                checked[comp].append(act)
        if failed:
            return False, failed
        mine = self.fl.cluster_id
        for comp in st.component_names():
            if comp not in checked:
                continue
            if st.cluster_id() != mine:
                self.would(
                    f"skip {comp!r}: its cluster_placement.cluster_id "
                    f"{st.cluster_id()!r} is not this cluster {mine!r}",
                    comp,
                )
                continue
            old = st.host_names(comp)
            orphans = [h for h in old if h]
            raw = [a if isinstance(a, Mapping) else {} for a in _as_list(steps[comp])]
            status: list[str | None] = ["PENDING" if a is not None else None for a in checked[comp]]
            new_hosts = []
            for k, a in enumerate(checked[comp]):
                if a is None:
                    # the skipped entry has no 'status': deploy_app_pods_and_configs raises
                    raise _Crash("KeyError: 'status' (a non-deploy entry in an initial plan)")
                status[k] = "ACTIVE"
                # the host list becomes a copy of the plan's entries, at every deploy
                st.hosts[comp] = [
                    {"host": str(r.get("host")), "status": status[j]}  # type: ignore[dict-item]
                    for j, r in enumerate(raw)
                ]
                host = str(a["host"])
                new_hosts.append(host)
                self.created.append((comp, host))
                st.pods.append((comp, host))
            if orphans:
                self.would(
                    f"replace the host list of {comp!r} {orphans} by {new_hosts}: the "
                    f"old pod(s) keep running, no longer tracked (orphaned)",
                    comp,
                )
            if len(set(new_hosts)) < len(new_hosts):
                self.would(
                    f"create {len(new_hosts)} pods of {comp!r} on {new_hosts} "
                    "(duplicates on one node)",
                    comp,
                )
        return True, ""

    def adapt(self, st: AppState, steps: Mapping[str, Any]) -> tuple[bool, str]:
        empty = [c for c in st.component_names() if not st.hosts.get(c)]
        if empty:
            return False, (
                f"initial deployment not executed for all components ({empty} "
                "have no host): a non-initial plan is refused until then"
            )
        specs = [
            a
            for acts in steps.values()
            for a in _as_list(acts)
            if isinstance(a, Mapping) and a.get("action") == "change_spec"
        ]
        if specs and not any(self.spec_differs(st, a) for a in specs):
            return False, "change_spec: the new spec does not differ from the current one"
        for comp, acts in steps.items():
            if comp not in st.component_names():
                raise _Crash(f"KeyError: {comp!r} (not a component of {st.name!r})")
            spec = st.component(comp) or {}
            entries = st.hosts.setdefault(comp, [])
            for act in _as_list(acts):
                kind = act.get("action") if isinstance(act, Mapping) else None
                if kind == "move":
                    src, dst = act.get("src_host"), act.get("target_host")
                    why = self.check_host(spec, dst)
                    if why:
                        return self.partial(st, f"{comp!r}: {why}")
                    if not _mark(entries, src, "INACTIVE", append=False):
                        return self.partial(
                            st,
                            f"{comp!r}: cannot move, {src!r} is not in "
                            f"the host list {st.host_names(comp)}",
                        )
                    _mark(entries, dst, "PENDING", append=True)
                elif kind in ("deploy", "remove"):
                    host = act.get("host")
                    if kind == "deploy":
                        why = self.check_host(spec, host)
                        if why:
                            return self.partial(st, f"{comp!r}: {why}")
                        if host in st.host_names(comp):
                            _mark(entries, host, "PENDING", append=False)
                            self.would(
                                f"create a second pod of {comp!r} on {host!r} (deploy "
                                "on a host already listed)",
                                comp,
                                act,
                            )
                            continue
                        _mark(entries, host, "PENDING", append=True)
                        return self.partial(
                            st,
                            f"{comp!r}: deploy on the new host {host!r} "
                            "in a non-initial plan — 0.1.12 appends it as "
                            "PENDING and then reports the host 'not found' "
                            "(scale-out does not work there)",
                            pending=True,
                        )
                    if not _mark(entries, host, "INACTIVE", append=False):
                        return self.partial(
                            st,
                            f"{comp!r}: cannot remove, {host!r} is not in "
                            f"the host list {st.host_names(comp)}",
                        )
                elif kind == "change_spec":
                    ok, why = self.change_spec(st, comp, spec, act)
                    if not ok:
                        return self.partial(st, why)
                else:
                    raise _Crash(
                        f"TypeError (invalid action {_short(kind)}: the controller "
                        "returns None where it unpacks (res, comp_dict))"
                    )
        planned = set(steps)
        # create_adjusted_pods_and_configs: a manifest for every PENDING entry, of every
        # component (stale entries of earlier failed plans too)
        for comp in st.component_names():
            for e in st.hosts.get(comp, []):
                if e["status"] == "PENDING":
                    e["status"] = "ACTIVE"
                    st.unsent.append((comp, e["host"]))
        # deploy_new_pods: create them; its reply table has rows only for planned components
        for comp in st.component_names():
            for item in [u for u in st.unsent if u[0] == comp]:
                st.unsent.remove(item)
                self.created.append(item)
                st.pods.append(item)
                if comp not in planned:
                    raise _Crash(
                        f"KeyError: {comp!r} (a pod of {comp!r}, not in this plan, was created "
                        "for a PENDING entry left by an earlier failed plan)"
                    )
        # check_for_hosts_to_delete: pods on INACTIVE hosts deleted, then the entries
        for comp in st.component_names():
            gone = [e for e in st.hosts.get(comp, []) if e["status"] == "INACTIVE"]
            for e in gone:
                for pod in [p for p in st.pods if p == (comp, e["host"])]:
                    st.pods.remove(pod)
                    self.deleted.append(pod)
                    if comp not in planned:
                        raise _Crash(
                            f"KeyError: {comp!r} (a pod of {comp!r}, not in this plan, was "
                            "deleted for an INACTIVE entry left by an earlier failed plan)"
                        )
            for e in gone:
                st.hosts[comp].remove(e)
        return True, ""

    def partial(self, st: AppState, why: str, pending: bool = False) -> tuple[bool, str]:
        changed = {
            c: [(e["host"], e["status"]) for e in es]
            for c, es in st.hosts.items()
            if any(e["status"] != "ACTIVE" for e in es)
        }
        if changed:
            self.would(
                f"keep the host-list changes made before the failure {changed}: the "
                "next successful plan of this application acts on them (a PENDING "
                "entry gets a pod, an INACTIVE one loses its pods)"
            )
        return False, why

    def spec_differs(self, st: AppState, act: Mapping[str, Any]) -> bool:
        new = act.get("new_spec")
        if not isinstance(new, Mapping):
            raise _Crash("KeyError/TypeError: change_spec without a 'new_spec' dict")
        name = (new.get("metadata") or {}).get("name")
        old = st.component(str(name)) if name else None
        if old is None:
            raise _Crash(f"KeyError: new_spec.metadata.name {_short(name)} names no component")
        return _pod_view(new) != _pod_view(old)

    def change_spec(
        self, st: AppState, comp: str, spec: Mapping[str, Any], act: Any
    ) -> tuple[bool, str]:
        new_spec, host = act.get("new_spec"), act.get("host")
        for key, raw, parse in zip(
            ("cpu", "memory"), raw_requests(new_spec), (cpu_cores, memory_bytes), strict=True
        ):
            if raw is not None and parse(raw) is None:
                return False, f"{comp!r}: new_spec {key} request {raw!r} is not a quantity"
        why = self.check_host(spec, host, requests=new_spec)
        if why:
            return False, f"{comp!r}: {why}"
        pod = next((p for p in st.pods if p[0].startswith(comp)), None)
        if pod is None:
            raise _Crash(f"AttributeError (no pod of {comp!r} to re-create)")
        if pod[0] != comp:
            self.would(
                f"re-create a pod of {pod[0]!r} for change_spec of {comp!r} (the first "
                f"pod whose name starts with {comp!r})",
                comp,
                act,
            )
        st.pods[st.pods.index(pod)] = (pod[0], str(host))
        if pod[1] != host:
            self.would(
                f"move {pod[0]!r} from {pod[1]!r} to {host!r} for this change_spec "
                "(the host list still says "
                f"{st.host_names(pod[0])})",
                comp,
                act,
            )
        self.respecs.append((pod[0], pod[1], dict(new_spec), str(host)))
        _replace_spec(st, comp, new_spec)
        return True, ""

    # -- engine actions
    def emit(self, st: AppState) -> None:
        created, deleted = list(self.created), list(self.deleted)
        for comp, host in list(created):
            src = next((d for d in deleted if d[0] == comp and d[1] != host), None)
            if src is not None:
                deleted.remove(src)
                created.remove((comp, host))
                self.actions.append(Move(st.name, comp, src[1], host))
        self.actions += [Deploy(st.name, c, h) for c, h in created]
        self.actions += [Remove(st.name, c, h) for c, h in deleted]
        for comp, old, new_spec, target in self.respecs:
            host = str(target)
            if host != old:
                self.actions.append(Move(st.name, comp, old, host))
            cpu, mem = requests_of(new_spec)
            self.actions.append(
                ChangeSpec(st.name, comp, host, cpu=cpu, memory=mem, image=_image(new_spec))
            )


def requirements_raise(node: Mapping[str, Any], comp: Mapping[str, Any]) -> str | None:
    """The exception 0.1.12's ``node_matches_requirements`` raises on the cpu part, if any:
    it reads the node's ``hardware.cpu`` without checking it exists, and tests ``arch not in
    cpu.architecture`` when the component names no architecture."""
    containers = comp.get("containers")
    if not containers:
        return "TypeError: 'NoneType' object is not subscriptable (no containers)"
    first = containers[0] if isinstance(containers[0], Mapping) else {}
    cpu = (first.get("platform_requirements") or {}).get("cpu")
    if not cpu:
        return None
    hw = node.get("hardware")
    if not isinstance(hw, Mapping):
        return "AttributeError: 'NoneType' object has no attribute 'get' (node has no hardware)"
    node_cpu = hw.get("cpu")
    arch = cpu.get("architecture") if isinstance(cpu, Mapping) else None
    if arch and not node_cpu:
        return None
    if not isinstance(node_cpu, Mapping):
        return "AttributeError: 'NoneType' object has no attribute 'get' (node has no hardware.cpu)"
    if node_cpu.get("architecture") and not arch:
        return (
            "TypeError: argument of type 'NoneType' is not iterable (the component's cpu "
            "requirements name no 'architecture' but the node's description does: add "
            "architecture: [amd64] to platform_requirements.cpu)"
        )
    return None


class _Crash(Exception):
    """The controller raised while handling the plan (no reply; changes so far kept)."""


def _as_list(acts: Any) -> list[Any]:
    if isinstance(acts, list | tuple):
        return list(acts)
    raise _Crash(f"TypeError (the actions of a component must be a list, got {_short(acts)})")


def _mark(entries: list[dict[str, str]], host: Any, status: str, *, append: bool) -> bool:
    """``append_host_to_list``: set the status of a listed host; else append (or not)."""
    for e in entries:
        if e["host"] == host:
            e["status"] = status
            return True
    if append:
        entries.append({"host": str(host), "status": status})
    return False


def _pod_view(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of a component dict ends in its pod template (what 0.1.12 compares)."""
    containers = spec.get("containers") or []
    first = containers[0] if containers and isinstance(containers[0], Mapping) else {}
    return (
        repr(first.get("image")),
        repr(first.get("platform_requirements")),
        repr(first.get("command")),
        repr(first.get("env")),
        repr(spec.get("runtime_class_name")),
    )


def _replace_spec(st: AppState, comp: str, new_spec: Mapping[str, Any]) -> None:
    comps = st.spec.get("components") or []
    for i, c in enumerate(comps):
        if isinstance(c, Mapping) and (c.get("metadata") or {}).get("name") == comp:
            merged = copy.deepcopy(dict(new_spec))
            merged.setdefault("metadata", copy.deepcopy(c.get("metadata")))
            comps[i] = merged


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


__all__ = ["ACTIONS", "AppState", "Fluidity", "Note", "PlanFailed", "requirements_raise"]
