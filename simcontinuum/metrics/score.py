"""Scores are pure functions from result tables to numbers. Lower is better.

A run is scored on the requests that arrived after the warm-up (``scored`` column) and on the
whole horizon's cost:

- ``cost``: total currency (node-hours, core-hours, egress, energy);
- ``p95_latency_s``: 95th percentile latency of scored ``ok`` requests (the horizon when no
  request succeeded, so a policy that serves nothing never looks fast);
- ``slo_violation_rate``: among scored finished requests (``ok``, ``failed``, ``dropped``) of
  applications with a latency SLO, the share that failed, was dropped or was slower than the
  target — dropping work never helps;
- ``failed_rate``: share of scored finished requests that ended ``failed`` or ``dropped``;
- ``migrations``: applied moves; ``energy_kwh``: energy of all nodes.

``score = Σ weight[part] × part``; every part is reported beside the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SCORE_PARTS = (
    "cost",
    "p95_latency_s",
    "slo_violation_rate",
    "failed_rate",
    "migrations",
    "energy_kwh",
)


def latency_stats(requests: pd.DataFrame) -> dict[str, float]:
    """Mean and percentiles (seconds) of scored ok requests; NaN when there are none.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"status": ["ok"] * 4, "scored": [True] * 4,
    ...                    "latency_s": [0.01, 0.02, 0.03, 0.04]})
    >>> round(latency_stats(df)["mean_latency_s"], 3)
    0.025
    """
    lat = requests.loc[(requests["status"] == "ok") & requests["scored"], "latency_s"].to_numpy()
    if len(lat) == 0:
        nan = float("nan")
        return {
            "mean_latency_s": nan,
            "p50_latency_s": nan,
            "p95_latency_s": nan,
            "p99_latency_s": nan,
        }
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {
        "mean_latency_s": float(lat.mean()),
        "p50_latency_s": float(p50),
        "p95_latency_s": float(p95),
        "p99_latency_s": float(p99),
    }


def slo_violation_rate(requests: pd.DataFrame) -> float:
    """Share of scored finished requests of SLO applications that missed it (0 if none).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"status": ["ok", "ok", "failed", "incomplete", "ok"],
    ...                    "scored": [True] * 5, "has_slo": [True] * 4 + [False],
    ...                    "slo_violated": [False, True, None, None, None]})
    >>> round(slo_violation_rate(df), 3)
    0.667
    """
    fin = requests[requests["scored"] & (requests["status"] != "incomplete") & requests["has_slo"]]
    if len(fin) == 0:
        return 0.0
    bad = (fin["status"] != "ok") | fin["slo_violated"].fillna(False).astype(bool)
    return float(bad.mean())


def failed_rate(requests: pd.DataFrame) -> float:
    """Share of scored finished requests that ended failed or dropped (0 if none)."""
    fin = requests.loc[requests["scored"] & (requests["status"] != "incomplete"), "status"]
    if len(fin) == 0:
        return 0.0
    return float(fin.isin(["failed", "dropped"]).mean())


def score_parts(
    requests: pd.DataFrame, cost: pd.DataFrame, migrations: int, horizon: float
) -> dict[str, float]:
    """Every part of the score (see the module docstring)."""
    p95 = latency_stats(requests)["p95_latency_s"]
    return {
        "cost": float(cost["cost"].sum()) if len(cost) else 0.0,
        "p95_latency_s": horizon if np.isnan(p95) else p95,
        "slo_violation_rate": slo_violation_rate(requests),
        "failed_rate": failed_rate(requests),
        "migrations": float(migrations),
        "energy_kwh": float(cost["energy_kwh"].sum()) if len(cost) else 0.0,
    }


def total_score(parts: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The weighted sum of the parts named in ``weights``.

    >>> total_score({"cost": 2.0, "failed_rate": 0.1}, {"cost": 1.0, "failed_rate": 100.0})
    12.0
    """
    return float(sum(w * parts.get(k, 0.0) for k, w in weights.items()))
