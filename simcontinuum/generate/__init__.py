"""Scenario generator for organizers and researchers (see ``simcontinuum generate --help``).

``generate(template, nodes, apps, seed, overrides)`` draws a scenario from a template
(``smart-city``, ``industrial-iot``, ``video-analytics``, ``random``), checks it (it loads, and
first-fit can place every application at time zero) and returns it with its YAML text.
The load is a fair challenge by construction: with ``load`` = u each component's peak demand
fits on one typical node it may use at utilisation min(0.8, u x peak factor) (a static
policy places one replica per component, on one node), devices send at realistic rates
(``device_rate``), cpu requests reflect demand, and every SLO is one a latency-aware
placement can meet (see :mod:`simcontinuum.generate.apps`).
``generate_family(config, out)`` writes a public and a hidden set from one distribution with
disjoint seeds, plus a manifest.

Invariants: the seed is the only source of randomness (named numpy streams, never global
state); the same inputs give byte-identical files; large continua use node groups and group
links, so a 10,000-node file is under 100 kB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simcontinuum.generate.build import Generated

__all__ = ["GenerateError", "generate", "generate_family"]


def generate(
    template: str,
    nodes: int,
    apps: int,
    seed: int,
    overrides: dict[str, Any] | None = None,
    *,
    name: str | None = None,
) -> Generated:
    """See :func:`simcontinuum.generate.build.generate`."""
    from simcontinuum.generate.build import generate as _generate

    return _generate(template, nodes, apps, seed, overrides, name=name)


def generate_family(config: dict[str, Any], out: str, *, force: bool = False) -> dict[str, Any]:
    """See :func:`simcontinuum.generate.family.generate_family`."""
    from simcontinuum.generate.family import generate_family as _family

    return _family(config, out, force=force)


def __getattr__(name: str) -> Any:
    if name == "GenerateError":
        from simcontinuum.generate.params import GenerateError

        return GenerateError
    raise AttributeError(f"module 'simcontinuum.generate' has no attribute {name!r}")
