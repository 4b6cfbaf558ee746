"""Turning results, rows and metadata into valid JSON — and nothing else.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which no strict JSON reader
(JavaScript's ``JSON.parse``, ``jq``, PostgreSQL's ``jsonb``) accepts. :func:`jsonable` makes
plain data that is always valid JSON, and :func:`dumps` refuses anything else:

- mappings become dicts with ``str`` keys, lists/tuples/sets become lists (sets sorted);
- numpy scalars and arrays are unwrapped (``.item()`` / ``.tolist()``);
- **NaN, +inf and -inf become** ``null`` (``None``): in every table of simcontinuum an
  undefined or unbounded number (a ratio to a zero reference, the p95 of no request) means
  "no value", which is what ``null`` says;
- pandas' ``NA`` and ``NaT`` become ``null`` too;
- paths become strings; ``str``, ``int``, ``bool`` and ``None`` stay as they are.

This module is in the lowest layer (standard library only; numpy is recognised without being
imported).

>>> jsonable({"a": float("nan"), "b": (1, float("inf")), 3: {"x"}})
{'a': None, 'b': [1, None], '3': ['x']}
>>> dumps({"score": float("-inf"), "ok": True})
'{"ok": true, "score": null}'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as plain data that :func:`json.dumps` writes as valid JSON (see the module
    docstring for the mapping; non-finite floats become ``None``)."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:  # mixed types: order by text, still deterministic
            return sorted(items, key=repr)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars, pandas arrays
    if callable(tolist) and not isinstance(value, bytes):
        return jsonable(tolist())
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, bytes):
        return jsonable(item())
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps(jsonable(value), sort_keys=True, allow_nan=False, **kwargs)``.

    Raises:
        TypeError: a value has no JSON form (an arbitrary object).
    """
    kwargs.setdefault("sort_keys", True)
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)


__all__ = ["dumps", "jsonable"]
