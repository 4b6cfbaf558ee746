"""``simcontinuum mlsysops ...``: check policy files, show the scenario of descriptions.

- ``simcontinuum mlsysops check policy-x.py [...]`` prints every finding of the static check
  (:mod:`simcontinuum.mlsysops.check`); exit 2 when a file has an error;
- ``simcontinuum mlsysops translate DIR [--overlay FILE]`` prints (or writes with ``--out``)
  the scenario YAML that DIR's MLSysOps descriptions and the overlay become; exit 2 when they
  are invalid.

Imports here are cheap; the work is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simcontinuum.argtypes import add_command, add_common

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    """Add the ``mlsysops`` command and its subcommands."""
    p = add_command(
        subparsers,
        "mlsysops",
        help="MLSysOps compatibility: check policy files, translate descriptions",
        description="Work with MLSysOps policy files and description YAML files.",
        epilog="examples:\n"
        "  simcontinuum mlsysops check scenarios/mlsysops-hackathon/policy-latencyMover.py\n"
        "  simcontinuum mlsysops translate scenarios/mlsysops-hackathon/descriptions "
        "--overlay scenarios/mlsysops-hackathon/overlay.yaml\n",
    )
    p.set_defaults(handler=lambda args: _usage(p))
    sub = p.add_subparsers(dest="mlsysops_command", metavar="SUBCOMMAND", parser_class=type(p))
    c = add_command(
        sub,
        "check",
        help="check policy-<name>.py files the way the agent's loader reads them",
        description="Statically check MLSysOps policy files: name, functions, initialContext "
        "(packages, scope, analyze_interval), imports. Prints every finding; exits 2 on errors.",
        epilog="examples:\n"
        "  simcontinuum mlsysops check scenarios/mlsysops-hackathon/policy-latencyMover.py\n"
        "  simcontinuum mlsysops check my-policies/policy-*.py\n"
        "  simcontinuum mlsysops check --install-packages team/policy-group1.py\n",
    )
    c.add_argument("files", nargs="+", metavar="FILE", help="policy-<name>.py files")
    c.add_argument(
        "--install-packages",
        action="store_true",
        help="pip-install the packages the files list in initialContext['packages'] (as the "
        "agent does) into this environment",
    )
    c.set_defaults(handler=cmd_check)
    t = add_command(
        sub,
        "translate",
        help="print the scenario that MLSysOps descriptions (+ an overlay) become",
        description="Translate a directory of MLSysOps description YAML files, with an overlay "
        "for what they lack, into a scenario file; exits 2 when they are invalid.",
        epilog="examples:\n"
        "  simcontinuum mlsysops translate scenarios/mlsysops-hackathon/descriptions \\\n"
        "      --overlay scenarios/mlsysops-hackathon/overlay.yaml -o hackathon-as-scenario.yaml\n",
    )
    t.add_argument("dir", metavar="DIR", help="directory of MLSysOps description files")
    t.add_argument("--overlay", metavar="FILE", help="overlay YAML in the scenario format")
    add_common(t, out="write the scenario here (default: stdout)", out_metavar="FILE")
    t.set_defaults(handler=cmd_translate)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


def cmd_check(args: argparse.Namespace) -> int:
    """``simcontinuum mlsysops check FILE...``"""
    from simcontinuum.mlsysops.check import check_policy_file, format_findings

    worst = EXIT_OK
    for f in args.files:
        if args.install_packages:
            from pathlib import Path

            from simcontinuum.errors import PolicyError
            from simcontinuum.mlsysops.packages import require_packages, static_packages

            try:
                left = require_packages(Path(f), install=True)
            except PolicyError as exc:
                print(f"{f}: error: {exc}")
                worst = EXIT_BAD_INPUT
                continue
            wanted = static_packages(f)
            if wanted:
                print(
                    f"{f}: packages {wanted} installed"
                    if not left
                    else f"{f}: still missing {left}"
                )
        findings = check_policy_file(f)
        for line in format_findings(f, findings):
            print(line)
        if any(x.level == "error" for x in findings):
            worst = EXIT_BAD_INPUT
    return worst


def cmd_translate(args: argparse.Namespace) -> int:
    """``simcontinuum mlsysops translate DIR [--overlay FILE] [--out FILE]``"""
    import yaml

    from simcontinuum.mlsysops.translate import load_descriptions, scenario_document

    doc = scenario_document(args.dir, args.overlay)
    load_descriptions(args.dir, args.overlay)  # every check of the scenario format
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    header = f"# translated by simcontinuum from {args.dir}" + (
        f" + {args.overlay}" if args.overlay else ""
    )
    if args.out:
        from simcontinuum.io import atomic_write

        atomic_write(args.out, header + "\n" + text)
        print(f"wrote {args.out}")
    else:
        print(header)
        print(text, end="")
    return EXIT_OK


__all__ = ["cmd_check", "cmd_translate", "register"]
