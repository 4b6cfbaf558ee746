"""``simcontinuum report``: the HTML report of a saved run (or of a sweep table).

Importing this module is cheap; pandas and matplotlib load inside the handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from simcontinuum.argtypes import add_command

EPILOG = """\
examples:
  simcontinuum run scenarios/smart-city.yaml --out out/city
  simcontinuum report out/city                      # writes out/city/report.html
  simcontinuum report out/city -o city.html
  simcontinuum report out/city --scenario scenarios/smart-city.yaml   # SLO lines from this file
  simcontinuum report sweep.csv -o bench.html       # compare policies over a sweep table
"""


def register(subparsers: Any) -> None:
    """Add the ``report`` command."""
    p = add_command(
        subparsers,
        "report",
        help="write a self-contained HTML report of saved results",
        description="Write one self-contained HTML file (figures embedded, no JavaScript, "
        "nothing loaded from elsewhere) for a results folder written by 'run --out', or a "
        "bench report for a sweep table (.csv/.parquet: one row per policy, scenario, seed).",
        epilog=EPILOG,
    )
    p.add_argument("results", metavar="RESULTS", help="results folder, or a sweep table file")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="the HTML file to write (default: RESULTS/report.html for a folder, "
        "TABLE.html beside a table)",
    )
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="scenario of the run, for the SLO lines (default: the file the run names, if "
        "unchanged)",
    )
    p.add_argument("--title", help="page title (default: scenario · policy · seed)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """``simcontinuum report RESULTS``"""
    from simcontinuum.report.progress import rendering

    src = Path(args.results)
    if src.is_file() and src.suffix in (".csv", ".parquet"):
        from simcontinuum.report.bench import bench_report, read_table

        out = Path(args.output) if args.output else src.with_suffix(".html")
        with rendering(str(out)):
            bench_report(read_table(src), out, title=args.title or f"Benchmark: {src.name}")
    else:
        from simcontinuum.report.run import write_report
        from simcontinuum.results import Results

        results = Results.load(src)
        scenario = None
        if args.scenario:
            from simcontinuum.scenario import load_scenario as load

            scenario = load(args.scenario, seed=results.meta.get("seed"))
        out = Path(args.output) if args.output else src / "report.html"
        with rendering(str(out)):
            write_report(results, out, scenario=scenario, title=args.title)
    print(f"report written to {out}")
    return 0
