"""One simulation run, in named phases: build → start → run → finalize → results.

:class:`Simulation` owns the ``simpy.Environment``, the named random streams, the network, the
node states, the recorder, and the parts that act on them (traffic, deployer, controller,
failures, telemetry). Nothing is global: two simulations in one process never interfere.

Phases:
- *build* (``__init__``): node states, routes, application runtimes, the policy bound;
- *start*: schedule application arrivals (``place``), departures, sources, failures, the
  telemetry sampler and the control loop;
- *run*: ``env.run(until=duration)``;
- *finalize*: requests still in flight become ``incomplete``; replicas and costs are closed at
  the horizon; everything becomes DataFrames in :class:`~simcontinuum.results.Results`.
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from simcontinuum.engine.arrivals import WorkSampler
from simcontinuum.engine.compute import NodeState
from simcontinuum.engine.control import Controller
from simcontinuum.engine.failures import Failures
from simcontinuum.engine.links import ContendedTraffic
from simcontinuum.engine.network import Network
from simcontinuum.engine.replicas import AppRuntime, ComponentRuntime, Deployer
from simcontinuum.engine.streams import Streams
from simcontinuum.engine.telemetry import TelemetrySampler
from simcontinuum.engine.traffic import Traffic
from simcontinuum.metrics.recorder import Recorder
from simcontinuum.policy.api import Event, policy_name

if TYPE_CHECKING:
    from collections.abc import Iterator

    from simcontinuum.model import Scenario
    from simcontinuum.results import Results


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
        self._ran = False

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
        """Schedule everything that happens by itself."""
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

    def run(self) -> Results:
        """Run to the horizon (or until interrupted) and return the results."""
        if self._ran:
            raise RuntimeError("a Simulation runs once; build a new one to run again")
        self._ran = True
        started = time.perf_counter()
        self.start()
        with self._interruptible():
            try:
                self.env.run(until=self.scenario.duration)
            except KeyboardInterrupt as exc:
                self.interrupted = True
                self.interrupted_by = (
                    exc.args[0]
                    if exc.args and exc.args[0] in (signal.SIGINT, signal.SIGTERM)
                    else signal.SIGINT
                )
        wall = time.perf_counter() - started
        return self.finalize(wall)

    @contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Turn SIGTERM into KeyboardInterrupt while running (main thread only)."""
        try:
            old = signal.signal(signal.SIGTERM, _raise_interrupt)
        except ValueError:  # not the main thread
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, old)

    def finalize(self, wall_s: float) -> Results:
        """Close the books at the horizon (or at the interruption) and build the results."""
        from simcontinuum.metrics.collect import build_results

        return build_results(self, wall_s)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum))
