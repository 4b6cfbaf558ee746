"""Recognising MLSysOps policy specs (cheap: the policy registry asks for every spec).

>>> is_policy_spec("mlsysops:policies/"), is_policy_spec("p/policy-x.py")
(True, True)
>>> is_policy_spec("p/policy-x.py:MyClass"), is_policy_spec("first-fit")
(False, False)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PREFIX = "mlsysops:"


def is_policy_spec(text: str) -> bool:
    """Whether a policy spec names MLSysOps policy files: ``mlsysops:...``, or a
    ``policy-*.py`` path (with optional ``?options``) without ``:Class``."""
    if text.startswith(PREFIX):
        return True
    base = text.split("?", 1)[0]
    return base.endswith(".py") and Path(base).name.startswith("policy-") and ":" not in base


def as_list(value: object) -> list[Any]:
    """A YAML field that may be absent, one value, or a list, as a list."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


__all__ = ["PREFIX", "as_list", "is_policy_spec"]
