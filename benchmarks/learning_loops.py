"""The learning loops, measured: what ML, GA and RL policy authors wait for.

    .venv/bin/python benchmarks/learning_loops.py            # every figure, ~1 minute
    .venv/bin/python benchmarks/learning_loops.py --profile env   # cProfile of one loop
    .venv/bin/python benchmarks/learning_loops.py --before /tmp/main   # before/after ratios

``--before TREE`` compares this checkout with another one (e.g. ``git worktree add /tmp/main
main`` or ``git archive main | tar -x -C /tmp/main``): each figure runs in a fresh process
with ``PYTHONPATH`` set to one tree or the other, the two trees interleaved (before, after,
after, before, ...), best of ``--repeat`` each, in this one invocation.

Figures (on scenarios/hackathon.yaml, one core):

- ``telemetry.latest()`` and ``telemetry.value()`` in a policy's ``plan``: µs per call
  (target <= 50 µs for latest, no pandas in the control path);
- an adaptive run (``threshold-autoscaler``) against the static run (``first-fit``) of the
  same scenario: the ratio of wall times (target <= 1.3);
- ``ContinuumEnv`` steps per second, resets included (target >= 2,000);
- full evaluations per second, as the GA runs them (target >= 10 per core);
- the floor under the env figure: µs per bare SimPy event on this machine, events per env step
  (counted), hence the ceiling any SimPy-based engine reaches at this step length, and the
  share of a step spent outside SimPy's own event processing.

Each figure is the best of a few repeats (the machine is shared; the best is the least
disturbed), measured in this one invocation. Times are CPU time of this process
(``time.process_time``): on a shared machine it is the steadier measure, and a loop that waits
for nothing spends the same wall time when it has a core to itself.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "hackathon.yaml")


clock = time.process_time


def best_of(fn: Callable[[], float], repeat: int = 3) -> float:
    return min(fn() for _ in range(repeat))


def telemetry_reads() -> dict[str, float]:
    """µs per latest() / value() call, inside plan() of a real run."""
    import simcontinuum

    times: dict[str, list[float]] = {"latest": [], "value": []}

    class Reader:
        name = "reader"

        def place(self, app: Any, view: Any) -> Any:
            return {"detector": ["group1-node1"], "classifier": ["group1-node2"]}

        def plan(self, view: Any, telemetry: Any) -> list[Any]:
            t0 = time.perf_counter()
            for _ in range(20):
                telemetry.latest()
            t1 = time.perf_counter()
            for _ in range(20):
                telemetry.value("app_latency_p95_seconds", "camera-pipeline")
            t2 = time.perf_counter()
            times["latest"].append((t1 - t0) / 20 * 1e6)
            times["value"].append((t2 - t1) / 20 * 1e6)
            return []

    simcontinuum.run(SCENARIO, policy=Reader(), seed=1)
    later = slice(len(times["latest"]) // 2, None)  # a full history to search
    return {k: statistics.median(v[later]) for k, v in times.items()}


def run_wall(policy: str) -> float:
    import simcontinuum

    t0 = clock()
    simcontinuum.run(SCENARIO, policy=policy, seed=1, reference=False)  # this policy alone
    return clock() - t0


def _episode(env: Any) -> int:
    """Step ``env`` (already reset) with action 0 to the end of its episode; the steps."""
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
        steps += 1
    return steps


def env_steps_per_s(episodes: int = 20) -> float:
    from simcontinuum.learn.env import ContinuumEnv

    env = ContinuumEnv(SCENARIO)
    env.reset(seed=0)  # imports outside the timing
    steps = 0
    t0 = clock()
    for ep in range(episodes):
        env.reset(seed=ep)
        steps += _episode(env)
    return steps / (clock() - t0)


def evaluations_per_s(n: int = 20) -> float:
    """Full hackathon.yaml runs scored as the GA scores them (``learn.ga.evaluate``)."""
    import simcontinuum
    from simcontinuum.learn.ga import evaluate

    scenario = simcontinuum.load(SCENARIO)
    placement = {"camera-pipeline": {"detector": ["group1-node1"], "classifier": ["group1-node2"]}}
    evaluate(scenario, placement, [0])  # imports and caches outside the timing
    t0 = clock()
    evaluate(scenario, placement, list(range(n)))
    return n / (clock() - t0)


# ------------------------------------------------------------------------------ the floor
#: Events in flight at once in the floor loops (the env's heap holds about this many).
FLOOR_CHAINS = 16


def bare_timeout_us(n: int = 200_000, *, simpy_loop: bool = False) -> float:
    """µs per bare SimPy event: a ``env.timeout`` whose one callback schedules the next one
    (FLOOR_CHAINS chains at once), processed by the engine's loop (``run_until``), or by
    SimPy's own (``env.run``: ``Environment.step`` per event) with ``simpy_loop``."""
    import simpy

    from simcontinuum.engine.simpy_compat import run_until

    env = simpy.Environment()
    left = [n]

    def again(_event: Any) -> None:
        left[0] -= 1
        if left[0] > 0:
            env.timeout(0.001).callbacks.append(again)

    for i in range(FLOOR_CHAINS):
        env.timeout(0.001 * i / FLOOR_CHAINS).callbacks.append(again)
    t0 = clock()
    if simpy_loop:
        env.run(until=1e12)
    else:
        run_until(env, 1e12)
    return (clock() - t0) / (n + FLOOR_CHAINS - 1) * 1e6


def bare_engine_event_us(n: int = 200_000) -> float:
    """µs per event of the engine's own kind: a slot object pushed straight onto SimPy's
    heap (no ``Timeout`` built), whose callback pushes it again — the least any event on
    SimPy's heap costs, as ``Traffic`` schedules its steps."""
    from heapq import heappush

    import simpy

    from simcontinuum.engine.simpy_compat import PRIORITY, FastEvent, run_until, scheduler

    class Tick(FastEvent):
        __slots__ = ("t",)
        t: float

    env = simpy.Environment()
    heap, ids = scheduler(env)
    left = [n]

    def again(ev: Tick) -> None:
        left[0] -= 1
        if left[0] > 0:
            ev.t += 0.001
            ev.callbacks = cbs
            heappush(heap, (ev.t, PRIORITY, next(ids), ev))

    cbs = [again]
    for i in range(FLOOR_CHAINS):
        ev = Tick()
        ev.t = 0.001 * i / FLOOR_CHAINS
        ev.callbacks = cbs
        heappush(heap, (ev.t, PRIORITY, next(ids), ev))
    t0 = clock()
    run_until(env, 1e12)
    return (clock() - t0) / (n + FLOOR_CHAINS - 1) * 1e6


def events_per_step(episodes: int = 3) -> float:
    """SimPy events per ContinuumEnv step, counted (the engine numbers every event it
    schedules: ``Simulation.events``), resets included as in :func:`env_steps_per_s`."""
    from simcontinuum.learn.env import ContinuumEnv

    env = ContinuumEnv(SCENARIO)
    events = steps = 0
    for ep in range(episodes):
        env.reset(seed=ep)
        steps += _episode(env)
        assert env.sim is not None
        events += env.sim.events
    return events / steps


def floor() -> dict[str, float]:
    """The floor figures: µs per bare event (both kinds, best of 3), events per step."""
    return {
        "simpy_step_us": best_of(lambda: bare_timeout_us(simpy_loop=True)),
        "timeout_us": best_of(bare_timeout_us),
        "engine_us": best_of(bare_engine_event_us),
        "events_per_step": events_per_step(),
    }


def engine_events_per_s(case: str = "x1") -> float:
    """SimPy events per CPU second of a whole run of the reference benchmark's ``case``
    (``benchmarks/run.py``'s workload, policy first-fit, seed 1), best of 2."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reference import reference_scenario

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy
    from simcontinuum.scenario import load_scenario

    scenario = load_scenario(reference_scenario(case))
    best = 0.0
    for _ in range(2):
        sim = Simulation(scenario, load_policy("first-fit"), seed=1)
        t0 = clock()
        sim.advance(sim.horizon)
        best = max(best, sim.events / (clock() - t0))
    return best


#: Figures compared by --before: name -> (measure, higher is better, format).
FIGURES: dict[str, tuple[Callable[[], float], bool, str]] = {
    "telemetry.latest() µs": (lambda: telemetry_reads()["latest"], False, "{:.1f}"),
    "static run s": (lambda: best_of(lambda: run_wall("first-fit")), False, "{:.3f}"),
    "adaptive run s": (
        lambda: best_of(lambda: run_wall("threshold-autoscaler")),
        False,
        "{:.3f}",
    ),
    "ContinuumEnv steps/s": (env_steps_per_s, True, "{:,.0f}"),
    "GA evaluations/s": (evaluations_per_s, True, "{:.1f}"),
    "engine events/s (x1)": (engine_events_per_s, True, "{:,.0f}"),
    "engine events/s (chain3)": (lambda: engine_events_per_s("chain3"), True, "{:,.0f}"),
}


def _measure_in(tree: Path, figure: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--figure", figure],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{figure} failed in {tree}:\n{out.stderr}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def compare(before: Path, repeat: int) -> int:
    """Before/after of every figure in :data:`FIGURES`, interleaved, best of ``repeat``."""
    before = before.resolve()
    if not (before / "simcontinuum" / "__init__.py").is_file():
        raise SystemExit(f"--before {before}: not a checkout (no simcontinuum/__init__.py)")
    print(f"before: {before}\nafter:  {ROOT}\n(best of {repeat}, interleaved, CPU time)")
    best: dict[str, dict[str, float]] = {}
    for figure, (_, higher, fmt) in FIGURES.items():
        got: dict[str, list[float]] = {"before": [], "after": []}
        for i in range(repeat):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for which in order:
                got[which].append(_measure_in(before if which == "before" else ROOT, figure))
        pick = max if higher else min
        b, a = pick(got["before"]), pick(got["after"])
        best[figure] = {"before": b, "after": a}
        gain = a / b if higher else b / a
        print(f"  {figure:<26} {fmt.format(b):>12} -> {fmt.format(a):>12}   {gain:.2f}x better")
    ratio = {k: best["adaptive run s"][k] / best["static run s"][k] for k in ("before", "after")}
    print(f"  {'adaptive / static':<26} {ratio['before']:>11.2f}x -> {ratio['after']:>11.2f}x")
    return 0


LOOPS: dict[str, Callable[[], Any]] = {
    "telemetry": telemetry_reads,
    "adaptive": lambda: run_wall("threshold-autoscaler"),
    "static": lambda: run_wall("first-fit"),
    "env": lambda: env_steps_per_s(5),
    "ga": lambda: evaluations_per_s(5),
    "floor": floor,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(LOOPS), help="cProfile one loop and stop")
    parser.add_argument(
        "--before", type=Path, metavar="TREE", help="compare with the checkout at TREE"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tree (--before)")
    parser.add_argument("--figure", choices=sorted(FIGURES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.figure:  # a child of --before: one figure, as JSON
        print(json.dumps(FIGURES[args.figure][0]()))
        return 0
    if args.before is not None:
        return compare(args.before, args.repeat)
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(LOOPS[args.profile])
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        return 0
    reads = telemetry_reads()
    static = best_of(lambda: run_wall("first-fit"))
    adaptive = best_of(lambda: run_wall("threshold-autoscaler"))
    steps = max(env_steps_per_s() for _ in range(2))
    evals = max(evaluations_per_s() for _ in range(2))
    fl = floor()
    per_step = fl["events_per_step"]
    step_us = 1e6 / steps
    simpy_us = per_step * fl["engine_us"]  # SimPy's own processing of one step's events
    rows = [
        ("telemetry.latest()", f"{reads['latest']:.1f} µs", "<= 50 µs"),
        ("telemetry.value()", f"{reads['value']:.1f} µs", ""),
        ("static run (first-fit)", f"{static:.3f} s", ""),
        ("adaptive run (threshold-autoscaler)", f"{adaptive:.3f} s", ""),
        ("adaptive / static", f"{adaptive / static:.2f}x", "<= 1.3x"),
        ("ContinuumEnv", f"{steps:,.0f} steps/s", ">= 2,000"),
        ("GA evaluations (full runs)", f"{evals:.1f} /s per core", ">= 10"),
        ("floor: bare SimPy event, env.run", f"{fl['simpy_step_us']:.3f} µs", "env.timeout"),
        ("floor: bare SimPy event, run_until", f"{fl['timeout_us']:.3f} µs", "env.timeout"),
        ("floor: bare engine event, run_until", f"{fl['engine_us']:.3f} µs", "FastEvent"),
        ("floor: events per env step", f"{per_step:,.0f}", ""),
        (
            "ceiling, env.timeout + env.run",
            f"{1e6 / (per_step * fl['simpy_step_us']):,.0f} steps/s",
            "callbacks doing nothing",
        ),
        (
            "ceiling, env.timeout + run_until",
            f"{1e6 / (per_step * fl['timeout_us']):,.0f} steps/s",
            "callbacks doing nothing",
        ),
        (
            "ceiling, engine events + run_until",
            f"{1e6 / simpy_us:,.0f} steps/s",
            "callbacks doing nothing",
        ),
        ("env step", f"{step_us:,.0f} µs", ""),
        (
            "  of it outside SimPy's processing",
            f"{max(0.0, 1 - simpy_us / step_us):.0%}",
            "our callbacks, records, obs/reward",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"learning loops on {Path(SCENARIO).name} (Python {sys.version.split()[0]})")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>18}  {target}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
