"""A Gymnasium environment: one step = one control interval of a simulation.

``ContinuumEnv(scenario)`` runs the scenario under a base policy (``random`` by default: it
makes the initial placement, so episodes start from good and bad placements alike) and lets an
agent move component replicas between control intervals. ``reset(seed=s)`` builds a fresh
:class:`~simcontinuum.engine.simulation.Simulation` with seed ``s`` and runs it to the first
decision time (one interval in); each ``step(action)`` applies the action *now* and runs the
simulation to the next decision time (``Simulation.advance``, the engine's driving API: slicing
a run changes neither its tables nor its event count). The episode terminates at the
scenario's horizon (``terminated=True``). ``truncated`` is always ``False``: the environment
sets no time limit of its own (``gym.make(..., max_episode_steps=N)`` adds one, and then
reports ``truncated``). Same seed and same actions ⇒ the same observations and rewards.

Registered with Gymnasium on import as ``simcontinuum/Continuum-v0``::

    import gymnasium as gym
    import simcontinuum.learn.env  # noqa: F401  (registers the id)

    env = gym.make("simcontinuum/Continuum-v0", scenario="scenarios/hackathon.yaml")
    # or, with nothing imported first:
    env = gym.make("simcontinuum.learn.env:simcontinuum/Continuum-v0", scenario=...)

``reset(seed=s, options={...})`` honours ``options``: ``policy`` (the base policy of this
episode) and ``duration`` (this episode's horizon, seconds); other keys are an error.

Actions (``Discrete(len(env.actions))``): ``0`` does nothing; action ``k > 0`` is
``env.actions[k] = (app, component, node)``: move the component's first live replica to that
node (deploy one there if it has none). Only components with more than one eligible node can
be moved, and only to eligible nodes; the engine still checks capacity and records a rejected
move in the actions table.

Observation (``Box(0, 1)``, float32), in this order:

- per node (scenario order): ``up``, cpu utilisation over the last interval, queue length per
  core (/ 10, clipped), allocated cpu share;
- per application: p95 latency of the requests that ended in the interval over its SLO target
  (/ 4, clipped; against 1 s without an SLO; 0 when none ended), and the share of them that
  failed or were dropped;
- per movable component: a one-hot of the node of its first live replica among its eligible
  nodes (all zero when it has none);
- the share of the horizon elapsed.

These are what the telemetry sampler measures, read from the engine without its delivery
delay (``Simulation.node_loads``), so the environment stays cheap per step.

Reward: minus the approximate score increment of the interval, with the scenario's weights:
``slo_violation_rate`` and ``failed_rate`` count this interval's bad scored requests over the
expected scored requests of the run; ``p95_latency_s`` is the interval's p95 weighted by its
share of the scored time; ``cost``, ``energy_kwh`` and ``migrations`` are exact increments (the
bill is ``Simulation.bill``, the formula of the results' cost table). The sum over an episode
approximates minus the run's score; :meth:`ContinuumEnv.results` gives the exact one.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from simcontinuum.engine.recorder import RequestStatus
from simcontinuum.metrics.quantile import percentile
from simcontinuum.policy.api import Deploy, Move, constraint_violation

if TYPE_CHECKING:
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results

OK = int(RequestStatus.OK)
QUEUE_SCALE = 10.0
P95_SCALE = 4.0


class ContinuumEnv(gym.Env[np.ndarray, int]):
    """A scenario as a Gymnasium environment (see the module docstring).

    Args:
        scenario: a scenario, YAML path or parsed dict.
        policy: the base policy (a spec, or an object; a spec gives a fresh instance per
            episode). It makes the initial placement; its ``plan`` (if any) runs as usual.
        interval: seconds per step (default: the scenario's control interval, else its
            telemetry interval, else 10 s).
        duration: overrides the scenario's duration (shorter episodes).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium reads it from the class)

    def __init__(
        self,
        scenario: Scenario | str | os.PathLike[str] | dict[str, Any],
        *,
        policy: Any = "random",
        interval: float | None = None,
        duration: float | None = None,
    ) -> None:
        from simcontinuum.model import Scenario as _Scenario
        from simcontinuum.scenario import load_scenario as load

        sc = scenario if isinstance(scenario, _Scenario) else load(scenario)
        if duration is not None:
            sc = replace(sc, duration=float(duration))
        self.scenario = sc
        self._base_scenario = sc  # reset(options={"duration": ...}) shortens a copy
        self.base_policy = policy
        self.interval = float(interval or sc.control.interval or sc.telemetry.interval or 10.0)
        if not sc.duration > self.interval:
            raise ValueError(
                f"the horizon ({sc.duration:g} s) must be longer than one step "
                f"({self.interval:g} s); lower interval= or raise duration="
            )
        self.node_ids = [n.id for n in sc.topology.nodes]
        self.slots: list[tuple[str, str, tuple[str, ...]]] = []
        for app in sc.applications:
            for comp in app.components:
                eligible = tuple(
                    n.id for n in sc.topology.nodes if constraint_violation(comp, n) is None
                )
                if len(eligible) > 1:
                    self.slots.append((app.id, comp.id, eligible))
        self.actions: list[tuple[str, str, str] | None] = [None]
        self.actions += [(a, c, n) for a, c, nodes in self.slots for n in nodes]
        size = 4 * len(self.node_ids) + 2 * len(sc.applications)
        size += sum(len(nodes) for _, _, nodes in self.slots) + 1
        # Discrete samples numpy ints; Env declares Space[int] (step takes any int-like)
        self.action_space = spaces.Discrete(len(self.actions))  # type: ignore[assignment]
        self.observation_space = spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self._expected = _expected_requests(sc)
        self._weights = dict(sc.scoring.weights)
        self.sim: Simulation | None = None

    # ------------------------------------------------------------------ gymnasium
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A new run with simulation seed ``seed`` (else one drawn from ``np_random``).

        Args:
            seed: the simulation's seed (same seed and actions ⇒ the same episode).
            options: ``{"policy": spec or object}`` overrides the base policy for this
                episode; ``{"duration": seconds}`` its horizon.

        Raises:
            ValueError: an option this environment does not know.
        """
        from simcontinuum.engine.simulation import Simulation
        from simcontinuum.policy.registry import load_policy

        options = dict(options or {})
        unknown = sorted(set(options) - {"policy", "duration"})
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {unknown}; ContinuumEnv.reset takes 'policy' and "
                "'duration'"
            )
        super().reset(seed=seed)
        sim_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        policy = load_policy(options.get("policy", self.base_policy))
        scenario = self._base_scenario
        if options.get("duration") is not None:
            scenario = replace(scenario, duration=float(options["duration"]))
        self.scenario = scenario
        self._expected = _expected_requests(scenario)
        # per-step records are for results tables; an episode only needs the reward
        self.sim = Simulation(scenario, policy, seed=sim_seed, telemetry=False, steps=False)
        self._ended = _Ended(self.sim, self.scenario)
        self._busy = [0.0] * len(self.node_ids)
        self._last_t = 0.0
        self._cost = 0.0
        self._kwh = 0.0
        self._migrations = 0
        obs, _, parts = self._advance(min(self.interval, self.scenario.duration))
        return obs, {"time_s": self.sim.now, "sim_seed": sim_seed, "parts": parts}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` now, run one interval, return (obs, reward, terminated, False,
        info)."""
        sim = self._need_sim()
        if sim.now >= self.scenario.duration:
            raise RuntimeError("the episode has ended; call reset()")
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        applied = self._apply(sim, a)
        target = min(sim.now + self.interval, self.scenario.duration)
        obs, reward, parts = self._advance(target)
        done = sim.now >= self.scenario.duration - 1e-9
        info = {"time_s": sim.now, "action": applied, "parts": parts}
        return obs, reward, done, False, info

    def results(self) -> Results:
        """Run to the horizon (no more actions) and return the run's results (exact score)."""
        return self._need_sim().finish()

    # ------------------------------------------------------------------ internals
    def _need_sim(self) -> Simulation:
        if self.sim is None:
            raise RuntimeError("call reset() first")
        return self.sim

    def _apply(self, sim: Simulation, a: int) -> str:
        act = self.actions[a]
        if act is None:
            return "noop"
        aid, cid, nid = act
        if not sim.app_active(aid):
            return "noop (application not running)"
        live = sim.placement(aid, cid)
        if not live:
            sim.apply([Deploy(aid, cid, nid)])
            return f"deploy {aid}/{cid} on {nid}"
        src = live[0]
        if src == nid:
            return "noop (already there)"
        sim.apply([Move(aid, cid, src, nid)])
        return f"move {aid}/{cid} {src} -> {nid}"

    def _advance(self, until: float) -> tuple[np.ndarray, float, dict[str, float]]:
        sim = self._need_sim()
        now = sim.advance(until)
        dt = max(now - self._last_t, 1e-12)
        stats = self._ended.take(now)
        parts = self._parts(sim, now, dt, stats)
        reward = -float(sum(self._weights.get(k, 0.0) * v for k, v in parts.items()))
        obs = self._observe(sim, now, dt, stats)
        self._last_t = now
        return obs, reward, parts

    def _parts(self, sim: Simulation, now: float, dt: float, stats: _Stats) -> dict[str, float]:
        cost, kwh = sim.bill(now)
        sc = self.scenario
        scored_span = max(sc.duration - sc.warmup, 1e-9)
        scored_dt = max(0.0, now - max(self._last_t, sc.warmup))
        parts = {
            "cost": cost - self._cost,
            "energy_kwh": kwh - self._kwh,
            "migrations": float(sim.migrations - self._migrations),
            "slo_violation_rate": stats.slo_bad / max(self._expected[1], 1.0),
            "failed_rate": stats.failed / max(self._expected[0], 1.0),
            "p95_latency_s": stats.p95 * scored_dt / scored_span,
        }
        self._cost, self._kwh, self._migrations = cost, kwh, sim.migrations
        return parts

    def _observe(self, sim: Simulation, now: float, dt: float, stats: _Stats) -> np.ndarray:
        out: list[float] = []
        for i, node in enumerate(sim.node_loads()):
            busy = node.busy_core_seconds
            util = (busy - self._busy[i]) / (node.cores * dt)
            self._busy[i] = busy
            queue = node.queued / node.cores if node.up else 0.0
            out += [
                1.0 if node.up else 0.0,
                util if node.up else 0.0,
                queue / QUEUE_SCALE,
                node.cpu_allocated / node.cores,
            ]
        for index, app in enumerate(self.scenario.applications):
            p95, errors = stats.apps.get(index, (0.0, 0.0))
            target = app.slo.latency_target if app.slo else None
            out += [p95 / (target or 1.0) / P95_SCALE, errors]
        for aid, cid, nodes in self.slots:
            live = sim.placement(aid, cid)
            where = live[0] if live else None
            out += [1.0 if n == where else 0.0 for n in nodes]
        out.append(now / self.scenario.duration)
        return np.clip(np.array(out, dtype=np.float32), 0.0, 1.0)


class _Stats:
    """Requests that ended in one interval."""

    def __init__(self) -> None:
        self.failed = 0  # scored, failed or dropped
        self.slo_bad = 0  # scored, of an SLO app, not ok or too slow
        self.p95 = 0.0  # of scored ok requests (the interval when none was ok)
        self.apps: dict[int, tuple[float, float]] = {}  # app index -> (p95, error share)


class _Ended:
    """Summarises the requests that ended since the last call (read through
    ``Simulation.ended_requests``, the engine's cursor telemetry reads too) for the reward.

    A few hundred requests an interval: a handful of whole-array operations and
    :func:`~simcontinuum.metrics.quantile.percentile` (``np.percentile``'s value without its
    per-call overhead) keep this a small part of a step."""

    def __init__(self, sim: Simulation, sc: Scenario) -> None:
        self._warmup = sc.warmup
        self._cursor = sim.ended_requests()
        apps = sc.applications
        self._targets = np.array(
            [a.slo.latency_target if a.slo and a.slo.latency_target else np.nan for a in apps]
        )
        self._has_slo = ~np.isnan(self._targets)
        self._any_slo = bool(self._has_slo.any())
        self._one_app = len(apps) == 1

    def take(self, now: float) -> _Stats:
        done = self._cursor.read(now)
        out = _Stats()
        n = len(done.rid)
        if not n:
            return out
        t0, apps = done.arrival, done.app
        lat = done.end - t0
        ok = done.status == OK
        bad = ~ok
        scored = t0 >= self._warmup
        out.failed = int(np.count_nonzero(bad & scored))
        if self._any_slo:
            # a comparison with NaN (no SLO) is False: only SLO apps can be slow
            slow = lat > self._targets[apps]
            has_slo = self._has_slo[apps]
            out.slo_bad = int(np.count_nonzero((bad | slow) & has_slo & scored))
        good = lat[ok & scored]
        if len(good):
            out.p95 = percentile(good, 95)
        elif scored.any():
            out.p95 = float(now - self._warmup)
        if self._one_app:  # every request is app 0's
            lats = lat[ok]
            p95 = percentile(lats, 95) if len(lats) else 0.0
            out.apps[0] = (p95, (n - len(lats)) / n)
            return out
        for a in np.unique(apps):
            mine = apps == a
            lats = lat[mine & ok]
            p95 = percentile(lats, 95) if len(lats) else 0.0
            out.apps[int(a)] = (p95, float(bad[mine].mean()))
        return out


def _expected_requests(sc: Scenario) -> tuple[float, float]:
    """Expected scored requests of the run: all, and those of applications with an SLO."""
    from simcontinuum.model import nominal_rate

    span = max(sc.duration - sc.warmup, 0.0)
    slo = {a.id for a in sc.applications if a.slo is not None and a.slo.latency_target}
    total = sum(nominal_rate(s) * span for s in sc.sources)
    with_slo = sum(nominal_rate(s) * span for s in sc.sources if s.app in slo)
    return total, with_slo


def bill(sim: Simulation, t: float) -> tuple[float, float]:
    """The run's cost and energy (kWh) up to ``t`` (``Simulation.bill``, kept as a function)."""
    cost, kwh = sim.bill(t)
    return cost, kwh


ENV_ID = "simcontinuum/Continuum-v0"


def register() -> None:
    """Register :class:`ContinuumEnv` with Gymnasium as :data:`ENV_ID` (once; importing this
    module does it)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="simcontinuum.learn.env:ContinuumEnv")


register()


__all__ = ["ENV_ID", "ContinuumEnv", "bill", "register"]
