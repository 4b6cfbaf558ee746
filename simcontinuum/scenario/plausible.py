"""Warnings for bare numbers that are legal but almost certainly not what the author meant.

A bare number is a base unit: ``latency: 25`` is 25 *seconds* and ``bandwidth: 100`` is 100
*bits* per second. Both load, and both make a run meaningless without a word. After a
document validates, :func:`implausible` walks it beside its pydantic models and warns where a
quantity was written without a unit and is implausible in its base unit:

- a link latency of 1 s or more (``latency: 25`` — did you mean ``25ms``?);
- any other duration over an hour (``startup: 5000``, ``duration: 7200`` with no unit);
- a bandwidth under 1 kbit/s (``bandwidth: 100`` — did you mean ``100Mbps``?).

A value with a unit (``"25s"``, ``"2h"``, ``"100bps"``) is taken at its word and never warned
about. Warnings never stop a run: they are :class:`ScenarioWarning` (a ``UserWarning``), which
``simcontinuum validate`` and ``run`` print as ``warning: FILE: PATH: ...``.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.functional_validators import PlainValidator

HOUR = 3600.0
LINK_LATENCY_LIMIT = 1.0  # s: even a geostationary hop is ~0.25 s one way
BANDWIDTH_FLOOR = 1000.0  # bit/s


class ScenarioWarning(UserWarning):
    """A scenario value that is valid but implausible (see :mod:`.plausible`)."""


def implausible(model: BaseModel, raw: Any, path: str = "") -> list[str]:
    """Every implausible bare quantity of ``raw`` (the document ``model`` validated from).

    >>> from simcontinuum.scenario.schema import LinkDoc
    >>> raw = {"a": "x", "b": "y", "latency": 25, "bandwidth": 100}
    >>> for w in implausible(LinkDoc.model_validate(raw), raw, "links[0]"):
    ...     print(w[:60])
    links[0].latency: 25 has no unit, so it is 25 s; write '25ms
    links[0].bandwidth: 100 has no unit, so it is 100 bit/s; wri
    """
    return list(_walk(model, raw, path))


def _walk(model: BaseModel, raw: Any, path: str) -> Iterator[str]:
    if not isinstance(raw, Mapping):
        return
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if key not in raw:
            continue
        value, where = raw[key], f"{path}.{key}" if path else key
        kind = _kind(field.annotation, field.metadata)
        if kind is not None:
            values = value if isinstance(value, list) else [value]
            for i, v in enumerate(values):
                at = f"{where}[{i}]" if isinstance(value, list) else where
                msg = _problem(kind, name, v)
                if msg:
                    yield f"{at}: {msg}"
            continue
        sub = getattr(model, name, None)
        if isinstance(sub, BaseModel):
            yield from _walk(sub, value, where)
        elif isinstance(sub, list | tuple) and isinstance(value, list):
            for i, (m, r) in enumerate(zip(sub, value, strict=False)):
                if isinstance(m, BaseModel):
                    yield from _walk(m, r, f"{where}[{i}]")


def _kind(annotation: Any, metadata: list[Any]) -> str | None:
    """``duration`` / ``bandwidth`` when the field (or the items of a list) is one."""
    for meta in metadata:
        found = _validator_kind(meta)
        if found:
            return found
    for meta in getattr(annotation, "__metadata__", ()):
        found = _validator_kind(meta)
        if found:
            return found
    for arg in typing.get_args(annotation):
        found = _kind(arg, [])
        if found:
            return found
    return None


def _validator_kind(meta: Any) -> str | None:
    if not isinstance(meta, PlainValidator):
        return None
    fn = getattr(meta.func, "__name__", "")
    if fn in ("parse_duration", "_positive_duration"):
        return "duration"
    if fn == "parse_bandwidth":
        return "bandwidth"
    return None


def _problem(kind: str, name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # a string carries its unit (or is an error reported elsewhere)
    v = float(value)
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    if kind == "bandwidth" and 0 < v < BANDWIDTH_FLOOR:
        return (
            f"{shown} has no unit, so it is {shown} bit/s; write '{shown}Mbps' if you meant "
            f"megabits, or '{shown}bps' to keep it"
        )
    if kind == "duration":
        latency = name == "latency"
        if (latency and v >= LINK_LATENCY_LIMIT) or v > HOUR:
            return (
                f"{shown} has no unit, so it is {shown} s"
                + (f" ({v / HOUR:.3g} h)" if v > HOUR else "")
                + f"; write '{shown}ms' if you meant milliseconds, or '{shown}s' to keep it"
            )
    return None


__all__ = ["ScenarioWarning", "implausible"]
