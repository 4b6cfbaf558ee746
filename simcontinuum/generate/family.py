"""Families: a public and a hidden set of scenarios drawn from one distribution.

A family config (YAML; see ``examples/family.yaml``)::

    name: city-challenge      # file and scenario names (default: the template)
    template: smart-city
    nodes: [30, 60]           # a number, or [low, high] drawn per scenario
    apps: 3                   # likewise
    seed: 2025                # the only source of randomness
    public: 3                 # scenarios handed to the teams
    hidden: 6                 # scenarios kept for the leaderboard
    set: {duration: 60s}      # generator parameters for every scenario (see --list-params)
    vary:                     # parameters drawn per scenario
      load: [0.2, 0.5]        #   [low, high]: uniform (whole numbers if both are)
      app_shape: {choice: [chain, tree]}

The scenario seeds are distinct draws from the config's seed, the first ``public`` for the
public set and the rest for the hidden set, so the two sets never share a seed while coming
from the same distribution. ``DIR/manifest.json`` records the config, every file's seed,
parameters and sha256. Same config ⇒ byte-identical files and manifest.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simcontinuum._version import __version__
from simcontinuum.generate.build import generate, template, write_text
from simcontinuum.generate.params import GenerateError, plain
from simcontinuum.generate.units import rounded
from simcontinuum.streams import Streams

CONFIG_KEYS = ("name", "template", "nodes", "apps", "seed", "public", "hidden", "set", "vary")
SEED_SPACE = 2**31


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a family config file (YAML)."""
    from simcontinuum.errors import ScenarioError
    from simcontinuum.scenario.reading import read_yaml_file

    try:
        doc = read_yaml_file(os.fspath(path))
    except ScenarioError as exc:
        raise GenerateError(list(exc.problems)) from None
    if not isinstance(doc, dict):
        raise GenerateError(f"{path}: expected a mapping with keys {', '.join(CONFIG_KEYS)}")
    return doc


def _check(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in config:
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"unknown key '{key}'{hint} (known: {', '.join(CONFIG_KEYS)})")
    for key in ("template", "seed"):
        if key not in config:
            problems.append(f"{key}: required")
    for key in ("public", "hidden"):
        v = config.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10_000:
            problems.append(f"{key}: expected a number of scenarios from 0 to 10,000, got {v!r}")
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"seed: expected a whole number >= 0, got {seed!r}")
    for key in ("nodes", "apps"):
        v = config.get(key, 2)
        ok = isinstance(v, int) or (
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)
        )
        if isinstance(v, bool) or not ok:
            problems.append(f"{key}: expected a whole number or [low, high], got {v!r}")
    for key in ("set", "vary"):
        if not isinstance(config.get(key, {}), Mapping):
            problems.append(f"{key}: expected a mapping of parameters, got {config[key]!r}")
    return problems


def _pick(value: Any, rng: np.random.Generator) -> Any:
    """A drawn value: ``[low, high]`` uniform (integers if both are), ``{choice: [...]}``."""
    if isinstance(value, Mapping) and set(value) == {"choice"} and value["choice"]:
        options = list(value["choice"])
        return options[int(rng.integers(len(options)))]
    if isinstance(value, list) and len(value) == 2:
        lo, hi = value
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            return int(rng.integers(min(lo, hi), max(lo, hi) + 1))
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
            return rounded(float(rng.uniform(min(lo, hi), max(lo, hi))), 4)
    raise GenerateError(f"vary: expected [low, high] numbers or {{choice: [...]}}, got {value!r}")


def family_seeds(seed: int, public: int, hidden: int) -> tuple[list[int], list[int]]:
    """Distinct scenario seeds drawn from ``seed``: (public, hidden), never overlapping.

    >>> pub, hid = family_seeds(1, 3, 4)
    >>> len(set(pub) | set(hid))
    7
    """
    rng = np.random.default_rng(seed)
    drawn = [int(s) for s in rng.choice(SEED_SPACE, size=public + hidden, replace=False)]
    return drawn[:public], drawn[public:]


def generate_family(
    config: Mapping[str, Any], out: str | os.PathLike[str], *, force: bool = False
) -> dict[str, Any]:
    """Write ``out/public/*.yaml``, ``out/hidden/*.yaml`` and ``out/manifest.json``.

    Returns:
        The manifest (as written).

    Raises:
        GenerateError: a bad config, a non-empty ``out`` without ``force``, or a scenario that
            cannot be made feasible.
    """
    problems = _check(config)
    if problems:
        raise GenerateError(problems)
    tpl = template(str(config["template"]))
    name = str(config.get("name") or tpl.name)
    out_dir = Path(out)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise GenerateError(f"{out_dir}: folder exists and is not empty; add --force to replace")
    seed = int(config["seed"])
    public_seeds, hidden_seeds = family_seeds(
        seed, int(config.get("public", 1)), int(config.get("hidden", 1))
    )
    for split in ("public", "hidden"):
        for old in sorted((out_dir / split).glob("*.yaml")):
            old.unlink()
    manifest: dict[str, Any] = {
        "family": name,
        "template": tpl.name,
        "simcontinuum_version": __version__,
        "seed": seed,
        "config": plain(dict(config)),
        "config_sha256": _sha(json.dumps(plain(dict(config)), sort_keys=True).encode()),
    }
    for split, seeds in (("public", public_seeds), ("hidden", hidden_seeds)):
        entries = []
        for i, s in enumerate(seeds):
            entries.append(_one(config, tpl.name, name, split, i, s, seed, out_dir))
        manifest[split] = entries
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_text(out_dir / "manifest.json", text)
    return manifest


def _one(
    config: Mapping[str, Any],
    tpl: str,
    name: str,
    split: str,
    i: int,
    s: int,
    seed: int,
    out_dir: Path,
) -> dict[str, Any]:
    rng = Streams(seed).get(f"family/{s}")
    nodes = config.get("nodes", 50)
    apps = config.get("apps", 3)
    n = _pick(nodes, rng) if isinstance(nodes, list) else int(nodes)
    k = _pick(apps, rng) if isinstance(apps, list) else int(apps)
    overrides = dict(config.get("set") or {})
    for key, value in sorted((config.get("vary") or {}).items()):
        overrides[key] = _pick(value, rng)
    label = f"{name}-{split}-{i:03d}"
    try:
        g = generate(tpl, n, k, s, overrides, name=label)
    except GenerateError as exc:
        raise GenerateError([f"{split} scenario {i} (seed {s}):", *exc.problems]) from None
    rel = f"{split}/{name}-{i:03d}.yaml"
    write_text(out_dir / rel, g.text)
    return {
        "file": rel,
        "name": label,
        "seed": s,
        "nodes": n,
        "apps": k,
        "set": plain(overrides),
        "attempts": g.attempts,
        "sha256": _sha(g.text.encode("utf-8")),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = ["family_seeds", "generate_family", "read_config"]
