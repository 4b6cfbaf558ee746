"""``simcontinuum calibrate``: fit a scenario to a real cluster's measurements.

Cheap to import: the fitting code loads inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
FILE is one of:
  a Prometheus query_range JSON answer (or a JSON list of answers, or {"name": answer, ...})
  an OpenMetrics file with timestamps (what 'simcontinuum export --format openmetrics' writes)
  a Grafana CSV export, "series joined by time" (Time column, then name{label="..."} columns)

--fit names what to fit (default: work,rates,latency):
  work     each component's work, to its mean service time per step
           (simcontinuum_component_service_seconds_total / _steps_total); without those, one
           factor for all components, to the busy nodes' CPU utilisation
  rates    each application's arrival rates, to its request rate
           (simcontinuum_app_requests_total or frames_sent_total)
  latency  every link's latency, to the mean network time per step
           (simcontinuum_component_network_in_seconds_total); no such series: not fitted

examples:
  simcontinuum calibrate scenarios/hackathon.yaml --observed run.om -o fitted.yaml
  simcontinuum calibrate scenarios/hackathon.yaml --observed answer.json --fit work,rates \\
      --start-epoch 1767225600 -o fitted.yaml --report out/calibration
  curl -s 'http://127.0.0.1:9090/api/v1/query_range?query=...&start=...&step=5' > answer.json

The report (printed, and saved as REPORT.json, REPORT.png, REPORT.html; default: next to -o)
gives per-metric MAPE and window-mean error, the Kolmogorov-Smirnov distance of the latency
distributions with its critical value, what could not be fitted and why, and both errors
where latency and CPU utilisation cannot both be matched.
"""


def register(subparsers: Any) -> None:
    """Add ``calibrate`` to the CLI."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit a scenario's work, arrival rates and link latency to observed measurements",
        description="Fit a scenario to measurements (Prometheus, OpenMetrics, Grafana CSV) and "
        "report how close the fitted simulation comes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO", help="the scenario file to fit")
    p.add_argument("--observed", required=True, metavar="FILE", help="the measurements")
    p.add_argument(
        "--fit", default="work,rates,latency", metavar="LIST", help="what to fit (see below)"
    )
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="the fitted scenario (YAML)")
    p.add_argument("--report", metavar="PREFIX", help="report files' path without extension")
    p.add_argument("--policy", "-p", default="first-fit", help="the policy (default: first-fit)")
    p.add_argument("--seed", "-s", type=int, default=None, help="overrides the scenario's seed")
    p.add_argument(
        "--start-epoch",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Unix time of simulated t=0 in FILE (default: one telemetry interval before "
        "its first sample)",
    )
    p.add_argument("--max-iter", type=int, default=8, help="simulations at most (default: 8)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``simcontinuum calibrate SCENARIO --observed FILE -o OUT``"""
    import yaml
    from rich.console import Console

    from simcontinuum.calibrate.observed import read_observed
    from simcontinuum.calibrate.report import print_report, save_report
    from simcontinuum.errors import SimContinuumError
    from simcontinuum.scenario import load_scenario

    try:
        if args.max_iter < 1:
            raise SimContinuumError(f"--max-iter: expected at least 1, got {args.max_iter}")
        fit = [x.strip() for x in args.fit.split(",") if x.strip()]
        path = Path(args.scenario)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SimContinuumError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        except yaml.YAMLError as exc:
            raise SimContinuumError(f"{path}: not YAML ({exc})") from exc
        if not isinstance(doc, dict) or "applications" not in doc:
            raise SimContinuumError(
                f"{path}: calibrate needs a scenario in simcontinuum's format (an MLSysOps "
                "description set cannot be rewritten; convert it with its overlay first)"
            )
        scenario = load_scenario(path, seed=args.seed)
        if args.seed is not None:
            doc["seed"] = args.seed
        observed = read_observed(args.observed)
        show = not args.quiet and sys.stderr.isatty()
        cal = _run(doc, scenario, observed, fit, args, show)
    except SimContinuumError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# fitted by 'simcontinuum calibrate' from {args.observed}\n"
        + "".join(f"#   {k}: x{v:.4f}\n" for k, v in cal.factors.items())
        + "".join(f"#   not fitted: {x}\n" for x in cal.not_fitted)
    )
    out.write_text(header + yaml.safe_dump(cal.document, sort_keys=False), encoding="utf-8")
    load_scenario(out)  # the written file must load as it is
    console = Console(highlight=False)
    print_report(cal, console)
    prefix = Path(args.report) if args.report else out.with_name(out.stem + ".report")
    files = save_report(cal, prefix, out)
    sys.stderr.write(f"wrote {out} and {', '.join(str(f) for f in files)}\n")
    return 0


def _run(doc: dict, scenario: Any, observed: Any, fit: list[str], args: Any, show: bool) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simcontinuum.calibrate.fit import calibrate

    kwargs = {"policy": args.policy, "start_epoch": args.start_epoch, "max_iter": args.max_iter}
    if not show:
        return calibrate(doc, scenario, observed, fit, **kwargs)
    with Progress(
        TextColumn("fitting"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} simulations"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task("", total=args.max_iter)

        def tick(done: int, total: int, message: str) -> None:
            progress.update(task, completed=done, description=message)

        return calibrate(doc, scenario, observed, fit, progress=tick, **kwargs)


__all__ = ["cmd_calibrate", "register"]
