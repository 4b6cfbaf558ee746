"""``simcontinuum bench`` and ``simcontinuum leaderboard``: parse, call the library, print.

Cheap to import: pandas, the engine and the executors load inside the handlers.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

from simcontinuum.argtypes import add_command, add_common, positive_int

if TYPE_CHECKING:
    from rich.console import Console

    from simcontinuum.experiment.bench import BenchResult

BENCH_EPILOG = """\
examples:
  simcontinuum bench --policies first-fit k8s-default latency-greedy \\
      --scenarios scenarios/quickstart.yaml --seeds 10 --jobs 2 --out out/bench
  simcontinuum bench --policies first-fit examples/my_policy.py:NearestWithRoom \\
      --scenarios challenge/public --seeds 5 --baseline first-fit --out out/mine
  simcontinuum bench --policies first-fit examples/my_policy.py:NearestWithRoom \\
      --scenarios scenarios/ --seeds 3 --isolate --out out/isolated  # as the leaderboard runs them
  simcontinuum bench ... --executor dask                              # a local Dask cluster
  simcontinuum bench ... --executor dask --address tcp://10.0.0.5:8786   # an existing one

Each finished run is stored as DIR/runs/<key>.json, keyed by the scenario's content (with
its trace files), the policy (the content of the files it reads: file.py:Class, ml:, fixed:,
MLSysOps files), the seed and the source of the installed simcontinuum, so the same command
resumes an interrupted sweep (Ctrl-C keeps finished runs; exit status 130) and
skips everything already done. DIR gets runs, bench (mean and 95% CI per policy and
scenario), ranking (mean rank over scenarios) and paired (against --baseline) as CSV and
Parquet, and bench.html. Dask is optional: pip install 'simcontinuum[dask]'; its workers
must see the scenario and policy files at the same paths.
"""

LEADERBOARD_EPILOG = """\
examples:
  simcontinuum leaderboard submissions/ --scenarios challenge/hidden --seeds 5 --out out/lb
  simcontinuum leaderboard submissions/ --scenarios challenge/hidden --seeds 3 --jobs 2 \\
      --time-limit 300 --memory-limit 2048 --out out/lb

submissions/ holds one policy file per team (team = file name: the class with a place()
method, or the class named by POLICY = "Name"), or one directory per team with policy.py or
an executable 'policy' that speaks the protocol (docs/protocol.md; any language). The
engine, the clock and the score run in this process; only the policy runs, in a bubblewrap
sandbox (no network, no organizer file, read-only code, a private /tmp, process and memory
limits for the whole submission). It receives views as plain data, never a scenario, a name
or a path. A submission that fails to load, raises, breaks the protocol, times out or runs
out of memory gets failed rows with the reason; the others are ranked by mean score.
Without a working bubblewrap (apt-get install bubblewrap) the leaderboard refuses to start;
--insecure runs anyway, unisolated. See docs/security.md. Writes leaderboard.csv,
leaderboard_runs.csv and leaderboard.html.
"""


def register(subparsers: Any) -> None:
    """Add ``bench`` and ``leaderboard`` to the CLI."""
    p = add_command(
        subparsers,
        "bench",
        help="run policies x scenarios x seeds in parallel and compare them",
        description="Run a sweep of policies over scenarios and seeds (resumable), then print "
        "and save the mean and 95% CI of the score and its parts, a ranking and a paired "
        "comparison.",
        epilog=BENCH_EPILOG,
    )
    p.add_argument("--policies", "-p", nargs="+", required=True, metavar="POLICY")
    p.add_argument(
        "--scenarios", "-S", nargs="+", required=True, metavar="PATH", help="files or folders"
    )
    p.add_argument("--jobs", "-j", type=positive_int, default=1, help="parallel tasks (default: 1)")
    p.add_argument(
        "--executor",
        choices=("auto", "inline", "process", "dask"),
        default="auto",
        help="auto (default): this process for --jobs 1, local processes otherwise",
    )
    p.add_argument("--address", metavar="tcp://HOST:8786", help="an existing Dask scheduler")
    p.add_argument("--baseline", metavar="POLICY", help="compare every policy to this one")
    p.add_argument("--chunk", type=positive_int, help="seeds per task (default: automatic)")
    p.add_argument("--no-telemetry", action="store_true", help="do not sample telemetry")
    p.add_argument(
        "--isolate",
        action="store_true",
        help="run each policy as the leaderboard does: in a sandboxed worker (docs/protocol.md)",
    )
    p.add_argument(
        "--insecure", action="store_true", help="with --isolate: no sandbox where bwrap fails"
    )
    add_common(
        p,
        seeds="10",
        out="run store and tables",
        out_required=True,
        quiet="no progress bar, no tables",
    )
    p.set_defaults(handler=cmd_bench)

    p = add_command(
        subparsers,
        "leaderboard",
        help="rank every team's policy file on hidden scenarios, each in isolation",
        description="Evaluate every policy file of SUBMISSIONS on the hidden scenarios, each "
        "in its own limited process, and write the ranked leaderboard.",
        epilog=LEADERBOARD_EPILOG,
    )
    p.add_argument(
        "submissions", metavar="SUBMISSIONS", help="folder: one *.py or directory per team"
    )
    p.add_argument("--scenarios", "-S", nargs="+", required=True, metavar="PATH")
    p.add_argument("--jobs", "-j", type=positive_int, default=1, help="submissions at once")
    p.add_argument(
        "--time-limit", type=float, default=600.0, help="wall seconds per submission (600)"
    )
    p.add_argument("--cpu-limit", type=positive_int, help="CPU seconds (default: --time-limit)")
    p.add_argument("--memory-limit", type=positive_int, default=4096, help="MiB (default: 4096)")
    p.add_argument("--open-files", type=positive_int, default=256, help="(default: 256)")
    p.add_argument(
        "--lenient",
        action="store_true",
        help="a policy call that raises or times out counts as no action (default: the run fails)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="run without isolation where bubblewrap cannot run (only for code you trust)",
    )
    add_common(
        p, seeds="5", out="the leaderboard tables", out_required=True, quiet="no progress, no table"
    )
    p.set_defaults(handler=cmd_leaderboard)


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # piped output is not cut to 80 columns: these tables are read in logs and files
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 140)


# ----------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    """``simcontinuum bench ...``"""
    from simcontinuum.experiment.bench import (
        BenchError,
        BenchInterrupted,
        run_bench,
        write_outputs,
    )
    from simcontinuum.experiment.executors import ExecutorError

    if args.address and args.executor not in ("dask", "auto"):
        _err("error: --address is for --executor dask")
        return 2
    kind = "dask" if args.address else args.executor
    seeds = args.seeds.resolve(args.first_seed)
    show = not args.quiet and sys.stderr.isatty()
    try:
        with _progress(show, "simulating runs") as progress:
            result = run_bench(
                args.policies,
                args.scenarios,
                seeds,
                args.out,
                jobs=args.jobs,
                executor_kind=kind,
                address=args.address,
                baseline=args.baseline,
                chunk=args.chunk,
                telemetry=not args.no_telemetry,
                progress=progress,
                isolate=("insecure" if args.insecure else "auto") if args.isolate else None,
            )
    except (BenchError, ExecutorError) as exc:
        _err(f"error: {exc}")
        return 2
    except BenchInterrupted as exc:
        _err(
            f"interrupted: {exc.finished} of {exc.total} runs finished in this call and are "
            f"kept in {args.out}/runs; run the same command again to resume"
        )
        return 130
    from simcontinuum.report.progress import rendering

    with rendering(f"{args.out}/bench.html", show=show):
        written = write_outputs(result, args.out)
    if not args.quiet:
        print_bench(result, _console())
    _err(
        f"{result.executed} runs executed, {result.skipped} found in {args.out}/runs "
        f"(skipped), {result.errors} errors; {result.wall_s:.1f} s on {result.workers} "
        f"{result.executor} worker(s); wrote {', '.join(p.name for p in written)} to {args.out}/"
    )
    if result.errors:
        first = result.runs[result.runs["status"] != "ok"].iloc[0]
        _err(
            f"warning: {result.errors} run(s) failed, e.g. {first['policy']} on "
            f"{first['scenario']} seed {first['seed']}: {first['error']}"
        )
        return 1
    return 0


class _progress:
    """A rich progress bar on stderr (a no-op when off); yields the progress callback."""

    def __init__(self, show: bool, unit: str) -> None:
        self.show = show
        self.unit = unit
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.show:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn(f"[bold]{self.unit}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_console(stderr=True),
            transient=True,
        )
        self.bar.start()
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task(self.unit, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _pm(mean: float | None, low: float | None, scale: float = 1.0, digits: str = ".4g") -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    text = f"{mean * scale:{digits}}"
    if low is not None and not math.isnan(low):
        text += f"±{(mean - low) * scale:.2g}"
    return text


def print_bench(result: BenchResult, console: Console) -> None:
    """Print the bench table, the ranking and the paired comparison."""
    from rich.table import Table

    t = Table(title="Benchmark: mean ±95% CI over seeds (lower is better; all parts in bench.csv)")
    for col in ("policy", "scenario", "n", "score", "cost", "p95 ms", "SLO viol.%"):
        left = col in ("policy", "scenario")
        t.add_column(col, justify="left" if left else "right", no_wrap=True)
    for r in result.table.to_dict("records"):
        t.add_row(
            str(r["policy"]),
            str(r["scenario"]),
            str(r["n"]) + (f" ({r['errors']} err)" if r["errors"] else ""),
            _pm(r["score_mean"], r["score_ci_low"]),
            _pm(r["cost_mean"], r["cost_ci_low"], 1.0, ".3g"),
            _pm(r["p95_latency_s_mean"], r["p95_latency_s_ci_low"], 1000.0, ".3g"),
            _pm(r["slo_violation_rate_mean"], r["slo_violation_rate_ci_low"], 100.0, ".3g"),
        )
    console.print(t)
    rank = Table(title="Ranking: mean rank over scenarios (1 = best)")
    for col in ("rank", "policy", "mean rank", "mean score", "scenarios won"):
        rank.add_column(col, justify="left" if col == "policy" else "right")
    for r in result.ranking.to_dict("records"):
        rank.add_row(
            str(r["rank"]),
            str(r["policy"]),
            f"{r['mean_rank']:.2f}",
            f"{r['mean_score']:.4g}",
            str(r["wins"]),
        )
    console.print(rank)
    if result.paired is not None and len(result.paired):
        base = result.paired["baseline"].iloc[0]
        pair = Table(title=f"Paired with {base}: score - {base} (negative: better)")
        for col in ("policy", "scenario", "pairs", "mean diff ± 95% CI", "wins", "losses"):
            pair.add_column(col, justify="left" if col in ("policy", "scenario") else "right")
        for r in result.paired.to_dict("records"):
            pair.add_row(
                str(r["policy"]),
                str(r["scenario"]),
                str(r["n"]),
                _pm(r["mean_diff"], r["ci_low"]),
                str(r["wins"]),
                str(r["losses"]),
            )
        console.print(pair)


# ----------------------------------------------------------------------------- leaderboard


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """``simcontinuum leaderboard SUBMISSIONS ...``"""
    from simcontinuum.experiment.leaderboard import (
        LeaderboardError,
        Limits,
        run_leaderboard,
        write_leaderboard,
    )

    if not args.time_limit > 0:
        _err("error: --time-limit must be positive")
        return 2
    limits = Limits(
        wall_s=args.time_limit,
        cpu_s=args.cpu_limit or max(1, math.ceil(args.time_limit)),
        memory_mib=args.memory_limit,
        files=args.open_files,
    )
    seeds = args.seeds.resolve(args.first_seed)

    def progress(team: str, outcome: Any) -> None:
        if args.quiet:
            return
        bad = [r for r in outcome.rows if r.get("status") != "ok"]
        why = outcome.reason or (bad[0].get("reason") if bad else None)
        state = f"failed: {why}" if why else "ok"
        done = len(outcome.rows) - len(bad)
        _err(f"{team}: {done} runs finished in {outcome.wall_s:.1f} s ({state})")

    try:
        result = run_leaderboard(
            args.submissions,
            args.scenarios,
            seeds,
            limits=limits,
            jobs=args.jobs,
            strict=not args.lenient,
            progress=progress,
            insecure=args.insecure,
        )
    except LeaderboardError as exc:
        _err(f"error: {exc}")
        return 2
    if args.insecure and "NOT ISOLATED" in result.isolation:
        _err(f"WARNING: {result.isolation}; these results are claims, not evidence")
    from simcontinuum.report.progress import rendering

    with rendering(f"{args.out}/leaderboard.html", show=not args.quiet and sys.stderr.isatty()):
        written = write_leaderboard(result, args.out)
    if not args.quiet:
        _print_leaderboard(result.table, _console())
    _err(f"wrote {', '.join(p.name for p in written)} to {args.out}/")
    return 0


def _print_leaderboard(table: Any, console: Console) -> None:
    from rich.table import Table

    t = Table(title="Leaderboard (mean score over hidden scenarios and seeds; lower is better)")
    for col in ("rank", "team", "score ± 95% CI", "cost", "p95 ms", "SLO viol. %", "status"):
        t.add_column(col, justify="left" if col in ("team", "status") else "right")
    for r in table.to_dict("records"):
        rank = "—" if r["rank"] is None or str(r["rank"]) == "<NA>" else str(r["rank"])
        p95 = r.get("p95_latency_s")
        slo = r.get("slo_violation_rate")
        t.add_row(
            rank,
            str(r["team"]),
            _pm(r["score"], r["score_ci_low"]),
            _pm(r.get("cost"), None),
            _pm(p95, None, 1000.0) if p95 is not None else "—",
            _pm(slo, None, 100.0, ".3g") if slo is not None else "—",
            "ok" if r["status"] == "ok" else f"failed: {r['reason']}",
        )
    console.print(t)


__all__ = ["cmd_bench", "cmd_leaderboard", "print_bench", "register"]
