"""The leaderboard: every team's policy against the hidden scenarios, behind the boundary.

The organizer process loads and validates the hidden scenarios itself and copies every
submission to private staging before the first run. Each submission is then evaluated by
:func:`simcontinuum.boundary.evaluate_submission`: the engine, the clock, validation and
scoring run here, in the organizer's process; only the policy runs, in a worker process
under bubblewrap (new user/pid/net/ipc/uts/mount namespaces, read-only interpreter and
package, the submission read-only, a private tmpfs as the only writable place, no network,
limits on processes and memory for the whole submission). The worker receives views and
delivered telemetry as plain data (``docs/protocol.md``) — never a scenario, a name or a
path — and returns placements and actions, which are validated here. Rows are built here
from the organizer's own results; nothing a submission prints becomes a row.

A submission that cannot be loaded, raises in a policy call, breaks the protocol, exceeds
``control.policy_timeout``, runs out of memory, processes, CPU or wall time, or exits gets
failed rows with the reason (300 characters at most, no spreadsheet formula); the others are
ranked as usual. The tables are written only after every process of every submission is
gone. Where bubblewrap cannot run, the leaderboard refuses to start unless ``insecure``
(``--insecure``), which runs the workers without isolation and says so loudly. See
``docs/security.md`` for the threat model and what stays out of scope (kernel exploits,
side channels).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum._version import __version__
from simcontinuum.errors import SimContinuumError
from simcontinuum.io import atomic_path

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.model import Scenario


class LeaderboardError(SimContinuumError):
    """The leaderboard cannot start (no submissions, bad limits, ...)."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: wall seconds (for all its runs), CPU seconds (per worker
    process), memory (MiB, the whole submission where a cgroup is available), open files,
    processes (the whole submission)."""

    wall_s: float = 600.0
    cpu_s: int = 600
    memory_mib: int = 4096
    files: int = 256
    processes: int = 64


@dataclass
class Outcome:
    """What one submission produced: rows (one per scenario × seed) and, when it failed,
    why (the first failed row's reason)."""

    team: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    wall_s: float = 0.0


def submissions(folder: str | os.PathLike[str]) -> list[Path]:
    """The submissions of a folder, sorted: ``*.py`` files and directories (with
    ``policy.py`` or an executable ``policy``); names starting with ``_`` or ``.`` are
    skipped."""
    d = Path(folder)
    if not d.is_dir():
        raise LeaderboardError(f"{d}: no such submissions folder")
    files = sorted(
        f
        for f in d.iterdir()
        if not f.name.startswith(("_", "."))
        and (
            (f.is_file() and f.suffix == ".py")
            or (f.is_dir() and any((f / n).is_file() for n in ("policy.py", "policy")))
        )
    )
    if not files:
        raise LeaderboardError(
            f"{d}: no *.py policy files and no team directories (with policy.py or an "
            "executable 'policy'): one per team"
        )
    return files


def strip_paths(scenario: Scenario) -> Scenario:
    """``scenario`` without any file path in it (source file, trace files)."""
    sources = tuple(
        replace(s, arrival=replace(s.arrival, path=None)) if s.arrival.path else s
        for s in scenario.sources
    )
    return replace(scenario, source_path=None, sources=sources)


def run_submission(
    path: Path,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: Limits,
    *,
    strict: bool = True,
    telemetry: bool = True,
    isolation: Any = None,
    team: str | None = None,
    prepared: Any = None,
) -> Outcome:
    """Evaluate one (staged) submission through the boundary (``prepared``: its worker,
    started ahead by :func:`~simcontinuum.boundary.evaluate.prepare_submission`)."""
    from simcontinuum.boundary import evaluate_submission

    started = time.perf_counter()
    name = team or (path.stem if path.is_file() else path.name)
    rows = evaluate_submission(
        path,
        scenarios,
        seeds,
        _eval_limits(limits),
        isolation,
        team=name,
        strict=strict,
        telemetry=telemetry,
        staged=True,
        prepared=prepared,
    )
    bad = [r for r in rows if r.get("status") != "ok"]
    outcome = Outcome(name, rows, bad[0].get("reason") if bad else None)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _eval_limits(limits: Limits) -> Any:
    from simcontinuum.boundary import EvalLimits

    return EvalLimits(
        wall_s=limits.wall_s,
        cpu_s=limits.cpu_s,
        memory_mib=limits.memory_mib,
        files=limits.files,
        processes=limits.processes,
    )


def complete_rows(
    outcome: Outcome, labels: Sequence[str], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """One row per scenario × seed: the child's, or a failed one with the reason."""
    have = {(r.get("scenario"), r.get("seed")): r for r in outcome.rows}
    rows = []
    for label in labels:
        for seed in seeds:
            row = have.get((label, int(seed)))
            if row is None:
                reason = outcome.reason or "no result (the process ended before this run)"
                row = {"team": outcome.team, "scenario": label, "seed": int(seed)}
                row.update(status="failed", reason=reason)
            rows.append(row)
    return rows


def standings(runs: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard table: one row per team. Teams whose every run finished are ranked by
    mean score (lower is better, ties share a rank); the others follow, unranked, with the
    first reason. Columns: ``rank, team, status, reason, runs, score, score_ci_low,
    score_ci_high``, the mean of each score part, ``policy_errors``, ``wall_s``."""
    import pandas as pd

    from simcontinuum.experiment.stats import clip_low, mean_ci
    from simcontinuum.metrics.score import SCORE_PARTS

    rows = []
    for team, group in runs.groupby("team", sort=False):
        ok = group[group["status"] == "ok"]
        failed = group[group["status"] != "ok"]
        row: dict[str, Any] = {
            "team": team,
            "status": "ok" if failed.empty else "failed",
            "reason": None if failed.empty else str(failed["reason"].iloc[0]),
            "runs": len(group),
        }
        score, low, high = mean_ci(ok["score"].astype(float).tolist() if len(ok) else [])
        row.update(score=score, score_ci_low=clip_low(low), score_ci_high=high)
        for part in SCORE_PARTS:
            col = f"part_{part}"
            row[part] = float(ok[col].astype(float).mean()) if len(ok) and col in ok else None
        row["policy_errors"] = (
            int(ok["policy_errors"].fillna(0).sum()) if "policy_errors" in ok else 0
        )
        row["wall_s"] = float(group["wall_s"].fillna(0).sum()) if "wall_s" in group else None
        rows.append(row)
    table = pd.DataFrame(rows)
    ranked = table[table["status"] == "ok"].sort_values(["score", "team"], kind="stable")
    ranked.insert(0, "rank", ranked["score"].rank(method="min").astype("Int64"))
    others = table[table["status"] != "ok"].sort_values("team", kind="stable")
    others.insert(0, "rank", pd.Series([pd.NA] * len(others), index=others.index, dtype="Int64"))
    return pd.concat([ranked, others], ignore_index=True)


@dataclass
class LeaderboardResult:
    """The standings, every run's row, and the outcome of each submission."""

    table: pd.DataFrame
    runs: pd.DataFrame
    outcomes: list[Outcome]
    wall_s: float
    isolation: str = ""


def run_leaderboard(
    folder: str | os.PathLike[str],
    scenarios: Sequence[str | os.PathLike[str]],
    seeds: Sequence[int],
    *,
    limits: Limits | None = None,
    jobs: int = 1,
    strict: bool = True,
    telemetry: bool = True,
    progress: Any = None,
    insecure: bool = False,
) -> LeaderboardResult:
    """Evaluate every submission of ``folder`` on ``scenarios`` (files or folders).

    Args:
        folder: one ``*.py`` policy file or one directory per team (team = its name).
        scenarios: the hidden scenarios; loaded and validated here, in the organizer process.
        seeds: seeds of every scenario.
        limits: per-submission limits; jobs: submissions evaluated at once (processes).
        strict: a policy call that raises or times out fails the run (the default for a
            competition); otherwise it is recorded and counts as no action.
        progress: called with (team, outcome) as each submission finishes.
        insecure: run without isolation where bubblewrap cannot run (never for untrusted
            code).

    Raises:
        LeaderboardError: no submissions, no scenarios, or no isolation (and not insecure).
    """
    import pandas as pd

    from simcontinuum.boundary import IsolationError, probe
    from simcontinuum.experiment.grid import scenario_files, scenario_specs
    from simcontinuum.scenario import load_scenario

    limits = limits or Limits()
    files = submissions(folder)
    try:
        iso = probe(insecure=insecure)
    except IsolationError as exc:
        raise LeaderboardError(str(exc)) from None
    try:
        paths = scenario_files(scenarios)
    except FileNotFoundError as exc:
        raise LeaderboardError(str(exc)) from None
    specs = scenario_specs(paths)
    loaded = [(s.label, strip_paths(load_scenario(s.path))) for s in specs]
    labels = [label for label, _ in loaded]
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="simcontinuum-staging-") as staging:
        # every submission is copied before the first one runs: none can touch another's
        staged = []
        for i, f in enumerate(files):
            team_dir = Path(staging) / f"t{i}"
            staged.append((f, _stage(f, team_dir)))
        args = [
            (s, loaded, seeds, limits, strict, telemetry, iso, f.stem if f.is_file() else f.name)
            for f, s in staged
        ]
        if jobs > 1 and len(args) > 1:
            with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(_evaluate, *a) for a in args]
                try:
                    for fut in cf.as_completed(futures):
                        outcome = fut.result()
                        outcomes.append(outcome)
                        if progress is not None:
                            progress(outcome.team, outcome)
                except KeyboardInterrupt:
                    for fu in futures:
                        fu.cancel()
                    raise
        else:
            # the next team's sandbox and interpreter start while this team runs (its code
            # is imported only at its turn), so a team waits for no interpreter start-up
            ahead = [_prepare(args[0], iso)] if args else []
            try:
                for i, a in enumerate(args):
                    if i + 1 < len(args):
                        ahead.append(_prepare(args[i + 1], iso))
                    prepared = ahead.pop(0)
                    try:
                        outcome = _evaluate(*a, prepared=prepared)
                    finally:
                        if prepared is not None:
                            prepared.close()
                    outcomes.append(outcome)
                    if progress is not None:
                        progress(outcome.team, outcome)
            finally:
                for sub in ahead:  # interrupted: nothing may outlive the leaderboard
                    if sub is not None:
                        sub.close()
    order = {(f.stem if f.is_file() else f.name): i for i, f in enumerate(files)}
    outcomes.sort(key=lambda o: order[o.team])
    rows = [r for o in outcomes for r in complete_rows(o, labels, seeds)]
    runs = pd.DataFrame(rows)
    return LeaderboardResult(
        standings(runs), runs, outcomes, time.perf_counter() - started, iso.describe()
    )


def _stage(source: Path, into: Path) -> Path:
    from simcontinuum.boundary.proxy import SubmissionError, stage

    try:
        return stage(source, into)
    except (SubmissionError, OSError) as exc:
        raise LeaderboardError(f"cannot stage {source}: {exc}") from None


def _evaluate(
    path: Path,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: Limits,
    strict: bool,
    telemetry: bool,
    isolation: Any,
    team: str,
    prepared: Any = None,
) -> Outcome:
    return run_submission(
        path,
        scenarios,
        seeds,
        limits,
        strict=strict,
        telemetry=telemetry,
        isolation=isolation,
        team=team,
        prepared=prepared,
    )


def _prepare(args: tuple[Any, ...], iso: Any) -> Any:
    """The started worker of the submission of ``_evaluate``'s ``args`` (or ``None``)."""
    from simcontinuum.boundary.evaluate import prepare_submission

    path, limits = args[0], args[3]
    return prepare_submission(path, _eval_limits(limits), iso)


def write_leaderboard(result: LeaderboardResult, out: str | os.PathLike[str]) -> list[Path]:
    """``leaderboard.csv``, ``leaderboard_runs.csv`` and ``leaderboard.html`` in ``out``."""
    from simcontinuum.report.html import esc, table_html, write_page

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("leaderboard", result.table), ("leaderboard_runs", result.runs)):
        with atomic_path(target / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False)
        written.append(target / f"{name}.csv")
    n_ok = int((result.table["status"] == "ok").sum())
    body = (
        f"<p>{len(result.table)} submissions, {n_ok} ranked; scores are means over every "
        "hidden scenario and seed (lower is better).</p>"
        + CI_NOTE
        + f"<p>Isolation: {esc(result.isolation)}</p>"
        + table_html(result.table)
        + "<h2>Runs</h2>"
        + table_html(result.runs[[c for c in _RUN_COLUMNS if c in result.runs]])
        + f"<p>simcontinuum {esc(__version__)}</p>"
    )
    written.append(write_page(target / "leaderboard.html", "Leaderboard", body))
    return written


CI_NOTE = (
    '<p class="note"><b>score_ci_low, score_ci_high</b>: the 95% Student-t confidence '
    "interval of the mean score over the submission's runs (every hidden scenario and seed). "
    "A score is never negative, so the lower bound is clipped at 0; with one run there is no "
    "interval (—).</p>"
)

_RUN_COLUMNS = ("team", "scenario", "seed", "status", "reason", "score", "policy_errors", "wall_s")

__all__ = [
    "LeaderboardError",
    "LeaderboardResult",
    "Limits",
    "Outcome",
    "complete_rows",
    "run_leaderboard",
    "run_submission",
    "standings",
    "strip_paths",
    "submissions",
    "write_leaderboard",
]
