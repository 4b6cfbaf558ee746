"""``simcontinuum k8s ...``: the scenario that manifests become, and what kube-scheduler
decides for them.

- ``simcontinuum k8s translate DIR [--overlay FILE] [-o FILE]`` prints (or writes) the
  scenario YAML of a manifest folder, then lists what was ignored or skipped;
- ``simcontinuum k8s schedule DIR [--overlay FILE] [--json]`` runs kube-scheduler once over
  the initial placement (no time, no load) and prints each pod's node with the per-plugin
  filter results and scores, as kube-scheduler-simulator shows them.

Exit 2 when the manifests are invalid. Imports here are cheap; the work is imported inside
the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    """Add the ``k8s`` command and its subcommands."""
    p = subparsers.add_parser(
        "k8s",
        help="Kubernetes manifests: translate them, see kube-scheduler's decisions",
        description="Work with folders of Kubernetes and Karmada manifests.",
        epilog="examples:\n"
        "  simcontinuum k8s translate scenarios/k8s-hackathon "
        "--overlay scenarios/k8s-hackathon/overlay.yaml\n"
        "  simcontinuum k8s schedule scenarios/k8s-hackathon "
        "--overlay scenarios/k8s-hackathon/overlay.yaml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=lambda args: _usage(p))
    sub = p.add_subparsers(dest="k8s_command", metavar="SUBCOMMAND", parser_class=type(p))
    t = sub.add_parser(
        "translate",
        help="print the scenario that a manifest folder (+ an overlay) becomes",
        description="Translate a folder of manifests, with an overlay for what they lack, "
        "into a scenario file; list ignored fields and skipped kinds on stderr.",
        epilog="examples:\n"
        "  simcontinuum k8s translate scenarios/k8s-hackathon \\\n"
        "      --overlay scenarios/k8s-hackathon/overlay.yaml -o hackathon-from-k8s.yaml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("dir", metavar="DIR", help="folder of manifests (kubectl apply -f DIR)")
    t.add_argument("--overlay", metavar="FILE", help="overlay YAML in the scenario format")
    t.add_argument("--out", "-o", metavar="FILE", help="write the scenario here (default: stdout)")
    t.set_defaults(handler=cmd_translate)
    s = sub.add_parser(
        "schedule",
        help="kube-scheduler's decisions for the initial placement, plugin by plugin",
        description="Schedule every pod of the manifests once (no load, no time) and print "
        "where each goes with its filter results and scores.",
        epilog="examples:\n"
        "  simcontinuum k8s schedule scenarios/k8s-hackathon "
        "--overlay scenarios/k8s-hackathon/overlay.yaml\n"
        "  simcontinuum k8s schedule scenarios/k8s-hackathon --json > decisions.json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("dir", metavar="DIR", help="folder of manifests")
    s.add_argument("--overlay", metavar="FILE", help="overlay YAML in the scenario format")
    s.add_argument("--policy", default="kube-scheduler", help="kube-scheduler (default)")
    s.add_argument("--seed", type=int, default=None, help="overrides the scenario's seed")
    s.add_argument("--json", action="store_true", help="print the decisions as JSON")
    s.set_defaults(handler=cmd_schedule)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


def _notes(dir_: str) -> None:
    from simcontinuum.k8s.manifests import read_manifests

    m = read_manifests(dir_)
    for line in m.unknown_kinds:
        print(f"note: {line}", file=sys.stderr)
    if m.ignored_kinds:
        print(f"note: kinds not simulated (ignored): {', '.join(m.ignored_kinds)}", file=sys.stderr)
    if m.ignored_fields:
        print("note: fields not simulated (ignored):", file=sys.stderr)
        for f in m.ignored_fields:
            print(f"  {f}", file=sys.stderr)


def cmd_translate(args: argparse.Namespace) -> int:
    """``simcontinuum k8s translate DIR [--overlay FILE] [--out FILE]``"""
    import yaml

    from simcontinuum.k8s.translate import load_manifests, scenario_document

    doc = scenario_document(args.dir, args.overlay)
    load_manifests(args.dir, args.overlay)  # every check of the scenario format
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    header = (
        f"# translated by simcontinuum from the manifests in {args.dir}"
        + (f" + {args.overlay}" if args.overlay else "")
        + "\n# taints, affinity, spreading, priorities and HPAs stay in the manifests: run "
        f"them with --k8s {args.dir}"
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(header + "\n" + text)
        print(f"wrote {args.out}")
    else:
        print(header)
        print(text, end="")
    _notes(args.dir)
    return EXIT_OK


def cmd_schedule(args: argparse.Namespace) -> int:
    """``simcontinuum k8s schedule DIR``: one placement, every decision printed."""
    import json

    from simcontinuum.k8s.inspect import initial_decisions

    decisions = initial_decisions(args.dir, args.overlay, policy=args.policy, seed=args.seed)
    if args.json:
        print(json.dumps(decisions, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for d in decisions:
        where = d["selected-node"] or "(unschedulable)"
        title = f"{d['app']}/{d['component']} pod {d['pod']} -> {where}"
        table = Table(title=title, header_style="bold")
        table.add_column("node")
        table.add_column("filter")
        plugins = sorted({p for s in d["finalscore-result"].values() for p in s})
        for p in plugins:
            table.add_column(p.replace("NodeResources", "NR"), justify="right")
        table.add_column("total", justify="right")
        for node, res in d["filter-result"].items():
            failed = [f"{k}: {v}" for k, v in res.items() if v != "passed"]
            row = [node, failed[0] if failed else "passed"]
            scores = d["finalscore-result"].get(node, {})
            for p in plugins:
                raw = d["score-result"].get(node, {}).get(p)
                row.append("" if p not in scores else f"{scores[p]} ({raw})")
            row.append(str(sum(scores.values())) if scores else "")
            table.add_row(*row)
        console.print(table)
        if d.get("message"):
            console.print(f"  {d['message']}")
        if d.get("postfilter-result"):
            console.print(f"  preemption: {json.dumps(d['postfilter-result'])}")
    return EXIT_OK


__all__ = ["cmd_schedule", "cmd_translate", "register"]
