"""One generated scenario: template + size + seed + parameters -> a checked scenario document.

Phases: resolve the parameters → draw the infrastructure → draw the applications → attach
devices and calibrate the load, cpu requests and SLOs per component (see
:mod:`simcontinuum.generate.apps`) → the warm-up (``auto``: the slowest cold start, see
:func:`cold_start`) → failures, telemetry, control, scoring → validate with the loader →
check that first-fit can place every application. If the draw is infeasible, the generator
draws again from fresh named streams (``retry1/...``, ``retry2/...``), up to
:data:`MAX_ATTEMPTS` times, then fails naming the constraint that failed.

Invariant: the result depends only on (template, nodes, apps, seed, parameters). Every draw
goes through :class:`~simcontinuum.streams.Streams` seeded by ``seed``; nothing reads
the clock or global random state, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simcontinuum._version import __version__
from simcontinuum.errors import ScenarioError
from simcontinuum.generate.apps import application, workload
from simcontinuum.generate.emit import flow, to_yaml
from simcontinuum.generate.feasibility import first_fit_problems
from simcontinuum.generate.params import GenerateError, plain, resolve
from simcontinuum.generate.templates import TEMPLATES, Template
from simcontinuum.generate.topology import Infra, draw, geometric, sites
from simcontinuum.generate.units import rounded, seconds
from simcontinuum.io import atomic_write
from simcontinuum.scenario.units import parse_bandwidth, parse_duration, parse_size
from simcontinuum.streams import Streams

MAX_ATTEMPTS = 8
MAX_NODES = 1_000_000


@dataclass(frozen=True)
class Generated:
    """A generated scenario: the document, its YAML text, and how it was made."""

    document: dict[str, Any]
    text: str
    template: str
    nodes: int
    apps: int
    seed: int
    overrides: dict[str, Any]
    attempts: int

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the YAML text to ``path`` atomically (temporary file, then rename)."""
        return write_text(Path(path), self.text)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; parents are created."""
    return atomic_write(path, text, newline="\n")


def template(name: str) -> Template:
    """The template called ``name``, or a GenerateError with a did-you-mean."""
    if name in TEMPLATES:
        return TEMPLATES[name]
    close = difflib.get_close_matches(name, list(TEMPLATES), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise GenerateError(f"unknown template '{name}'{hint} (known: {', '.join(TEMPLATES)})")


def generate(
    template_name: str,
    nodes: int,
    apps: int,
    seed: int,
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
) -> Generated:
    """Generate a feasible scenario.

    Args:
        template_name: ``smart-city``, ``industrial-iot``, ``video-analytics`` or ``random``.
        nodes: total number of nodes (cloud + edge + far-edge devices), at least 2.
        apps: number of applications, at least 1.
        seed: the only source of randomness; also written as the scenario's ``seed``.
        overrides: parameters (see ``simcontinuum generate --list-params``); dotted keys set
            one key of a mapping parameter.
        name: the scenario's ``name`` (default ``<template>-n<nodes>-a<apps>-s<seed>``).

    Raises:
        GenerateError: a bad argument or parameter, or no feasible draw in
            :data:`MAX_ATTEMPTS` attempts (the message names the constraint that failed).
    """
    tpl = template(template_name)
    problems = []
    if not 2 <= nodes <= MAX_NODES:
        problems.append(f"--nodes: expected 2 to {MAX_NODES:,}, got {nodes}")
    if not 1 <= apps <= 10_000:
        problems.append(f"--apps: expected 1 to 10,000, got {apps}")
    if not 0 <= seed < 2**63:
        problems.append(f"--seed: expected a whole number >= 0, got {seed}")
    if problems:
        raise GenerateError(problems)
    given = dict(overrides or {})
    params = resolve(tpl.defaults, given)
    name = name or f"{tpl.name}-n{nodes}-a{apps}-s{seed}"
    header = _header(tpl.name, nodes, apps, seed, given)
    last: list[str] = []
    for attempt in range(MAX_ATTEMPTS):
        prefix = f"retry{attempt}/" if attempt else ""
        doc = document(tpl, nodes, apps, seed, params, Streams(seed), prefix, name)
        last = _problems(doc)
        if not last:
            text = to_yaml(doc, header)
            return Generated(doc, text, tpl.name, nodes, apps, seed, plain(given), attempt + 1)
    raise GenerateError(
        [
            f"no feasible {tpl.name} scenario with {nodes} nodes and {apps} apps in "
            f"{MAX_ATTEMPTS} draws; the last one failed because:",
            *(f"  - {p}" for p in last[:10]),
            "more nodes (--nodes), fewer or smaller apps (--apps, app_size, cpu_request), "
            "or a larger gpu_share / cores may help",
        ]
    )


def _problems(doc: dict[str, Any]) -> list[str]:
    from simcontinuum.scenario import load_scenario

    try:
        scenario = load_scenario(doc)
    except ScenarioError as exc:
        return list(exc.problems)
    return first_fit_problems(scenario)


def document(
    tpl: Template,
    nodes: int,
    apps: int,
    seed: int,
    params: dict[str, Any],
    streams: Streams,
    prefix: str = "",
    name: str | None = None,
) -> dict[str, Any]:
    """The scenario document of one draw (not yet checked)."""
    topo_rng = streams.get(f"{prefix}topology")
    infra = (sites if tpl.layout == "sites" else geometric)(nodes, params, topo_rng)
    app_rng = streams.get(f"{prefix}applications")
    drafts = [
        application(tpl.profiles[i % len(tpl.profiles)], i, params, app_rng) for i in range(apps)
    ]
    slowest = min((parse_bandwidth(link["bandwidth"]) for link in infra.links), default=1e9)
    entries = workload(infra, drafts, params, streams.get(f"{prefix}load"))
    if params["warmup"] is None:
        comps = [c for d in drafts for c in d.doc["components"]]
        params = {**params, "warmup": cold_start(comps, slowest, params["duration"])}
    failures = _failures(infra, params, streams.get(f"{prefix}failures"))
    doc: dict[str, Any] = {
        "version": 1,
        "name": name or f"{tpl.name}-{seed}",
        "description": f"{tpl.name}: {tpl.description}; {nodes} nodes, {apps} applications",
        "seed": seed,
        "duration": seconds(params["duration"]),
        "warmup": seconds(params["warmup"]),
        "infrastructure": {
            "registry": infra.registry,
            "clusters": infra.clusters,
            "links": infra.links,
            "network": {"contention": False},
        },
        "applications": [d.doc for d in drafts],
        "workload": entries,
        "telemetry": {"interval": seconds(params["telemetry_interval"]), "collector": "cloud-0"},
        "control": {
            "interval": seconds(params["control_interval"]),
            "policy_timeout": seconds(params["policy_timeout"]),
        },
    }
    if failures:
        doc["failures"] = failures
    doc["scoring"] = {
        "weights": {k: float(v) for k, v in params["weights"].items()},
        "energy_price_per_kwh": float(params["energy_price"]),
    }
    return doc


def cold_start(components: Iterable[dict[str, Any]], bandwidth: float, duration: float) -> float:
    """The automatic warm-up: the slowest component's cold start (its image pulled over a link
    of ``bandwidth`` bits/s, the slowest between compute nodes, then its startup) plus a
    second, rounded up to whole seconds, at most half of ``duration``; requests arriving
    while replicas are still starting are not scored.

    >>> cold_start([{"image_size": "500MB", "startup": "3s"}], 1e9, 60.0)
    8.0
    """
    slowest = 0.0
    for c in components:
        pull = 8.0 * parse_size(c.get("image_size", 0)) / max(bandwidth, 1.0)
        slowest = max(slowest, pull + parse_duration(c.get("startup", 0)))
    return float(min(math.ceil(slowest + 1.0), 0.5 * duration))


def _failures(infra: Infra, p: dict[str, Any], rng: np.random.Generator) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tier in ("cloud", "edge", "far_edge"):
        mtbf = p["mtbf"].get(tier)
        if mtbf:
            out.append(
                {"random": {"tier": tier, "mtbf": seconds(mtbf), "mttr": seconds(p["mttr"])}}
            )
    duration, warmup = p["duration"], p["warmup"]
    for _ in range(p["outages"] if infra.edge_nodes else 0):
        node = infra.edge_nodes[int(rng.integers(len(infra.edge_nodes)))]
        at = rounded(draw(rng, (warmup, max(warmup, 0.8 * duration))), 3)
        out.append({"at": seconds(at), "node": node, "for": seconds(rounded(duration / 10, 3))})
    return out


def _header(tpl: str, nodes: int, apps: int, seed: int, given: Mapping[str, Any]) -> str:
    sets = "".join(f" --set '{k}={flow(plain(v))}'" for k, v in sorted(given.items()))
    return (
        f"Generated by simcontinuum {__version__}; the same command makes the same bytes:\n"
        f"  simcontinuum generate --template {tpl} --nodes {nodes} --apps {apps} "
        f"--seed {seed}{sets} -o FILE\n"
    )


__all__ = [
    "MAX_ATTEMPTS",
    "Generated",
    "cold_start",
    "document",
    "generate",
    "template",
    "write_text",
]
