"""One placement of a manifest folder, decision by decision (``simcontinuum k8s schedule``).

The scenario is built as for a run, then the policy places every application at time 0 on
the empty cluster, exactly as ``place`` does at an arrival, and its recorded decisions are
returned (kube-scheduler-simulator's annotation shape, plus ``app``/``component``/``pod``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def initial_decisions(
    k8s_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    policy: str = "kube-scheduler",
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Every scheduling decision of the initial placement of ``k8s_dir``."""
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.k8s.translate import load_manifests
    from simcontinuum.policy.registry import load_policy

    scenario = load_manifests(k8s_dir, overlay, seed=seed)
    pol = load_policy(policy)
    sim = Simulation(scenario, pol, telemetry=False)
    # just past the last arrival: every application has been placed
    sim.advance(max((a.arrive_at for a in scenario.applications), default=0.0) + 1e-9)
    return [d for d in getattr(pol, "decisions", []) if d.get("call") == "place"]


__all__ = ["initial_decisions"]
