"""The ``telemetry`` argument of ``analyze``/``plan``, built from delivered simulator telemetry.

The agent passes ``{"prometheus_endpoint", "grafana_endpoint", "dataframe", "query"}``. The
DataFrame has one row per sample time of the last 30 s (the agent's retention) and one column
per metric (``telemetry.metrics`` of the agent's policies plus every ``qos_metrics`` id), plus
``timestamp`` (simulated seconds) and ``human_timestamp`` (``timestamp`` as a UTC date from
the epoch). Like the agent's monitor, a column keeps one series only — labels are lost:

- an application metric (the SLO metric the simulator emits in ms under the ``qos_metrics``
  id, or any ``app_*`` metric) comes from the first of this agent's applications that emits it;
- a node metric comes from the first node of the agent's cluster. Framework names are mapped:
  ``node_load1`` = busy cores + queued steps (cores × utilisation + queue length),
  ``k8s_node_allocatable_cpu`` = cores, ``k8s_node_allocatable_memory_bytes`` and
  ``node_memory_MemTotal_bytes`` = memory, ``k8s_node_condition_ready`` = ``node_up``;
  simulator names (``node_cpu_utilisation``, ...) work as they are;
- a metric the simulator does not produce is a column of ``None``.

Only samples already delivered are used, so values are as stale as on a real cluster; a value
missing at one sample time (not yet delivered, lost) repeats the previous one.
``query(start_time=None, end_time=None, latest=False)`` is a coroutine returning the rows
between the two timestamps, or the last row with ``latest=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

RETENTION_S = 30.0
SLACK_S = 120.0  # read this much further back so a carried-forward value has a source


def _load1(v: Mapping[str, float], node: Any) -> float | None:
    util, queue = v.get("node_cpu_utilisation"), v.get("node_queue_length")
    if util is None:
        return None
    return float(util) * node.cores + float(queue or 0.0)


NODE_METRICS: Mapping[str, Callable[[Mapping[str, float], Any], float | None]] = {
    "node_load1": _load1,
    "k8s_node_allocatable_cpu": lambda v, n: float(n.cores),
    "k8s_node_allocatable_memory_bytes": lambda v, n: float(n.memory) if n.memory > 0 else None,
    "node_memory_MemTotal_bytes": lambda v, n: float(n.memory) if n.memory > 0 else None,
    "k8s_node_condition_ready": lambda v, n: v.get("node_up"),
}
NODE_INPUTS = ("node_up", "node_cpu_utilisation", "node_queue_length")


def human(ts: float) -> str:
    """``timestamp`` as the agent prints it: a UTC date-time (simulated seconds from epoch).

    >>> human(65.0)
    '1970-01-01 00:01:05'
    """
    return datetime.fromtimestamp(float(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def telemetry_frame(
    delivered: Any,
    now: float,
    columns: Sequence[str],
    apps: Sequence[str],
    nodes: Sequence[Any],
) -> pd.DataFrame:
    """The agent's telemetry DataFrame at ``now`` (see the module docstring).

    Args:
        delivered: a :class:`~simcontinuum.engine.telemetry.DeliveredTelemetry` (or None).
        columns: metric names, in order.
        apps: this agent's application ids, in order (the first emitting a metric wins).
        nodes: this agent's node views, in order (the first is the node metrics' source).
    """
    import numpy as np
    import pandas as pd

    cols = list(dict.fromkeys(columns))
    long = delivered.window(RETENTION_S + SLACK_S) if delivered is not None else None
    if long is None or long.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in [*cols, "timestamp", "human_timestamp"]}
        )
    t = long["time_s"].to_numpy(dtype=float)
    ids = long["id"].to_numpy(dtype=object)
    metric = long["metric"].to_numpy(dtype=object)
    value = long["value"].to_numpy(dtype=float)
    times = np.unique(t)
    pos = {x: i for i, x in enumerate(times)}
    keep = times >= now - RETENTION_S - 1e-9
    data: dict[str, Any] = {}
    for col in cols:
        filled = _column(col, t, ids, metric, value, apps, nodes)
        if filled is None:
            data[col] = [None] * int(keep.sum())
            continue
        out = np.full(len(times), np.nan)
        for when, v in filled.items():
            out[pos[when]] = v
        data[col] = _ffill(out)[keep]
    kept = times[keep]
    data["timestamp"] = kept
    data["human_timestamp"] = [human(x) for x in kept]
    return pd.DataFrame(data)


def _ffill(values: Any) -> Any:
    """NaNs replaced by the last value before them (leading NaNs stay)."""
    import numpy as np

    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(idx, out=idx)
    return values[idx]  # leading NaNs map to index 0, itself NaN


def _points(t: Any, ids: Any, metric: Any, value: Any, ident: str, name: str) -> dict[float, float]:
    mask = (metric == name) & (ids == ident)
    return dict(zip(t[mask].tolist(), value[mask].tolist(), strict=True))


def _column(
    col: str,
    t: Any,
    ids: Any,
    metric: Any,
    value: Any,
    apps: Sequence[str],
    nodes: Sequence[Any],
) -> dict[float, float] | None:
    """``{sample time: value}`` of one column: its single series (labels are lost)."""
    if (metric == col).any():
        for ident in [*apps, *(n.id for n in nodes)]:
            pts = _points(t, ids, metric, value, ident, col)
            if pts:
                return pts
        if not apps and not nodes:
            return _points(t, ids, metric, value, str(ids[metric == col][0]), col)
    fn = NODE_METRICS.get(col)
    if fn is None or not nodes:
        return None
    node = nodes[0]
    inputs = {m: _points(t, ids, metric, value, node.id, m) for m in NODE_INPUTS}
    stamps = sorted(set().union(*inputs.values()))
    out: dict[float, float] = {}
    for when in stamps:
        got = {m: pts[when] for m, pts in inputs.items() if when in pts and pts[when] == pts[when]}
        v = fn(got, node)
        if v is not None:
            out[when] = float(v)
    return out or None


def telemetry_argument(frame: pd.DataFrame) -> dict[str, Any]:
    """The ``telemetry`` dict the agent passes to ``analyze``/``plan``."""

    async def query(
        start_time: float | None = None, end_time: float | None = None, latest: bool = False
    ) -> pd.DataFrame:
        df = frame
        if start_time is not None:
            df = df[df["timestamp"] >= float(start_time)]
        if end_time is not None:
            df = df[df["timestamp"] <= float(end_time)]
        if latest:
            df = df.tail(1)
        return df.reset_index(drop=True).copy()

    return {
        "prometheus_endpoint": os.environ.get("LOCAL_OTEL_ENDPOINT"),
        "grafana_endpoint": os.environ.get("GRAFANA_ENDPOINT"),
        "dataframe": frame.copy(),
        "query": query,
    }


__all__ = ["NODE_METRICS", "RETENTION_S", "human", "telemetry_argument", "telemetry_frame"]
