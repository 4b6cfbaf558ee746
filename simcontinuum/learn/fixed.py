"""A static placement written down: ``{app: {component: [node, ...]}}`` as a policy.

The file (YAML or JSON) is what ``simcontinuum optimize`` writes and ``--policy
fixed:best.yaml`` replays::

    camera-pipeline:
      detector: [group1-node1]
      classifier: [group1-node1, group1-node2]     # one entry per replica

:class:`FixedPlacement` returns, for an arriving application, the nodes listed for it. A
listed node that cannot take the replica when it arrives (down, full, unknown, not allowed)
is replaced by the feasible node nearest to it (lowest latency; ties: scenario order), and an
application or component the file does not list is placed first-fit with ``replicas_min``
replicas — so a placement found for one scenario still runs, sensibly, on a variant.
``fallbacks`` counts those replacements.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.errors import PolicyError
from simcontinuum.io import atomic_write
from simcontinuum.policy.reservations import Reservations

if TYPE_CHECKING:
    import numpy as np

    from simcontinuum.policy.api import AppView, ClusterView, Placement

FixedMap = dict[str, dict[str, list[str]]]
"""``{app: {component: [node, ...]}}``."""

FORMAT_HINT = "expected {app: {component: [node, ...]}}, e.g. 'video: {detector: [edge-0]}'"


class FixedPlacement:
    """Places every application where ``placement`` says (see the module docstring).

    Args:
        placement: ``{app: {component: [node, ...]}}`` (a single node may be a string).
        name: the policy's name in results.
    """

    def __init__(self, placement: Mapping[str, Mapping[str, Any]], *, name: str = "fixed") -> None:
        self.placement: FixedMap = normalise(placement, "placement")
        self.name = name
        self.fallbacks = 0

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        search_path: Iterable[str | os.PathLike[str]] | None = None,
    ) -> FixedPlacement:
        """Read a placement file (the ``fixed:PATH`` policy spec).

        Raises:
            PolicyError: the file is missing or not a placement; the message says why.
        """
        return cls(read_placement(path, search_path=search_path), name=f"fixed:{Path(path).name}")

    def reset(self, rng: np.random.Generator) -> None:
        """Start a run: no fallbacks yet."""
        self.fallbacks = 0

    def place(self, app: AppView, view: ClusterView) -> Placement:
        """The listed nodes of ``app`` (replaced where infeasible; see the module docstring)."""
        t = Reservations(view)
        wanted = self.placement.get(app.id, {})
        out: Placement = {}
        for cid in app.order():
            comp = app.component(cid)
            listed = wanted.get(cid)
            if listed is None:
                self.fallbacks += 1
                listed = [""] * comp.replicas_min
            nodes: list[str] = []
            for nid in listed:
                chosen = nid if nid in view.nodes and t.fits(comp, nid) else None
                if chosen is None:
                    chosen = self._nearest(view, t, comp, nid)
                    self.fallbacks += 1 if nid else 0
                if chosen is None:
                    continue
                t.reserve(comp, chosen)
                nodes.append(chosen)
            if nodes:
                out[cid] = nodes
        return out

    @staticmethod
    def _nearest(view: ClusterView, t: Reservations, comp: Any, nid: str) -> str | None:
        feasible = t.feasible(comp)
        if not feasible:
            return None
        if nid not in view.nodes:
            return feasible[0]
        return min(feasible, key=lambda n: view.latency(nid, n))

    def __repr__(self) -> str:
        return f"FixedPlacement({len(self.placement)} apps)"


def normalise(doc: Any, where: str) -> FixedMap:
    """A placement document checked and with single nodes made lists.

    >>> normalise({"a": {"c": "n1"}}, "x")
    {'a': {'c': ['n1']}}

    Raises:
        PolicyError: the document is not ``{app: {component: [node, ...]}}``.
    """
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{where}: {FORMAT_HINT}; got {type(doc).__name__}")
    out: FixedMap = {}
    for app, comps in doc.items():
        if not isinstance(comps, Mapping):
            raise PolicyError(
                f"{where}: {app}: expected a mapping component -> [node, ...], "
                f"got {type(comps).__name__}"
            )
        out[str(app)] = {}
        for comp, nodes in comps.items():
            items = [nodes] if isinstance(nodes, str) else nodes
            if not isinstance(items, list) or not all(isinstance(n, str) for n in items):
                raise PolicyError(
                    f"{where}: {app}.{comp}: expected a list of node ids, got {nodes!r}"
                )
            out[str(app)][str(comp)] = list(items)
    return out


def read_placement(
    path: str | os.PathLike[str], *, search_path: Iterable[str | os.PathLike[str]] | None = None
) -> FixedMap:
    """Read and check a placement file (YAML or JSON)."""
    import yaml

    p = Path(path).expanduser()
    candidates = [p] + ([Path(d) / p for d in (search_path or ())] if not p.is_absolute() else [])
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        looked = ", ".join(str(c) for c in candidates)
        raise PolicyError(
            f"placement file '{path}' not found (looked at: {looked}); write one with "
            "'simcontinuum optimize SCENARIO -o best.yaml' or by hand "
            f"({FORMAT_HINT})"
        )
    try:
        doc = yaml.safe_load(found.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"placement file '{found}' cannot be read: {exc}") from None
    if isinstance(doc, Mapping) and "placement" in doc and isinstance(doc["placement"], Mapping):
        doc = doc["placement"]
    return normalise(doc, f"placement file '{found}'")


def write_placement(
    placement: Mapping[str, Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    comment: str | None = None,
) -> Path:
    """Write ``placement`` as YAML (with ``comment`` lines on top), atomically."""
    import yaml

    doc = normalise(placement, "placement")
    head = "".join(f"# {line}\n" for line in (comment or "").splitlines())
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)
    return atomic_write(path, head + body)


class FixedScheme:
    """The ``fixed:PATH`` policy spec: a placement file (see :func:`read_placement`)."""

    example = "fixed:best.yaml"

    def load(self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None) -> Any:
        """The :class:`FixedPlacement` of the file ``arg``."""
        return FixedPlacement.load(arg, search_path=search_path)

    def files(
        self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None
    ) -> list[Path]:
        """The placement file (when it exists)."""
        p = Path(arg).expanduser()
        candidates = [p] + (
            [Path(d) / p for d in (search_path or ())] if not p.is_absolute() else []
        )
        return [c for c in candidates if c.is_file()][:1]

    def key(self, arg: str) -> str:
        """Only the file's content identifies the policy."""
        return ""


SCHEME = FixedScheme()
"""Registered as the ``fixed:`` scheme of :mod:`simcontinuum.policy.spec`."""


__all__ = [
    "SCHEME",
    "FixedMap",
    "FixedPlacement",
    "FixedScheme",
    "normalise",
    "read_placement",
    "write_placement",
]
