"""The ``telemetry`` argument of ``analyze``/``plan``, built from delivered simulator telemetry.

The agent passes ``{"prometheus_endpoint", "grafana_endpoint", "dataframe", "query"}``. The
DataFrame is the agent's monitor store (``tasks/monitor.py``, ``data/monitor.py``): one row per
sample time of the last 30 s (its retention), a ``timestamp`` column (simulated seconds; the
policy's ``time.time()`` reads the same clock) and ``human_timestamp``, and one column per metric
(``telemetry.metrics`` of the agent's policies plus every ``qos_metrics`` id) *that has had a
value* — the agent adds a column only when a scrape returns the metric, so a metric nobody
emits is no column at all (``df[m]`` raises ``KeyError``, as there). Columns come in the
store's order: ``timestamp``, the first metric, ``human_timestamp``, the others. Row labels
count samples from the run's start (the store is never re-indexed): ``iloc[-1:]`` keeps its
label, so ``df[m][0]`` fails where ``df[m].values[0]`` works, as on the framework. Like the
agent's monitor a column keeps one series — labels are lost:

- an application metric comes from the first of this agent's applications that emits it: the
  SLO metric the simulator emits in ms under the ``qos_metrics`` id (the hackathon's
  ``frame_classify_latency``, p95 of the window), any ``app_*`` metric, and the hackathon
  application's names (:data:`APP_ALIASES`): ``detector_frame_latency`` and
  ``object_classify_latency`` (median end-to-end latency of the window in ms — the simulator
  samples end-to-end latencies only), ``frames_sent_total`` (requests, a counter),
  ``classifier_frames_processed_total`` (requests answered), ``detector_queue_size`` (steps
  queued on the node of the entry component's replica);
- a node metric comes from the first node of the agent's cluster, under the names of the
  framework's collector (:data:`NODE_METRICS`): ``node_load1`` (busy cores + queued steps),
  ``node_cpu_seconds_total`` (busy core-seconds since the start, all cpus and non-idle modes
  summed), ``node_memory_MemTotal_bytes``, ``node_memory_MemAvailable_bytes`` and
  ``node_memory_MemFree_bytes`` (memory not requested by replicas),
  ``k8s_node_allocatable_cpu``, ``k8s_node_allocatable_memory_bytes``,
  ``k8s_node_condition_ready``; ``k8s_pod_phase`` is the phase of the agent's first pod
  (2 = Running, 1 = Pending) at the time of the call; simulator names (``node_cpu_utilisation``,
  ...) work as they are.

Only samples already delivered are used, so values are as stale as on a real cluster; a value
missing at one sample time (not yet delivered, lost) repeats the previous one.
``query(start_time=None, end_time=None, latest=False)`` behaves as the store's ``query_data``:
``latest=True`` gives the last row (``ValueError`` on an empty store), both times give the rows
between them, one of the two raises ``ValueError``, neither gives the whole store.
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


def _available(v: Mapping[str, float], node: Any) -> float | None:
    if node.memory <= 0:
        return None
    return max(0.0, float(node.memory) - float(v.get("node_memory_allocated_bytes") or 0.0))


NODE_METRICS: Mapping[str, Callable[[Mapping[str, float], Any], float | None]] = {
    "node_load1": _load1,
    "k8s_node_allocatable_cpu": lambda v, n: float(n.cores),
    "k8s_node_allocatable_memory_bytes": lambda v, n: float(n.memory) if n.memory > 0 else None,
    "node_memory_MemTotal_bytes": lambda v, n: float(n.memory) if n.memory > 0 else None,
    "node_memory_MemAvailable_bytes": _available,
    "node_memory_MemFree_bytes": _available,
    "k8s_node_condition_ready": lambda v, n: v.get("node_up"),
}
NODE_INPUTS = (
    "node_up",
    "node_cpu_utilisation",
    "node_queue_length",
    "node_memory_allocated_bytes",
)
CUMULATIVE = ("node_cpu_seconds_total",)  # integrals of node_cpu_utilisation × cores


def _ms(name: str) -> Callable[[Mapping[str, float]], float | None]:
    return lambda v: None if v.get(name) is None else float(v[name]) * 1000.0


def _processed(v: Mapping[str, float]) -> float | None:
    if v.get("app_requests_total") is None:
        return None
    return float(v["app_requests_total"]) - float(v.get("app_errors_total") or 0.0)


APP_ALIASES: Mapping[str, Callable[[Mapping[str, float]], float | None]] = {
    "detector_frame_latency": _ms("app_latency_p50_seconds"),
    "object_classify_latency": _ms("app_latency_p50_seconds"),
    "frames_sent_total": lambda v: v.get("app_requests_total"),
    "classifier_frames_processed_total": _processed,
}
APP_INPUTS = (
    "app_latency_p50_seconds",
    "app_requests_total",
    "app_errors_total",
)
QUEUE_METRIC = "detector_queue_size"  # node_queue_length of the entry replica's node
POD_PHASE = "k8s_pod_phase"


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
    *,
    entry_hosts: Mapping[str, str] | None = None,
    pod_phase: float | None = None,
) -> pd.DataFrame:
    """The agent's telemetry DataFrame at ``now`` (see the module docstring).

    Args:
        delivered: a :class:`~simcontinuum.engine.telemetry.DeliveredTelemetry` (or None).
        columns: metric names, in order.
        apps: this agent's application ids, in order (the first emitting a metric wins).
        nodes: this agent's node views, in order (the first is the node metrics' source).
        entry_hosts: application -> node of its entry component's replica
            (``detector_queue_size``).
        pod_phase: the phase of the agent's first pod now (``k8s_pod_phase``).
    """
    import numpy as np
    import pandas as pd

    cols = list(dict.fromkeys(columns))
    long = delivered.window(RETENTION_S + SLACK_S) if delivered is not None else None
    if long is None or long.empty:
        return pd.DataFrame({"timestamp": pd.Series(dtype=object)})
    t = long["time_s"].to_numpy(dtype=float)
    ids = long["id"].to_numpy(dtype=object)
    metric = long["metric"].to_numpy(dtype=object)
    value = long["value"].to_numpy(dtype=float)
    times = np.unique(t)
    pos = {x: i for i, x in enumerate(times)}
    keep = times >= now - RETENTION_S - 1e-9
    if not keep.any():
        return pd.DataFrame({"timestamp": pd.Series(dtype=object)})
    src = _Source(t, ids, metric, value, apps, nodes, entry_hosts or {}, pod_phase)
    data: dict[str, Any] = {}
    for col in cols:
        filled = src.column(col)
        if not filled:
            continue  # never scraped: the agent's store has no such column
        out = np.full(len(times), np.nan)
        for when, v in filled.items():
            out[pos[when]] = v
        data[col] = _ffill(out)[keep]
    kept = times[keep]
    step = float(np.min(np.diff(times))) if len(times) > 1 else float(times[0]) or 1.0
    labels = [max(0, round(x / step) - 1) for x in kept] if step > 0 else None
    ordered: dict[str, Any] = {"timestamp": kept}
    names = list(data)
    if names:
        ordered[names[0]] = data[names[0]]
    ordered["human_timestamp"] = [human(x) for x in kept]
    for n in names[1:]:
        ordered[n] = data[n]
    return pd.DataFrame(ordered, index=labels)


class _Source:
    """The delivered samples as columns: ``{sample time: value}`` per metric name."""

    def __init__(
        self,
        t: Any,
        ids: Any,
        metric: Any,
        value: Any,
        apps: Sequence[str],
        nodes: Sequence[Any],
        entry_hosts: Mapping[str, str],
        pod_phase: float | None,
    ) -> None:
        self.t, self.ids, self.metric, self.value = t, ids, metric, value
        self.apps, self.nodes = apps, nodes
        self.entry_hosts, self.pod_phase = entry_hosts, pod_phase

    def points(self, ident: str, name: str) -> dict[float, float]:
        mask = (self.metric == name) & (self.ids == ident)
        return dict(zip(self.t[mask].tolist(), self.value[mask].tolist(), strict=True))

    def derived(
        self, ident: str, inputs: Sequence[str], fn: Callable[..., Any], *extra: Any
    ) -> dict[float, float]:
        got = {m: self.points(ident, m) for m in inputs}
        out: dict[float, float] = {}
        for when in sorted(set().union(*got.values())):
            vals = {m: p[when] for m, p in got.items() if when in p and p[when] == p[when]}
            v = fn(vals, *extra)
            if v is not None:
                out[when] = float(v)
        return out

    def column(self, col: str) -> dict[float, float]:
        metric, t = self.metric, self.t
        if (metric == col).any():
            for ident in [*self.apps, *(n.id for n in self.nodes)]:
                pts = self.points(ident, col)
                if pts:
                    return pts
            if not self.apps and not self.nodes:
                return self.points(str(self.ids[metric == col][0]), col)
        if col in APP_ALIASES:
            for app in self.apps:
                pts = self.derived(app, APP_INPUTS, APP_ALIASES[col])
                if pts:
                    return pts
            return {}
        if col == QUEUE_METRIC:
            for app in self.apps:
                host = self.entry_hosts.get(app)
                if host is not None:
                    return self.points(host, "node_queue_length")
            return {}
        if col == POD_PHASE:
            if self.pod_phase is None:
                return {}
            return {float(x): float(self.pod_phase) for x in set(t.tolist())}
        if not self.nodes:
            return {}
        node = self.nodes[0]
        if col in CUMULATIVE:
            util = self.points(node.id, "node_cpu_utilisation")
            out, total, last = {}, 0.0, 0.0
            for when in sorted(util):
                total += float(util[when]) * node.cores * max(0.0, when - last)
                last = when
                out[when] = total
            return out
        fn = NODE_METRICS.get(col)
        if fn is None:
            return {}
        return self.derived(node.id, NODE_INPUTS, fn, node)


def _ffill(values: Any) -> Any:
    """NaNs replaced by the last value before them (leading NaNs stay)."""
    import numpy as np

    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(idx, out=idx)
    return values[idx]  # leading NaNs map to index 0, itself NaN


def telemetry_argument(frame: pd.DataFrame) -> dict[str, Any]:
    """The ``telemetry`` dict the agent passes to ``analyze``/``plan``."""

    async def query(
        start_time: float | None = None, end_time: float | None = None, latest: bool = False
    ) -> pd.DataFrame:
        # the store's query_data, with its shapes and errors
        if latest:
            if frame.empty:
                raise ValueError("The data store is empty. No latest row available.")
            return frame.iloc[-1:].copy()
        if start_time is None and end_time is None:
            return frame.copy()
        if start_time is None or end_time is None:
            raise ValueError(
                "Both start_time and end_time must be provided when not fetching the latest "
                "row or all data."
            )
        ts = frame["timestamp"]
        return frame[(ts >= start_time) & (ts <= end_time)].copy()

    return {
        "prometheus_endpoint": os.environ.get("LOCAL_OTEL_ENDPOINT"),
        "grafana_endpoint": os.environ.get("GRAFANA_ENDPOINT"),
        "dataframe": frame.copy(),
        "query": query,
    }


__all__ = ["NODE_METRICS", "RETENTION_S", "human", "telemetry_argument", "telemetry_frame"]
