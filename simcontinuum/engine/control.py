"""The control side: calling the policy, validating what it returns, applying and recording it.

The policy is called with read-only snapshots (``place`` when an application arrives, ``plan``
every ``control.interval``, ``on_event`` on failures, recoveries and arrivals). Whatever it
returns is checked here — types, known applications/components/nodes, constraints, capacity —
and every decision is recorded in the actions table with an outcome (``applied``,
``rejected``, ``error``) and a reason. A policy that raises or returns nonsense is recorded and
counts as doing nothing; with ``strict`` the run stops with a :class:`PolicyError` instead.

Invariant: nothing a policy returns can put the engine in an invalid state — every change
goes through :class:`~simcontinuum.engine.replicas.Deployer`, which admits or refuses it.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from simcontinuum.engine.recorder import ActionRow
from simcontinuum.errors import PolicyError, PolicyTimeout
from simcontinuum.model import nominal_rate
from simcontinuum.policy.api import (
    AppView,
    ChangeSpec,
    ClusterView,
    Deploy,
    Event,
    Move,
    Remove,
    Scale,
    capacity_violation,
    constraint_violation,
)
from simcontinuum.policy.reservations import least_allocated
from simcontinuum.policy.tracebacks import policy_traceback

if TYPE_CHECKING:
    from simcontinuum.engine.replicas import AppRuntime, ComponentRuntime, Replica
    from simcontinuum.engine.simulation import Simulation


class Controller:
    """Calls one policy and applies its decisions to one simulation."""

    def __init__(self, sim: Simulation, policy: Any, *, strict: bool = False) -> None:
        self.sim = sim
        self.policy = policy
        self.strict = strict
        self.decision_seconds = 0.0
        self.calls = 0
        self.errors = 0
        self.rejected = 0
        # the first exception a policy raised, as the policy's own frames (no engine frames)
        self.first_error: str | None = None
        self._app_sources: dict[str, tuple[tuple[str, float], ...]] = {}
        for s in sim.scenario.sources:
            prev = self._app_sources.get(s.app, ())
            self._app_sources[s.app] = (*prev, (s.node, nominal_rate(s)))
        control = sim.scenario.control
        self.charge = control.charge_decision_time
        self.timeout = control.policy_timeout
        reset = getattr(policy, "reset", None)
        if callable(reset):
            self._call("reset", reset, sim.streams.get("policy"))
        # Adapters of other frameworks (the MLSysOps one) record rows of their own and read
        # engine state no policy view carries: they get the simulation, to use its public
        # driving API (Simulation.record_action, running_on, ...). Not for policies.
        bind = getattr(policy, "bind", None)
        if callable(bind):
            bind(sim)

    # ------------------------------------------------------------------ views
    def view(self) -> ClusterView:
        """A snapshot of the continuum now."""
        sim = self.sim
        nodes = {n.id: sim.deployer.node_view(n) for n in sim.nodes}
        placements: dict[str, dict[str, tuple[str, ...]]] = {}
        apps: dict[str, AppView] = {}
        for app in sim.apps:
            if not app.active:
                continue
            apps[app.app.id] = self.app_view(app)
            placements[app.app.id] = {
                cid: tuple(r.node.id for r in rt.live()) for cid, rt in app.components.items()
            }
        return ClusterView(
            now=sim.env.now,
            nodes=nodes,
            clusters=sim.scenario.topology.clusters,
            placements=placements,
            apps=apps,
            _latency=sim.network.current.latency,  # routes as of this call
        )

    def app_view(self, app: AppRuntime) -> AppView:
        """What a policy sees of one application."""
        return AppView(app.app, self._app_sources.get(app.app.id, ()))

    # ------------------------------------------------------------------ calling
    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any, float]:
        """Call the policy under the time limit; record an exception or a time-out instead
        of letting it end the run. Returns (ok, result, wall seconds taken)."""
        self.calls += 1
        started = time.perf_counter()
        try:
            with _time_limit(self.timeout):
                out = fn(*args)
        except PolicyTimeout:
            self.errors += 1
            self.record(
                what,
                "timeout",
                outcome="error",
                reason=f"policy call exceeded control.policy_timeout = {self.timeout:g} s "
                "wall time; counted as no action",
            )
            if self.strict:
                raise StrictStop(
                    f"policy {what}() exceeded {self.timeout:g} s (--strict)"
                ) from None
            return False, None, time.perf_counter() - started
        except StrictStop:
            raise
        except (Exception, SystemExit) as exc:  # a broken policy is recorded, never silent
            self.errors += 1
            tb, where = policy_traceback(exc)
            if self.first_error is None:
                self.first_error = tb
            self.record(
                what, "error", outcome="error", reason=f"{type(exc).__name__}: {exc}{where}"
            )
            if self.strict:
                raise StrictStop(f"policy raised in {what}() (--strict):\n{tb}") from exc
            return False, None, time.perf_counter() - started
        finally:
            self.decision_seconds += time.perf_counter() - started
        return True, out, time.perf_counter() - started

    def _then(self, elapsed: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` now, or ``elapsed`` simulated seconds later when decision time is
        charged (``control.charge_decision_time``)."""
        if self.charge and elapsed > 0:
            ev = self.sim.env.timeout(elapsed)
            ev.callbacks.append(lambda _e: fn())
        else:
            fn()

    def place(self, app: AppRuntime) -> None:
        """Ask the policy where ``app``'s components go, and deploy what is valid."""
        place = getattr(self.policy, "place", None)
        if not callable(place):
            self._bad("place", "policy has no place() method")
            return
        ok, placement, elapsed = self._call("place", place, self.app_view(app), self.view())
        self._then(elapsed, lambda: self._placed(app, placement if ok else None, ok))

    def _placed(self, app: AppRuntime, placement: Any, ok: bool) -> None:
        if ok:
            self._apply_placement(app, placement)
        for cid, rt in app.components.items():
            if not rt.replicas:
                self.record(
                    "place",
                    "unplaced",
                    app.app.id,
                    cid,
                    outcome="rejected",
                    reason="no replica placed: requests to it are dropped",
                )

    def plan(self, telemetry: Any) -> None:
        """One control interval: call ``plan`` if the policy has it."""
        plan = getattr(self.policy, "plan", None)
        if callable(plan):
            ok, actions, elapsed = self._call("plan", plan, self.view(), telemetry)
            if ok:
                self._then(elapsed, lambda: self.apply_actions("plan", actions))

    def event(self, event: Event) -> None:
        """Tell the policy about ``event`` if it has ``on_event``."""
        on_event = getattr(self.policy, "on_event", None)
        if callable(on_event):
            ok, actions, elapsed = self._call("on_event", on_event, event, self.view())
            if ok:
                self._then(elapsed, lambda: self.apply_actions("on_event", actions))

    # ------------------------------------------------------------------ applying
    def _apply_placement(self, app: AppRuntime, placement: Any) -> None:
        aid = app.app.id
        if placement is None:
            placement = {}
        if not isinstance(placement, dict):
            self._bad(
                "place",
                f"place() must return a dict {{component: [node, ...]}}, "
                f"got {type(placement).__name__}",
            )
            return
        for cid, nodes in placement.items():
            rt = app.components.get(cid) if isinstance(cid, str) else None
            if rt is None:
                self.record(
                    "place",
                    "deploy",
                    aid,
                    str(cid),
                    outcome="rejected",
                    reason=_unknown("component", cid, app.components),
                )
                continue
            if isinstance(nodes, str):
                nodes = [nodes]
            if not isinstance(nodes, list | tuple):
                self.record(
                    "place",
                    "deploy",
                    aid,
                    cid,
                    outcome="rejected",
                    reason=f"expected a list of node ids, got {type(nodes).__name__}",
                )
                continue
            for nid in nodes:
                self._deploy("place", rt, nid)

    def apply_actions(self, call: str, actions: Any) -> None:
        """Validate and apply a list of actions returned by ``plan``/``on_event``."""
        if actions is None:
            return
        if not isinstance(actions, list | tuple):
            self._bad(call, f"{call}() must return a list of actions, got {type(actions).__name__}")
            return
        for action in actions:
            try:
                self.apply(call, action)
            except (TypeError, ValueError) as exc:  # fields of the wrong type or value
                self._bad(call, f"invalid action {action!r}: {type(exc).__name__}: {exc}")

    def apply(self, call: str, action: Any) -> None:
        """Apply one action, recording its outcome."""
        if not isinstance(action, Deploy | Remove | Move | Scale | ChangeSpec):
            self._bad(
                call,
                f"not an action: {action!r} (use Deploy, Remove, Move, Scale, "
                "ChangeSpec from simcontinuum.policy)",
            )
            return
        kind = _kind(action)
        rt, why = self._component(action.app, action.component)
        if rt is None:
            self.record(call, kind, action.app, action.component, outcome="rejected", reason=why)
            return
        if isinstance(action, Deploy):
            self._deploy(call, rt, action.node)
        elif isinstance(action, Remove):
            self._remove(call, rt, action.node)
        elif isinstance(action, Move):
            self._move(call, rt, action)
        elif isinstance(action, Scale):
            self._scale(call, rt, action.replicas)
        else:
            self._change_spec(call, rt, action)

    def _component(self, aid: Any, cid: Any) -> tuple[ComponentRuntime | None, str | None]:
        app = self.sim.app_by_id.get(aid) if isinstance(aid, str) else None
        if app is None:
            return None, _unknown("application", aid, self.sim.app_by_id)
        if not app.active:
            return None, f"application '{aid}' is not running"
        rt = app.components.get(cid) if isinstance(cid, str) else None
        if rt is None:
            return None, _unknown("component", cid, app.components)
        return rt, None

    def _node(self, nid: Any) -> tuple[Any, str | None]:
        idx = self.sim.node_index.get(nid) if isinstance(nid, str) else None
        if idx is None:
            return None, _unknown("node", nid, self.sim.node_index)
        return self.sim.nodes[idx], None

    def _deploy(self, call: str, rt: ComponentRuntime, nid: Any, **spec: Any) -> Replica | None:
        node, why = self._node(nid)
        rep = None
        if node is not None:
            rep, why = self.sim.deployer.deploy(rt, node, **spec)
        self.record(
            call,
            "deploy",
            rt.app,
            rt.id,
            str(nid),
            outcome="applied" if rep else "rejected",
            reason=why,
        )
        return rep

    def _remove(self, call: str, rt: ComponentRuntime, nid: Any) -> None:
        rep = _newest_on(rt, nid)
        if rep is None:
            self.record(
                call,
                "remove",
                rt.app,
                rt.id,
                str(nid),
                outcome="rejected",
                reason=f"no live replica of {rt.app}/{rt.id} on '{nid}'",
            )
            return
        self.sim.deployer.drain(rep, "removed")
        self.record(call, "remove", rt.app, rt.id, str(nid), outcome="applied")

    def _move(self, call: str, rt: ComponentRuntime, action: Move) -> None:
        old = _newest_on(rt, action.src)
        node, why = self._node(action.dst)
        new = None
        if old is None:
            why = f"no live replica of {rt.app}/{rt.id} on '{action.src}'"
        elif node is not None:
            if action.src == action.dst:
                why = "source and destination are the same node"
            else:
                # the old replica stays until the new one runs: ignore its own max slot
                old.state, saved = "draining", old.state
                new, why = self.sim.deployer.deploy(rt, node)
                old.state = saved
        if new is not None and old is not None:
            self.sim.migrations += 1
            _drain_once_running(self.sim, new, old, "moved")
        self.record(
            call,
            "move",
            rt.app,
            rt.id,
            str(action.src),
            str(action.dst),
            outcome="applied" if new else "rejected",
            reason=why,
        )

    def _scale(self, call: str, rt: ComponentRuntime, n: Any) -> None:
        comp = rt.component
        if not isinstance(n, int) or n < 0:
            self.record(
                call,
                "scale",
                rt.app,
                rt.id,
                outcome="rejected",
                reason=f"replicas must be a non-negative int, got {n!r}",
            )
            return
        if not comp.replicas_min <= n <= comp.replicas_max:
            self.record(
                call,
                "scale",
                rt.app,
                rt.id,
                target=str(n),
                outcome="rejected",
                reason=f"outside replicas range [{comp.replicas_min}, {comp.replicas_max}]",
            )
            return
        live = rt.live()
        self.record(call, "scale", rt.app, rt.id, target=str(n), outcome="applied")
        for rep in sorted(live, key=lambda r: r.created, reverse=True)[: max(0, len(live) - n)]:
            self.sim.deployer.drain(rep, "scaled_in")
            self.record(
                call, "remove", rt.app, rt.id, rep.node.id, outcome="applied", reason="scale"
            )
        for _ in range(max(0, n - len(live))):
            nid = self._least_allocated(rt)
            if nid is None:
                self.record(
                    call,
                    "deploy",
                    rt.app,
                    rt.id,
                    outcome="rejected",
                    reason="scale: no eligible node has room",
                )
                break
            self._deploy(call, rt, nid)

    def _least_allocated(self, rt: ComponentRuntime) -> str | None:
        """The eligible node with room and the highest least-allocated score (the rule of
        the k8s-default baseline); the first in scenario order on a tie."""
        best, best_score = None, -math.inf
        comp = rt.component
        for node in self.sim.nodes:
            view = self.sim.deployer.node_view(node)
            if constraint_violation(comp, view) or capacity_violation(comp, view):
                continue
            score = least_allocated(view, comp.cpu, comp.memory)
            if score > best_score + 1e-9:
                best, best_score = node.id, score
        return best

    def _change_spec(self, call: str, rt: ComponentRuntime, action: ChangeSpec) -> None:
        old = _newest_on(rt, action.node)
        node, why = self._node(action.node)
        new = None
        bad_spec = _spec_problem(action)
        if bad_spec:
            node, why = None, bad_spec
        elif old is None:
            why = f"no live replica of {rt.app}/{rt.id} on '{action.node}'"
        elif node is not None:
            # the new spec must fit beside the old replica, which runs until it is replaced
            old.state, saved = "draining", old.state
            new, why = self.sim.deployer.deploy(
                rt,
                node,
                cpu=action.cpu if action.cpu is not None else old.cpu,
                memory=action.memory if action.memory is not None else old.memory,
                image=action.image,
            )
            old.state = saved
        if new is not None and old is not None:
            _drain_once_running(self.sim, new, old, "spec_changed")
        self.record(
            call,
            "change_spec",
            rt.app,
            rt.id,
            str(action.node),
            outcome="applied" if new else "rejected",
            reason=why,
        )

    # ------------------------------------------------------------------ records
    def _bad(self, call: str, reason: str) -> None:
        self.errors += 1
        self.record(call, "error", outcome="error", reason=reason)
        if self.strict:
            raise StrictStop(
                f"policy returned an invalid result from {call}() (--strict): {reason}"
            )

    def record(
        self,
        call: str,
        kind: str,
        app: str | None = None,
        component: str | None = None,
        node: str | None = None,
        target: str | None = None,
        *,
        outcome: str,
        reason: str | None = None,
    ) -> None:
        """Append one row to the actions table; with ``strict`` a rejection stops the run
        (after it is recorded, so the table says why)."""
        self.sim.recorder.action(
            ActionRow(self.sim.env.now, call, kind, app, component, node, target, outcome, reason)
        )
        if outcome == "rejected":
            self.rejected += 1
            if self.strict:
                what = " ".join(str(x) for x in (kind, app, component, node, target) if x)
                raise StrictStop(
                    f"the engine rejected a decision of {call}() (--strict): {what}: {reason}"
                )


class StrictStop(PolicyError):
    """Ends a ``strict`` run at the first policy error or rejected decision. Never caught
    by the controller's own guard around policy calls, so it always reaches the caller."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the body after ``seconds`` of wall time (SIGALRM; main thread on POSIX only —
    elsewhere the body runs without a limit)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise PolicyTimeout()

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


def _drain_once_running(sim: Simulation, new: Replica, old: Replica, reason: str) -> None:
    """Drain ``old`` when ``new`` runs — at once if it already does (no pull, no start-up)."""
    if new.state == "running":
        sim.deployer.drain(old, reason)
    else:
        new.on_running.append(functools.partial(_drain, sim, old, reason))


def _drain(sim: Simulation, old: Replica, reason: str, _new: Replica) -> None:
    sim.deployer.drain(old, reason)


def _spec_problem(action: ChangeSpec) -> str | None:
    """What is wrong with a ChangeSpec's new requests or image, or ``None``."""
    for name in ("cpu", "memory"):
        value = getattr(action, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} must be a number, got {value!r}"
        if not math.isfinite(value) or value < 0 or (name == "cpu" and value == 0):
            sign = "positive" if name == "cpu" else "non-negative"
            return f"{name} must be a finite {sign} number, got {value!r}"
    if action.image is not None and not isinstance(action.image, str):
        return f"image must be a string, got {action.image!r}"
    return None


def _kind(action: Any) -> str:
    return {Deploy: "deploy", Remove: "remove", Move: "move", Scale: "scale"}.get(
        type(action), "change_spec"
    )


def _newest_on(rt: ComponentRuntime, nid: Any) -> Replica | None:
    reps = [r for r in rt.live() if r.node.id == nid]
    return max(reps, key=lambda r: r.created) if reps else None


def _unknown(what: str, name: Any, known: Any) -> str:
    import difflib

    names = [str(k) for k in known]
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} {name!r}{hint}"
