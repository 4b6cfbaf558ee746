"""What every command line shares: value parsers (argparse ``type=``), the subcommand
builder :func:`add_command` and the common options :func:`add_common`.

Each value parser raises ``argparse.ArgumentTypeError`` with what was expected, so the CLI
prints it and exits 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

SEED_LIMIT = 2**63  # numpy's SeedSequence takes any non-negative int; keep seeds to 63 bits


def _whole(text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _whole(text, 1, None, "expected a whole number >= 1")


def natural_int(text: str) -> int:
    """A whole number >= 0."""
    return _whole(text, 0, None, "expected a whole number >= 0")


def seed(text: str) -> int:
    """A seed: a whole number from 0 to 2**63 - 1."""
    return _whole(text, 0, SEED_LIMIT - 1, "a seed is a whole number from 0 to 2**63 - 1")


_seed_type = seed  # add_common's ``seed`` argument is help text


def seconds(text: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


class Seeds:
    """What ``--seeds`` means in every command: ``N`` (N seeds, from ``--first-seed`` on,
    default 0) or ``A..B`` (the seeds A to B, both included).

    >>> seed_set("3").resolve()
    [0, 1, 2]
    >>> seed_set("3").resolve(first_seed=10)
    [10, 11, 12]
    >>> seed_set("5..7").resolve()
    [5, 6, 7]
    """

    def __init__(self, count: int | None = None, first: int = 0, last: int | None = None):
        self.count = count
        self.first = first
        self.last = last

    def resolve(self, first_seed: int | None = None) -> list[int]:
        """The seeds, in order; ``first_seed`` shifts a count (``N``), not a range."""
        if self.count is not None:
            start = first_seed or 0
            return list(range(start, start + self.count))
        assert self.last is not None
        return list(range(self.first, self.last + 1))

    def __repr__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.first}..{self.last}"


def seed_set(text: str) -> Seeds:
    """``--seeds``: ``N`` (a count >= 1) or ``A..B`` (an inclusive range of seeds)."""
    hint = "--seeds is N (how many seeds, e.g. 5) or A..B (seeds A to B inclusive, e.g. 0..4)"
    text = str(text).strip()
    if ".." in text:
        lo, _, hi = text.partition("..")
        try:
            a, b = int(lo), int(hi)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{hint}; got {text!r}") from None
        if a < 0 or b >= SEED_LIMIT:
            raise argparse.ArgumentTypeError(f"seeds are whole numbers >= 0; got {text!r}")
        if b < a:
            raise argparse.ArgumentTypeError(f"seed range {text!r} runs backwards; write {b}..{a}")
        return Seeds(first=a, last=b)
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{hint}; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{hint}; got {text!r} (N must be >= 1)")
    return Seeds(count=n)


# ----------------------------------------------------------------------------- subcommands


def add_command(
    subparsers: Any,
    name: str,
    *,
    help: str,
    description: str,
    epilog: str,
    handler: Callable[[argparse.Namespace], int] | None = None,
) -> argparse.ArgumentParser:
    """A subcommand parser as every simcontinuum command has one: ``help`` for the command
    list, ``description`` on top of ``--help``, ``epilog`` below it kept as written (it must
    hold an ``examples:`` section of real commands, which the tests parse), and ``handler``
    as ``args.handler``.

    Raises:
        ValueError: the epilog has no ``examples:`` (a programming error, found by the tests).
    """
    if "examples:" not in epilog:
        raise ValueError(f"command {name!r}: its --help epilog needs an 'examples:' section")
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def add_common(
    parser: argparse.ArgumentParser,
    *,
    seeds: str | None = None,
    seed: str | None = None,
    out: str | None = None,
    out_metavar: str = "DIR",
    out_required: bool = False,
    force: str | None = None,
    json: str | None = None,
    quiet: str | None = None,
) -> None:
    """Add the options many commands share, with the same flags and value checks everywhere;
    each argument is the option's help text (``None``: the command has no such option).

    ``--seeds N|A..B`` with ``--first-seed`` (``seeds`` is the default, e.g. ``"10"`` or
    ``"0..9"``: see :func:`seed_set`), ``--seed/-s`` (a seed, see :func:`seed`; default
    ``None``), ``--out/-o`` (``out_metavar``, required when ``out_required``), ``--force``,
    ``--json`` and ``--quiet/-q`` (flags).
    """
    if seeds is not None:
        parser.add_argument(
            "--seeds",
            type=seed_set,
            default=seed_set(seeds),
            metavar="N|A..B",
            help=f"N seeds from --first-seed, or the seeds A..B inclusive (default: {seeds})",
        )
        parser.add_argument(
            "--first-seed", type=_seed_type, default=0, help="first seed of N (default: 0)"
        )
    if seed is not None:
        parser.add_argument("--seed", "-s", type=_seed_type, help=seed)
    if out is not None:
        parser.add_argument("--out", "-o", metavar=out_metavar, required=out_required, help=out)
    if force is not None:
        parser.add_argument("--force", action="store_true", help=force)
    if json is not None:
        parser.add_argument("--json", action="store_true", help=json)
    if quiet is not None:
        parser.add_argument("--quiet", "-q", action="store_true", help=quiet)
