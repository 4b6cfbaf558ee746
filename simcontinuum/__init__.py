"""simcontinuum: a fast, reproducible simulator of the cloud–edge continuum.

Quick use::

    import simcontinuum
    results = simcontinuum.run("scenarios/quickstart.yaml", policy="first-fit", seed=1)
    results.summary()["score"]
    results.requests.head()

Importing this package is cheap: pandas, matplotlib and the engine load on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from simcontinuum._version import __version__
from simcontinuum.errors import PolicyError, ResultsError, ScenarioError, SimContinuumError

if TYPE_CHECKING:
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results


def load(scenario: str | os.PathLike[str] | dict[str, Any], *, seed: int | None = None) -> Scenario:
    """Load and validate a scenario file (or dict); raises :class:`ScenarioError`."""
    from simcontinuum.scenario import load_scenario

    return load_scenario(scenario, seed=seed)


def run(
    scenario: Scenario | str | os.PathLike[str] | dict[str, Any],
    policy: Any = "first-fit",
    seed: int | None = None,
    *,
    strict: bool = False,
    telemetry: bool = True,
    reference: bool = True,
    steps: bool = True,
) -> Results:
    """Simulate ``scenario`` under ``policy`` and return the :class:`Results`.

    Args:
        scenario: a :class:`~simcontinuum.model.Scenario`, a YAML path, or a parsed dict.
        policy: a registered name (``"first-fit"``), ``"path/file.py:Class"``, or an object
            with ``place(app, view)``.
        seed: overrides the scenario's seed. Same seed ⇒ identical results.
        strict: stop at the first policy error (default: record it and go on).
        telemetry: sample telemetry (on by default; off makes long runs a little faster).
        steps: record every step's queue wait and service time in ``results.steps`` (on by
            default; off makes long runs a little faster and the results smaller).
        reference: when the scenario names ``scoring.reference_policy``, also run it on the
            same seed and report every score part as a ratio to it.
    """
    from dataclasses import replace

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.model import Scenario as _Scenario
    from simcontinuum.policy.registry import load_policy

    sc = scenario if isinstance(scenario, _Scenario) else load(scenario, seed=seed)
    if seed is not None and sc.seed != seed:
        sc = replace(sc, seed=int(seed))
    pol = load_policy(policy)
    results = Simulation(sc, pol, strict=strict, telemetry=telemetry, steps=steps).run()
    ref = sc.scoring.reference_policy
    if reference and ref and not results.meta["interrupted"]:
        base = Simulation(sc, load_policy(ref), telemetry=False, steps=False).run()
        results.meta["reference"] = {"policy": ref, **base.summary()}
    return results


__all__ = [
    "PolicyError",
    "ResultsError",
    "ScenarioError",
    "SimContinuumError",
    "__version__",
    "load",
    "run",
]
