"""Unit strings: accepted spellings, refusals, and the doctests of the scenario package."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcontinuum.scenario import build, checks, loader, problems, reading, schema, units
from simcontinuum.scenario.units import (
    parse_bandwidth,
    parse_count,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_number,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    "module", [units, problems, schema, checks, loader, build, reading], ids=lambda m: m.__name__
)
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20ms", 0.02),
        ("5s", 5.0),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("2min", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("1h30m", 5400.0),
        (" 7 s ", 7.0),
        ("3", 3.0),
        (3, 3.0),
        (0.25, 0.25),
        ("1e3ms", 1.0),
        (0, 0.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("800MB", 800e6),
        ("1KB", 1e3),
        ("1kB", 1e3),
        ("1GB", 1e9),
        ("512Mi", 512 * 2**20),
        ("512MiB", 512 * 2**20),
        ("16Gi", 16 * 2**30),
        ("16GiB", 16 * 2**30),
        ("1Ki", 1024),
        ("10B", 10),
        (10, 10),
        ("1G", 1e9),
    ],
)
def test_sizes(text: object, nbytes: float) -> None:
    assert parse_size(text) == pytest.approx(nbytes)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [("512Mi", 512 * 2**20), ("16Gi", 16 * 2**30), ("1G", 1e9), ("128Gi", 2**37)],
)
def test_memory(text: str, nbytes: float) -> None:
    assert parse_memory(text) == pytest.approx(nbytes)


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("1Gbps", 1e9),
        ("100Mbps", 1e8),
        ("10kbps", 1e4),
        ("10Kbps", 1e4),
        ("64bps", 64),
        ("1MB/s", 8e6),
        (1000, 1000),
    ],
)
def test_bandwidths(text: object, bits: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bits)


@pytest.mark.parametrize(
    ("text", "cores"), [("250m", 0.25), ("0.5", 0.5), ("2", 2.0), (2, 2.0), (0.1, 0.1)]
)
def test_cpu(text: object, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("30/s", 30.0),
        ("100/min", 100 / 60),
        ("5/h", 5 / 3600),
        ("30 / s", 30.0),
        ("30Hz", 30.0),
        (12, 12.0),
        ("12", 12.0),
    ],
)
def test_rates(text: object, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s)


def test_messages_follow_the_documented_shape() -> None:
    with pytest.raises(ValueError, match=r"^expected a duration like 20ms or 1.5s, got '-2'$"):
        parse_duration("-2")
    with pytest.raises(
        ValueError, match=r"^expected a positive quantity like 250m or 0.5, got '-2'$"
    ):
        parse_cpu(-2)


@pytest.mark.parametrize(
    "parser", [parse_duration, parse_size, parse_memory, parse_bandwidth, parse_cpu, parse_rate]
)
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("-1", ""),
        (-1, ""),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        ("nan", "not a finite number"),
        ("-inf", "not a finite number"),
        ("1e400", "not a finite number"),
        (10**400, "not a finite number"),
        ("1e30", "more than the limit"),
        (True, ""),
        (None, ""),
        ([1], ""),
        ({"a": 1}, ""),
        ("", ""),
        ("fast", ""),
        ("5 furlongs", "unknown unit"),
    ],
)
def test_refusals(parser: object, bad: object, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^expected .*, got ") as info:
        parser(bad)  # type: ignore[operator]
    assert reason in str(info.value)


def test_memory_refuses_milli_with_a_hint() -> None:
    with pytest.raises(ValueError, match="did you mean 'M'"):
        parse_memory("512m")


def test_bandwidth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive bandwidth"):
        parse_bandwidth("0Mbps")


def test_numbers_and_counts() -> None:
    assert parse_number("0.5", "a fraction", maximum=1) == 0.5
    with pytest.raises(ValueError, match="expected a fraction"):
        parse_number(1.5, "a fraction", maximum=1)
    with pytest.raises(ValueError, match="expected a positive number"):
        parse_number(0, "a positive number", exclusive_minimum=True)
    assert parse_count("8") == 8
    assert parse_count(4.0) == 4
    for bad in (2.5, "2.5", True, "x", -1, float("nan")):
        with pytest.raises(ValueError):
            parse_count(bad)


@settings(max_examples=100)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_duration_units_scale(ms: float) -> None:
    assert parse_duration(f"{ms!r}ms") == pytest.approx(ms / 1000)
    assert parse_duration(f"{ms!r}s") == pytest.approx(ms)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(), st.none(), st.booleans()))
def test_parsers_only_raise_value_error(value: object) -> None:
    for parser in (
        parse_duration,
        parse_size,
        parse_memory,
        parse_bandwidth,
        parse_cpu,
        parse_rate,
    ):
        try:
            out = parser(value)
        except ValueError as err:
            assert "expected" in str(err)
        else:
            assert math.isfinite(out) and out >= 0
