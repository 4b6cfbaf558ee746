"""``simcontinuum generate``: scenario files (or a public/hidden family) from a template.

Cheap to import: the generator loads inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simcontinuum.argtypes import add_command, add_common

EPILOG = """\
templates: smart-city, industrial-iot, video-analytics, random

examples:
  simcontinuum generate --template smart-city --nodes 60 --apps 3 --seed 1 -o city.yaml
  simcontinuum generate --template random --nodes 10000 --apps 20 --seed 7 -o big.yaml
  simcontinuum generate --template industrial-iot --nodes 200 --apps 4 --seed 2 \\
      --set load=0.5 --set 'slo=[5ms, 20ms]' --set mtbf.edge=30min -o factory.yaml
  simcontinuum generate --template video-analytics --set gpu_share.edge=0.8 -o video.yaml
  simcontinuum generate --list-params --template smart-city   # every parameter and default
  simcontinuum generate --family examples/family.yaml -o challenge/   # public + hidden sets

--set NAME=VALUE takes a YAML value; a dotted name sets one key of a mapping parameter
(cores.edge=[8,32], tier_mix.cloud=0.05, weights.cost=2). The same arguments always write
the same bytes. Every generated file is checked: it loads, and first-fit can place every
application at time zero (else the generator draws again, then names what failed).

The load is set per component: with load=U each component's peak demand fits on one typical
node it may use at utilisation min(0.8, U x peak factor); devices send at most device_rate
(device_rate.camera=10 for 10 fps cameras); cpu requests follow demand; SLOs are raised to
what a latency-aware placement meets. A sensible policy copes; a naive one pays in latency.
"""


def register(subparsers: Any) -> None:
    """Add ``generate`` to the CLI."""
    p = add_command(
        subparsers,
        "generate",
        help="generate scenario files (or a public/hidden family) from a template",
        description="Generate a feasible scenario from a template, or a family of public and "
        "hidden scenarios from a config file.",
        epilog=EPILOG,
    )
    p.add_argument("--template", "-t", metavar="NAME", help="template (see below)")
    p.add_argument("--nodes", "-n", type=int, default=50, help="total nodes (default: 50)")
    p.add_argument("--apps", "-a", type=int, default=3, help="applications (default: 3)")
    add_common(p, seed="the only randomness (default: 0)")
    p.set_defaults(seed=0)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (repeatable; see --list-params)",
    )
    p.add_argument("--name", help="the scenario's name (default: from template and sizes)")
    p.add_argument(
        "--family", metavar="CONFIG", help="write a public and a hidden set from a family config"
    )
    add_common(
        p,
        out="output file ('-': stdout), or folder with --family",
        out_metavar="PATH",
        force="replace a non-empty --family folder",
    )
    p.add_argument(
        "--list-params", action="store_true", help="list the parameters and their defaults"
    )
    p.set_defaults(handler=cmd_generate)


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def cmd_generate(args: argparse.Namespace) -> int:
    """``simcontinuum generate ...``"""
    from simcontinuum.generate.params import GenerateError

    try:
        if args.list_params:
            return _list_params(args.template)
        if args.family:
            return _family(args)
        return _single(args)
    except GenerateError as exc:
        _err("error: " + "\n".join(exc.problems))
        return 2


def _single(args: argparse.Namespace) -> int:
    from simcontinuum.generate.build import generate
    from simcontinuum.generate.params import GenerateError, parse_assignment

    if not args.template:
        raise GenerateError("give --template NAME (or --family CONFIG, or --list-params)")
    if not args.out:
        raise GenerateError("give -o FILE (or -o - for stdout)")
    overrides = dict(parse_assignment(s) for s in args.sets)
    g = generate(args.template, args.nodes, args.apps, args.seed, overrides, name=args.name)
    if args.out == "-":
        sys.stdout.write(g.text)
    else:
        g.write(args.out)
        tries = f", {g.attempts} draws" if g.attempts > 1 else ""
        _err(
            f"wrote {args.out}: {g.template}, {g.nodes} nodes, {g.apps} applications, "
            f"seed {g.seed}{tries}"
        )
    return 0


def _family(args: argparse.Namespace) -> int:
    from simcontinuum.generate.family import generate_family, read_config
    from simcontinuum.generate.params import GenerateError

    if not args.out or args.out == "-":
        raise GenerateError("give -o DIR for the family's folder")
    manifest = generate_family(read_config(args.family), args.out, force=args.force)
    _err(
        f"wrote {len(manifest['public'])} public and {len(manifest['hidden'])} hidden "
        f"scenarios and manifest.json to {args.out}/"
    )
    return 0


def _list_params(template_name: str | None) -> int:
    from rich.console import Console
    from rich.table import Table

    from simcontinuum.generate.build import template
    from simcontinuum.generate.emit import flow
    from simcontinuum.generate.params import PARAMS, plain
    from simcontinuum.generate.templates import TEMPLATES

    console = Console(highlight=False)
    tpl = template(template_name) if template_name else None
    templates = Table(title="Templates (--template NAME)")
    templates.add_column("name", style="bold")
    templates.add_column("what it makes")
    for t in TEMPLATES.values():
        templates.add_row(t.name, t.description)
    console.print(templates)
    title = f"Parameters (--set NAME=VALUE); defaults of {tpl.name}" if tpl else "Parameters"
    table = Table(title=title)
    table.add_column("name", style="bold")
    table.add_column("default")
    table.add_column("meaning")
    for p in PARAMS:
        default = p.default
        if tpl and p.name in tpl.defaults:
            over = tpl.defaults[p.name]
            default = {**default, **over} if isinstance(default, dict) else over
        table.add_row(p.name, flow(plain(default)), p.help)
    console.print(table)
    if not tpl:
        console.print("templates change some defaults: add --template NAME to see them")
    return 0


__all__ = ["cmd_generate", "register"]
