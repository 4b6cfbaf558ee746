"""Unit strings of the scenario file, parsed into base units.

A scenario writes quantities the way people and Kubernetes write them (``20ms``, ``800MB``,
``512Mi``, ``1Gbps``, ``250m``, ``30/s``); the simulator works in base units only: seconds,
bytes, bits per second, cores and events per second.

Invariants of every parser here:
- a bare number (``5`` or ``"5"``) is already in the base unit;
- the result is a finite, non-negative ``float`` no larger than the parser's limit;
- anything else (negative, NaN, infinite, huge, booleans, lists, unknown units) raises
  ``ValueError`` whose message says what was expected and what came, e.g.
  ``expected a duration like 20ms or 1.5s, got '-2'``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"\s*({_NUMBER})\s*([^\s\d.+-][^\s]*)?\s*")
_DURATION_PART = re.compile(rf"({_NUMBER})\s*([a-zA-Zµ]+)")

_DURATION_UNITS: Mapping[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

_DECIMAL = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def _size_units() -> dict[str, float]:
    units: dict[str, float] = {"B": 1.0}
    for prefix, factor in _DECIMAL.items():
        units[prefix] = factor  # Kubernetes: 1G
        units[prefix + "B"] = factor  # 800MB
        units[prefix.lower() + "b"] = factor  # 800mb
    units["kB"] = 1e3
    for prefix, factor in _BINARY.items():
        units[prefix] = float(factor)  # Kubernetes: 512Mi
        units[prefix + "B"] = float(factor)  # 512MiB
    return units


def _bandwidth_units() -> dict[str, float]:
    units: dict[str, float] = {"bps": 1.0, "b/s": 1.0, "B/s": 8.0, "Bps": 8.0}
    for prefix, factor in _DECIMAL.items():
        for p in {prefix, prefix.lower()}:
            units[p + "bps"] = factor  # 100Mbps, 1gbps
            units[p + "bit/s"] = factor
            units[p + "b/s"] = factor
            units[p + "B/s"] = factor * 8  # bytes per second
            units[p + "Bps"] = factor * 8
    return units


_SIZE_UNITS: Mapping[str, float] = MappingProxyType(_size_units())
_BANDWIDTH_UNITS: Mapping[str, float] = MappingProxyType(_bandwidth_units())

_RATE_UNITS: Mapping[str, float] = {
    "/ms": 1e3,
    "/s": 1.0,
    "/sec": 1.0,
    "hz": 1.0,
    "/m": 1 / 60,
    "/min": 1 / 60,
    "/h": 1 / 3600,
    "/hr": 1 / 3600,
    "/d": 1 / 86400,
    "/day": 1 / 86400,
}

MAX_DURATION = 1e9  # seconds, about 31 years
MAX_SIZE = 1e18  # bytes, one exabyte
MAX_BANDWIDTH = 1e15  # bits per second
MAX_CPU = 1e6  # cores
MAX_RATE = 1e9  # per second
MAX_NUMBER = 1e15  # any other plain number (prices, watts, speeds)


def describe(value: object, limit: int = 40) -> str:
    """How a value is shown in an error message: quoted and shortened.

    >>> describe("-2"), describe(-2), describe(None), describe([1, 2])
    ("'-2'", "'-2'", 'nothing (null)', 'a list')
    """
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return f"'{text}'"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _short(x: float) -> str:
    """``1e+09`` written as ``1e9``."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e")


def _check_range(x: float, expected: str, value: object, limit: float) -> float:
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{expected}, got {describe(value)} (not a finite number)")
    if x < 0:
        raise ValueError(f"{expected}, got {describe(value)}")
    if x > limit:
        raise ValueError(
            f"{expected}, got {describe(value)} (more than the limit of {_short(limit)})"
        )
    return x


def _number_or_text(value: object, expected: str) -> float | str:
    """A plain number, or the stripped text to parse; anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{expected}, got {describe(value)}")
    if isinstance(value, int) and abs(value) > 10**300:
        raise ValueError(f"{expected}, got {describe(value)} (not a finite number)")
    if isinstance(value, int | float):
        return float(value)
    return value.strip()


def _quantity(
    value: object,
    units: Mapping[str, float],
    expected: str,
    limit: float,
    *,
    fold_case: bool = False,
) -> float:
    """Parse ``<number><unit>`` (or a bare number) with a unit table into base units."""
    parsed = _number_or_text(value, expected)
    if isinstance(parsed, float):
        return _check_range(parsed, expected, value, limit)
    match = _QUANTITY.fullmatch(parsed)
    if not match:
        special = parsed.lower().lstrip("+-")
        if special in {"nan", "inf", "infinity", ".nan", ".inf"}:
            raise ValueError(f"{expected}, got {describe(value)} (not a finite number)")
        raise ValueError(f"{expected}, got {describe(value)}")
    number, unit = float(match.group(1)), match.group(2)
    factor = 1.0
    if unit is not None:
        key = unit.lower() if fold_case else unit
        if key not in units:
            raise ValueError(f"{expected}, got {describe(value)} (unknown unit '{unit}')")
        factor = units[key]
    _check_range(number, expected, value, limit)
    return _check_range(number * factor, expected, value, limit)


def parse_duration(value: object) -> float:
    """A duration in seconds: ``20ms``, ``5s``, ``2m``/``2min``, ``1h``, ``1d``, ``500us``.

    Parts may be chained (``1h30m``); a bare number is seconds.

    >>> parse_duration("20ms"), parse_duration("2min"), parse_duration("1h30m"), parse_duration(3)
    (0.02, 120.0, 5400.0, 3.0)
    >>> parse_duration("-2")
    Traceback (most recent call last):
    ValueError: expected a duration like 20ms or 1.5s, got '-2'
    """
    expected = "expected a duration like 20ms or 1.5s"
    parsed = _number_or_text(value, expected)
    if isinstance(parsed, str):
        parts = _DURATION_PART.findall(parsed)
        if len(parts) > 1 and "".join(n + u for n, u in parts) == parsed.replace(" ", ""):
            return _compound_duration(parts, expected, value)
    return _quantity(value, _DURATION_UNITS, expected, MAX_DURATION, fold_case=True)


def _compound_duration(parts: list[tuple[str, str]], expected: str, value: object) -> float:
    """Sum ``1h30m``-style parts; each part must be non-negative with a known unit."""
    total = 0.0
    for number, unit in parts:
        if unit.lower() not in _DURATION_UNITS:
            raise ValueError(f"{expected}, got {describe(value)} (unknown unit '{unit}')")
        total += (
            _check_range(float(number), expected, value, MAX_DURATION)
            * (_DURATION_UNITS[unit.lower()])
        )
    return _check_range(total, expected, value, MAX_DURATION)


def parse_size(value: object) -> float:
    """A size in bytes: ``800MB`` (10^6), ``1KB``, ``1GB``, ``512Mi``/``512MiB`` (2^20), ``B``.

    >>> parse_size("800MB"), parse_size("512Mi"), parse_size("1KiB"), parse_size(10)
    (800000000.0, 536870912.0, 1024.0, 10.0)
    >>> parse_size("1 parsec")
    Traceback (most recent call last):
    ValueError: expected a size like 500KB or 512Mi, got '1 parsec' (unknown unit 'parsec')
    """
    return _quantity(value, _SIZE_UNITS, "expected a size like 500KB or 512Mi", MAX_SIZE)


def parse_memory(value: object) -> float:
    """Memory in bytes, as a Kubernetes quantity (``512Mi``, ``16Gi``, ``1G``) or a size.

    Kubernetes' lower-case ``m`` means milli; for memory it is almost always a typo for ``M``,
    so it is refused with that hint.

    >>> parse_memory("16Gi"), parse_memory("1G"), parse_memory("128Gi") / 2**30
    (17179869184.0, 1000000000.0, 128.0)
    >>> parse_memory("512m")
    Traceback (most recent call last):
    ValueError: expected memory like 512Mi or 16Gi, got '512m' ('m' means milli; did you mean 'M'?)
    """
    expected = "expected memory like 512Mi or 16Gi"
    if isinstance(value, str) and value.strip().endswith("m") and value.strip()[:-1].strip():
        raise ValueError(f"{expected}, got {describe(value)} ('m' means milli; did you mean 'M'?)")
    return _quantity(value, _SIZE_UNITS, expected, MAX_SIZE)


def parse_bandwidth(value: object) -> float:
    """A bandwidth in bits per second: ``1Gbps``, ``100Mbps``, ``10kbps``, ``bps``, ``1GB/s``.

    Zero is refused: a link that carries nothing is no link.

    >>> parse_bandwidth("1Gbps"), parse_bandwidth("10kbps"), parse_bandwidth("1MB/s")
    (1000000000.0, 10000.0, 8000000.0)
    >>> parse_bandwidth("0")
    Traceback (most recent call last):
    ValueError: expected a positive bandwidth like 100Mbps or 1Gbps, got '0'
    """
    expected = "expected a positive bandwidth like 100Mbps or 1Gbps"
    bits = _quantity(value, _BANDWIDTH_UNITS, expected, MAX_BANDWIDTH)
    if bits <= 0:
        raise ValueError(f"{expected}, got {describe(value)}")
    return bits


def parse_cpu(value: object) -> float:
    """A cpu quantity in cores, Kubernetes style: ``250m`` (millicores), ``0.5``, ``2``.

    >>> parse_cpu("250m"), parse_cpu("0.5"), parse_cpu(2)
    (0.25, 0.5, 2.0)
    >>> parse_cpu(-2)
    Traceback (most recent call last):
    ValueError: expected a positive quantity like 250m or 0.5, got '-2'
    """
    units = {"m": 1e-3}
    return _quantity(value, units, "expected a positive quantity like 250m or 0.5", MAX_CPU)


def parse_rate(value: object) -> float:
    """A rate per second: ``30/s``, ``100/min``, ``5/h``, ``30Hz``; a bare number is per second.

    >>> parse_rate("30/s"), parse_rate("120/min"), parse_rate(7), parse_rate("30Hz")
    (30.0, 2.0, 7.0, 30.0)
    """
    expected = "expected a rate like 30/s or 100/min"
    if isinstance(value, str):
        value = re.sub(r"\s*/\s*", "/", value.strip())
    return _quantity(value, _RATE_UNITS, expected, MAX_RATE, fold_case=True)


def parse_number(
    value: object,
    what: str = "a non-negative number",
    *,
    minimum: float = 0.0,
    maximum: float = MAX_NUMBER,
    exclusive_minimum: bool = False,
) -> float:
    """A plain finite number within ``[minimum, maximum]`` (``(minimum, …]`` if exclusive).

    >>> parse_number("1.5"), parse_number(0.2, "a fraction", maximum=1.0)
    (1.5, 0.2)
    >>> parse_number(float("nan"), "a price")
    Traceback (most recent call last):
    ValueError: expected a price, got 'nan' (not a finite number)
    """
    expected = f"expected {what}"
    parsed = _number_or_text(value, expected)
    if isinstance(parsed, str):
        if not re.fullmatch(_NUMBER, parsed):
            special = parsed.lower().lstrip("+-")
            if special in {"nan", "inf", "infinity", ".nan", ".inf"}:
                raise ValueError(f"{expected}, got {describe(value)} (not a finite number)")
            raise ValueError(f"{expected}, got {describe(value)}")
        parsed = float(parsed)
    if math.isnan(parsed) or math.isinf(parsed):
        raise ValueError(f"{expected}, got {describe(value)} (not a finite number)")
    too_low = parsed <= minimum if exclusive_minimum else parsed < minimum
    if too_low or parsed > maximum:
        raise ValueError(f"{expected}, got {describe(value)}")
    return parsed


def parse_count(
    value: object, what: str = "a whole number", *, minimum: int = 0, maximum: int = 10**9
) -> int:
    """A whole number within ``[minimum, maximum]``; ``2.0`` is accepted, ``2.5`` is not.

    >>> parse_count("8"), parse_count(3.0)
    (8, 3)
    >>> parse_count(2.5, "a number of cores")
    Traceback (most recent call last):
    ValueError: expected a number of cores, got '2.5'
    """
    expected = f"expected {what}"
    parsed = _number_or_text(value, expected)
    if isinstance(parsed, str):
        if not re.fullmatch(r"[+-]?\d+(?:\.0*)?", parsed):
            raise ValueError(f"{expected}, got {describe(value)}")
        parsed = float(parsed)
    if math.isnan(parsed) or math.isinf(parsed) or parsed != int(parsed):
        raise ValueError(f"{expected}, got {describe(value)}")
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value
    else:
        whole = int(parsed)
    if whole < minimum or whole > maximum:
        raise ValueError(f"{expected}, got {describe(value)}")
    return whole


__all__ = [
    "MAX_BANDWIDTH",
    "MAX_CPU",
    "MAX_DURATION",
    "MAX_NUMBER",
    "MAX_RATE",
    "MAX_SIZE",
    "describe",
    "parse_bandwidth",
    "parse_count",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
    "parse_number",
    "parse_rate",
    "parse_size",
]
