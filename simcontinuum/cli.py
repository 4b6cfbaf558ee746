"""The ``simcontinuum`` command: parse, call the library, print. Nothing else lives here.

Exit codes are :class:`Exit`. A bad scenario, policy or argument exits 2 with a message that
names the place and the fix, never a traceback. Heavy imports (pandas, the engine) happen
inside the commands, so ``simcontinuum --help`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import importlib
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from simcontinuum._version import __version__
from simcontinuum.argtypes import add_command, add_common
from simcontinuum.errors import PolicyError, ResultsError, ScenarioError, SimContinuumError

if TYPE_CHECKING:
    from rich.console import Console

    from simcontinuum.results import Results


class Exit(enum.IntEnum):
    """Process exit codes."""

    OK = 0
    FAILED = 1  # something went wrong at run time
    BAD_INPUT = 2  # a scenario, policy or argument is invalid
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


EXAMPLES = """\
examples:
  simcontinuum validate scenarios/smart-city.yaml
  simcontinuum run scenarios/quickstart.yaml
  simcontinuum run scenarios/hackathon.yaml --policy latency-greedy --seed 3 --out out/hack
  simcontinuum run scenarios/hackathon.yaml --policy examples/my_policy.py:NearestWithRoom
  simcontinuum check-policy scenarios/hackathon.yaml examples/my_policy.py:NearestWithRoom
  simcontinuum policies
  simcontinuum metrics
"""


COMMAND_MODULES = (
    "simcontinuum.report.commands",
    "simcontinuum.generate.commands",
    "simcontinuum.experiment.commands",
    "simcontinuum.mlsysops.commands",
    "simcontinuum.learn.commands",
    "simcontinuum.k8s.commands",
    "simcontinuum.serve.commands",
    "simcontinuum.export.commands",
    "simcontinuum.calibrate.commands",
    "simcontinuum.policy.commands",
)
"""Modules that add subcommands: each has ``register(subparsers)``, which adds its parsers
(``parser_class`` is the CLI's, so errors exit 2) and sets ``handler=fn(args) -> int`` on
each with ``set_defaults``. Importing one must be cheap: heavy imports go inside handlers."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with a hint, like argparse but clearer
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")
        raise SystemExit(Exit.BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``simcontinuum`` command."""
    parser = _Parser(
        prog="simcontinuum",
        description="Simulate the cloud-edge continuum and score placement policies.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"simcontinuum {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = add_command(
        sub,
        "validate",
        help="check scenario files and list every problem",
        description="Check scenario files; print every problem with its path and a fix.",
        epilog="examples:\n  simcontinuum validate scenarios/*.yaml\n",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")

    p = add_command(
        sub,
        "run",
        help="simulate a scenario under a policy and print the score table",
        description="Simulate FILE under a policy, print the summary table, optionally save "
        "the results (Parquet) to --out.",
        epilog="examples:\n"
        "  simcontinuum run scenarios/quickstart.yaml\n"
        "  simcontinuum run scenarios/smart-city.yaml --policy k8s-default --seed 7\n"
        "  simcontinuum run scenarios/hackathon.yaml --policy "
        "examples/my_policy.py:NearestWithRoom --out out/run1\n"
        "  simcontinuum run scenarios/quickstart.yaml --json   # the summary as JSON\n"
        "  simcontinuum run scenarios/smart-city.yaml --out out/city --report  # + HTML\n"
        "  simcontinuum run --mlsysops scenarios/mlsysops-hackathon/descriptions \\\n"
        "      --overlay scenarios/mlsysops-hackathon/overlay.yaml \\\n"
        "      --policy scenarios/mlsysops-hackathon/policy-latencyMover.py\n"
        "  simcontinuum run scenarios/hackathon.yaml \\\n"
        "      --policy examples/my_policy.py:NearestWithRoom --isolate\n"
        "  simcontinuum run scenarios/quickstart.yaml --policy examples/policies/awk-first-fit "
        "--isolate\n"
        "  simcontinuum run --k8s scenarios/k8s-hackathon \\\n"
        "      --overlay scenarios/k8s-hackathon/overlay.yaml --policy kube-scheduler\n",
    )
    p.add_argument("file", metavar="FILE", nargs="?", help="scenario YAML file")
    p.add_argument(
        "--mlsysops",
        metavar="DIR",
        help="instead of FILE: a folder of MLSysOps descriptions (MLSysOpsApp/Node/Cluster/"
        "Continuum YAML); --policy may then be a policy-<name>.py file",
    )
    p.add_argument(
        "--k8s",
        metavar="DIR",
        help="instead of FILE: a folder of Kubernetes/Karmada manifests as kubectl apply "
        "takes them (see docs/kubernetes.md)",
    )
    p.add_argument(
        "--overlay",
        metavar="FILE",
        help="with --mlsysops or --k8s: what descriptions lack (prices, links, load, work) in the "
        "scenario format",
    )
    p.add_argument(
        "--policy",
        "-p",
        default="first-fit",
        help="a built-in name (see 'simcontinuum policies') or path/file.py:Class "
        "(default: first-fit)",
    )
    add_common(
        p,
        seed="overrides the scenario's seed",
        out="write the results here (Parquet)",
        force="replace --out if it has content",
        json="print the summary as JSON",
        quiet="no progress bar",
    )
    p.add_argument("--csv", action="store_true", help="write CSV instead of Parquet")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first policy error or rejected decision (exit 2)",
    )
    p.add_argument("--no-telemetry", action="store_true", help="do not sample telemetry")
    p.add_argument(
        "--isolate",
        action="store_true",
        help="run the policy as the leaderboard does: in a sandboxed worker behind the "
        "protocol (docs/protocol.md), timed by the engine",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="with --isolate: use a worker without sandbox where bubblewrap cannot run",
    )
    p.add_argument(
        "--no-steps", action="store_true", help="no per-step timing table (faster, smaller)"
    )
    p.add_argument(
        "--report",
        nargs="?",
        const="",
        metavar="FILE",
        help="also write the HTML report to FILE; without FILE it needs --out and goes to "
        "OUT/report.html",
    )

    add_command(
        sub,
        "policies",
        help="list the built-in policies",
        description="List the built-in and installed policies.",
        epilog="examples:\n"
        "  simcontinuum policies\n"
        "  simcontinuum run scenarios/hackathon.yaml --policy two-level\n",
    )
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simcontinuum`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return Exit.BAD_INPUT
    _show_scenario_warnings()
    builtin = {"validate": cmd_validate, "run": cmd_run, "policies": cmd_policies}
    handler = builtin.get(args.command) or args.handler
    try:
        return int(handler(args))
    except ScenarioError as exc:
        _err(str(exc))
        return Exit.BAD_INPUT
    except (PolicyError, ResultsError) as exc:
        _err(f"error: {exc}")
        return Exit.BAD_INPUT
    except SimContinuumError as exc:
        _err(f"error: {exc}")
        return Exit.FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return Exit.INTERRUPTED


def _show_scenario_warnings() -> None:
    """Print scenario warnings (implausible bare numbers) as ``warning: ...`` lines, once
    each, without Python's file-and-line decoration."""
    import warnings

    default = warnings.showwarning
    if getattr(default, "simcontinuum", False):  # installed by an earlier main() call
        return

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        # by name: importing the scenario package here would slow every command's start
        if category.__name__ == "ScenarioWarning":
            _err(f"warning: {message}")
        else:
            default(message, category, *args, **kwargs)

    show.simcontinuum = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# ----------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    """``simcontinuum validate FILE...``"""
    from simcontinuum.scenario import load_scenario

    worst = Exit.OK
    for f in args.files:
        try:
            sc = load_scenario(f)
        except ScenarioError as exc:
            _err(str(exc))
            worst = Exit.BAD_INPUT
            continue
        print(
            f"{f}: ok — {len(sc.topology.nodes)} nodes, {len(sc.topology.links)} links, "
            f"{len(sc.applications)} applications, {len(sc.sources)} sources, "
            f"{sc.duration:g} s"
        )
    return worst


def cmd_policies(args: argparse.Namespace) -> int:
    """``simcontinuum policies``"""
    from rich.table import Table

    from simcontinuum.policy.registry import available_policies

    table = Table(title="Policies (use with --policy NAME, or --policy path/file.py:Class)")
    table.add_column("name", style="bold")
    table.add_column("what it does")
    for name, text in available_policies().items():
        table.add_row(name, text)
    _console().print(table)
    from simcontinuum.policy.spec import available_schemes

    schemes = Table(title="Spec schemes (use as --policy SCHEME:ARG)")
    schemes.add_column("scheme", style="bold")
    schemes.add_column("argument")
    for name, text in available_schemes().items():
        schemes.add_row(f"{name}:", text)
    _console().print(schemes)
    return Exit.OK


def cmd_run(args: argparse.Namespace) -> int:
    """``simcontinuum run FILE``"""
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy

    out = Path(args.out) if args.out else None
    if out is not None:
        _check_out(out, force=args.force)
    report: Path | None = None
    if args.report:
        report = Path(args.report)
        if report.is_dir():
            raise ResultsError(f"--report {report}: is a folder; give a file name (.html)")
    elif args.report is not None:  # --report without FILE
        if out is None:
            raise ResultsError("--report without FILE writes OUT/report.html: add --out DIR")
        report = out / "report.html"
    scenario = _scenario_of(args)
    show = not args.quiet and not args.json and sys.stderr.isatty()
    with _policy_of(args, scenario) as policy:
        sim = Simulation(
            scenario,
            policy,
            strict=args.strict,
            telemetry=not args.no_telemetry,
            steps=not args.no_steps,
        )
        results = _run_with_progress(sim, show)
    if scenario.scoring.reference_policy and not results.meta["interrupted"]:
        base = Simulation(
            scenario, load_policy(scenario.scoring.reference_policy), telemetry=False, steps=False
        ).run()
        results.meta["reference"] = {"policy": scenario.scoring.reference_policy, **base.summary()}
    if out is not None:
        results.save(out, fmt="csv" if args.csv else "parquet")
    if args.json:
        from simcontinuum.jsonutil import dumps

        print(dumps(results.summary(), indent=2, sort_keys=False))
    else:
        print_summary(results, _console())
        if out is not None:
            print(f"results written to {out}/")
    if report is not None:
        from simcontinuum.report.progress import rendering
        from simcontinuum.report.run import write_report

        with rendering(str(report), show=not args.quiet and sys.stderr.isatty()):
            write_report(results, report, scenario=scenario)
        print(f"report written to {report}", file=sys.stderr if args.json else sys.stdout)
    print_decisions(results, to_stderr=args.json)
    if results.meta["policy_errors"]:
        _err(
            f"warning: the policy failed {results.meta['policy_errors']} time(s); see the "
            "'error' rows of the actions table" + (f" in {out}/actions" if out else "")
        )
    if results.meta["interrupted"]:
        _err(
            f"interrupted at t={results.meta['horizon_s']:.3f} s; partial results "
            + (f"written to {out}/" if out else "not saved (no --out)")
        )
        return (
            Exit.TERMINATED if results.meta.get("interrupted_by") == "SIGTERM" else Exit.INTERRUPTED
        )
    return Exit.OK


@contextlib.contextmanager
def _policy_of(args: argparse.Namespace, scenario: Any) -> Iterator[Any]:
    """``--policy``, in this process or (``--isolate``) in a sandboxed worker."""
    if not args.isolate:
        from simcontinuum.policy.registry import load_policy

        yield load_policy(args.policy)
        return
    from simcontinuum.boundary import resolve_isolation
    from simcontinuum.boundary.local import isolated_policy

    iso = resolve_isolation("insecure" if args.insecure else None)
    if not iso.isolated:
        _err(f"WARNING: {iso.describe()} ({iso.detail})")
    with isolated_policy(args.policy, scenario, isolation=iso) as policy:
        yield policy


def print_decisions(results: Results, *, to_stderr: bool = False) -> None:
    """Print the "policy decisions" block of a run: applied / rejected / errors, the first
    reasons, and the policy's first exception (its own frames only)."""
    from simcontinuum.metrics.decisions import decisions

    block = decisions(results.actions, results.meta)
    # problems go to stderr with the other warnings, so a redirected stdout cannot hide them
    stream = sys.stderr if to_stderr or not block.clean else sys.stdout
    sys.stdout.flush()
    print("\n".join(block.lines()), file=stream)


def _scenario_of(args: argparse.Namespace) -> Any:
    """The scenario of ``run``: FILE, or MLSysOps descriptions with --mlsysops."""
    from simcontinuum.scenario import load_scenario

    if sum(bool(x) for x in (args.file, args.mlsysops, getattr(args, "k8s", None))) > 1:
        raise ScenarioError("give one of FILE, --mlsysops DIR or --k8s DIR")
    if getattr(args, "k8s", None):
        from simcontinuum.k8s.translate import scenario_from_args as k8s_scenario

        return k8s_scenario(args.k8s, args.overlay, seed=args.seed)
    if args.mlsysops:
        from simcontinuum.mlsysops import scenario_from_args

        return scenario_from_args(args.mlsysops, args.overlay, seed=args.seed)
    if args.overlay:
        raise ScenarioError("--overlay goes with --mlsysops DIR or --k8s DIR")
    if not args.file:
        raise ScenarioError("missing FILE: give a scenario YAML file (or --mlsysops DIR)")
    return load_scenario(args.file, seed=args.seed)


def _check_out(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--out {out}: exists and is not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ResultsError(
            f"--out {out}: folder exists and is not empty; add --force to replace it, or "
            "choose another path"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise ResultsError(f"--out {out}: cannot write in {parent}; choose another path")


def _run_with_progress(sim: Any, show: bool) -> Results:
    """Run ``sim``, with a progress bar on a terminal. The bar drives the run in slices
    through the engine's driving API (``advance``), which adds no events: the results,
    ``meta["events"]`` included, are those of a run without the bar."""
    if not show:
        return cast("Results", sim.run())
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    duration = sim.horizon
    with Progress(
        TextColumn("[bold]simulating[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s simulated"),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(sim.scenario.name, total=duration)
        return cast("Results", _drive_in_slices(sim, lambda t: progress.update(task, completed=t)))


def _drive_in_slices(sim: Any, show: Callable[[float], None], slices: int = 100) -> Results:
    """Advance ``sim`` to its horizon in ``slices`` steps, calling ``show(now)`` after each."""
    duration = sim.horizon
    for i in range(1, slices + 1):
        show(sim.advance(duration if i == slices else duration * i / slices))
        if sim.done:
            break
    return cast("Results", sim.finish())


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value:,.4g}{unit}"


PART_LABELS = {
    "failed_rate": "failed_rate (failed + dropped)",
}
"""What a score part counts, where its name alone would mislead (``failed_rate`` counts
dropped requests too, while the measures table lists failed and dropped apart)."""


def print_summary(results: Results, console: Console) -> None:
    """Print the summary table of one run."""
    from rich.table import Table

    s = results.summary()
    m = results.meta
    title = f"{m['scenario']} · policy {m['policy']} · seed {m['seed']}"
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    n = max(s["requests"], 1)
    table.add_row("requests (after warm-up)", _fmt(s["requests"]))
    for k in ("ok", "failed", "dropped", "incomplete"):
        table.add_row(f"  {k}", f"{s[k]:,} ({100 * s[k] / n:.1f}%)")
    for k, label in (("mean", "mean"), ("p50", "p50"), ("p95", "p95"), ("p99", "p99")):
        v = s[f"{k}_latency_s"]
        table.add_row(f"latency {label}", _fmt(None if v != v else v * 1000, " ms"))
    table.add_row("SLO violation rate", f"{100 * s['slo_violation_rate']:.2f}%")
    for k, v in s.items():
        if k.startswith("cost_"):
            table.add_row(f"cost {k[5:]}", _fmt(v))
    table.add_row("cost total", _fmt(s["cost"]))
    table.add_row("energy", _fmt(s["energy_kwh"], " kWh"))
    table.add_row("migrations", _fmt(s["migrations"]))
    table.add_row("wall time", f"{m['wall_s']:.2f} s")
    console.print(table)

    has_ref = "ratio_score" in s
    caption = None
    if has_ref:
        ref = m["reference"]["policy"]
        caption = (
            f"× {ref}: each part divided by the same part of the reference policy {ref} "
            "(scoring.reference_policy) on this scenario and seed; below 1 beats it"
        )
    parts = Table(
        title="score (lower is better)",
        header_style="bold",
        caption=caption,
        caption_justify="left",
    )
    parts.add_column("part")
    parts.add_column("value", justify="right")
    parts.add_column("weight", justify="right")
    parts.add_column("weighted", justify="right")
    if has_ref:
        parts.add_column(f"× {m['reference']['policy']}", justify="right")
    weights = m.get("weights", {})
    from simcontinuum.metrics.score import SCORE_PARTS

    for k in SCORE_PARTS:
        row = [
            PART_LABELS.get(k, k),
            _fmt(s[f"part_{k}"]),
            _fmt(weights.get(k, 0.0)),
            _fmt(s[f"weighted_{k}"]),
        ]
        if has_ref:
            row.append(_fmt(s.get(f"ratio_{k}")))
        parts.add_row(*row)
    total = ["[bold]score[/]", "", "", f"[bold]{_fmt(s['score'])}[/]"]
    if has_ref:
        total.append(_fmt(s.get("ratio_score")))
    parts.add_row(*total)
    console.print(parts)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
