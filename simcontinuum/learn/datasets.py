"""A training table from simulated runs: the state at each decision and what came of it.

:func:`dataset` runs a scenario under a policy for each seed and writes one row per
*decision point* and component replica:

- ``decision == "place"``: each replica the policy placed when its application arrived, with
  the features of the chosen node as the policy saw it (before the replica was added);
- ``decision == "control"``: every ``interval`` seconds, each live replica of each running
  application, with its node's features as if the replica were not there, plus the delivered
  telemetry.

The outcome columns describe the application's requests that *arrived* in the window after the
decision (``window`` seconds from when the placed replicas ran, for place rows; from the
control time, for control rows), so a model can learn which (component, node) choices give low
latency. Same scenario, policy and seeds ⇒ an identical table.

Columns (``ID_COLUMNS``, then the features, then ``OUTCOME_COLUMNS``):

Column                          | meaning
--------------------------------|-------------------------------------------------------------
``scenario``, ``seed``          | the run
``policy``                      | the policy's name
``decision``                    | ``place`` or ``control``
``time_s``                      | simulated time of the decision
``app``, ``component``          | the replica's application and component
``replica``                     | its index among the component's replicas at that time
``node``                        | the node it is (to be) on
``applied``                     | place rows: the engine accepted it; control rows: always True
features                        | :data:`~simcontinuum.learn.features.FEATURES` and
                                | :data:`~simcontinuum.learn.features.TELEMETRY_FEATURES`
                                | (see :mod:`simcontinuum.learn.features` for each)
``outcome_window_start_s``      | start of the outcome window (s)
``outcome_window_end_s``        | its end (s; at most the horizon)
``outcome_requests``            | requests of the application that arrived in the window
``outcome_mean_latency_s``      | mean latency of those that ended ok (NaN: none)
``outcome_p95_latency_s``       | their 95th percentile latency (NaN: none)
``outcome_slo_violation_rate``  | share of the finished ones that failed, were dropped or
                                | missed the latency target (NaN: no SLO or none finished)
``outcome_slo_met``             | 1 when the window's latency statistic of the SLO kind (p95,
                                | p99 or mean) is within the target, else 0 (NaN: no SLO)
``outcome_failed_rate``         | share of the finished ones that failed or were dropped
``outcome_cost_per_hour``       | this replica's share of the bill per hour: its core-hours
                                | plus its node's hourly price split over the node's replicas
``run_score``                   | the whole run's score (lower is better)
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.learn.features import (
    ALL_FEATURES,
    candidate_features,
    telemetry_features,
    telemetry_table,
)

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.model import Scenario
    from simcontinuum.policy.api import AppView, ClusterView

ID_COLUMNS = (
    "scenario",
    "seed",
    "policy",
    "decision",
    "time_s",
    "app",
    "component",
    "replica",
    "node",
    "applied",
)
OUTCOME_COLUMNS = (
    "outcome_window_start_s",
    "outcome_window_end_s",
    "outcome_requests",
    "outcome_mean_latency_s",
    "outcome_p95_latency_s",
    "outcome_slo_violation_rate",
    "outcome_slo_met",
    "outcome_failed_rate",
    "outcome_cost_per_hour",
    "run_score",
)
COLUMNS: tuple[str, ...] = ID_COLUMNS + ALL_FEATURES + OUTCOME_COLUMNS
"""Every column of :func:`dataset`, in order."""

DEFAULT_WINDOW = 30.0


def parse_seeds(items: Iterable[str | int]) -> list[int]:
    """Seeds from ``["0..9"]`` (inclusive range), ``["0", "1", "2"]`` or ``[0, 1]``.

    >>> parse_seeds(["0..3", "7"])
    [0, 1, 2, 3, 7]

    Raises:
        ValueError: a seed is not a whole number >= 0, or a range runs backwards.
    """
    out: list[int] = []
    for item in items:
        text = str(item).strip()
        if ".." in text:
            lo, _, hi = text.partition("..")
            a, b = _seed(lo, text), _seed(hi, text)
            if b < a:
                raise ValueError(f"seed range {text!r} runs backwards; write {b}..{a}")
            out.extend(range(a, b + 1))
        else:
            out.extend(_seed(part, text) for part in text.replace(",", " ").split())
    if not out:
        raise ValueError("no seeds given; write e.g. 0..9 or 0 1 2")
    return list(dict.fromkeys(out))


def _seed(text: str, whole: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"a seed is a whole number >= 0, got {whole!r}") from None
    if value < 0:
        raise ValueError(f"a seed is a whole number >= 0, got {whole!r}")
    return value


def dataset(
    scenario: Scenario | str | os.PathLike[str] | dict[str, Any],
    policy: Any = "random",
    seeds: Iterable[int] | str = (0,),
    *,
    window: float = DEFAULT_WINDOW,
    interval: float | None = None,
) -> pd.DataFrame:
    """Run ``scenario`` under ``policy`` for every seed and return the training table.

    Args:
        scenario: a scenario, YAML path or parsed dict.
        policy: a policy spec (a name, ``file.py:Class``, ``ml:...``) or object. Random
            placements (the default) cover more (component, node) pairs than greedy ones.
        seeds: the seeds (``range(10)``, ``[0, 1, 2]`` or ``"0..9"``).
        window: seconds of requests after each decision its outcome is measured on.
        interval: seconds between control rows (default: the scenario's control interval,
            else its telemetry interval, else 10 s).

    Returns:
        One row per decision and replica, columns :data:`COLUMNS` (see the module docstring).
    """
    import pandas as pd

    from simcontinuum.model import Scenario as _Scenario
    from simcontinuum.scenario import load_scenario as load

    sc = scenario if isinstance(scenario, _Scenario) else load(scenario)
    seed_list = parse_seeds([seeds]) if isinstance(seeds, str) else [int(s) for s in seeds]
    if not window > 0:
        raise ValueError(f"window must be positive seconds, got {window!r}")
    step = interval or sc.control.interval or sc.telemetry.interval or 10.0
    frames = [_one_run(sc, policy, seed, float(window), float(step)) for seed in seed_list]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def _dtype(col: str) -> str:
    if col in ("scenario", "policy", "decision", "app", "component", "node"):
        return "object"
    if col == "applied":
        return "bool"
    if col in ("seed", "replica", "outcome_requests"):
        return "int64"
    return "float64"


# ----------------------------------------------------------------------------- recording


@dataclass
class _Log:
    """Rows collected while a run goes on (features only; outcomes come at the end)."""

    sim: Simulation | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def latest(self) -> dict[tuple[str, str], dict[str, float]]:
        delivered = self.sim.delivered_telemetry() if self.sim is not None else None
        if delivered is None:
            return {}
        return telemetry_table(delivered.latest())

    def place(self, app: AppView, view: ClusterView, placement: Any) -> None:
        """Rows for what ``place`` returned (malformed parts are the engine's to reject)."""
        from simcontinuum.policy.reservations import Reservations

        if not isinstance(placement, dict):
            return
        t = Reservations(view)
        live = view.placements.get(app.id, {})
        table = self.latest()
        known = {c.id for c in app.components}
        for cid in app.order():
            nodes = placement.get(cid)
            if cid not in known or nodes is None:
                continue
            comp = app.component(cid)
            for i, nid in enumerate([nodes] if isinstance(nodes, str) else list(nodes)):
                if not isinstance(nid, str) or nid not in view.nodes:
                    continue
                callers = _callers(app, cid, placement, live)
                feats = candidate_features(
                    view, app, comp, nid, callers=callers, tentative=t, replica_index=i
                )
                feats.update(telemetry_features(table, nid, app))
                self.rows.append(_ids("place", view.now, app.id, cid, i, nid) | feats)
                t.reserve(comp, nid)

    def control(self, view: ClusterView) -> None:
        """Rows for every live replica of every running application now."""
        table = self.latest()
        for aid, app in view.apps.items():
            live = view.placements.get(aid, {})
            for cid in app.order():
                comp = app.component(cid)
                for i, nid in enumerate(live.get(cid, ())):
                    callers = _callers(app, cid, {}, live)
                    feats = candidate_features(
                        view, app, comp, nid, callers=callers, replica_index=i, own=True
                    )
                    feats.update(telemetry_features(table, nid, app))
                    self.rows.append(_ids("control", view.now, aid, cid, i, nid) | feats)


def _callers(app: AppView, cid: str, placement: Any, live: Any) -> list[str]:
    out: list[str] = []
    for caller in app.callers(cid):
        nodes = placement.get(caller, live.get(caller, ()))
        out.extend([nodes] if isinstance(nodes, str) else [n for n in nodes if isinstance(n, str)])
    return out


def _ids(decision: str, t: float, app: str, cid: str, i: int, nid: str) -> dict[str, Any]:
    return {
        "decision": decision,
        "time_s": float(t),
        "app": app,
        "component": cid,
        "replica": i,
        "node": nid,
    }


class _Recording:
    """Wraps a policy: records what its ``place`` returns; everything else passes through
    (so the run is the one the policy alone would make)."""

    def __init__(self, inner: Any, log: _Log) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def place(self, app: AppView, view: ClusterView) -> Any:
        placement = self._inner.place(app, view)
        self._log.place(app, view, placement)
        return placement


def _one_run(sc: Scenario, policy: Any, seed: int, window: float, step: float) -> pd.DataFrame:
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy

    inner = load_policy(policy) if isinstance(policy, str) else policy
    log = _Log()
    sim = Simulation(sc, _Recording(inner, log), seed=seed, telemetry=True)
    log.sim = sim
    t = step
    while t < sc.duration and not sim.done:
        sim.advance(t)  # a slice ends before the events at t: the same run as one piece
        if sim.interrupted:
            break
        log.control(sim.view())
        t += step
    if not sim.interrupted:
        sim.advance(sc.duration)
    if sim.interrupted:  # the engine stopped on SIGINT/SIGTERM: a partial run makes no rows
        raise KeyboardInterrupt(signal.Signals(sim.interrupted_by or signal.SIGINT))
    results = sim.finish()
    return _with_outcomes(sc, sim, results, log.rows, window)


# ----------------------------------------------------------------------------- outcomes


def _with_outcomes(
    sc: Scenario, sim: Simulation, results: Any, rows: list[dict[str, Any]], window: float
) -> pd.DataFrame:
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=list(COLUMNS))
    df = pd.DataFrame(rows)
    df["scenario"] = sc.name
    df["seed"] = sim.seed
    df["policy"] = sim.policy_name
    df["applied"] = _applied(df, results.actions)
    horizon = float(results.meta["horizon_s"])
    start = _window_starts(df, results.replicas)
    end = np.minimum(start + window, horizon)
    df["outcome_window_start_s"] = start
    df["outcome_window_end_s"] = end
    stats = _window_stats(sc, results.requests, df["app"].to_numpy(), start, end)
    for col, values in stats.items():
        df[col] = values
    df["outcome_cost_per_hour"] = _cost_share(sc, df)
    df["run_score"] = float(results.summary()["score"])
    for col in COLUMNS:
        if col not in df:
            df[col] = math.nan
    return df[list(COLUMNS)]


def _applied(df: pd.DataFrame, actions: pd.DataFrame) -> np.ndarray:
    """Place rows the engine applied (matched in order by time, app, component and node)."""
    ok = actions[
        (actions["call"] == "place")
        & (actions["kind"] == "deploy")
        & (actions["outcome"] == "applied")
    ]
    budget: dict[tuple[float, str, str, str], int] = {}
    for rec in ok[["time_s", "app", "component", "node"]].itertuples(index=False):
        key = (round(float(rec[0]), 9), str(rec[1]), str(rec[2]), str(rec[3]))
        budget[key] = budget.get(key, 0) + 1
    out = np.ones(len(df), dtype=bool)
    cols = [df[c].tolist() for c in ("decision", "time_s", "app", "component", "node")]
    for i, (decision, t, app, comp, nid) in enumerate(zip(*cols, strict=True)):
        if decision != "place":
            continue
        key = (round(float(t), 9), str(app), str(comp), str(nid))
        left = budget.get(key, 0)
        out[i] = left > 0
        budget[key] = left - 1
    return out


def _window_starts(df: pd.DataFrame, replicas: pd.DataFrame) -> np.ndarray:
    """Place rows: when the replicas created at that time for the app ran (the latest);
    control rows: the decision time."""
    start = df["time_s"].to_numpy(dtype=float).copy()
    running: dict[tuple[float, str], float] = {}
    if len(replicas):
        for rec in replicas[["created_s", "app", "running_s"]].itertuples(index=False):
            key = (round(float(rec[0]), 9), str(rec[1]))
            ran = rec[2]
            if ran is None or (isinstance(ran, float) and math.isnan(ran)):
                continue
            running[key] = max(running.get(key, -math.inf), float(ran))
    place = (df["decision"] == "place").to_numpy()
    apps = df["app"].tolist()
    for i in np.flatnonzero(place):
        key = (round(float(start[i]), 9), str(apps[i]))
        if key in running:
            start[i] = max(start[i], running[key])
    return start


def _window_stats(
    sc: Scenario, requests: pd.DataFrame, apps: np.ndarray, start: np.ndarray, end: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(apps)
    out = {
        k: np.full(n, math.nan)
        for k in (
            "outcome_mean_latency_s",
            "outcome_p95_latency_s",
            "outcome_slo_violation_rate",
            "outcome_slo_met",
            "outcome_failed_rate",
        )
    }
    counts = np.zeros(n, dtype=np.int64)
    by_app = {str(a): g for a, g in requests.groupby("app", observed=True, sort=False)}
    slo = {a.id: a.slo for a in sc.applications}
    for aid in dict.fromkeys(str(a) for a in apps):
        rows = np.flatnonzero(apps == aid)
        g = by_app.get(aid)
        if g is None:
            continue
        arrival = g["arrival_s"].to_numpy(dtype=float)
        order = np.argsort(arrival, kind="stable")
        arrival = arrival[order]
        status = g["status"].astype(str).to_numpy()[order]
        latency = g["latency_s"].to_numpy(dtype=float)[order]
        violated = g["slo_violated"].fillna(False).to_numpy(dtype=bool)[order]
        s = slo.get(aid)
        target = s.latency_target if s is not None else None
        for i in rows:
            lo, hi = np.searchsorted(arrival, [start[i], end[i]], side="left")
            counts[i] = hi - lo
            st, lat, vio = status[lo:hi], latency[lo:hi], violated[lo:hi]
            fin = st != "incomplete"
            ok = st == "ok"
            if ok.any():
                lats = lat[ok]
                out["outcome_mean_latency_s"][i] = float(lats.mean())
                out["outcome_p95_latency_s"][i] = float(np.percentile(lats, 95))
                if s is not None and target:
                    stat = _slo_stat(s, lats)
                    out["outcome_slo_met"][i] = 1.0 if stat <= target else 0.0
            elif s is not None and target and fin.any():
                out["outcome_slo_met"][i] = 0.0
            if fin.any():
                bad = ~ok[fin]
                out["outcome_failed_rate"][i] = float(bad.mean())
                if s is not None and target:
                    out["outcome_slo_violation_rate"][i] = float((bad | vio[fin]).mean())
    return {**out, "outcome_requests": counts}


def _slo_stat(slo: Any, lats: np.ndarray) -> float:
    if slo.p95_latency is not None:
        return float(np.percentile(lats, 95))
    if slo.p99_latency is not None:
        return float(np.percentile(lats, 99))
    return float(lats.mean())


def _cost_share(sc: Scenario, df: pd.DataFrame) -> np.ndarray:
    """Core-hours of the replica plus its node's hourly price over the node's replicas."""
    nodes = {n.id: n for n in sc.topology.nodes}
    comps = {(a.id, c.id): c for a in sc.applications for c in a.components}
    out = np.empty(len(df))
    cols = [df[c].tolist() for c in ("app", "component", "node", "node_replicas")]
    for i, (app, cid, nid, hosted) in enumerate(zip(*cols, strict=True)):
        node = nodes[str(nid)]
        comp = comps[(str(app), str(cid))]
        share = node.price.per_hour / (float(hosted) + 1.0)
        out[i] = node.price.per_core_hour * comp.cpu + share
    return out


def write_dataset(df: pd.DataFrame, path: str | os.PathLike[str]) -> str:
    """Write the table to ``path`` (``.parquet``, else ``.csv``), atomically; returns the path."""
    from pathlib import Path

    from simcontinuum.io import atomic_path

    target = Path(path)
    with atomic_path(target) as tmp:
        if target.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return str(target)


def read_dataset(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`write_dataset`."""
    import pandas as pd

    text = str(path)
    return pd.read_csv(text) if text.lower().endswith(".csv") else pd.read_parquet(text)


def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several tables (e.g. of different scenarios) as one."""
    import pandas as pd

    return pd.concat(list(frames), ignore_index=True)


__all__ = [
    "COLUMNS",
    "DEFAULT_WINDOW",
    "ID_COLUMNS",
    "OUTCOME_COLUMNS",
    "concat",
    "dataset",
    "parse_seeds",
    "read_dataset",
    "write_dataset",
]
