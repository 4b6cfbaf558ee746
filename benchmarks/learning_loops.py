"""The learning loops, measured: what ML, GA and RL policy authors wait for.

    .venv/bin/python benchmarks/learning_loops.py            # every figure, ~1 minute
    .venv/bin/python benchmarks/learning_loops.py --profile env   # cProfile of one loop

Figures (on scenarios/hackathon.yaml, one core):

- ``telemetry.latest()`` and ``telemetry.value()`` in a policy's ``plan``: µs per call
  (target <= 50 µs for latest, no pandas in the control path);
- an adaptive run (``threshold-autoscaler``) against the static run (``first-fit``) of the
  same scenario: the ratio of wall times (target <= 1.3);
- ``ContinuumEnv`` steps per second, resets included (target >= 2,000);
- full evaluations per second, as the GA runs them (target >= 10 per core).

Each figure is the best of a few repeats (the machine is shared; the best is the least
disturbed), measured in this one invocation.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "hackathon.yaml")


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

    t0 = time.perf_counter()
    simcontinuum.run(SCENARIO, policy=policy, seed=1, reference=False)  # this policy alone
    return time.perf_counter() - t0


def env_steps_per_s(episodes: int = 20) -> float:
    from simcontinuum.learn.env import ContinuumEnv

    env = ContinuumEnv(SCENARIO)
    env.reset(seed=0)  # imports outside the timing
    steps = 0
    t0 = time.perf_counter()
    for ep in range(episodes):
        env.reset(seed=ep)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
            steps += 1
    return steps / (time.perf_counter() - t0)


def evaluations_per_s(n: int = 20) -> float:
    """Full hackathon.yaml runs scored as the GA scores them (``learn.ga.evaluate``)."""
    import simcontinuum
    from simcontinuum.learn.ga import evaluate

    scenario = simcontinuum.load(SCENARIO)
    placement = {"camera-pipeline": {"detector": ["group1-node1"], "classifier": ["group1-node2"]}}
    evaluate(scenario, placement, [0])  # imports and caches outside the timing
    t0 = time.perf_counter()
    evaluate(scenario, placement, list(range(n)))
    return n / (time.perf_counter() - t0)


LOOPS: dict[str, Callable[[], Any]] = {
    "telemetry": telemetry_reads,
    "adaptive": lambda: run_wall("threshold-autoscaler"),
    "static": lambda: run_wall("first-fit"),
    "env": lambda: env_steps_per_s(5),
    "ga": lambda: evaluations_per_s(5),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(LOOPS), help="cProfile one loop and stop")
    args = parser.parse_args(argv)
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
    rows = [
        ("telemetry.latest()", f"{reads['latest']:.1f} µs", "<= 50 µs"),
        ("telemetry.value()", f"{reads['value']:.1f} µs", ""),
        ("static run (first-fit)", f"{static:.3f} s", ""),
        ("adaptive run (threshold-autoscaler)", f"{adaptive:.3f} s", ""),
        ("adaptive / static", f"{adaptive / static:.2f}x", "<= 1.3x"),
        ("ContinuumEnv", f"{steps:,.0f} steps/s", ">= 2,000"),
        ("GA evaluations (full runs)", f"{evals:.1f} /s per core", ">= 10"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"learning loops on {Path(SCENARIO).name} (Python {sys.version.split()[0]})")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>18}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
