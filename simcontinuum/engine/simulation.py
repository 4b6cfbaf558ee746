"""One simulation run, in named phases: build → start → run → finalize → results.

:class:`Simulation` owns the ``simpy.Environment``, the named random streams, the network, the
node states, the recorder, and the parts that act on them (traffic, deployer, controller,
failures, telemetry). Nothing is global: two simulations in one process never interfere.

Phases:
- *build* (``__init__``): node states, routes, application runtimes, the policy bound;
- *start*: schedule application arrivals (``place``), departures, sources, failures, the
  telemetry sampler and the control loop;
- *run*: advance the clock to the horizon (:meth:`Simulation.advance`, in one piece or in
  slices — the same run either way, with the same number of events);
- *finalize* (:meth:`Simulation.finish`, in :mod:`simcontinuum.engine.finalize`): requests
  still in flight become ``incomplete``; replicas and costs are closed at the horizon;
  everything becomes DataFrames in :class:`~simcontinuum.results.Results`.

The driving API — the only part of the engine other packages use (the Gymnasium environment,
the dataset builder, the CLI's progress bar, the MLSysOps bridge; checked by import-linter and
``tests/test_driving_api.py``): :attr:`~Simulation.now`, :attr:`~Simulation.horizon`,
:meth:`~Simulation.advance`, :meth:`~Simulation.apply`, :meth:`~Simulation.view`,
:meth:`~Simulation.bill`, :meth:`~Simulation.finish` / :meth:`~Simulation.run`,
:attr:`~Simulation.events`, and the plain-data reads :meth:`~Simulation.node_loads`,
:meth:`~Simulation.placement`, :meth:`~Simulation.running_on`,
:meth:`~Simulation.app_active`, :meth:`~Simulation.ended_requests`,
:meth:`~Simulation.delivered_telemetry`, :meth:`~Simulation.record_action`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import simpy

from simcontinuum.engine import simpy_compat
from simcontinuum.engine.arrivals import WorkSampler
from simcontinuum.engine.compute import NodeState
from simcontinuum.engine.control import Controller
from simcontinuum.engine.failures import Failures
from simcontinuum.engine.links import ContendedTraffic
from simcontinuum.engine.network import Network
from simcontinuum.engine.recorder import ActionRow, Recorder
from simcontinuum.engine.replicas import AppRuntime, ComponentRuntime, Deployer
from simcontinuum.engine.telemetry import TelemetrySampler
from simcontinuum.engine.traffic import EndedCursor, Traffic
from simcontinuum.policy.api import ClusterView, Event, policy_name
from simcontinuum.streams import Streams

if TYPE_CHECKING:
    from simcontinuum.engine.telemetry import DeliveredTelemetry
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results


class Bill(NamedTuple):
    """What a run has cost so far (see :meth:`Simulation.bill`)."""

    cost: float  # currency: node-hours, core-hours, energy and egress
    energy_kwh: float


class NodeLoad(NamedTuple):
    """One node's load as the engine knows it now, undelayed (see
    :meth:`Simulation.node_loads`)."""

    id: str
    up: bool
    cores: int
    busy_core_seconds: float  # work done since the start (for utilisation over a span)
    queued: int  # steps waiting for a core
    cpu_allocated: float  # cores requested by its replicas


class Simulation:
    """A scenario, a policy and a seed, ready to run once.

    Args:
        scenario: the validated scenario.
        policy: an object with ``place`` (see :mod:`simcontinuum.policy.api`).
        seed: overrides ``scenario.seed``.
        strict: stop at the first policy error instead of recording it.
        telemetry: sample telemetry every ``scenario.telemetry.interval`` (on by default).
        steps: record every step's queue wait and service time (the ``steps`` table; on by
            default).
    """

    def __init__(
        self,
        scenario: Scenario,
        policy: Any,
        *,
        seed: int | None = None,
        strict: bool = False,
        telemetry: bool = True,
        steps: bool = True,
    ) -> None:
        self.scenario = scenario
        self.record_steps = steps
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self.streams = Streams(self.seed)
        self.network = Network(scenario.topology)
        self.nodes = [NodeState(n, i) for i, n in enumerate(scenario.topology.nodes)]
        self.node_index = {n.id: n.index for n in self.nodes}
        self.registry = scenario.topology.registry
        self.recorder = Recorder()
        self.deployer = Deployer(self)
        self.apps = [self._build_app(a, i) for i, a in enumerate(scenario.applications)]
        self.app_by_id = {a.app.id: a for a in self.apps}
        self.source_app_index = np.array(
            [self.app_by_id[s.app].index for s in scenario.sources], dtype=np.int64
        )
        self.migrations = 0
        contended = scenario.topology.contention
        self.traffic = ContendedTraffic(self) if contended else Traffic(self)
        self.policy = policy
        self.policy_name = policy_name(policy)
        self.control = Controller(self, policy, strict=strict)
        self.failures = Failures(self)
        self.telemetry = TelemetrySampler(self, enabled=telemetry)
        self.interrupted = False
        self.interrupted_by: int | None = None  # signal.SIGINT or SIGTERM
        self._started: float | None = None  # wall clock at start()
        self._results: Results | None = None

    def _build_app(self, app: Any, index: int) -> AppRuntime:
        comps = {
            c.id: ComponentRuntime(
                app.id, c, WorkSampler(c.work, self.streams.get(f"work/{app.id}/{c.id}"))
            )
            for c in app.components
        }
        for call in app.calls:
            comps[call.src].callees.append((comps[call.dst], call.request_size, call.response_size))
        return AppRuntime(app, index, comps)

    # ------------------------------------------------------------------ phases
    def start(self) -> None:
        """Schedule everything that happens by itself (once; :meth:`advance` calls it)."""
        if self._started is not None:
            return
        self._started = time.perf_counter()
        for app in self.apps:
            self._at(app.app.arrive_at, lambda a=app: self._arrive(a))
            if app.app.depart_at is not None:
                self._at(app.app.depart_at, lambda a=app: self._depart(a))
        self.failures.start()
        self.telemetry.start()
        # a policy may keep its own period (the MLSysOps agent cycles every second)
        interval = getattr(self.policy, "control_interval", None) or self.scenario.control.interval
        if interval and callable(getattr(self.policy, "plan", None)):
            self._tick(interval)

    def _at(self, t: float, fn: Any) -> None:
        ev = self.env.timeout(max(0.0, t - self.env.now))
        ev.callbacks.append(lambda _e: fn())

    def _tick(self, interval: float) -> None:
        def tick(_e: Any) -> None:
            self.control.plan(self.telemetry.view())
            nxt = self.env.timeout(interval)
            nxt.callbacks.append(tick)

        first = self.env.timeout(interval)
        first.callbacks.append(tick)

    def _arrive(self, app: AppRuntime) -> None:
        app.active = True
        self.recorder.event(self.env.now, "app_arrived", app.app.id, None)
        stop = self.scenario.duration
        if app.app.depart_at is not None:
            stop = min(stop, app.app.depart_at)
        for i, src in enumerate(self.scenario.sources):
            if src.app == app.app.id:
                self.traffic.start_source(i, src, app, stop)
        self.control.place(app)
        self.control.event(Event(self.env.now, "app_arrived", app.app.id))

    def _depart(self, app: AppRuntime) -> None:
        app.active = False
        for rt in app.components.values():
            for rep in list(rt.replicas):
                self.deployer.drain(rep, "app_departed")
        self.recorder.event(self.env.now, "app_departed", app.app.id, None)
        self.control.event(Event(self.env.now, "app_departed", app.app.id))

    # ------------------------------------------------------------------ driving API
    @property
    def now(self) -> float:
        """The simulated time, seconds."""
        return float(self.env.now)

    @property
    def horizon(self) -> float:
        """The scenario's duration: no event at or after it is processed."""
        return float(self.scenario.duration)

    @property
    def done(self) -> bool:
        """Whether the run has reached the horizon or was interrupted."""
        return self.interrupted or self.env.now >= self.scenario.duration

    @property
    def events(self) -> int:
        """How many events were scheduled so far (``meta["events"]`` at the end). Driving
        the run in slices (:meth:`advance`) adds none."""
        return simpy_compat.event_count(self.env)

    @property
    def closes_at(self) -> float:
        """Where the books close: the horizon, or the time of the interruption."""
        return float(self.env.now) if self.interrupted else self.horizon

    def advance(self, until: float) -> float:
        """Run the simulation up to ``until`` (capped at the horizon); returns the time now.

        Events at exactly ``until`` are left for the next call, as with
        ``env.run(until=...)``, so any slicing gives the same run as one piece, with the same
        tables and the same event count. SIGINT (and SIGTERM, in the main thread) stops the
        run where it is: :attr:`interrupted` is set and :meth:`finish` gives partial results.
        """
        self.start()
        target = min(float(until), self.horizon)
        if self.interrupted or target <= self.env.now:
            return self.now
        # SIGTERM becomes KeyboardInterrupt while the clock runs (main thread only)
        try:
            old = _set_handler(signal.SIGTERM, _raise_interrupt)
            installed = True
        except ValueError:  # not the main thread
            old, installed = None, False
        try:
            # the last slice numbers the two events of SimPy's env.run(until=horizon), as a
            # whole run always did, so one-piece and sliced runs count the same events
            simpy_compat.run_until(self.env, target, as_run=target >= self.horizon)
        except KeyboardInterrupt as exc:
            self.interrupted = True
            self.interrupted_by = (
                exc.args[0]
                if exc.args and exc.args[0] in (signal.SIGINT, signal.SIGTERM)
                else signal.SIGINT
            )
        finally:
            if installed:
                _set_handler(signal.SIGTERM, signal.SIG_DFL if old is None else old)
        return self.now

    def run(self) -> Results:
        """Run to the horizon (or until interrupted) and return the results."""
        if self._started is not None:
            raise RuntimeError("a Simulation runs once; build a new one to run again")
        return self.finish()

    def finish(self) -> Results:
        """Run what is left to the horizon (unless interrupted), close the books and return
        the results. Calling it again returns the same :class:`Results`."""
        if self._results is None:
            self.advance(self.horizon)
            wall = time.perf_counter() - (self._started or time.perf_counter())
            self._results = self.finalize(wall)
        return self._results

    def view(self) -> ClusterView:
        """A read-only snapshot of the continuum now, as a policy sees it."""
        return self.control.view()

    def apply(self, actions: Iterable[Any], *, call: str = "plan") -> None:
        """Validate and apply ``actions`` now, as if the policy's ``call`` returned them;
        every outcome is recorded in the actions table (nothing here can raise for a bad
        action, unless the run is ``strict``)."""
        self.control.apply_actions(call, list(actions))

    def bill(self, t: float | None = None) -> Bill:
        """The run's cost and energy up to ``t`` (default: now), by the formula the results'
        cost table uses (:meth:`~simcontinuum.engine.compute.Usage.priced`)."""
        t = self.env.now if t is None else t
        energy_price = self.scenario.scoring.energy_price_per_kwh
        cost = kwh = 0.0
        for node in self.nodes:
            use = node.usage(t)
            cost += use.cost(node.node, energy_price)
            kwh += use.kwh
        for _link, _gb, price in self.egress_bill():
            cost += price
        return Bill(cost, kwh)

    def egress_bill(self) -> list[tuple[tuple[str, str], float, float]]:
        """``((a, b), GB, cost)`` for every billable link that carried traffic, sorted."""
        out = []
        for (a, b), nbytes in sorted(self.traffic.egress_bytes.items()):
            gb = nbytes / 1e9
            out.append(((a, b), gb, gb * self.network.link(a, b).egress_price_per_gb))
        return out

    def node_loads(self) -> list[NodeLoad]:
        """Every node's load now, in scenario order (plain data, undelayed)."""
        now = self.env.now
        return [
            NodeLoad(
                n.id,
                n.up,
                n.cores,
                n.busy_seconds(now),
                n.queued(now),
                n.cpu_allocated,
            )
            for n in self.nodes
        ]

    def app_active(self, app: str) -> bool:
        """Whether application ``app`` has arrived and not departed."""
        rt = self.app_by_id.get(app)
        return bool(rt is not None and rt.active)

    def placement(self, app: str, component: str) -> tuple[str, ...]:
        """The nodes of the live (not draining) replicas of ``app/component``, oldest first."""
        return tuple(r.node.id for r in self.app_by_id[app].components[component].live())

    def running_on(self, app: str, component: str) -> set[str] | None:
        """Nodes with a *running* replica of ``app/component`` (``None``: no such component)."""
        rt_app = self.app_by_id.get(app)
        if rt_app is None or component not in rt_app.components:
            return None
        return {r.node.id for r in rt_app.components[component].running}

    def ended_requests(self) -> EndedCursor:
        """A new reader of ended requests: each ``cursor.read(now)`` returns those that ended
        by ``now`` and were not read before (the first read: all so far), as plain arrays —
        ids, end times, :class:`~simcontinuum.engine.recorder.RequestStatus` codes, arrival
        times, application indices in scenario order."""
        return EndedCursor(self)

    def delivered_telemetry(self) -> DeliveredTelemetry | None:
        """The telemetry delivered by now, as ``plan`` receives it (``None`` when the run
        samples none)."""
        sampler = getattr(self, "telemetry", None)  # None while the engine is being built
        if sampler is None or not sampler.enabled:
            return None
        return sampler.view()

    def record_action(
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
        """Append a row to the actions table (for framework adapters that decide outside
        the policy hook, e.g. a refused MLSysOps plan)."""
        self.recorder.action(
            ActionRow(self.env.now, call, kind, app, component, node, target, outcome, reason)
        )

    def finalize(self, wall_s: float) -> Results:
        """Close the books at the horizon (or at the interruption) and build the results
        (the last phase; :meth:`finish` runs to the horizon first and calls it once)."""
        from simcontinuum.engine.finalize import build_results

        return build_results(self, wall_s)


try:  # CPython: signal.signal without its enum round trip, ten times cheaper per slice (an
    # RL step is one slice)
    from _signal import signal as _set_handler
except ImportError:  # pragma: no cover - other interpreters
    _set_handler = signal.signal


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum))
