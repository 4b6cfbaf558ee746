"""Tables → arrays for the figures: time bins, per-bin counts and quantiles, the utilisation
matrix, cost spread over time, SLO targets. Pure functions of the result tables, vectorised
with numpy so a run with a million requests is binned in well under a second.

Invariants: bins are half-open ``[edge_i, edge_i+1)`` over ``[0, horizon]`` (the last one is
closed); cost spread over time sums to the cost table's total for every node and item, so the
"over time" figure never disagrees with the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results

STATUSES = ("ok", "failed", "dropped", "incomplete")
_NICE_STEPS = (
    *(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900),
    *(1800, 3600, 7200, 10800, 21600, 43200, 86400),
)


def horizon_of(results: Results) -> float:
    """The simulated horizon (seconds): from meta, else the latest time in the tables."""
    h = results.meta.get("horizon_s") or results.meta.get("duration_s")
    if h:
        return float(h)
    latest = [0.0]
    if len(results.requests):
        latest.append(float(np.nanmax(results.requests["end_s"].to_numpy(dtype=float))))
    if len(results.telemetry):
        latest.append(float(results.telemetry["time_s"].max()))
    return max(latest) or 1.0


def bin_edges(horizon: float, target: int = 120) -> np.ndarray:
    """About ``target`` bins of a round width (1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min, ...)
    covering ``[0, horizon]``.

    >>> bin_edges(300.0)[:3].tolist(), len(bin_edges(300.0)) - 1
    ([0.0, 5.0, 10.0], 60)
    """
    horizon = max(float(horizon), 1e-9)
    raw = horizon / max(target, 1)
    step = next((s for s in _NICE_STEPS if s >= raw), raw)
    n = max(1, math.ceil(horizon / step - 1e-9))
    return np.arange(n + 1, dtype=float) * step


def bin_index(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each time (-1 for NaN or outside ``[edges[0], edges[-1]]``)."""
    idx = np.searchsorted(edges, times, side="right") - 1
    idx[times == edges[-1]] = len(edges) - 2
    bad = np.isnan(times) | (idx < 0) | (idx >= len(edges) - 1)
    idx[bad] = -1
    return idx


@dataclass(frozen=True)
class TimeAxis:
    """How to show seconds: divide by ``scale`` and label with ``unit``."""

    scale: float
    unit: str

    @classmethod
    def for_horizon(cls, horizon: float) -> TimeAxis:
        if horizon > 3 * 3600:
            return cls(3600.0, "h")
        if horizon > 1200:
            return cls(60.0, "min")
        return cls(1.0, "s")

    @property
    def label(self) -> str:
        return f"simulated time ({self.unit})"


def outcome_counts(requests: pd.DataFrame, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Requests per arrival-time bin by outcome: ``ok``, ``ok_slo_missed`` (ok but slower than
    the SLO), ``failed``, ``dropped``, ``incomplete``."""
    nb = len(edges) - 1
    b = bin_index(requests["arrival_s"].to_numpy(dtype=float), edges)
    codes, names = codes_of(requests["status"])
    status = np.asarray([*names, ""], dtype=object)[codes]  # code -1 (missing) → ""
    slow = requests["slo_violated"].fillna(False).to_numpy(dtype=bool)
    out: dict[str, np.ndarray] = {}
    for s in STATUSES:
        mask = status == s
        if s == "ok":
            out["ok_slo_missed"] = _count(b[mask & slow], nb)
            mask &= ~slow
        out[s] = _count(b[mask], nb)
    return out


def codes_of(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their labels (sorted) for a column of names — categorical columns
    keep their codes, which is much faster than ``astype(str)`` on a million rows."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in series.cat.categories]
        order = np.argsort(cats, kind="stable")
        remap = np.empty(len(cats) + 1, dtype=np.int64)
        remap[order] = np.arange(len(cats))
        remap[-1] = -1
        return remap[series.cat.codes.to_numpy()], [cats[i] for i in order]
    codes, uniques = pd.factorize(series, sort=True)
    return codes, [str(u) for u in uniques]


def _count(b: np.ndarray, nb: int) -> np.ndarray:
    return np.bincount(b[b >= 0], minlength=nb)[:nb].astype(float)


def binned_quantiles(
    times: np.ndarray, values: np.ndarray, edges: np.ndarray, qs: tuple[float, ...]
) -> np.ndarray:
    """Quantiles of ``values`` per time bin, shape ``(len(qs), bins)`` (NaN in empty bins).
    One sort for all bins (nearest-rank below), no Python loop over bins."""
    nb = len(edges) - 1
    out = np.full((len(qs), nb), np.nan)
    b = bin_index(times, edges)
    keep = (b >= 0) & ~np.isnan(values)
    b, v = b[keep], values[keep]
    if len(v) == 0:
        return out
    order = np.lexsort((v, b))
    b, v = b[order], v[order]
    counts = np.bincount(b, minlength=nb)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    for i, q in enumerate(qs):
        pos = starts[has] + np.floor(q * (counts[has] - 1)).astype(int)
        out[i, has] = v[pos]
    return out


def cdf_points(values: np.ndarray, points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(x, F(x)) of the empirical CDF, at most ``points`` points (quantiles), for plotting."""
    v = np.sort(values[~np.isnan(values)])
    if len(v) == 0:
        return v, v
    if len(v) <= points:
        return v, np.arange(1, len(v) + 1) / len(v)
    p = np.linspace(0.0, 1.0, points)
    return np.quantile(v, p), p


def slo_targets(
    results: Results, scenario: Scenario | None = None
) -> tuple[dict[str, tuple[float, str]], str]:
    """Per application its latency SLO ``(seconds, kind)`` and a note saying where it came
    from or why it is missing.

    The engine does not store the targets in the results, so they are read from ``scenario``
    or, failing that, from the file at ``meta["scenario_path"]`` — only when that file still
    has the digest of the run (a changed file could have other targets).
    """
    note = ""
    if scenario is None:
        scenario, note = _scenario_of(results)
    if scenario is None:
        return {}, note
    targets: dict[str, tuple[float, str]] = {}
    for app in scenario.applications:
        slo = app.slo
        if slo is None or slo.latency_target is None:
            continue
        kind = next(
            k for k in ("p95_latency", "p99_latency", "mean_latency") if getattr(slo, k) is not None
        )
        targets[app.id] = (float(slo.latency_target), kind.split("_")[0])
    return targets, note or "SLO targets from the scenario file."


def _scenario_of(results: Results) -> tuple[Scenario | None, str]:
    from simcontinuum.errors import SimContinuumError

    path = results.meta.get("scenario_path")
    if not path:
        return None, "SLO lines omitted: the run does not name its scenario file."
    try:
        from simcontinuum.scenario import load_scenario as load

        sc = load(path, seed=results.meta.get("seed"))
    except (OSError, SimContinuumError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"SLO lines omitted: cannot read {path} ({first})."
    digest = results.meta.get("scenario_digest")
    if digest and sc.digest != digest:
        return None, (
            f"SLO lines omitted: {path} has changed since this run (give the scenario "
            "explicitly to use it anyway: --scenario FILE, or scenario=)."
        )
    return sc, f"SLO targets from {path}."


# --------------------------------------------------------------------------- node matrices


def node_matrix(
    telemetry: pd.DataFrame, metric: str, edges: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Mean of a node metric per (node, time bin): node ids and a ``(nodes, bins)`` array.
    A bin without a sample holds the node's previous value (bins can be narrower than the
    telemetry interval); NaN before a node's first sample."""
    t = telemetry[(telemetry["kind"] == "node") & (telemetry["metric"] == metric)]
    nb = len(edges) - 1
    if len(t) == 0:
        return [], np.zeros((0, nb))
    codes, nodes = codes_of(t["id"])
    b = bin_index(t["time_s"].to_numpy(dtype=float), edges)
    ok = (b >= 0) & (codes >= 0)
    flat = codes[ok] * nb + b[ok]
    size = len(nodes) * nb
    sums = np.bincount(flat, weights=t["value"].to_numpy(dtype=float)[ok], minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return [str(n) for n in nodes], _hold(mean.reshape(len(nodes), nb))


def _hold(mat: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along each row (the last sample holds until the next).

    >>> _hold(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])).tolist()
    [[nan, 1.0, 1.0, 3.0, 3.0]]
    """
    if mat.size == 0:
        return mat
    cols = np.arange(mat.shape[1])[None, :]
    last = np.maximum.accumulate(np.where(np.isnan(mat), -1, cols), axis=1)
    rows = np.arange(mat.shape[0])[:, None]
    return np.where(last >= 0, mat[rows, np.maximum(last, 0)], np.nan)


def replica_coverage(
    replicas: pd.DataFrame, edges: np.ndarray, horizon: float, *, start: str = "created_s"
) -> np.ndarray:
    """Seconds of each replica's life in each bin, shape ``(replicas, bins)``; a replica
    never removed lives to the horizon."""
    s = replicas[start].to_numpy(dtype=float)
    e = replicas["removed_s"].to_numpy(dtype=float)
    e = np.where(np.isnan(e), horizon, e)
    s = np.where(np.isnan(s), e, s)
    lo, hi = edges[:-1][None, :], edges[1:][None, :]
    return np.clip(np.minimum(e[:, None], hi) - np.maximum(s[:, None], lo), 0.0, None)


def cost_over_time(results: Results, edges: np.ndarray) -> pd.DataFrame:
    """Cumulative cost per tier at each bin's right edge (index: time in seconds).

    The cost table has totals only; each (node, item) total is spread over time by a profile
    that follows how it accrues — node-hours by the node's replica presence (uniform when the
    node is billed the whole horizon), core-hours by requested cpu × replica lifetime, energy by
    the node's sampled power, egress by request arrivals — so the curve ends exactly at the
    table's total.
    """
    cost = results.cost
    nb = len(edges) - 1
    horizon = float(edges[-1])
    width = np.diff(edges)
    index = pd.Index(edges[1:], name="time_s")
    if len(cost) == 0:
        return pd.DataFrame(index=index)
    nodes = sorted(set(cost["node"].astype(str)))
    pos = {n: i for i, n in enumerate(nodes)}
    presence = np.zeros((len(nodes), nb))
    cores = np.zeros((len(nodes), nb))
    reps = results.replicas
    if len(reps):
        cov = replica_coverage(reps, edges, horizon)
        rows = np.array([pos.get(str(n), -1) for n in reps["node"]], dtype=int)
        keep = rows >= 0
        np.add.at(presence, rows[keep], cov[keep])
        np.add.at(cores, rows[keep], cov[keep] * reps["cpu"].to_numpy(dtype=float)[keep, None])
    presence = np.minimum(presence, width[None, :])  # union of lifetimes, per bin
    _, power = _power_by_node(results.telemetry, edges, pos)
    arrivals = np.ones(nb)
    if len(results.requests):
        b = bin_index(results.requests["arrival_s"].to_numpy(dtype=float), edges)
        arrivals = _count(b, nb)
    uniform = width / width.sum()
    by_tier: dict[str, np.ndarray] = {}
    for node, tier, item, quantity, value in zip(
        cost["node"].astype(str),
        cost["tier"].astype(str),
        cost["item"].astype(str),
        cost["quantity"].to_numpy(dtype=float),
        cost["cost"].to_numpy(dtype=float),
        strict=True,
    ):
        if not value:
            continue
        i = pos[node]
        if item == "node_hours":
            billed_all = quantity * 3600.0 >= 0.99 * horizon
            profile = width if billed_all else presence[i]
        elif item == "core_hours":
            profile = cores[i]
        elif item == "energy":
            profile = power[i]
        else:
            profile = arrivals
        total = float(np.sum(profile))
        share = profile / total if total > 0 else uniform
        by_tier.setdefault(tier, np.zeros(nb))
        by_tier[tier] += value * share
    return pd.DataFrame({t: np.cumsum(v) for t, v in sorted(by_tier.items())}, index=index)


def _power_by_node(
    telemetry: pd.DataFrame, edges: np.ndarray, pos: dict[str, int]
) -> tuple[list[str], np.ndarray]:
    """Mean sampled power (W) × bin width per node in ``pos`` order (energy profile)."""
    out = np.zeros((len(pos), len(edges) - 1))
    if len(telemetry) == 0:
        return list(pos), out
    ids, mat = node_matrix(telemetry, "node_power_watts", edges)
    for nid, row in zip(ids, mat, strict=True):
        if nid in pos:
            out[pos[nid]] = np.nan_to_num(row) * np.diff(edges)
    return list(pos), out


def power_by_tier(results: Results, edges: np.ndarray) -> pd.DataFrame:
    """Total sampled power (W) per tier and time bin (index: bin start, seconds)."""
    tiers = node_tiers(results)
    ids, mat = node_matrix(results.telemetry, "node_power_watts", edges)
    cols: dict[str, np.ndarray] = {}
    for nid, row in zip(ids, mat, strict=True):
        tier = tiers.get(nid, "unknown")
        cols.setdefault(tier, np.zeros(len(edges) - 1))
        first = np.flatnonzero(~np.isnan(row))
        if len(first):  # a node draws power before its first sample: hold that one backwards
            row = np.where(np.arange(len(row)) < first[0], row[first[0]], row)
        cols[tier] += np.nan_to_num(row)
    return pd.DataFrame(dict(sorted(cols.items())), index=pd.Index(edges[:-1], name="time_s"))


def node_tiers(results: Results) -> dict[str, str]:
    """Tier of every node named in the replicas or cost tables."""
    tiers: dict[str, str] = {}
    for df in (results.replicas, results.cost):
        if len(df) and "tier" in df:
            tiers.update(zip(df["node"].astype(str), df["tier"].astype(str), strict=True))
    return tiers


def failure_spans(events: pd.DataFrame, horizon: float) -> list[tuple[str, str, float, float]]:
    """``(kind, target, start, end)`` for every node/link/cluster outage (end: recovery or the
    horizon)."""
    spans: list[tuple[str, str, float, float]] = []
    if len(events) == 0:
        return spans
    open_: dict[tuple[str, str], float] = {}
    ev = events.sort_values("time_s", kind="stable")
    for t, kind, target in zip(
        ev["time_s"], ev["kind"].astype(str), ev["target"].astype(str), strict=True
    ):
        what, _, state = kind.rpartition("_")
        if state == "failed":
            open_.setdefault((what, target), float(t))
        elif state == "recovered" and (what, target) in open_:
            spans.append((what, target, open_.pop((what, target)), float(t)))
    spans.extend((w, tg, s, horizon) for (w, tg), s in open_.items())
    return sorted(spans, key=lambda x: (x[2], x[1]))


def app_table(results: Results, targets: dict[str, tuple[float, str]]) -> pd.DataFrame:
    """One row per application: scored requests by outcome, latency, SLO target and violation
    rate — computed with the same functions as the summary (:mod:`simcontinuum.metrics.score`).
    """
    from simcontinuum.metrics.score import latency_stats, slo_violation_rate

    req = results.requests
    rows: list[dict[str, Any]] = []
    if len(req) == 0:
        return pd.DataFrame(rows)
    for app, df in req.groupby("app", observed=True, sort=True):
        scored = df[df["scored"]]
        n = max(len(scored), 1)
        counts = scored["status"].value_counts()
        lat = latency_stats(df)
        target = targets.get(str(app))
        has_slo = bool(df["has_slo"].any())
        rows.append(
            {
                "app": str(app),
                "requests": len(scored),
                "ok %": 100.0 * counts.get("ok", 0) / n,
                "failed %": 100.0 * counts.get("failed", 0) / n,
                "dropped %": 100.0 * counts.get("dropped", 0) / n,
                "p50 ms": lat["p50_latency_s"] * 1000.0,
                "p95 ms": lat["p95_latency_s"] * 1000.0,
                "SLO": f"{target[1]} ≤ {target[0] * 1000:g} ms" if target else "—",
                "SLO violations %": 100.0 * slo_violation_rate(df) if has_slo else float("nan"),
            }
        )
    return pd.DataFrame(rows)
