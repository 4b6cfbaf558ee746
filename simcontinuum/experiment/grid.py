"""The grid of a sweep (policies × scenarios × seeds) and the work unit the executors run.

A :class:`Task` is one (policy, scenario) pair and a chunk of seeds: the worker loads the
scenario once, then runs each seed with a fresh policy instance, and stores each finished run
in the run store as soon as it ends (so an interrupted task keeps its finished seeds). Tasks
and rows are plain picklable data, so any ``concurrent.futures.Executor`` can run
:func:`run_task` — in this process, in local processes, or on Dask workers (which must see the
same scenario and policy files, e.g. on a shared file system).

Invariant: a run's numbers depend only on (scenario, policy, seed): the same grid gives the
same rows on every executor, apart from the wall time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simcontinuum._version import __version__
from simcontinuum.experiment.store import RunStore, policy_hash, run_id, run_key
from simcontinuum.jsonutil import jsonable

SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PolicySpec:
    """A policy of the grid: ``label`` as the user typed it, ``spec`` to load it (file paths
    made absolute, so workers with another working directory find them), ``digest``."""

    label: str
    spec: str
    digest: str


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario file of the grid, its label (the scenario's name) and content digest."""

    label: str
    path: str
    digest: str


@dataclass(frozen=True)
class Task:
    """One (policy, scenario) pair and a chunk of seeds, with their run ids."""

    policy: PolicySpec
    scenario: ScenarioSpec
    seeds: tuple[int, ...]
    run_ids: tuple[str, ...]
    store: str | None  # the sweep's folder, or None to store nothing
    telemetry: bool = True
    isolate: str | None = None  # "auto"/"insecure": the policy runs behind the boundary


def policy_spec(text: str) -> PolicySpec:
    """Resolve what the user typed (``first-fit``, ``my.py:Mine``) into a :class:`PolicySpec`.

    Raises:
        PolicyError: the policy cannot be loaded (checked here, once, before any run).
    """
    from simcontinuum.policy.api import policy_name
    from simcontinuum.policy.registry import load_policy
    from simcontinuum.policy.spec import parse_policy_spec

    policy = load_policy(text)  # fail early, in the parent, with the registry's message
    spec = parse_policy_spec(text).portable()
    # tables and figures show the policy's own name, not the path it was loaded from
    return PolicySpec(policy_name(policy), spec, policy_hash(spec))


def unique_labels(specs: Sequence[PolicySpec], typed: Sequence[str]) -> list[PolicySpec]:
    """``specs`` with every label two policies share replaced by what the user typed."""
    labels = [s.label for s in specs]
    return [
        s if labels.count(s.label) == 1 else replace(s, label=t)
        for s, t in zip(specs, typed, strict=True)
    ]


def scenario_files(items: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Scenario files from files and folders (a folder gives its ``*.yaml``/``*.yml``, sorted).

    Raises:
        FileNotFoundError: an item does not exist, or a folder holds no scenario file.
    """
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix in SCENARIO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{p}: no *.yaml scenario files in this folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such scenario file or folder")
    return list(dict.fromkeys(f.resolve() for f in out))


def scenario_specs(files: Sequence[Path]) -> list[ScenarioSpec]:
    """Load every scenario once (a bad one raises ScenarioError before anything runs) and
    label it by its name; names shared by several files fall back to the file paths."""
    from simcontinuum.scenario import load_scenario

    loaded = [(f, load_scenario(f)) for f in files]
    names = [sc.name for _, sc in loaded]
    specs = []
    for f, sc in loaded:
        label = sc.name if names.count(sc.name) == 1 else str(f)
        specs.append(ScenarioSpec(label, str(f), sc.digest))
    return specs


def tasks(
    policies: Sequence[PolicySpec],
    scenarios: Sequence[ScenarioSpec],
    seeds: Sequence[int],
    store: RunStore | None,
    *,
    workers: int,
    chunk: int | None = None,
    telemetry: bool = True,
    isolate: str | None = None,
) -> tuple[list[Task], list[dict[str, Any]]]:
    """Split the grid into tasks, skipping runs already in ``store`` (``isolate``: run the
    policies behind the boundary; their results equal in-process ones, so the store is
    shared).

    Returns:
        ``(tasks to run, rows of runs already finished)``. Chunks hold up to ``chunk`` seeds;
        by default about a quarter of a worker's share, so every worker gets several tasks
        (balance) while each task still amortises loading its scenario.
    """
    done: list[dict[str, Any]] = []
    pending: list[tuple[PolicySpec, ScenarioSpec, list[tuple[int, str]]]] = []
    for pol in policies:
        for sc in scenarios:
            todo = []
            for seed in seeds:
                rid = run_id(run_key(sc.digest, pol.digest, seed))
                row = store.get(rid) if store is not None else None
                if row is None:
                    todo.append((seed, rid))
                else:
                    done.append({**row, "policy": pol.label, "scenario": sc.label, "cached": True})
            if todo:
                pending.append((pol, sc, todo))
    total = sum(len(t) for _, _, t in pending)
    size = chunk or max(1, -(-total // max(1, 4 * workers)))
    root = str(store.dir.parent.resolve()) if store is not None else None
    out = []
    for pol, sc, todo in pending:
        for i in range(0, len(todo), size):
            part = todo[i : i + size]
            out.append(
                Task(
                    pol,
                    sc,
                    tuple(s for s, _ in part),
                    tuple(r for _, r in part),
                    root,
                    telemetry,
                    isolate,
                )
            )
    return out, done


def ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_task(task: Task) -> list[dict[str, Any]]:
    """Run every seed of ``task``; store each finished run; return the rows (also errors)."""
    from simcontinuum.scenario import load_scenario

    scenario = load_scenario(task.scenario.path)
    if scenario.digest != task.scenario.digest:
        raise RuntimeError(
            f"{task.scenario.path} changed during the sweep (content digest differs); "
            "run the sweep again"
        )
    store = RunStore(task.store) if task.store else None
    rows = []
    with _factory(task, scenario) as make:
        for seed, rid in zip(task.seeds, task.run_ids, strict=True):
            row = run_one(scenario, task, seed, make)
            if store is not None and row["status"] == "ok":
                store.put(rid, run_key(task.scenario.digest, task.policy.digest, seed), row)
            rows.append(row)
    return rows


@contextlib.contextmanager
def _factory(task: Task, scenario: Any) -> Iterator[Callable[[], Any] | None]:
    """Makes the policy of each run behind the boundary (``task.isolate``), else None."""
    if task.isolate is None:
        yield None
        return
    from simcontinuum.boundary.local import policy_factory

    with policy_factory(task.policy.spec, scenario, isolation=task.isolate) as make:
        yield make


def run_one(
    scenario: Any, task: Task, seed: int, make: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """One run as a result row: ``Results.summary()`` plus identification and wall time;
    ``make`` makes the policy (default: ``load_policy(task.policy.spec)`` in this process).

    A run that raises becomes a row with ``status == "error"`` and the reason; Ctrl-C
    (an interrupted simulation) is re-raised, never stored as a result.
    """
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy

    started = time.perf_counter()
    ident = {
        "policy": task.policy.label,
        "scenario": task.scenario.label,
        "seed": int(seed),
        "scenario_digest": task.scenario.digest,
        "policy_hash": task.policy.digest,
        "version": __version__,
    }
    try:
        policy = make() if make is not None else load_policy(task.policy.spec)
        results = Simulation(scenario, policy, seed=seed, telemetry=task.telemetry).run()
    except Exception as exc:  # recorded in the row, never hidden
        return {
            **ident,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "wall_s": time.perf_counter() - started,
        }
    if results.meta["interrupted"]:
        raise KeyboardInterrupt
    return jsonable(
        {
            **ident,
            "status": "ok",
            "error": None,
            "wall_s": time.perf_counter() - started,
            "policy_errors": results.meta["policy_errors"],
            **results.summary(),
        }
    )


__all__ = [
    "PolicySpec",
    "ScenarioSpec",
    "Task",
    "ignore_sigint",
    "policy_spec",
    "run_one",
    "run_task",
    "scenario_files",
    "scenario_specs",
    "tasks",
]
