"""Writing a scenario document as compact, deterministic YAML.

Leaf items (a node, a node group, a link, a component, a workload line) are written as one
flow mapping per line, so a 10,000-node file stays a few hundred kilobytes and diffs well.
The text is a pure function of the document: same document, same bytes. Strings are written
plain when YAML reads them back as the same string (ids, unit quantities like ``20ms``), else
double-quoted; floats are written with ``repr`` (shortest round-trip form).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*|\d+(?:\.\d+)?[A-Za-z]+(?:/[A-Za-z]+)?")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value: Any) -> str:
    """One YAML scalar.

    >>> scalar("edge-0"), scalar("20ms"), scalar("on"), scalar(1e-05), scalar(None)
    ('edge-0', '20ms', '"on"', '1.0e-05', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write a non-finite number {value!r}")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:  # YAML 1.1 reads 1e-05 as text, 1.0e-05 as a float
            text = f"{mantissa}.0e{exponent}"
        return text
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value on one line: ``{a: 1, b: [x, y]}``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _needs_block(value: Any) -> bool:
    """A mapping that holds lists of mappings (clusters, applications) is written as a block."""
    if isinstance(value, Mapping):
        return any(_is_record_list(v) or _needs_block(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_block(v) for v in value)
    return False


def _block(mapping: Mapping[str, Any], indent: int, lines: list[str], first: str = "") -> None:
    pad = " " * indent
    for i, (key, value) in enumerate(mapping.items()):
        lead = first if i == 0 and first else pad
        if _is_record_list(value):
            lines.append(f"{lead}{scalar(key)}:")
            for item in value:
                if _needs_block(item):
                    _block(item, indent + 4, lines, first=pad + "  - ")
                else:
                    lines.append(f"{pad}  - {flow(item)}")
        elif isinstance(value, Mapping) and _needs_block(value):
            lines.append(f"{lead}{scalar(key)}:")
            _block(value, indent + 2, lines)
        else:
            lines.append(f"{lead}{scalar(key)}: {flow(value)}")


def to_yaml(doc: Mapping[str, Any], header: str = "") -> str:
    """The document as YAML text; ``header`` lines become ``#`` comments at the top.

    Top-level sections are separated by a blank line.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in doc.items():
        if isinstance(value, Mapping | list) and (_is_record_list(value) or _needs_block(value)):
            if lines and lines[-1]:
                lines.append("")
            _block({key: value}, 0, lines)
        else:
            lines.append(f"{scalar(key)}: {flow(value)}")
    return "\n".join(lines) + "\n"


__all__ = ["flow", "scalar", "to_yaml"]
