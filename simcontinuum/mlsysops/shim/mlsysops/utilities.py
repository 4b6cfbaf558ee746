"""``from mlsysops.utilities import evaluate_condition`` for policy files run in simcontinuum.

Also offers ``node_matches_requirements`` and ``parse_analyze_interval``, reimplemented from
the framework's documented rules (see :mod:`simcontinuum.mlsysops.requirements`).
"""

from __future__ import annotations

from typing import Any

from simcontinuum.mlsysops.requirements import node_matches_requirements, parse_interval

RELATIONS = ("lower_or_equal", "greater_or_equal", "equal", "lower_than", "greater_than")


def evaluate_condition(a: Any, b: Any, operator: str) -> bool:
    """``a <operator> b`` for the relations of ``qos_metrics``.

    >>> evaluate_condition(50, 42, "lower_or_equal")   # (target, measured): True = violated
    False
    >>> evaluate_condition(1, 2, "lower_than")
    True
    """
    if operator == "lower_or_equal":
        return bool(a <= b)
    if operator == "greater_or_equal":
        return bool(a >= b)
    if operator == "equal":
        return bool(a == b)
    if operator == "lower_than":
        return bool(a < b)
    if operator == "greater_than":
        return bool(a > b)
    raise ValueError(f"Invalid operator: {operator!r}; expected one of {', '.join(RELATIONS)}")


def parse_analyze_interval(interval: str) -> int:
    """Seconds of an interval like ``"5s"``, ``"2m"``, ``"1h"``, ``"1d"``; ValueError if not."""
    seconds = parse_interval(interval)
    if seconds is None:
        raise ValueError(f"Invalid analyze interval format: {interval!r}")
    return seconds


__all__ = [
    "RELATIONS",
    "evaluate_condition",
    "node_matches_requirements",
    "parse_analyze_interval",
]
