"""The leaderboard: every team's policy file against the hidden scenarios, each in isolation.

The organizer process loads and validates the hidden scenarios itself, strips every file
path from them (``source_path``, trace paths) and sends the scenario objects, pickled, to one
child process per submission over its stdin (see :mod:`simcontinuum.experiment.sandbox`).
The child runs in a fresh temporary directory (its working directory, ``HOME`` and
``TMPDIR``), with a copy of the submission and an environment of only ``PATH``, ``HOME``,
``PYTHONPATH`` (to import simcontinuum), ``LANG`` and single-thread settings for numeric
libraries; it sets hard limits on CPU time, address space, open files and file size before
the submission is imported. The organizer enforces a wall-clock limit and kills the child's
whole process group when it is exceeded. A submission that cannot be imported, raises in a
policy call, exceeds ``control.policy_timeout``, runs out of memory, CPU or wall time, or
exits (``os._exit``) gets failed rows with the reason; the others are ranked as usual.

Threat model — this is isolation against *mistakes*, not a security sandbox:

- the child runs under the organizer's user account; it can read every file that user can
  read, so it *can* find and read the hidden scenario files: it is never told where they
  are (no path is in its own arguments, environment, working directory or the objects it
  receives), but the organizer's process is visible to it — ``/proc/<parent>/cmdline``
  (readable by every user) holds the ``--scenarios`` folder, and ``/proc/<parent>/environ``
  and ``cwd`` are readable by the same user. It can also open network connections and
  start processes;
- it shares the process with the simulator, so a malicious policy could tamper with the
  engine or forge its own result lines;
- resource limits bound CPU, memory, open files and file size, not disk use elsewhere or the
  number of processes.

For untrusted code at scale run each submission in a container or VM with no network, a
read-only file system and no access to the organizer's files (e.g. ``docker run --network
none --read-only`` with only the submission mounted), and treat the results as claims.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum._version import __version__
from simcontinuum.errors import SimContinuumError

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.model import Scenario


class LeaderboardError(SimContinuumError):
    """The leaderboard cannot start (no submissions, bad limits, ...)."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: wall and CPU seconds (for all its runs), address space (MiB),
    open files."""

    wall_s: float = 600.0
    cpu_s: int = 600
    memory_mib: int = 4096
    files: int = 256


@dataclass
class Outcome:
    """What one submission produced: rows (one per scenario × seed) and, when the process
    ended badly, why."""

    team: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    wall_s: float = 0.0


def submissions(folder: str | os.PathLike[str]) -> list[Path]:
    """The policy files of a submissions folder: ``*.py`` (not starting with ``_``), sorted."""
    d = Path(folder)
    if not d.is_dir():
        raise LeaderboardError(f"{d}: no such submissions folder")
    files = sorted(f for f in d.glob("*.py") if not f.name.startswith("_"))
    if not files:
        raise LeaderboardError(f"{d}: no *.py policy files (one per team)")
    return files


def strip_paths(scenario: Scenario) -> Scenario:
    """``scenario`` without any file path in it (source file, trace files)."""
    sources = tuple(
        replace(s, arrival=replace(s.arrival, path=None)) if s.arrival.path else s
        for s in scenario.sources
    )
    return replace(scenario, source_path=None, sources=sources)


def payload(
    team: str,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    *,
    strict: bool = True,
    telemetry: bool = True,
) -> bytes:
    """The pickled job a child reads from stdin (scenario objects, never paths)."""
    job = {
        "team": team,
        "scenarios": [(label, strip_paths(sc)) for label, sc in scenarios],
        "seeds": [int(s) for s in seeds],
        "strict": strict,
        "telemetry": telemetry,
    }
    return pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)


def child_env(home: str) -> dict[str, str]:
    """The child's whole environment: nothing of the organizer's but PATH and LANG."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the package
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": home,
        "PYTHONPATH": root,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def run_submission(
    path: Path,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: Limits,
    *,
    strict: bool = True,
    telemetry: bool = True,
    live: set[subprocess.Popen[bytes]] | None = None,
) -> Outcome:
    """Run one submission in its own process (see the module docstring); ``live`` collects
    the running child processes, so that the caller can stop them all."""
    team = path.stem
    work = tempfile.mkdtemp(prefix="simcontinuum-sandbox-")
    started = time.perf_counter()
    try:
        shutil.copyfile(path, Path(work) / "submission.py")
        argv = [
            sys.executable,
            "-s",
            "-m",
            "simcontinuum.experiment.sandbox",
            "submission.py",
            f"--cpu={limits.cpu_s}",
            f"--memory={limits.memory_mib}",
            f"--files={limits.files}",
        ]
        data = payload(team, scenarios, seeds, strict=strict, telemetry=telemetry)
        with open(Path(work) / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=work,
                env=child_env(work),
                start_new_session=True,  # its own process group: killed as a whole
            )
            if live is not None:
                live.add(proc)
            timed_out = False
            try:
                out, _ = proc.communicate(data, timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                out, _ = proc.communicate()
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
            finally:
                if live is not None:
                    live.discard(proc)
        outcome = _parse(team, out, proc.returncode, timed_out, limits, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _parse(team: str, out: bytes, code: int, timed_out: bool, limits: Limits, work: str) -> Outcome:
    outcome = Outcome(team)
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "row" and isinstance(msg.get("row"), dict):
            outcome.rows.append({**msg["row"], "team": team})
        elif isinstance(msg, dict) and msg.get("type") == "fatal":
            outcome.reason = f"cannot load the policy: {msg.get('reason')}"
    if timed_out:
        outcome.reason = f"wall-clock limit exceeded ({limits.wall_s:g} s)"
    elif code < 0:
        outcome.reason = _signal_reason(-code, limits)
    elif code > 0:
        tail = _tail(Path(work) / "stderr.txt")
        outcome.reason = f"the process exited with status {code}" + (f": {tail}" if tail else "")
    return outcome


def _signal_reason(sig: int, limits: Limits) -> str:
    if sig == signal.SIGXCPU:
        return f"CPU time limit exceeded ({limits.cpu_s} s)"
    if sig == signal.SIGKILL:
        return "killed (SIGKILL): the hard CPU limit, or out of memory"
    if hasattr(signal, "SIGXFSZ") and sig == signal.SIGXFSZ:
        return "file size limit exceeded"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return f"the process was killed by {name}"


def _tail(path: Path, limit: int = 300) -> str:
    try:
        text = path.read_bytes()[-4000:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:limit] if lines else ""


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

    from simcontinuum.experiment.stats import mean_ci
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
        row.update(score=score, score_ci_low=low, score_ci_high=high)
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
) -> LeaderboardResult:
    """Evaluate every submission of ``folder`` on ``scenarios`` (files or folders).

    Args:
        folder: one ``*.py`` policy file per team (team name = file stem).
        scenarios: the hidden scenarios; loaded and validated here, in the organizer process.
        seeds: seeds of every scenario.
        limits: per-submission limits; jobs: submissions evaluated at once.
        strict: a policy call that raises or times out fails the run (the default for a
            competition); otherwise it is recorded and counts as no action.
        progress: called with (team, outcome) as each submission finishes.
    """
    import pandas as pd

    from simcontinuum.experiment.grid import scenario_files, scenario_specs
    from simcontinuum.scenario import load_scenario

    limits = limits or Limits()
    files = submissions(folder)
    try:
        paths = scenario_files(scenarios)
    except FileNotFoundError as exc:
        raise LeaderboardError(str(exc)) from None
    specs = scenario_specs(paths)
    loaded = [(s.label, load_scenario(s.path)) for s in specs]
    labels = [label for label, _ in loaded]
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    live: set[subprocess.Popen[bytes]] = set()
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(
                run_submission,
                f,
                loaded,
                seeds,
                limits,
                strict=strict,
                telemetry=telemetry,
                live=live,
            )
            for f in files
        ]
        try:
            for fut in cf.as_completed(futures):
                outcome = fut.result()
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome.team, outcome)
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            for proc in list(live):  # children live in their own sessions: stop them here
                _kill_group(proc)
            raise
    order = {f.stem: i for i, f in enumerate(files)}
    outcomes.sort(key=lambda o: order[o.team])
    rows = [r for o in outcomes for r in complete_rows(o, labels, seeds)]
    runs = pd.DataFrame(rows)
    return LeaderboardResult(standings(runs), runs, outcomes, time.perf_counter() - started)


def write_leaderboard(result: LeaderboardResult, out: str | os.PathLike[str]) -> list[Path]:
    """``leaderboard.csv``, ``leaderboard_runs.csv`` and ``leaderboard.html`` in ``out``."""
    from simcontinuum.report.html import esc, table_html, write_page

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("leaderboard", result.table), ("leaderboard_runs", result.runs)):
        tmp = target / f".{name}.csv.tmp"
        df.to_csv(tmp, index=False)
        tmp.replace(target / f"{name}.csv")
        written.append(target / f"{name}.csv")
    n_ok = int((result.table["status"] == "ok").sum())
    body = (
        f"<p>{len(result.table)} submissions, {n_ok} ranked; scores are means over every "
        "hidden scenario and seed (lower is better), with 95% Student-t intervals.</p>"
        + table_html(result.table)
        + "<h2>Runs</h2>"
        + table_html(result.runs[[c for c in _RUN_COLUMNS if c in result.runs]])
        + f"<p>simcontinuum {esc(__version__)}</p>"
    )
    written.append(write_page(target / "leaderboard.html", "Leaderboard", body))
    return written


_RUN_COLUMNS = ("team", "scenario", "seed", "status", "reason", "score", "policy_errors", "wall_s")

__all__ = [
    "LeaderboardError",
    "LeaderboardResult",
    "Limits",
    "Outcome",
    "child_env",
    "complete_rows",
    "payload",
    "run_leaderboard",
    "run_submission",
    "standings",
    "strip_paths",
    "submissions",
    "write_leaderboard",
]
