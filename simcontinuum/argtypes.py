"""Value parsers for command-line options (argparse ``type=``), shared by every command.

Each raises ``argparse.ArgumentTypeError`` with what was expected, so the CLI prints it and
exits 2.
"""

from __future__ import annotations

import argparse
import math

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


def seconds(text: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value
