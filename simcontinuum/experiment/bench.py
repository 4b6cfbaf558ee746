"""Sweeps: run policies × scenarios × seeds in parallel, resume, and summarise.

Phases: resolve the grid (policies load, scenarios load and validate — nothing runs if one is
bad) → look up finished runs in ``DIR/runs`` (skipped) → submit the rest as tasks of
(policy, scenario, chunk of seeds) to an executor, at most two per worker in flight → collect
rows as tasks finish (each run was already stored by its worker) → tables: the runs, the
bench table (mean and Student-t CI per policy and scenario), the ranking, the paired
comparison against a baseline → files in ``DIR``.

Ctrl-C stops the workers and raises :class:`BenchInterrupted`; every run that finished is in
the store, so the same command resumes where the sweep stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.errors import SimContinuumError
from simcontinuum.experiment import grid as g
from simcontinuum.experiment.executors import executor
from simcontinuum.experiment.store import RunStore
from simcontinuum.io import atomic_path
from simcontinuum.metrics.score import SCORE_PARTS

if TYPE_CHECKING:
    import pandas as pd

REPORT_COLUMNS = ("policy", "scenario", "seed", "score", *SCORE_PARTS, "status", "error")
"""The per-run columns of the HTML report (parts as scored: see :func:`report_table`)."""


class BenchError(SimContinuumError):
    """A sweep cannot start: a bad argument (the message says which and how to fix it)."""


class BenchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``finished`` runs (of ``total``) are in the store."""

    def __init__(self, finished: int, total: int) -> None:
        super().__init__(f"interrupted after {finished} of {total} runs")
        self.finished = finished
        self.total = total


@dataclass
class BenchResult:
    """What a sweep produced.

    Attributes:
        runs: one row per (policy, scenario, seed): ``Results.summary()`` plus ``policy,
            scenario, seed, status, error, wall_s, policy_errors, cached``.
        table: :func:`~simcontinuum.experiment.stats.bench_table` of the runs.
        ranking: :func:`~simcontinuum.experiment.stats.ranking` of the table.
        paired: :func:`~simcontinuum.experiment.stats.paired` against the baseline, or None.
        executed: runs executed by this call; skipped: runs found in the store.
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    ranking: pd.DataFrame
    paired: pd.DataFrame | None
    executed: int
    skipped: int
    wall_s: float
    executor: str
    workers: int

    @property
    def errors(self) -> int:
        """Runs that ended with an error (not stored; run again next time)."""
        return int((self.runs["status"] != "ok").sum()) if len(self.runs) else 0


Progress = Callable[[int, int], None]
"""``progress(runs_done, runs_to_do)``, called as tasks finish."""


def run_bench(
    policies: Sequence[str],
    scenarios: Sequence[str | Path],
    seeds: Sequence[int],
    out: str | Path | None,
    *,
    jobs: int = 1,
    executor_kind: str = "auto",
    address: str | None = None,
    baseline: str | None = None,
    chunk: int | None = None,
    telemetry: bool = True,
    progress: Progress | None = None,
    isolate: str | None = None,
) -> BenchResult:
    """Run the grid ``policies × scenarios × seeds`` (see the module docstring).

    Args:
        policies: policy specs (names or ``file.py:Class``).
        scenarios: scenario files and folders of ``*.yaml``.
        seeds: the seeds, the same for every pair (so runs pair up for comparisons).
        out: the sweep's folder (run store and tables); None keeps nothing (no resume).
        jobs: parallel tasks; executor_kind: ``auto``, ``inline``, ``process`` or ``dask``;
            address: a Dask scheduler (``tcp://host:8786``).
        baseline: a policy of ``policies`` for the paired comparison.
        chunk: seeds per task (default: sized so each worker gets several tasks).
        telemetry: sample telemetry (adaptive policies need it; on by default).
        progress: called with (runs done, runs to do) as tasks finish.
        isolate: ``"auto"`` (bubblewrap, or refuse) or ``"insecure"``: every policy runs
            behind the boundary, as on the leaderboard (:mod:`simcontinuum.boundary`).

    Raises:
        BenchError: bad arguments; ScenarioError / PolicyError: a bad scenario or policy;
        ExecutorError: the executor cannot start; BenchInterrupted: Ctrl-C.
    """
    if isolate is not None:
        from simcontinuum.boundary import resolve_isolation

        resolve_isolation(isolate)  # refuse now, in the parent, when it cannot be had
    labels = list(dict.fromkeys(policies))
    if not labels:
        raise BenchError("give at least one policy (--policies NAME ...)")
    if not seeds:
        raise BenchError("give at least one seed (--seeds N with N >= 1)")
    if baseline is not None and baseline not in labels:
        raise BenchError(
            f"--baseline {baseline!r} is not one of the policies ({', '.join(labels)}); "
            "add it to --policies"
        )
    try:
        files = g.scenario_files(scenarios)
    except FileNotFoundError as exc:
        raise BenchError(str(exc)) from None
    pols = g.unique_labels([g.policy_spec(p) for p in labels], labels)
    if baseline is not None:  # the baseline as typed -> its label in the tables
        baseline = pols[labels.index(baseline)].label
    scs = g.scenario_specs(files)
    store = RunStore(out) if out is not None else None
    started = time.perf_counter()
    with executor(executor_kind, jobs, address, initializer=g.ignore_sigint) as running:
        todo, done = g.tasks(
            pols,
            scs,
            list(seeds),
            store,
            workers=running.workers,
            chunk=chunk,
            telemetry=telemetry,
            isolate=isolate,
        )
        total = sum(len(t.seeds) for t in todo)
        try:
            new = _execute(running, todo, total, progress)
        except BenchInterrupted as stop:
            if store is not None:  # workers store runs as they end: count what is on disk
                stop.finished = sum(store.path(r).exists() for t in todo for r in t.run_ids)
            raise
    return _result(done + new, pols, scs, baseline, len(new), len(done), started, running)


def _execute(
    running: Any, todo: list[g.Task], total: int, progress: Progress | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pending: dict[cf.Future[list[dict[str, Any]]], g.Task] = {}
    limit = 2 * running.workers

    def collect(futures: set[cf.Future[list[dict[str, Any]]]]) -> None:
        for fut in futures:
            task = pending.pop(fut)
            exc = fut.exception()
            if exc is not None:
                rows.extend(_task_failed(task, exc))
            else:
                rows.extend(fut.result())
            if progress is not None:
                progress(len(rows), total)

    if progress is not None:
        progress(0, total)
    try:
        for i, task in enumerate(todo):
            while len(pending) >= limit:
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                collect(finished)
            try:
                pending[running.executor.submit(g.run_task, task)] = task
            except cf.BrokenExecutor as exc:  # e.g. a worker process was killed
                for rest in todo[i:]:
                    rows.extend(_task_failed(rest, exc))
                break
            done_now = {f for f in pending if f.done()}
            if done_now:
                collect(done_now)
        while pending:
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            collect(finished)
    except KeyboardInterrupt:
        running.stop()
        raise BenchInterrupted(len([r for r in rows if r["status"] == "ok"]), total) from None
    return rows


def _task_failed(task: g.Task, exc: BaseException) -> list[dict[str, Any]]:
    """Rows for the seeds of a task whose worker failed as a whole (e.g. it died)."""
    reason = f"{type(exc).__name__}: {exc}"
    return [
        {
            "policy": task.policy.label,
            "scenario": task.scenario.label,
            "seed": seed,
            "status": "error",
            "error": reason,
        }
        for seed in task.seeds
    ]


def _result(
    rows: list[dict[str, Any]],
    pols: list[g.PolicySpec],
    scs: list[g.ScenarioSpec],
    baseline: str | None,
    executed: int,
    skipped: int,
    started: float,
    running: Any,
) -> BenchResult:
    import pandas as pd

    from simcontinuum.experiment import stats

    runs = pd.DataFrame(rows)
    if len(runs):
        runs["cached"] = runs.get("cached", pd.Series(False, index=runs.index))
        runs["cached"] = runs["cached"].fillna(False).astype(bool)
        order_p = {p.label: i for i, p in enumerate(pols)}
        order_s = {s.label: i for i, s in enumerate(scs)}
        runs["_p"] = runs["policy"].map(order_p)
        runs["_s"] = runs["scenario"].map(order_s)
        runs = runs.sort_values(["_p", "_s", "seed"], kind="stable")
        runs = runs.drop(columns=["_p", "_s"]).reset_index(drop=True)
    table = stats.bench_table(runs) if len(runs) else pd.DataFrame()
    rank = stats.ranking(table) if len(table) else pd.DataFrame()
    pair = stats.paired(runs, baseline) if baseline is not None and len(runs) else None
    return BenchResult(
        runs,
        table,
        rank,
        pair,
        executed,
        skipped,
        time.perf_counter() - started,
        running.kind,
        running.workers,
    )


def report_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The per-run table of the HTML report: :data:`REPORT_COLUMNS`, each part as scored
    (``part_<name>``; p95 is the horizon when no request succeeded)."""
    import pandas as pd

    out = pd.DataFrame(index=runs.index)
    for col in REPORT_COLUMNS:
        part = f"part_{col}"
        if part in runs:
            out[col] = runs[part]
        elif col in runs:
            out[col] = runs[col]
        else:
            out[col] = None
    return out


def write_outputs(result: BenchResult, out: str | Path) -> list[Path]:
    """Save the tables as CSV and Parquet, and ``bench.html``; returns the paths written."""
    from simcontinuum.report.bench import bench_report

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    frames = {"runs": result.runs, "bench": result.table, "ranking": result.ranking}
    if result.paired is not None:
        frames["paired"] = result.paired
    for name, df in frames.items():
        for suffix in ("csv", "parquet"):
            path = target / f"{name}.{suffix}"
            with atomic_path(path) as tmp:
                if suffix == "csv":
                    df.to_csv(tmp, index=False)
                else:
                    _parquet_safe(df).to_parquet(tmp, index=False)
            written.append(path)
    html = target / "bench.html"
    bench_report(report_table(result.runs), html, paired=result.paired)
    written.append(html)
    return written


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (None and text) as text, which Parquet can store."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


__all__ = [
    "REPORT_COLUMNS",
    "BenchError",
    "BenchInterrupted",
    "BenchResult",
    "report_table",
    "run_bench",
    "write_outputs",
]
