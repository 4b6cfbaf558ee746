"""Generator parameters: names, defaults per template, parsing and checking.

A parameter is set on the command line with ``--set name=value`` (the value is YAML:
``--set load=0.6``, ``--set cores.edge=[8,32]``, ``--set mtbf.far_edge=1h``), or in a family
config's ``set:`` mapping. A dotted name sets one key of a mapping parameter. Values are
checked here, once, into base units (seconds, bytes, bits/s, cores); every problem is reported
at once with the parameter's name and what was expected.

A *range* is a scalar (fixed) or ``[low, high]``, drawn uniformly per item (per site, per
node group, per application, ...). A *tier map* gives a value per tier (``cloud``, ``edge``,
``far_edge``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from simcontinuum.errors import SimContinuumError
from simcontinuum.model import DEFAULT_WEIGHTS
from simcontinuum.scenario.units import (
    describe,
    parse_bandwidth,
    parse_count,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_number,
    parse_size,
)

GEN_TIERS = ("cloud", "edge", "far_edge")
LINK_CLASSES = ("device", "site", "metro", "cloud")
SHAPES = ("chain", "fanout", "tree", "random", "mixed")
DEVICE_KINDS = ("camera", "sensor", "button", "plc", "meter", "device")

Range = tuple[float, float]


class GenerateError(SimContinuumError):
    """A generator input is invalid, or no feasible scenario could be made.

    Attributes:
        problems: every problem, one line each.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ----------------------------------------------------------------------------- value kinds


def _range(parse: Callable[[object], float], what: str) -> Callable[[object], Range]:
    def check(value: object) -> Range:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"expected {what} or a range [low, high], got {describe(value)}")
            lo, hi = parse(value[0]), parse(value[1])
            if lo > hi:
                raise ValueError(f"a range [low, high] needs low <= high, got {describe(value)}")
            return (lo, hi)
        x = parse(value)
        return (x, x)

    return check


def _tier_map(parse: Callable[[object], Any]) -> Callable[[object], dict[str, Any]]:
    return _keyed(parse, GEN_TIERS, "tier")


def _keyed(
    parse: Callable[[object], Any], keys: tuple[str, ...], what: str
) -> Callable[[object], dict[str, Any]]:
    def check(value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a mapping {{{', '.join(keys)}}}, got {describe(value)}")
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k not in keys:
                close = difflib.get_close_matches(str(k), keys, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown {what} '{k}' (known: {', '.join(keys)}){hint}")
            try:
                out[k] = parse(v)
            except ValueError as exc:
                raise ValueError(f"{k}: {exc}") from None
        return out

    return check


def _auto_or(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    """``auto`` (read as None: the generator decides) or a value ``parse`` accepts."""
    return lambda v: None if v == "auto" else parse(v)


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda v: None if v is None else parse(v)


def _number(what: str, maximum: float = 1e12, minimum: float = 0.0) -> Callable[[object], float]:
    return lambda v: parse_number(v, what, minimum=minimum, maximum=maximum)


def _count(what: str, minimum: int = 0) -> Callable[[object], int]:
    return lambda v: parse_count(v, what, minimum=minimum, maximum=10**6)


def _positive_duration(value: object) -> float:
    x = parse_duration(value)
    if x <= 0:
        raise ValueError(f"expected a positive duration like 20ms or 1.5s, got {describe(value)}")
    return x


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {describe(value)}")
        return str(value)

    return check


def _positive_count_range(what: str) -> Callable[[object], Range]:
    inner = _range(_count(what, minimum=1), what)
    return lambda v: tuple(float(x) for x in inner(v))  # type: ignore[return-value]


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Param:
    """One generator parameter: its default (before template overrides), checker and help."""

    name: str
    default: Any
    check: Callable[[object], Any]
    help: str


_FRACTION = _number("a fraction between 0 and 1", maximum=1.0)

PARAMS: tuple[Param, ...] = (
    Param("duration", "60s", _positive_duration, "simulated horizon"),
    Param(
        "warmup",
        "auto",
        _auto_or(parse_duration),
        "requests arriving earlier are not scored; auto: the slowest cold start (image pull "
        "over the slowest link + startup, rounded up), at most half the duration",
    ),
    Param(
        "load",
        0.3,
        _number("a target utilisation like 0.3", maximum=10.0),
        "target mean utilisation of ONE node by each component (one replica runs on one node): "
        "an app's rate lets each component's peak demand fill at most min(0.8, load x peak "
        "factor) of a typical node it may use (lower quartile of cores x speed of its "
        "non-far-edge nodes); load > 0.8 overloads on purpose; device_rate caps the rate",
    ),
    Param(
        "tier_mix",
        {"cloud": 0.02, "edge": 0.13, "far_edge": 0.85},
        _tier_map(_FRACTION),
        "share of --nodes per tier (normalised; at least one cloud and one edge node)",
    ),
    Param(
        "site_size",
        None,
        _optional(_positive_count_range("a number of nodes")),
        "edge nodes per edge site or zone (cluster); null: about sqrt(edge nodes)",
    ),
    Param(
        "apps_per_site",
        3,
        _count("a number of applications", minimum=1),
        "applications the devices of one site (or device cluster) serve",
    ),
    Param(
        "cores",
        {"cloud": [16, 64], "edge": [4, 16], "far_edge": [1, 2]},
        _tier_map(_positive_count_range("a number of cores")),
        "cores per node, per tier (range; drawn per site / node group)",
    ),
    Param(
        "speed",
        {"cloud": [1.2, 2.0], "edge": [0.8, 1.5], "far_edge": [0.2, 0.5]},
        _tier_map(_range(_number("a positive speed", minimum=1e-6), "a speed")),
        "relative core speed per tier (1.0 = reference core)",
    ),
    Param("memory_per_core", "2Gi", parse_memory, "node memory = cores x this (Kubernetes units)"),
    Param(
        "gpu_share",
        {"cloud": 0.25, "edge": 0.2, "far_edge": 0.0},
        _tier_map(_FRACTION),
        "chance that a node (or node group) has a GPU, per tier",
    ),
    Param(
        "gpu_speedup", [6, 12], _range(_number("a speed-up", minimum=1.0), "a speed-up"), "GPU x"
    ),
    Param(
        "price",
        {"cloud": [1.0, 3.0], "edge": [0.1, 0.4], "far_edge": 0.0},
        _tier_map(_range(_number("a price per hour"), "a price")),
        "price per node-hour; cloud is billed while active, edge and devices always",
    ),
    Param("core_price", 0.0, _number("a price"), "price per requested core-hour on cloud nodes"),
    Param("egress_price", 0.09, _number("a price"), "price per GB between an edge site and cloud"),
    Param("energy_price", 0.0, _number("a price"), "price per kWh of energy"),
    Param(
        "latency",
        {
            "device": ["1ms", "5ms"],
            "site": ["200us", "1ms"],
            "metro": ["2ms", "8ms"],
            "cloud": ["15ms", "40ms"],
        },
        _keyed(_range(parse_duration, "a duration"), LINK_CLASSES, "link class"),
        "link latency: device-gateway, inside a site, between sites, site-cloud",
    ),
    Param(
        "bandwidth",
        {
            "device": ["10Mbps", "100Mbps"],
            "site": ["1Gbps", "10Gbps"],
            "metro": "1Gbps",
            "cloud": ["500Mbps", "2Gbps"],
        },
        _keyed(_range(lambda v: max(parse_bandwidth(v), 1.0), "a bandwidth"), LINK_CLASSES, "link"),
        "link bandwidth per link class",
    ),
    Param("app_shape", "chain", _choice(SHAPES), "application DAG shape (mixed: drawn per app)"),
    Param(
        "app_size", [2, 4], _positive_count_range("a number of components"), "components per app"
    ),
    Param(
        "work",
        ["2ms", "20ms"],
        _range(_positive_duration, "a duration"),
        "mean work per request per component (core-seconds at speed 1.0)",
    ),
    Param(
        "cpu_request",
        [0.25, 1.0],
        _range(lambda v: max(parse_cpu(v), 0.001), "a cpu quantity"),
        "cores requested per replica; raised to the replica's peak busy cores on a typical "
        "node / 0.8, so that a node whose requests fit is not oversubscribed",
    ),
    Param(
        "device_rate",
        {"camera": 30, "sensor": 2, "button": 0.5, "plc": 100, "meter": 1, "device": 5},
        _keyed(_number("a rate per second"), DEVICE_KINDS, "device kind"),
        "most requests per second one device of a kind sends (cameras: fps); with few "
        "devices this, not load, sets the rate",
    ),
    Param("max_replicas", 4, _count("a number of replicas", minimum=1), "replicas.max"),
    Param(
        "request_size",
        ["1KB", "20KB"],
        _range(parse_size, "a size"),
        "request size from a device (camera frames scale it up)",
    ),
    Param(
        "slo",
        ["50ms", "250ms"],
        _range(_positive_duration, "a duration"),
        "p95 latency SLO per app, times 1 + (L-1)/2 for L components on its longest call path; "
        "raised to what a latency-aware placement meets: the network round trip of 80% of its "
        "requests + 1.25 x the estimated p95 compute and call time",
    ),
    Param(
        "mtbf",
        {"cloud": None, "edge": None, "far_edge": None},
        _tier_map(_optional(_positive_duration)),
        "mean time between random failures per tier (null: none)",
    ),
    Param("mttr", "2min", _positive_duration, "mean time to repair after a random failure"),
    Param("outages", 0, _count("a number of outages"), "scripted edge-node outages"),
    Param("diurnal_amplitude", 0.0, _FRACTION, "diurnal swing of sensor load (period: duration)"),
    Param(
        "weights",
        dict(DEFAULT_WEIGHTS),
        _keyed(_number("a weight"), tuple(DEFAULT_WEIGHTS), "score part"),
        "scoring weights (a part left out keeps its default)",
    ),
    Param("telemetry_interval", "5s", _positive_duration, "telemetry sampling interval"),
    Param("control_interval", "10s", _positive_duration, "interval of the policy's plan()"),
    Param("policy_timeout", "5s", _positive_duration, "wall-time limit of one policy call"),
)

PARAMS_BY_NAME: Mapping[str, Param] = {p.name: p for p in PARAMS}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"cores.edge=[8, 32]"`` -> ``("cores.edge", [8, 32])`` (the value read as YAML).

    >>> parse_assignment("load=0.5")
    ('load', 0.5)
    >>> parse_assignment("latency.cloud=[10ms, 30ms]")
    ('latency.cloud', ['10ms', '30ms'])
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise GenerateError(f"--set {text!r}: expected name=value, like load=0.5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise GenerateError(f"--set {name}: the value is not valid YAML ({exc})") from None
    return name, value


def resolve(template_defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter, checked, in base units: defaults < template defaults < overrides.

    ``overrides`` keys may be dotted (``cores.edge``) to set one key of a mapping parameter.

    Raises:
        GenerateError: listing every unknown name and bad value.
    """
    raw: dict[str, Any] = {p.name: _copy(p.default) for p in PARAMS}
    problems: list[str] = []
    for source in (template_defaults, overrides):
        for key, value in source.items():
            name, _, sub = str(key).partition(".")
            if name not in PARAMS_BY_NAME:
                close = difflib.get_close_matches(name, list(PARAMS_BY_NAME), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                problems.append(
                    f"unknown parameter '{key}'{hint} (see 'simcontinuum generate --list-params')"
                )
                continue
            if sub:
                if not isinstance(raw[name], dict):
                    problems.append(f"{key}: '{name}' is not a mapping; set it as {name}=VALUE")
                    continue
                raw[name] = {**raw[name], sub: _copy(value)}
            elif isinstance(raw[name], dict) and isinstance(value, Mapping):
                raw[name] = {**raw[name], **_copy(dict(value))}
            else:
                raw[name] = _copy(value)
    out: dict[str, Any] = {}
    for p in PARAMS:
        try:
            out[p.name] = p.check(raw[p.name])
        except ValueError as exc:
            problems.append(f"{p.name}: {exc}")
    if problems:
        raise GenerateError(problems)
    if out["warmup"] is not None and out["warmup"] >= out["duration"]:
        raise GenerateError(
            f"warmup ({raw['warmup']}) must be shorter than duration ({raw['duration']})"
        )
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """A parameter value as plain JSON-able data (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


__all__ = [
    "DEVICE_KINDS",
    "GEN_TIERS",
    "LINK_CLASSES",
    "PARAMS",
    "PARAMS_BY_NAME",
    "SHAPES",
    "GenerateError",
    "Param",
    "parse_assignment",
    "plain",
    "resolve",
]
