"""From metric series to the statistics calibration matches: the same code for observed and
simulated data, so both sides are measured alike.

Series read (names as ``simcontinuum export`` writes them; the MLSysOps collector's where
they exist):

=============================================== ============ =====================================
series                                          labels       statistic (per sample interval)
=============================================== ============ =====================================
``simcontinuum_node_cpu_utilisation_ratio``     ``node``     CPU utilisation
``node_cpu_seconds_total`` (if the above is     ``node``,    non-idle over all core-seconds
absent)                                         ``mode``
``simcontinuum_app_latency_p95_seconds``, or    ``app``      p95 latency (s)
the application's ``qos_metrics`` id (ms)
``simcontinuum_app_requests_total``, or         ``app``      requests per second
``frames_sent_total``
``simcontinuum_component_service_seconds_total` ``app``,     mean service time per step (s)
/ ``simcontinuum_component_steps_total``         ``component``
``simcontinuum_component_network_in_seconds_total``          mean network time per step (s)
/ ``simcontinuum_component_steps_total``
=============================================== ============ =====================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results


@dataclass
class Stats:
    """Statistics as time series (index: simulated seconds)."""

    util: dict[str, pd.Series] = field(default_factory=dict)  # node ->
    p95: dict[str, pd.Series] = field(default_factory=dict)  # app ->
    requests: dict[str, pd.Series] = field(default_factory=dict)  # app -> per second
    service: dict[tuple[str, str], pd.Series] = field(default_factory=dict)  # (app, comp) ->
    network: dict[tuple[str, str], pd.Series] = field(default_factory=dict)

    def empty(self) -> bool:
        """Whether no statistic was found."""
        return not any((self.util, self.p95, self.requests, self.service, self.network))


def long_frame(results: Results, scenario: Scenario | None) -> pd.DataFrame:
    """A run's exported series as the observed table (``name, labels, t, value``)."""
    from simcontinuum.export.series import families

    rows = []
    for fam in families(results, scenario):
        name = fam.metric.sample_name
        for labels, times, values in fam.series():
            lab = tuple(sorted(labels.items()))
            rows += [
                (name, lab, t, v) for t, v in zip(times.tolist(), values.tolist(), strict=True)
            ]
    return pd.DataFrame.from_records(rows, columns=["name", "labels", "t", "value"])


def _by(df: pd.DataFrame, name: str, keys: tuple[str, ...]) -> dict[Any, pd.Series]:
    """Series of ``name`` keyed by the label values ``keys`` (others summed away)."""
    part = df[df["name"] == name]
    out: dict[Any, pd.Series] = {}
    if part.empty:
        return out
    key_vals = part["labels"].map(lambda lab: tuple(dict(lab).get(k) for k in keys))
    part = part.assign(_k=key_vals)
    for k_raw, grp in part.groupby("_k", sort=True):
        k: tuple[Any, ...] = tuple(k_raw)  # type: ignore[arg-type]
        if any(v is None for v in k):
            continue
        s = grp.groupby("t")["value"].sum().sort_index()
        out[k if len(keys) > 1 else k[0]] = s
    return out


def _rate(counter: pd.Series) -> pd.Series:
    """Per-second increase between samples (a reset counts its new value)."""
    dv = counter.diff()
    dv[dv < 0] = counter[dv < 0]
    dt = pd.Series(counter.index, index=counter.index).diff()
    return (dv / dt).iloc[1:]


def _increase(counter: pd.Series) -> pd.Series:
    dv = counter.diff()
    dv[dv < 0] = counter[dv < 0]
    return dv.iloc[1:]


def extract(df: pd.DataFrame, scenario: Scenario) -> Stats:
    """The statistics of ``df`` (``name, labels, t, value``; ``t`` in simulated seconds)."""
    st = Stats()
    nodes = {n.id for n in scenario.topology.nodes}
    apps = {a.id: a for a in scenario.applications}
    util = _by(df, "simcontinuum_node_cpu_utilisation_ratio", ("node",))
    if not util:
        cpu = _by(df, "node_cpu_seconds_total", ("node", "mode"))
        for node in {k[0] for k in cpu}:
            parts = {m: s for (n, m), s in cpu.items() if n == node}
            total = sum((_increase(s) for s in parts.values()), pd.Series(dtype=float))
            idle = _increase(parts["idle"]) if "idle" in parts else 0.0 * total
            with np.errstate(invalid="ignore", divide="ignore"):
                util[node] = ((total - idle) / total).dropna()
    st.util = {k: v for k, v in util.items() if k in nodes}
    p95 = _by(df, "simcontinuum_app_latency_p95_seconds", ("app",))
    for aid, app in apps.items():
        metric = app.slo.metric if app.slo else None
        if aid in p95 or not metric:
            continue
        ms = _by(df, metric, ("app",)).get(aid)
        if ms is None:  # the framework's series may carry no app label
            part = df[df["name"] == metric]
            if not part.empty:
                ms = part.groupby("t")["value"].mean().sort_index()
        if ms is not None:
            p95[aid] = ms / 1000.0
    st.p95 = {k: v for k, v in p95.items() if k in apps}
    reqs = _by(df, "simcontinuum_app_requests_total", ("app",))
    if not reqs:
        reqs = _by(df, "frames_sent_total", ("app",))
    st.requests = {k: _rate(v) for k, v in reqs.items() if k in apps and len(v) > 1}
    steps = _by(df, "simcontinuum_component_steps_total", ("app", "component"))
    for name, target in (
        ("simcontinuum_component_service_seconds_total", st.service),
        ("simcontinuum_component_network_in_seconds_total", st.network),
    ):
        for key, total in _by(df, name, ("app", "component")).items():
            n = steps.get(key)
            if n is None or len(total) < 2 or key[0] not in apps:
                continue
            dn, ds = _increase(n), _increase(total)
            both = pd.concat([ds.rename("s"), dn.rename("n")], axis=1, join="inner")
            both = both[both["n"] > 0]
            if len(both):
                target[key] = both["s"] / both["n"]
    return st


def stats(results: Results, scenario: Scenario) -> Stats:
    """A run's statistics, measured as they would be from its export."""
    return extract(long_frame(results, scenario), scenario)
