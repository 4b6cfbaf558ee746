"""Commands for policy authors: ``simcontinuum check-policy`` and ``simcontinuum metrics``.

``check-policy`` runs :func:`~simcontinuum.policy.check.check_policy` and explains every
finding (what the engine would do with it, how to fix it); it exits 1 when the policy does not
conform, 2 when the scenario or the policy cannot be loaded. ``metrics`` lists every telemetry
metric a policy may read, from :mod:`simcontinuum.engine.metric_catalog`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

CHECK_EXAMPLES = """\
examples:
  simcontinuum check-policy scenarios/hackathon.yaml examples/my_policy.py:NearestWithRoom
  simcontinuum check-policy scenarios/quickstart.yaml first-fit
"""

METRICS_EXAMPLES = """\
examples:
  simcontinuum metrics
  simcontinuum metrics --kind node
  simcontinuum metrics --json
"""


def register(sub: Any) -> None:
    """Add ``check-policy`` and ``metrics`` to the CLI."""
    p = sub.add_parser(
        "check-policy",
        help="check a policy against a scenario and explain each problem",
        description="Call the policy's place() once per application of SCENARIO on the empty "
        "continuum and report everything the engine would reject (unknown nodes, broken "
        "constraints, no room, exceptions, wrong method signatures), each with what it means "
        "and how to fix it. Exit 0: conforms (warnings allowed); 1: problems; 2: bad input.",
        epilog=CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument(
        "policy", metavar="POLICY", help="a built-in name or path/file.py:Class (as in run)"
    )
    p.set_defaults(handler=cmd_check_policy)

    p = sub.add_parser(
        "metrics",
        help="list every telemetry metric (kind, unit, labels, when emitted)",
        description="Every metric the telemetry sampler emits, as a policy reads it with "
        "telemetry.value(metric, id), latest() or window(seconds).",
        epilog=METRICS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kind", choices=("node", "app", "component"), help="only this kind")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(handler=cmd_metrics)


def cmd_check_policy(args: argparse.Namespace) -> int:
    """``simcontinuum check-policy SCENARIO POLICY``"""
    from simcontinuum.policy.check import WARNING, check_policy, explain
    from simcontinuum.policy.registry import load_policy
    from simcontinuum.scenario import load_scenario

    scenario = load_scenario(args.scenario)  # ScenarioError: exit 2 by the CLI
    policy = load_policy(args.policy)  # PolicyError: exit 2
    findings = check_policy(policy, scenario)
    problems = [f for f in findings if not f.startswith(WARNING)]
    for finding in findings:
        print(finding if finding.startswith(WARNING) else f"problem: {finding}")
        why = explain(finding)
        if why:
            print(f"  -> {why}")
    n_warn = len(findings) - len(problems)
    tail = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
    if problems:
        print(
            f"{args.policy}: {len(problems)} problem{'s' if len(problems) != 1 else ''} on "
            f"{args.scenario}{tail}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.policy}: conforms on {args.scenario}{tail}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    """``simcontinuum metrics``"""
    from simcontinuum.engine.metric_catalog import METRICS

    rows = [m for m in METRICS if args.kind is None or m.kind == args.kind]
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps([{**asdict(m), "labels": m.labels} for m in rows], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a file: no reason to wrap at 80 columns
        console = Console(highlight=False, width=160)
    table = Table(
        title="Telemetry metrics (telemetry.value(metric, id), latest(), window(seconds))",
        header_style="bold",
    )
    table.add_column("metric", no_wrap=True, style="bold")
    for col in ("kind", "type", "unit", "labels", "when", "what"):
        table.add_column(col, overflow="fold")
    for m in rows:
        table.add_row(m.name, m.kind, m.type, m.unit, m.labels, m.when, m.help)
    console.print(table)
    return 0
