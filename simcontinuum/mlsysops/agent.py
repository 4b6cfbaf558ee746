"""The MLSysOps agents of one run: policy instances, the analyze → plan → schedule cycle.

One :class:`Agent` per cluster (cluster level: mechanism ``fluidity``) or one for the whole
continuum (continuum level: mechanism ``clusterPlacement``, with a :class:`Agent` per cluster
still running the built-in cluster behaviour). A cycle, at simulated time ``now``:

1. applications that arrived are registered with their cluster's agent (departed ones
   dropped). An application's cluster is the first known ``cluster_placement.cluster_id``,
   else the cluster of a pinned node, else the first cluster where every component has an
   eligible node, else the first cluster (at the continuum level without the built-in
   behaviour, one without ``cluster_id`` waits for a ``clusterPlacement`` plan).
   ``application``-scope policies get one instance per application, each with its own copy
   of the initial context; ``global``-scope policies one instance per agent;
2. built-in fluidity behaviour (on by default): a component pinned with
   ``node_placement.node`` and without a replica is deployed on that node when it is up;
3. every instance whose ``now - last_run >= analyze_interval`` runs ``analyze``; ``True``
   runs ``plan`` at once. The interval is re-read from the context each time; ``"0s"`` or an
   invalid value is recorded and floored to 1 s (the real agent busy-loops). ``>=``: the real
   agent sleeps the interval, so its wall-clock check passes after exactly one interval;
4. the plan scheduler takes the plans in order: per mechanism the first *user* plan of the
   cycle wins and later ones are discarded (core plans — the built-in placement — are never
   discarded and claim nothing); unknown mechanism keys are ignored; ``fluidity`` plans are
   executed by :class:`~simcontinuum.mlsysops.fluidity.Fluidity`.

The built-in core policies are the framework's: ``staticPlacement`` deploys pinned components
(``node_placement.node``) on their node, ``dynamicPlacement`` deploys every unplaced, unpinned
component on one node drawn at random — from the run's ``policy`` stream — among all the
cluster's nodes, then waits 30 s before looking again (see :meth:`Cycle._builtin_plan`). A
user policy of the same name replaces either, as on the framework.

Invariant: every exception of a policy is caught here, recorded (a row and one warning per
distinct failure) and counts as ``False``/``{}``; only the engine's time-out (a
``BaseException``) passes through.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simcontinuum.mlsysops.callenv import GlobalRandomState
from simcontinuum.mlsysops.descriptions import Descriptions, app_description, app_uid
from simcontinuum.mlsysops.fluidity import Fluidity, Note, requirements_raise
from simcontinuum.mlsysops.policyfile import Caller, PolicyFile
from simcontinuum.mlsysops.requirements import parse_interval
from simcontinuum.mlsysops.warn import policy_where, warn_outside, warn_policy
from simcontinuum.policy.api import Action, ClusterView, Deploy, Move, Remove

SCOPES = ("application", "global")
MIN_INTERVAL_S = 1.0  # the agent's plan-scheduler period; also our floor for "0s"
BUILTIN_NAME = "dynamicPlacement"
STATIC_NAME = "staticPlacement"
PINNED_RETRY_S = 30.0
CLUSTER_MECHANISMS = ("fluidity",)
CONTINUUM_MECHANISMS = ("clusterPlacement",)


class MLSysOpsWarning(UserWarning):
    """A policy file misbehaves or uses something the simulator does not model."""


@dataclass
class Instance:
    """One running policy: a file (or the built-in) with its own context."""

    name: str
    scope: str
    context: dict[str, Any]
    file: PolicyFile | None = None  # None: the built-in placement
    app: str | None = None  # application scope: its application
    last_run: float = -math.inf
    dead: str | None = None  # why the framework's analyze loop fails for it from now on
    randomness: GlobalRandomState | None = None  # its global random/numpy sequence

    @property
    def core(self) -> bool:
        return self.file is None


@dataclass
class Agent:
    """One agent: its system description, mechanisms, applications and policy instances."""

    level: str  # "cluster" | "continuum"
    ident: str
    system_description: dict[str, Any]
    hosts: list[str]
    fluidity: Fluidity | None = None
    apps: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)

    @property
    def mechanisms(self) -> tuple[str, ...]:
        return CLUSTER_MECHANISMS if self.level == "cluster" else CONTINUUM_MECHANISMS


@dataclass
class Loaded:
    """A policy file with what its ``initialize()`` returned (None: it never runs)."""

    file: PolicyFile
    context: dict[str, Any] | None
    scope: str | None


class Cycle:
    """The agents of one run and their cycle (see the module docstring).

    Args:
        policies: the loaded policy files with their initial contexts.
        descriptions: what policies receive as descriptions.
        level: ``"cluster"`` or ``"continuum"``: where the user policies run.
        builtin: run the built-in behaviour (pinned deploys, ``dynamicPlacement``, and at the
            continuum level the initial cluster choice).
        rng: the run's ``policy`` stream.
        note: records one row (a :class:`Note`) at the current time.
        running: ``(app, component) -> hosts with a running replica`` or None.
        caller: calls the policy functions.
    """

    def __init__(
        self,
        policies: list[Loaded],
        descriptions: Descriptions,
        clusters: Mapping[str, tuple[str, ...]],
        *,
        level: str,
        builtin: bool,
        rng: Any,
        note: Callable[[Note], None],
        running: Callable[[str, str], set[str] | None] | None,
        caller: Caller,
    ) -> None:
        self.policies = policies
        self.instances_made = 0
        self.desc = descriptions
        self.level = level
        self.builtin = builtin
        self.rng = rng
        self.note = note
        self.running = running
        self.caller = caller
        self.warned: set[tuple[Any, ...]] = set()
        self.assigned: dict[str, str | None] = {}  # app -> cluster
        self.pinned_at: dict[tuple[str, str], float] = {}  # last pinned deploy per component
        self.moved_to: dict[str, str] = {}  # app -> cluster named by a clusterPlacement plan
        self.agents: dict[str, Agent] = {}
        for cid, hosts in clusters.items():
            cdesc = copy.deepcopy(
                descriptions.clusters.get(cid) or {"name": cid, "cluster_id": cid}
            )
            nodes = {h: descriptions.nodes[h] for h in hosts if h in descriptions.nodes}
            self.agents[cid] = Agent(
                "cluster",
                cid,
                {"MLSysOpsCluster": cdesc},
                list(hosts),
                Fluidity(cid, list(hosts), nodes, cdesc),
            )
        self.continuum: Agent | None = None
        if level == "continuum":
            cont = copy.deepcopy(descriptions.continuum or {})
            self.continuum = Agent(
                "continuum",
                str(cont.get("continuum_id") or cont.get("name") or "continuum"),
                {"MLSysOpsContinuum": cont},
                [],
            )
        user_names = {p.file.name for p in policies}
        # a user policy replaces the core policy of the same name (controllers/policy.py)
        self.core_placement = builtin and BUILTIN_NAME not in user_names
        self.core_static = builtin and STATIC_NAME not in user_names
        self.now = 0.0
        for agent in self._user_agents():
            for p in policies:
                if p.scope == "global" and p.context is not None:
                    agent.instances.append(self._instance(p, None))

    # ------------------------------------------------------------------ helpers
    def _user_agents(self) -> list[Agent]:
        return [self.continuum] if self.continuum is not None else list(self.agents.values())

    def warn(
        self,
        key: tuple[Any, ...],
        message: str,
        *,
        policy: PolicyFile | None = None,
        function: str | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Warn once per distinct ``key`` in this run: at the line of ``policy``'s file that
        ``exc`` was raised from, else at its ``def function`` (never at a line of
        simcontinuum; without a policy, at the first frame outside simcontinuum)."""
        if key in self.warned:
            return
        self.warned.add(key)
        if policy is not None:
            warn_policy(message, policy.path, function=function, exc=exc)
        else:
            warn_outside(message)

    # ------------------------------------------------------------------ the cycle
    def run(self, view: ClusterView, now: float, delivered: Any) -> list[Action]:
        """One agent cycle at ``now``; the simcontinuum actions to apply."""
        actions: list[Action] = []
        self._sync_apps(view)
        self.now = now
        self.caller.now = now
        for agent in self.agents.values():
            assert agent.fluidity is not None
            agent.fluidity.sync(view)
            if self.core_static:
                actions += self._keep_pinned(agent, view, now)
        with self.caller.cycle():
            for agent in self._ordered_agents():
                actions += self._agent_cycle(agent, view, now, delivered)
        return actions

    def _ordered_agents(self) -> list[Agent]:
        out = list(self.agents.values())
        if self.continuum is not None:
            out.insert(0, self.continuum)
        return out

    def _sync_apps(self, view: ClusterView) -> None:
        present = list(view.apps)
        for agent in [*self.agents.values(), *([self.continuum] if self.continuum else [])]:
            for app in [a for a in agent.apps if a not in view.apps]:
                self._unregister(agent, app)
        for app in present:
            if app not in self.desc.apps:  # not in the descriptions the run started with
                self.desc.apps[app] = app_description(view.apps[app].app)
            if app not in self.assigned:
                self.assigned[app] = self._initial_cluster(app, view)
                if self.continuum is not None:
                    self._register(self.continuum, app)
            cid = self.assigned[app]
            if cid is not None and app not in self.agents[cid].apps:
                self._register(self.agents[cid], app)
        for app in [a for a in self.assigned if a not in view.apps]:
            del self.assigned[app]

    def _register(self, agent: Agent, app: str) -> None:
        agent.apps.append(app)
        if agent.fluidity is not None:
            # the continuum agent writes the cluster it propagates an application to into
            # cluster_placement.cluster_id (fluidity deploys only components of its cluster)
            agent.fluidity.register(app, self.cluster_app(app, agent.ident))
        if agent in self._user_agents():
            for p in self.policies:
                if p.scope == "application" and p.context is not None:
                    agent.instances.append(self._instance(p, app))
        if agent.fluidity is not None and self.core_placement:
            # the agent starts user policies before core ones (templates are loaded in that
            # order), so a dead user policy also blocks the core one of its application
            ctx = {"configuration": {"analyze_interval": "1s"}, "scope": "application"}
            agent.instances.append(Instance(BUILTIN_NAME, "application", ctx, None, app))

    def cluster_app(self, app: str, cluster: str) -> dict[str, Any]:
        """The application as a cluster agent has it: the CR the continuum propagated, whose
        ``cluster_placement.cluster_id`` names the cluster (written when missing; replaced
        by ``[cluster]`` after a clusterPlacement move, as 0.1.12's ``create_cr`` does)."""
        spec = copy.deepcopy(self.desc.apps.get(app, {"name": app}))
        placement = spec.get("cluster_placement")
        if not isinstance(placement, dict):
            placement = spec["cluster_placement"] = {}
        if app in self.moved_to:
            placement["cluster_id"] = [self.moved_to[app]]
        elif not placement.get("cluster_id"):
            placement["cluster_id"] = [cluster]
            placement.setdefault("instances", 1)
        return spec

    def _instance(self, p: Loaded, app: str | None) -> Instance:
        """A running instance of ``p``: the agent clones the template, imports the file anew
        (its own module: module-level state is per instance) and calls ``initialize()``
        again, updating a copy of the template's context with what it returns."""
        from simcontinuum.errors import PolicyError
        from simcontinuum.mlsysops.policyfile import load_policy_module

        assert p.context is not None and p.scope is not None
        context = copy.deepcopy(p.context)
        file = p.file
        randomness = GlobalRandomState(self.rng)  # each instance its own global sequence
        try:
            self.instances_made += 1
            remote = getattr(p.file, "for_instance", None)  # a file run behind the boundary
            if remote is not None:
                file = remote(self.instances_made)  # its worker imports the file anew
            else:
                file = load_policy_module(p.file.path, self.now)
            self.caller.randomness = randomness
            fresh = self.caller.call_sync(file.function("initialize"))
            if isinstance(fresh, dict):
                context.update(copy.deepcopy(fresh))
        except (PolicyError, Exception) as exc:
            reason = (
                f"policy {p.file.name!r}: importing/initializing its instance"
                f"{' for ' + repr(app) if app else ''} failed ({type(exc).__name__}: {exc}); "
                "it runs with the template's context, as the agent does"
            )
            self.note(Note("initialize", "error", "error", reason, app))
            self.warn(
                (p.file.name, "instance", type(exc).__name__),
                reason,
                policy=p.file,
                function="initialize",
                exc=exc,
            )
        return Instance(p.file.name, p.scope, context, file, app, randomness=randomness)

    def _unregister(self, agent: Agent, app: str) -> None:
        agent.apps.remove(app)
        agent.instances = [i for i in agent.instances if i.app != app]
        if agent.fluidity is not None:
            agent.fluidity.unregister(app)

    def _initial_cluster(self, app: str, view: ClusterView) -> str | None:
        """The cluster an arriving application goes to (see the module docstring)."""
        spec = self.desc.apps.get(app, {})
        wanted = [str(c) for c in (spec.get("cluster_placement") or {}).get("cluster_id") or []]
        for cid in wanted:
            if cid in self.agents:
                return cid
        if self.level == "continuum" and not self.builtin:
            return None  # the continuum policy decides
        for comp in spec.get("components") or []:
            pinned = (
                (comp.get("node_placement") or {}).get("node")
                if isinstance(comp, Mapping)
                else None
            )
            for cid, agent in self.agents.items():
                if pinned in agent.hosts:
                    return cid
        for cid, agent in self.agents.items():
            assert agent.fluidity is not None
            if all(agent.fluidity.eligible(c, view) for c in spec.get("components") or []):
                return cid
        return next(iter(self.agents), None)

    # ------------------------------------------------------------------ built-ins
    def _keep_pinned(self, agent: Agent, view: ClusterView, now: float) -> list[Action]:
        """The core ``staticPlacement``: a component pinned with ``node_placement.node`` is
        deployed on its node. When its replica is lost (the node failed) it is deployed there
        again once the node is up — Kubernetes restarts a pod bound to its node — at most
        every ``PINNED_RETRY_S`` (a pod the engine refused would stay ``Pending``). A user
        policy named ``staticPlacement`` replaces this, as on the framework."""
        fl = agent.fluidity
        assert fl is not None
        out: list[Action] = []
        for app in agent.apps:
            st = fl.apps[app]
            for comp in st.component_names():
                spec = st.component(comp) or {}
                host = (spec.get("node_placement") or {}).get("node")
                if not host or fl.placed(app, comp, view) or host not in agent.hosts:
                    continue
                nv = view.nodes.get(host)
                if nv is None or not nv.up:
                    continue
                why = fl.host_problem(spec, host, view)
                crash = requirements_raise(fl.nodes[host], spec) if host in fl.nodes else None
                if crash:
                    why = f"the framework 0.1.12's validate_host raises {crash}"
                if why:
                    key = ("pinned", app, comp, why)
                    if key not in self.warned:
                        self.warned.add(key)
                        self.note(
                            Note(
                                "plan",
                                "deploy",
                                "rejected",
                                f"fluidity cannot deploy the pinned component: {why}",
                                app,
                                comp,
                                host,
                            )
                        )
                    continue
                if now - self.pinned_at.get((app, comp), -math.inf) < PINNED_RETRY_S:
                    continue
                self.pinned_at[(app, comp)] = now
                if host not in st.host_names(comp):  # Kubernetes restarts a bound pod itself
                    fl.record_pod(app, comp, host)
                out.append(Deploy(app, comp, host))
        return out

    def _builtin_plan(
        self, agent: Agent, inst: Instance, view: ClusterView
    ) -> dict[str, Any] | None:
        """The core ``dynamicPlacement`` (``policy-cluster-dynamicPlacement.py`` of 0.1.12):
        when a component without ``node_placement.node`` has no pod (``node_placed`` is
        None), draw **one** node at random among *all* the nodes of the cluster description
        and deploy every such component there in an initial plan, then wait 30 s before
        analyzing again (1 s while everything is placed). There is no eligibility filter: a
        node that fails fluidity's checks fails the plan, and the next draw comes 30 s later.
        The draw comes from the run's ``policy`` stream."""
        assert inst.app is not None
        spec = self.desc.apps.get(inst.app, {})
        placed = view.placements.get(inst.app, {})
        todo = []
        for comp in spec.get("components") or []:
            if not isinstance(comp, Mapping):
                continue
            name = str((comp.get("metadata") or {}).get("name"))
            if (comp.get("node_placement") or {}).get("node") or placed.get(name):
                continue
            todo.append(str(name))
        inst.context["configuration"]["analyze_interval"] = "30s" if todo else "1s"
        if not todo:
            return None
        nodes = list((agent.system_description.get("MLSysOpsCluster") or {}).get("nodes") or [])
        if not nodes:
            reason = (
                "dynamicPlacement: the cluster description lists no nodes "
                "(random.choice raises IndexError on the framework; its plan is {})"
            )
            self.note(Note("plan", "error", "error", reason, inst.app))
            self.warn(("no-nodes", agent.ident), reason)  # the built-in's: no policy file
            return None
        host = str(nodes[int(self.rng.integers(len(nodes)))])
        plan: dict[str, Any] = {c: [{"action": "deploy", "host": host}] for c in todo}
        plan["initial_plan"] = True
        return {"fluidity": {"name": inst.app, "deployment_plan": plan}}

    # ------------------------------------------------------------------ one agent
    def _agent_cycle(
        self, agent: Agent, view: ClusterView, now: float, delivered: Any
    ) -> list[Action]:
        args: _Args | None = None
        plans: list[tuple[Instance, Any]] = []
        blocked: set[str | None] = set()  # applications whose analyze loop fails this cycle
        for inst in list(agent.instances):
            if inst.scope == "application" and inst.app in blocked:
                continue
            if inst.dead is not None or self._dies(inst):
                if inst.scope == "application":
                    blocked.add(inst.app)
                continue
            if not self._due(inst, now):
                continue
            inst.last_run = now
            if inst.core:
                plan = self._builtin_plan(agent, inst, view)
                if plan is not None:
                    plans.append((inst, plan))
                continue
            if args is None:
                args = _Args(self, agent, view, now, delivered)
                self.caller.metrics = args.series
            plan = self._analyze_and_plan(agent, inst, args)
            if plan is not None:
                plans.append((inst, plan))
        return self._schedule(agent, plans, view)

    def _dies(self, inst: Instance) -> bool:
        """Whether the agent's analyze loop fails on ``inst`` from now on: it reads
        ``context['configuration']['analyze_interval']`` and matches it with a regex before
        every analyze, so a context that is None (``analyze`` returned ``(False, None)``), not a
        dict, without that key, or with a non-string interval raises there, every loop. The
        policy is dead; at application scope the loop over the application's policies stops at
        it, so the policies after it (the core dynamicPlacement among them) never run either."""
        ctx = inst.context
        try:
            raw = ctx["configuration"]["analyze_interval"]
            if not isinstance(raw, str):
                raise TypeError(f"expected string or bytes-like object, got {type(raw).__name__}")
        except Exception as exc:
            inst.dead = f"{type(exc).__name__}: {exc}"
            after = (
                "; the policies after it for this application are blocked too (the agent's "
                "per-application analyze loop stops at the failing one)"
                if inst.scope == "application"
                else ""
            )
            reason = (
                f"policy {inst.name!r}: its context is now {_short(ctx)}, so the MLSysOps "
                f"agent's analyze loop fails reading context['configuration']"
                f"['analyze_interval'] ({inst.dead}) every time: the framework 0.1.12 never "
                f"calls this policy again{after}"
            )
            self.note(Note("analyze", "dead", "error", reason, inst.app))
            if inst.file is not None:
                warn_policy(reason, inst.file.path, function="analyze")
            else:
                warn_outside(reason)
            return True
        return False

    def _due(self, inst: Instance, now: float) -> bool:
        raw = (
            (inst.context.get("configuration") or {}).get("analyze_interval")
            if isinstance(inst.context, Mapping)
            else None
        )
        seconds = parse_interval(raw)
        if seconds is None or seconds <= 0:
            key = ("interval", inst.name, repr(raw))
            if key not in self.warned:
                what = "missing" if raw is None else f"{raw!r} parses to 0"
                msg = (
                    f"policy {inst.name!r}: configuration.analyze_interval {what} (the "
                    f"MLSysOps agent would busy-loop analyze); using {MIN_INTERVAL_S:g} s"
                )
                self.warn(key, msg, policy=inst.file, function="initialize")
                self.note(Note("analyze", "interval", "adjusted", msg, inst.app))
            interval = MIN_INTERVAL_S
        else:
            interval = float(seconds)
        return now - inst.last_run >= interval - 1e-9

    def _fail(self, inst: Instance, call: str, exc: BaseException) -> None:
        reason = f"policy {inst.name!r}: {call}() raised {type(exc).__name__}: {exc}"
        if inst.file is not None:
            reason += policy_where(inst.file.path, exc)
        self.note(Note(call, "error", "error", reason, inst.app))
        self.warn(
            (inst.name, call, type(exc).__name__, str(exc)),
            reason + ("; counted as False" if call == "analyze" else "; counted as {}"),
            policy=inst.file,
            function=call,
            exc=exc,
        )

    def _analyze_and_plan(self, agent: Agent, inst: Instance, args: _Args) -> Any:
        called, status = self._invoke(inst, args, "analyze", "(bool, context)")
        if not called or not status:
            return None
        called, plan = self._invoke(inst, args, "plan", "(plan, context)")
        return plan if called else None

    def _invoke(self, inst: Instance, args: _Args, call: str, shape: str) -> tuple[bool, Any]:
        """Run ``analyze`` or ``plan``; keep the context it returns. A failure is recorded
        and counts as not called (the agent's ``False`` / ``{}``)."""
        assert inst.file is not None
        self.caller.randomness = inst.randomness
        try:
            out = self.caller.call(inst.file.function(call), inst.context, *args.for_instance(inst))
            first, ctx = _pair(out, call, shape)
        except (Exception, asyncio.CancelledError) as exc:
            self._fail(inst, call, exc)
            return False, None
        self._set_context(inst, ctx, call)
        return True, first

    def _set_context(self, inst: Instance, ctx: Any, call: str) -> None:
        """The agent keeps whatever comes back as the context (``Policy.update_context``),
        even None; :meth:`_dies` then reports what that does to the policy."""
        inst.context = ctx

    # ------------------------------------------------------------------ scheduler
    def _schedule(
        self, agent: Agent, plans: list[tuple[Instance, Any]], view: ClusterView
    ) -> list[Action]:
        touched: dict[str, str] = {}
        actions: list[Action] = []
        for inst, plan in plans:
            if not isinstance(plan, Mapping):
                reason = (
                    f"policy {inst.name!r}: plan() must return a dict "
                    f"{{mechanism: command}}, got {type(plan).__name__}"
                )
                self.note(Note("plan", "error", "error", reason, inst.app))
                self.warn((inst.name, "plan-type"), reason, policy=inst.file, function="plan")
                continue
            for mech, command in plan.items():
                if mech not in agent.mechanisms:
                    reason = (
                        f"policy {inst.name!r}: mechanism {mech!r} is not loaded at the "
                        f"{agent.level} level (known: {', '.join(agent.mechanisms)}); "
                        "the agent ignores it"
                    )
                    self.note(Note("plan", "plan", "ignored", reason, inst.app))
                    self.warn(
                        (inst.name, "mechanism", mech), reason, policy=inst.file, function="plan"
                    )
                    continue
                if not inst.core and mech in touched:
                    self.note(
                        Note(
                            "plan",
                            "plan",
                            "discarded",
                            f"policy {inst.name!r}: a plan for {mech!r} from "
                            f"{touched[mech]!r} already ran this cycle (the agent's "
                            "scheduler keeps the first)",
                            _plan_app(command, inst),
                        )
                    )
                    continue
                if not inst.core:
                    touched[mech] = inst.name
                actions += self._execute(agent, inst, mech, command, view)
        return actions

    def _execute(
        self, agent: Agent, inst: Instance, mech: str, command: Any, view: ClusterView
    ) -> list[Action]:
        app = _plan_app(command, inst)
        if mech == "fluidity":
            assert agent.fluidity is not None
            actions, notes = agent.fluidity.execute(command, view)
            for n in notes:
                self.note(n)
                if n.outcome in ("warning", "ignored", "error") and n.reason:
                    self.warn(
                        ("fluidity", n.app, n.reason),
                        f"policy {inst.name!r}: {n.reason}",
                        policy=inst.file,
                        function="plan",
                    )
            if actions:
                self.note(
                    Note(
                        "plan",
                        "plan",
                        "scheduled",
                        f"policy {inst.name!r}: fluidity plan with {len(actions)} action(s)",
                        app,
                    )
                )
            return actions
        return self._cluster_placement(inst, command, view)

    # ------------------------------------------------------------------ continuum
    def _cluster_placement(self, inst: Instance, command: Any, view: ClusterView) -> list[Action]:
        """``clusterPlacement``: the application(s) go to the cluster named in ``action``."""
        action = command.get("action") if isinstance(command, Mapping) else None
        targets = [str(v) for v in action.values()] if isinstance(action, Mapping) else []
        apps_in = command.get("app") if isinstance(command, Mapping) else None
        items = apps_in if isinstance(apps_in, list) else [apps_in]
        # 0.1.12's create_cr takes plan["app"][0]: one application per plan
        names = [str(a.get("name")) for a in items[:1] if isinstance(a, Mapping) and a.get("name")]
        if len(items) > 1:
            self.warn(
                ("cplace-first", inst.name),
                f"policy {inst.name!r}: a clusterPlacement plan with {len(items)} applications; "
                "the framework 0.1.12 would place only the first (plan['app'][0])",
                policy=inst.file,
                function="plan",
            )
        if not targets or not names:
            reason = (
                "clusterPlacement expects {'action': {'component': <cluster_id>}, "
                "'app': <application description>}"
            )
            self.note(Note("plan", "cluster_placement", "rejected", reason, inst.app))
            return []
        cluster = targets[0]
        out: list[Action] = []
        for app in names:
            if cluster not in self.agents:
                self.note(
                    Note(
                        "plan",
                        "cluster_placement",
                        "rejected",
                        f"unknown cluster {cluster!r}",
                        app,
                        target=cluster,
                    )
                )
                continue
            if app not in self.assigned:
                self.note(
                    Note(
                        "plan",
                        "cluster_placement",
                        "rejected",
                        f"unknown application {app!r}",
                        app,
                        target=cluster,
                    )
                )
                continue
            out += self._relocate(app, cluster, view)
            self.note(
                Note(
                    "plan",
                    "cluster_placement",
                    "scheduled",
                    f"policy {inst.name!r}: application placed in cluster {cluster!r}",
                    app,
                    target=cluster,
                )
            )
        return out

    def _relocate(self, app: str, cluster: str, view: ClusterView) -> list[Action]:
        old = self.assigned.get(app)
        if old == cluster:
            return []
        if old is not None:
            self._unregister(self.agents[old], app)
        self.assigned[app] = cluster
        # clusterPlacement overwrites the named cluster (cluster_placement.cluster_id)
        self.moved_to[app] = cluster
        agent = self.agents[cluster]
        self._register(agent, app)
        fl = agent.fluidity
        assert fl is not None
        st = fl.apps[app]
        out: list[Action] = []
        placed = view.placements.get(app, {})
        for comp in st.component_names():
            nodes = list(placed.get(comp, ()))
            elsewhere = [n for n in nodes if n not in agent.hosts]
            if nodes and not elsewhere:
                continue
            spec = st.component(comp) or {}
            pinned = (spec.get("node_placement") or {}).get("node")
            hosts = [pinned] if pinned in agent.hosts else fl.eligible(spec, view)
            hosts = [h for h in hosts if h not in st.host_names(comp)]
            if not hosts:
                reason = f"no node of cluster {cluster!r} passes the fluidity checks"
                self.note(
                    Note("plan", "move" if elsewhere else "deploy", "rejected", reason, app, comp)
                )
                continue
            dst = str(hosts[int(self.rng.integers(len(hosts)))])
            fl.record_pod(app, comp, dst)
            if not elsewhere:
                out.append(Deploy(app, comp, dst))
                continue
            out.append(Move(app, comp, elsewhere[0], dst))
            out += [Remove(app, comp, n) for n in elsewhere[1:]]
        return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pair(out: Any, call: str, shape: str) -> tuple[Any, Any]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise TypeError(f"{call}() must return {shape}, got {type(out).__name__}")
    return out[0], out[1]


def _plan_app(command: Any, inst: Instance) -> str | None:
    if isinstance(command, Mapping) and isinstance(command.get("name"), str):
        return str(command["name"])
    return inst.app


class _Args:
    """The six arguments of ``analyze``/``plan`` for one agent at one cycle (built lazily,
    copied for every call so that a policy mutating them affects nothing else)."""

    def __init__(
        self, cycle: Cycle, agent: Agent, view: ClusterView, now: float, delivered: Any
    ) -> None:
        self.cycle = cycle
        self.agent = agent
        self.view = view
        self.now = now
        self.delivered = delivered
        self._state: dict[str, Any] | None = None
        self._telemetry: dict[str, Any] | None = None
        self._series: dict[str, list[dict[str, Any]]] | None = None
        self.ml_connector = os.environ.get("MLS_MLCONNECTOR_ENDPOINT")

    def apps(self, inst: Instance) -> list[dict[str, Any]]:
        names = (
            [inst.app]
            if inst.scope == "application" and inst.app is not None
            else list(self.agent.apps)
        )
        out = []
        for name in names:
            if self.agent.level == "cluster":
                spec = self.cycle.cluster_app(name, self.agent.ident)
                out.append({"name": name, "spec": spec, "app_uid": app_uid(name)})
            else:
                out.append(copy.deepcopy(self.cycle.desc.apps.get(name, {"name": name})))
        return out

    def mechanisms(self) -> dict[str, Any]:
        if self._state is None:
            if self.agent.fluidity is not None:
                state = self.agent.fluidity.state(self.view, self.cycle.running)
                self._state = {"fluidity": {"state": state, "options": {}}}
            else:
                self._state = {
                    # 0.1.12's clusterPlacement: get_state() and get_options() return None
                    "clusterPlacement": {"state": None, "options": None}
                }
        return copy.deepcopy(self._state)

    def telemetry(self) -> dict[str, Any]:
        if self._telemetry is None:
            from simcontinuum.mlsysops.telemetry import telemetry_argument, telemetry_frame

            columns: list[str] = []
            for p in self.cycle.policies:
                metrics = (
                    ((p.context or {}).get("telemetry") or {}).get("metrics")
                    if isinstance(p.context, Mapping)
                    else None
                )
                if isinstance(metrics, list):
                    columns += [str(m) for m in metrics]
            for app in self.agent.apps:
                for comp in self.cycle.desc.apps.get(app, {}).get("components") or []:
                    for q in (comp.get("qos_metrics") or []) if isinstance(comp, Mapping) else []:
                        if isinstance(q, Mapping) and q.get("application_metric_id"):
                            columns.append(str(q["application_metric_id"]))
            hosts = self.agent.hosts or [h for a in self.cycle.agents.values() for h in a.hosts]
            nodes = [self.view.nodes[h] for h in hosts if h in self.view.nodes]
            entry_hosts: dict[str, str] = {}
            phase: float | None = None
            for app in self.agent.apps:
                av = self.view.apps.get(app)
                if av is None:
                    continue
                placed = self.view.placements.get(app, {})
                entry = list(placed.get(av.app.entry, ()))
                if entry:
                    entry_hosts[app] = entry[0]
                for comp, where in placed.items():
                    if phase is None and where:
                        up = self.cycle.running(app, comp) if self.cycle.running else None
                        phase = 2.0 if up is None or up else 1.0  # Running / Pending
            frame = telemetry_frame(
                self.delivered,
                self.now,
                columns,
                list(self.agent.apps),
                nodes,
                entry_hosts=entry_hosts,
                pod_phase=phase,
            )
            self._telemetry = telemetry_argument(frame)
        t = self._telemetry
        return {**t, "dataframe": t["dataframe"].copy()}

    def series(self) -> dict[str, list[dict[str, Any]]]:
        """The delivered telemetry as the ``mlstelemetry`` stand-in answers it: the newest
        value of every metric of every node and application, one series per source."""
        if self._series is None:
            from simcontinuum.mlsysops.telemetry import APP_ALIASES, NODE_METRICS

            out: dict[str, list[dict[str, Any]]] = {}
            latest = self.delivered.latest() if self.delivered is not None else None
            for row in [] if latest is None else latest.to_dict("records"):
                kind, ident = row.pop("kind"), str(row.pop("id"))
                row.pop("time_s", None)
                values = {k: float(v) for k, v in row.items() if v == v and v is not None}
                if kind == "node":
                    labels = {"node_name": ident, "key_service_hostname": ident}
                    nv = self.view.nodes.get(ident)
                    if nv is not None:
                        for name, fn in NODE_METRICS.items():
                            got = fn(values, nv)
                            if got is not None:
                                values[name] = float(got)
                elif kind == "app":
                    labels = {"app": ident}
                    for name, afn in APP_ALIASES.items():
                        got = afn(values)
                        if got is not None:
                            values[name] = float(got)
                else:
                    app, _, comp = ident.partition("/")
                    labels = {"app": app, "component": comp}
                for name, v in values.items():
                    out.setdefault(name, []).append(
                        {"labels": dict(labels), "value": v, "timestamp": None}
                    )
            self._series = out
        return copy.deepcopy(self._series)

    def for_instance(self, inst: Instance) -> tuple[Any, ...]:
        """``(application_description, system_description, mechanisms, telemetry,
        ml_connector)`` for one call."""
        return (
            self.apps(inst),
            copy.deepcopy(self.agent.system_description),
            self.mechanisms(),
            self.telemetry(),
            self.ml_connector,
        )


__all__ = [
    "BUILTIN_NAME",
    "MIN_INTERVAL_S",
    "SCOPES",
    "Agent",
    "Cycle",
    "Instance",
    "Loaded",
    "MLSysOpsWarning",
]
