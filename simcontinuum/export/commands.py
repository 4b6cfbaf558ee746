"""``simcontinuum export``: a saved run in OpenMetrics, Prometheus blocks, OTLP or Grafana.

Cheap to import: the exporters load inside the handler.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

FORMATS = ("openmetrics", "prometheus-tsdb", "otlp-json", "grafana")

EPILOG = """\
formats:
  openmetrics      one text file: every telemetry series (HELP/TYPE/UNIT, counters _total,
                   labels node/cluster/tier/app/component), timestamps from --start-epoch, # EOF
  prometheus-tsdb  a folder of TSDB blocks (promtool tsdb create-blocks-from openmetrics);
                   serve it with prometheus --storage.tsdb.path=DIR
  otlp-json        a folder with metrics.jsonl and traces.jsonl, as the OpenTelemetry
                   collector's file exporter writes them (one trace per request)
  grafana          a provisioning folder: datasources/ and dashboards/ (p95 vs SLO, outcomes,
                   utilisation heatmap, replicas, cost)

examples:
  simcontinuum run scenarios/hackathon.yaml --policy two-level -o out/hack
  simcontinuum export out/hack --format openmetrics -o run.om --start-epoch 1767225600
  simcontinuum export out/hack --format prometheus-tsdb -o tsdb/
  prometheus --storage.tsdb.path=tsdb/ --config.file=empty.yml   # then query as usual
  simcontinuum export out/hack --format otlp-json -o otlp/ --sample 0.1
  simcontinuum export out/hack --format grafana -o grafana/ --datasource-url http://127.0.0.1:9090

Names follow the MLSysOps framework's collector where it has one (node_cpu_seconds_total,
node_memory_MemAvailable_bytes, k8s_node_allocatable_cpu, k8s_pod_phase, and the hackathon
application's frames_sent_total, classifier_frames_processed_total, ...); see
docs/observability.md for the whole table. The scenario (for node sizes) is read from the
path the run recorded; give --scenario when it moved.
"""


def register(subparsers: Any) -> None:
    """Add ``export`` to the CLI."""
    p = subparsers.add_parser(
        "export",
        help="export a saved run as OpenMetrics, Prometheus blocks, OTLP JSON or Grafana",
        description="Export a saved run (a folder written by 'simcontinuum run -o') into the "
        "formats a real cluster's observability stack reads.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS", help="a results folder")
    p.add_argument("--format", "-f", required=True, choices=FORMATS, help="what to write")
    p.add_argument(
        "--out", "-o", required=True, metavar="PATH", help="file (openmetrics) or folder"
    )
    p.add_argument(
        "--start-epoch",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Unix time of simulated t=0 (default: the run ends at the current minute)",
    )
    p.add_argument("--scenario", metavar="FILE", help="the run's scenario (default: as recorded)")
    p.add_argument(
        "--delivered-only",
        action="store_true",
        help="only samples that reached the collector (default: every sample taken)",
    )
    p.add_argument(
        "--sample",
        type=float,
        default=1.0,
        metavar="RATE",
        help="otlp-json: fraction of requests traced, seeded (default: 1 = all)",
    )
    p.add_argument("--seed", type=int, default=None, help="--sample's seed (default: the run's)")
    p.add_argument(
        "--datasource-url",
        default="http://127.0.0.1:9090",
        help="grafana: the Prometheus the datasource points at",
    )
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_export)


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def default_start_epoch(horizon: float, now: float | None = None) -> float:
    """t=0 such that the run ends at the current minute (so a Prometheus keeps it).

    >>> default_start_epoch(300.0, now=1_000_000.0)
    999660.0
    """
    now = time.time() if now is None else now
    return float(math.floor(now / 60.0) * 60.0 - math.ceil(horizon))


def load_scenario(results: Any, path: str | None) -> Any:
    """The run's scenario: ``path``, else the recorded one if it still has the run's digest."""
    from simcontinuum.scenario import load_scenario

    seed = results.meta.get("seed")
    if path:
        return load_scenario(path, seed=seed)
    recorded = results.meta.get("scenario_path")
    if not recorded or not Path(recorded).is_file():
        return None
    try:
        scn = load_scenario(recorded, seed=seed)
    except Exception:  # a file changed into something invalid: the run's is not known
        return None
    if results.meta.get("scenario_digest") and scn.digest != results.meta["scenario_digest"]:
        return None
    return scn


def _empty_dir(path: Path, force: bool) -> None:
    import shutil

    from simcontinuum.export.openmetrics import ExportError

    if path.exists() and not path.is_dir():
        raise ExportError(f"{path}: exists and is not a folder; choose another -o")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise ExportError(f"{path}: folder is not empty; add --force to replace it")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def cmd_export(args: argparse.Namespace) -> int:
    """``simcontinuum export RESULTS --format F -o OUT``"""
    from simcontinuum.errors import SimContinuumError
    from simcontinuum.export.openmetrics import ExportError
    from simcontinuum.results import Results

    try:
        if not 0.0 < args.sample <= 1.0:
            raise ExportError(f"--sample: expected a rate in (0, 1], got {args.sample}")
        results = Results.load(args.results)
        scenario = load_scenario(results, args.scenario)
        if scenario is None:
            _err(
                "note: the run's scenario was not found (or changed): node sizes are unknown, so "
                "node_cpu_seconds_total and the allocatable/memory series are left out "
                "(give --scenario FILE)"
            )
        horizon = float(results.meta.get("horizon_s") or 0.0)
        start = args.start_epoch
        if start is None:
            start = default_start_epoch(horizon)
        return _export(args, results, scenario, start)
    except (ExportError, SimContinuumError, OSError) as exc:
        _err(f"error: {exc}")
        return 2


def _export(args: argparse.Namespace, results: Any, scenario: Any, start: float) -> int:
    from simcontinuum.export import openmetrics
    from simcontinuum.export.series import families

    out = Path(args.out)
    fmt = args.format
    if fmt == "grafana":
        from simcontinuum.export.grafana import write_bundle

        _empty_dir(out, args.force)
        files = write_bundle(results, out, datasource_url=args.datasource_url, start_epoch=start)
        _err(f"wrote {len(files)} files to {out}/ (point Grafana's provisioning path at it)")
        return 0
    fams = families(results, scenario, delivered_only=args.delivered_only)
    if fmt == "openmetrics":
        n = openmetrics.write_file(fams, out, start)
        if str(out) != "-":
            _err(f"wrote {out}: {len(fams)} metric families, {n} samples, t=0 at {start:.0f}")
        return 0
    if fmt == "prometheus-tsdb":
        import tempfile

        _empty_dir(out, args.force)
        with tempfile.TemporaryDirectory() as tmp:
            om = Path(tmp) / "run.om"
            n = openmetrics.write_file(fams, om, start)
            openmetrics.create_blocks(om, out)
        _err(
            f"wrote TSDB blocks to {out}/: {n} samples, t=0 at {start:.0f} "
            f"(prometheus --storage.tsdb.path={out})"
        )
        return 0
    from simcontinuum.export.otlp import write_otlp

    _empty_dir(out, args.force)
    seed = args.seed if args.seed is not None else int(results.meta.get("seed") or 0)
    if args.quiet or not sys.stderr.isatty():
        counts = write_otlp(results, fams, out, start, sample=args.sample, seed=seed)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("traces"), BarColumn(), MofNCompleteColumn(), transient=True
        ) as bar:
            task = bar.add_task("", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            counts = write_otlp(
                results, fams, out, start, sample=args.sample, seed=seed, progress=tick
            )
    _err(
        f"wrote {out}/metrics.jsonl ({counts['points']} points) and {out}/traces.jsonl "
        f"({counts['traces']} traces, {counts['spans']} spans)"
    )
    return 0


__all__ = ["cmd_export", "register"]
