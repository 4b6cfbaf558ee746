"""Results of one run: typed tables built once at the end, a summary, and metadata.

Tables (pandas DataFrames, flat columns, units in names):
- ``requests``: one row per request — ``request_id, app, source, source_node, arrival_s,
  end_s, latency_s, network_latency_s`` (pure link latency along the slowest branch),
  ``status`` (ok | failed | dropped | incomplete), ``reason``, ``has_slo``, ``slo_violated``
  (only for ok requests of SLO applications, else NA), ``scored`` (arrived after warm-up);
- ``telemetry``: every sample (``time_s, delivered_s, kind, id, metric, value``);
- ``actions``: every policy decision (``time_s, call, kind, app, component, node, target,
  outcome, reason``);
- ``replicas``: every replica's life; ``cost``: node-hours, core-hours, energy, egress;
- ``events``: failures, recoveries, arrivals and departures;
- ``steps``: one row per visit of a request to a component replica, with its network,
  queue-wait and service times (see :mod:`simcontinuum.engine.steps`; empty when the run
  was made with ``steps=False``, or by a version without it).

``save(dir)`` writes Parquet (or CSV) atomically: into a temporary folder renamed into place,
with ``meta.json`` written last, so a killed process never leaves a folder that loads as
complete. ``Results.load(dir)`` reads it back and says what is missing or corrupt.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simcontinuum.errors import ResultsError
from simcontinuum.io import atomic_directory
from simcontinuum.jsonutil import dumps
from simcontinuum.metrics.score import SCORE_PARTS, latency_stats, score_parts, total_score

#: Where ``Results.plot`` finds its plotter (``module:Class``, called with the results).
PLOTTER = "simcontinuum.report.figures:Plotter"
TABLES = ("requests", "telemetry", "actions", "replicas", "cost", "events", "steps")
#: Tables a results folder written by an older version may lack (loaded empty).
OPTIONAL_TABLES = ("steps",)
#: Step outcomes, by code (see :mod:`simcontinuum.engine.steps`).
STEP_STATUS_NAMES = ("ok", "failed", "dropped", "incomplete", "cancelled")
STEP_COLUMNS = (
    "step_id",
    "request_id",
    "parent_step",
    "app",
    "component",
    "replica_id",
    "node",
    "sent_s",
    "arrive_s",
    "network_in_s",
    "queue_wait_s",
    "service_s",
    "done_s",
    "network_out_s",
    "status",
    "scored",
)


def empty_steps() -> pd.DataFrame:
    """A ``steps`` table with no rows (runs without step recording, older results)."""
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "float64")) for c in STEP_COLUMNS})


_DTYPES = {
    "step_id": "int64",
    "request_id": "int64",
    "parent_step": "int64",
    "replica_id": "int64",
    "app": "category",
    "component": "category",
    "node": "category",
    "status": "category",
    "scored": "bool",
}


@dataclass
class Results:
    """Everything one run produced. See the module docstring for the columns."""

    requests: pd.DataFrame
    telemetry: pd.DataFrame
    actions: pd.DataFrame
    replicas: pd.DataFrame
    cost: pd.DataFrame
    events: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    steps: pd.DataFrame = field(default_factory=empty_steps)

    def summary(self) -> dict[str, Any]:
        """Counts, latency, SLO, cost by tier, energy, migrations, and the score with its
        parts (``part_<name>``) and weighted contributions (``weighted_<name>``)."""
        req = self.requests
        scored = req[req["scored"]]
        counts = scored["status"].value_counts()
        out: dict[str, Any] = {
            "requests": len(scored),
            **{s: int(counts.get(s, 0)) for s in ("ok", "failed", "dropped", "incomplete")},
            **latency_stats(req),
        }
        parts = score_parts(
            req, self.cost, int(self.meta.get("migrations", 0)), self.meta.get("horizon_s", 0.0)
        )
        out["slo_violation_rate"] = parts["slo_violation_rate"]
        out["failed_rate"] = parts["failed_rate"]
        if len(self.cost):
            by_tier = self.cost.groupby("tier", sort=True)["cost"].sum()
            for tier, value in by_tier.items():
                out[f"cost_{tier}"] = float(value)
        out["cost"] = parts["cost"]
        out["energy_kwh"] = parts["energy_kwh"]
        out["migrations"] = int(parts["migrations"])
        weights = self.meta.get("weights", {})
        for k in SCORE_PARTS:
            out[f"part_{k}"] = parts[k]
            out[f"weighted_{k}"] = weights.get(k, 0.0) * parts[k]
        out["score"] = total_score(parts, weights)
        ref = self.meta.get("reference")
        if ref:
            for k in SCORE_PARTS:
                base = ref.get(f"part_{k}")
                out[f"ratio_{k}"] = parts[k] / base if base else None
            out["ratio_score"] = out["score"] / ref["score"] if ref.get("score") else None
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str], *, fmt: str = "parquet") -> Path:
        """Write every table and ``meta.json`` into ``directory`` atomically."""
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
        target = Path(directory)
        with atomic_directory(target) as tmp:
            for name in TABLES:
                df = getattr(self, name)
                if fmt == "parquet":
                    df.to_parquet(tmp / f"{name}.parquet", index=False)
                else:
                    df.to_csv(tmp / f"{name}.csv", index=False)
            meta = {**self.meta, "format": fmt, "tables": list(TABLES), "complete": True}
            meta["summary"] = self.summary()
            (tmp / "meta.json").write_text(dumps(meta, indent=2), encoding="utf-8")
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Results:
        """Read results written by :meth:`save`; a partial or corrupt folder is an error."""
        d = Path(directory)
        meta_path = d / "meta.json"
        if not d.is_dir():
            raise ResultsError(f"{d}: no such results folder")
        if not meta_path.exists():
            raise ResultsError(
                f"{d}: meta.json is missing — the run did not finish writing; run it again"
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise ResultsError(f"{meta_path}: unreadable ({exc}); run it again") from exc
        if not meta.get("complete"):
            raise ResultsError(f"{d}: marked incomplete; run it again")
        fmt = meta.get("format", "parquet")
        tables = {}
        for name in TABLES:
            path = d / f"{name}.{fmt}"
            try:
                tables[name] = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
            except FileNotFoundError as exc:
                if name in OPTIONAL_TABLES and name not in meta.get("tables", ()):
                    tables[name] = empty_steps()
                    continue
                raise ResultsError(f"{path}: missing — the folder is partial") from exc
            except Exception as exc:  # pyarrow raises many kinds on a corrupt file
                raise ResultsError(f"{path}: corrupt ({type(exc).__name__}: {exc})") from exc
        meta.pop("summary", None)
        return cls(meta=meta, **tables)

    @property
    def plot(self) -> Any:
        """Matplotlib figures of this run (``results.plot.latency_cdf()``, ...).

        Results is a leaf: it never imports the report layer. The plotter is found by name
        when asked for (:data:`PLOTTER`, like an entry point), so ``results`` stays importable
        without matplotlib and the layer contracts hold (see ``docs/architecture.md``).
        """
        module, _, name = PLOTTER.partition(":")
        return getattr(importlib.import_module(module), name)(self)
