"""``mlsysops.utilities`` for policy files run in simcontinuum: the public names of 0.1.12.

0.1.12 has ``evaluate_condition``, ``cmp_fields``, ``node_matches_requirements`` (and the
``logger`` and ``operator`` it imports); nothing else. ``node_matches_requirements`` is
reimplemented from the framework's rule (see :mod:`simcontinuum.mlsysops.requirements`).
A name 0.1.12 lacks (``parse_analyze_interval`` …) raises ``ImportError`` here as there.
"""

from __future__ import annotations

import operator
from typing import Any

from simcontinuum.mlsysops.requirements import node_matches_requirements
from simcontinuum.mlsysops.shim.mlsysops.logger_util import logger

_RELATIONS = ("lower_or_equal", "greater_or_equal", "equal", "lower_than", "greater_than")


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
    raise ValueError(f"Invalid operator: {operator}")


def cmp_fields(comp_field: Any, node_field: Any, op: Any, resource: Any) -> bool:
    """False (and an error log) when the component asks for ``comp_field`` and the node has
    no ``node_field`` or ``op(comp_field, node_field)`` holds; else True.

    >>> cmp_fields(4, 2, operator.gt, "cpu"), cmp_fields(None, 2, operator.gt, "cpu")
    (False, True)
    """
    if comp_field and (not node_field or op(comp_field, node_field)):
        logger.error(
            f"{resource}: Node field {node_field} does not match comp requirement: {comp_field}"
        )
        return False
    return True


__all__ = ["cmp_fields", "evaluate_condition", "logger", "node_matches_requirements", "operator"]
