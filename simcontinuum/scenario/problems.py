"""Problems: how the loader words what is wrong with a scenario.

A problem is one line ``path: message``, where ``path`` locates the value in the document
(``applications[0].components[1].cpu``) and ``message`` says what was expected, what came and,
when we can guess it, the fix (``unknown key; did you mean 'components'?``). This module turns
pydantic's validation errors into such lines; it never raises on odd input.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from simcontinuum.scenario.units import describe

MAX_KEY_SHOWN = 40
MAX_CANDIDATES = 1000


def path_of(loc: Iterable[object]) -> str:
    """A document path from a location tuple.

    >>> path_of(("applications", 0, "components", 1, "cpu"))
    'applications[0].components[1].cpu'
    """
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            text = str(part)
            if len(text) > MAX_KEY_SHOWN:
                text = text[: MAX_KEY_SHOWN - 1] + "…"
            out += f".{text}" if out else text
    return out or "(top level)"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest option, or ``""`` when none is close.

    >>> did_you_mean("componets", ["id", "components", "calls"])
    "; did you mean 'components'?"
    """
    pool = list(options)
    if len(pool) > MAX_CANDIDATES:  # keep it fast on 100k expanded node ids
        pool = [o for o in pool if o[:2] == word[:2]][:MAX_CANDIDATES]
    close = get_close_matches(word, pool, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # an abbreviation: p95 -> p95_latency
        close = [o for o in pool if o.startswith(word)][:1]
    return f"; did you mean '{close[0]}'?" if close else ""


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the one type that matters."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return None
            tp = rest[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in the file (aliases)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def model_at(root: type[BaseModel], loc: Sequence[object]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` under ``root``, if any."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int) and get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif isinstance(part, str) and _is_model(tp):
            fields = {f.alias or name: f for name, f in tp.model_fields.items()}
            if part not in fields:
                return None
            tp = fields[part].annotation
        else:
            return None
    tp = _unwrap(tp)
    return tp if _is_model(tp) else None


_EXPECTED = {
    "model_type": "expected a mapping of keys (key: value)",
    "model_attributes_type": "expected a mapping of keys (key: value)",
    "dict_type": "expected a mapping of keys (key: value)",
    "list_type": "expected a list (- item, or [a, b])",
    "tuple_type": "expected a list (- item, or [a, b])",
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}


def _message(error: Any, root: type[BaseModel]) -> str:
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        parent = model_at(root, loc[:-1])
        if parent is None:
            return "unknown key"
        keys = model_keys(parent)
        hint = did_you_mean(key, keys)
        return "unknown key" + (hint or f"; expected one of: {', '.join(keys)}")
    if kind == "value_error":
        cause = (error.get("ctx") or {}).get("error")
        if cause is not None:
            return str(cause)
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {describe(error.get('input'))}"
    return str(error.get("msg", "invalid value"))


def validation_problems(err: ValidationError, root: type[BaseModel]) -> list[str]:
    """Every pydantic error as a ``path: message`` line, in document order, deduplicated."""
    out: list[str] = []
    for error in err.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "invalid_key" and loc:
            line = f"{path_of(loc[:-1])}: key {describe(loc[-1])} is not text; keys are names"
        else:
            line = f"{path_of(loc)}: {_message(error, root)}"
        if line not in out:
            out.append(line)
    return out


__all__ = ["did_you_mean", "model_at", "model_keys", "path_of", "validation_problems"]
