"""Learning policies: datasets from simulated telemetry, ML models as policies, a genetic
algorithm over placements, and a Gymnasium environment (DESIGN.md §7).

- :func:`dataset` — run a scenario under a policy for some seeds; one row per decision with
  the state's features and the outcome (:mod:`simcontinuum.learn.datasets` lists the columns);
- :func:`train_latency_model`, :func:`save_model`, :class:`MLPolicy` — a scikit-learn
  compatible model (anything with ``predict``) scores candidate nodes; ``--policy
  ml:model.joblib`` loads ``model.joblib`` and ``model.features.json``;
- :func:`optimize` — a genetic algorithm over static placements with the simulator as the
  fitness function, run on the sweep executors; :class:`FixedPlacement` replays the result
  (``--policy fixed:best.yaml``);
- :class:`ContinuumEnv` — one step per control interval (needs the ``[rl]`` extra:
  gymnasium); :mod:`simcontinuum.learn.qlearning` is a small tabular example.

Importing this package is cheap: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "dataset": "simcontinuum.learn.datasets",
    "parse_seeds": "simcontinuum.learn.datasets",
    "read_dataset": "simcontinuum.learn.datasets",
    "write_dataset": "simcontinuum.learn.datasets",
    "FEATURES": "simcontinuum.learn.features",
    "TELEMETRY_FEATURES": "simcontinuum.learn.features",
    "MLPolicy": "simcontinuum.learn.mlpolicy",
    "load_ml_policy": "simcontinuum.learn.mlpolicy",
    "save_model": "simcontinuum.learn.mlpolicy",
    "train_latency_model": "simcontinuum.learn.mlpolicy",
    "FixedPlacement": "simcontinuum.learn.fixed",
    "read_placement": "simcontinuum.learn.fixed",
    "write_placement": "simcontinuum.learn.fixed",
    "GAResult": "simcontinuum.learn.ga",
    "optimize": "simcontinuum.learn.ga",
    "ContinuumEnv": "simcontinuum.learn.env",
    "QLearning": "simcontinuum.learn.qlearning",
}

RL_HINT = "ContinuumEnv needs gymnasium: pip install 'simcontinuum[rl]'"
ML_HINT = "the ML helpers need scikit-learn and joblib: pip install 'simcontinuum[ml]'"


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simcontinuum.learn' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("gymnasium"):
            raise ImportError(RL_HINT) from exc
        if exc.name and exc.name.startswith(("sklearn", "joblib")):
            raise ImportError(ML_HINT) from exc
        raise


__all__ = sorted(_WHERE)
