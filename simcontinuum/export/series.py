"""A run's telemetry as metric families: names, types, units, labels and points.

Every series of ``results.telemetry`` is exported, under the name in :data:`METRICS`; series
the MLSysOps framework's collector also has (node exporter, the ``k8s_cluster`` receiver, the
hackathon application's own metrics) are derived from the run's tables under the framework's
name (:data:`DERIVED`). Labels: ``node``, ``cluster``, ``tier`` on node series; ``app`` on
application series; ``app`` and ``component`` on component series.

Points are the samples as taken (``--delivered-only`` keeps only those that reached the
collector, as a Prometheus behind the simulated network would have them). A sample without a
value (a latency quantile of an interval without answered requests) is left out: absent, as
in Prometheus, rather than NaN.

Invariants: a family's points are sorted by labels, then time; a counter never decreases
along one series; every name is a valid OpenMetrics metric name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.model import Scenario
    from simcontinuum.results import Results

GAUGE, COUNTER = "gauge", "counter"
NODE_LABELS = ("node", "cluster", "tier")
APP_LABELS = ("app",)
COMPONENT_LABELS = ("app", "component")


@dataclass(frozen=True)
class Metric:
    """How one series is exported.

    Attributes:
        name: the family name (a counter's samples add ``_total``); ends with ``_<unit>``.
        type: ``gauge`` or ``counter``.
        unit: the OpenMetrics unit (``""``: none).
        help: one line.
        source: where the name comes from: ``simcontinuum``, ``node_exporter``,
            ``k8s_cluster`` (the collector's receiver) or ``hackathon`` (the hackathon
            application's own metrics, as its containers push them).
    """

    name: str
    type: str
    unit: str
    help: str
    source: str = "simcontinuum"

    @property
    def sample_name(self) -> str:
        """The name on each sample line (counters end with ``_total``)."""
        return f"{self.name}_total" if self.type == COUNTER else self.name


def _m(name: str, kind: str, unit: str, text: str, source: str = "simcontinuum") -> Metric:
    return Metric(name, kind, unit, text, source)


#: Simulator telemetry metric -> exported metric (the SLO metric of an application keeps its
#: own ``qos_metrics`` id, see :func:`families`).
METRICS: dict[str, Metric] = {
    "node_up": _m("k8s_node_condition_ready", GAUGE, "", "1 when the node is up", "k8s_cluster"),
    "node_cpu_utilisation": _m(
        "simcontinuum_node_cpu_utilisation_ratio",
        GAUGE,
        "ratio",
        "busy core-seconds over core-seconds in the last sampling interval",
    ),
    "node_cpu_allocated_cores": _m(
        "simcontinuum_node_cpu_allocated_cores", GAUGE, "cores", "cpu requested by replicas"
    ),
    "node_memory_allocated_bytes": _m(
        "simcontinuum_node_memory_allocated_bytes", GAUGE, "bytes", "memory requested by replicas"
    ),
    "node_queue_length": _m(
        "simcontinuum_node_queue_length", GAUGE, "", "steps waiting for a core"
    ),
    "node_power_watts": _m(
        "simcontinuum_node_power_watts", GAUGE, "watts", "power of the linear power model"
    ),
    "node_replicas": _m("simcontinuum_node_replicas", GAUGE, "", "replicas on the node"),
    "app_requests_total": _m(
        "simcontinuum_app_requests", COUNTER, "", "requests ended (any status)"
    ),
    "app_errors_total": _m(
        "simcontinuum_app_errors", COUNTER, "", "requests ended failed or dropped"
    ),
    "app_request_rate": _m(
        "simcontinuum_app_request_rate", GAUGE, "", "requests ended per second, last interval"
    ),
    "app_latency_p50_seconds": _m(
        "simcontinuum_app_latency_p50_seconds", GAUGE, "seconds", "median latency, last interval"
    ),
    "app_latency_p95_seconds": _m(
        "simcontinuum_app_latency_p95_seconds", GAUGE, "seconds", "p95 latency, last interval"
    ),
    "app_latency_p99_seconds": _m(
        "simcontinuum_app_latency_p99_seconds", GAUGE, "seconds", "p99 latency, last interval"
    ),
    "app_replicas": _m("simcontinuum_app_replicas", GAUGE, "", "replicas of the application"),
    "component_replicas": _m("simcontinuum_component_replicas", GAUGE, "", "replicas not yet gone"),
    "component_running_replicas": _m(
        "simcontinuum_component_running_replicas", GAUGE, "", "replicas running"
    ),
    "component_cpu_utilisation": _m(
        "simcontinuum_component_cpu_utilisation_ratio",
        GAUGE,
        "ratio",
        "cpu used over cpu requested by the running replicas (the HPA metric)",
    ),
}

#: Series derived from the run's tables (and the scenario's node sizes), with their source.
DERIVED: dict[str, Metric] = {
    "node_cpu_seconds": _m(
        "node_cpu_seconds",
        COUNTER,
        "seconds",
        "core-seconds by mode (user: busy, idle), all cores of the node together",
        "node_exporter",
    ),
    "node_load1": _m(
        "node_load1", GAUGE, "", "busy cores plus waiting steps (the shim's load)", "node_exporter"
    ),
    "node_memory_MemTotal_bytes": _m(
        "node_memory_MemTotal_bytes", GAUGE, "bytes", "memory of the node", "node_exporter"
    ),
    "node_memory_MemAvailable_bytes": _m(
        "node_memory_MemAvailable_bytes",
        GAUGE,
        "bytes",
        "memory not requested by replicas",
        "node_exporter",
    ),
    "k8s_node_allocatable_cpu": _m(
        "k8s_node_allocatable_cpu", GAUGE, "", "cores of the node", "k8s_cluster"
    ),
    "k8s_node_allocatable_memory_bytes": _m(
        "k8s_node_allocatable_memory_bytes", GAUGE, "bytes", "memory of the node", "k8s_cluster"
    ),
    "k8s_pod_phase": _m(
        "k8s_pod_phase",
        GAUGE,
        "",
        "pod phase: 1 Pending (pulling, starting), 2 Running",
        "k8s_cluster",
    ),
    "app_slo_latency_seconds": _m(
        "simcontinuum_app_slo_latency_seconds",
        GAUGE,
        "seconds",
        "the application's latency SLO target (a constant, for dashboards)",
    ),
    "cost": _m(
        "simcontinuum_cost",
        COUNTER,
        "",
        "cumulative cost by tier (node-hours, core-hours, energy, egress), ends at the cost table",
    ),
    "component_steps": _m(
        "simcontinuum_component_steps", COUNTER, "", "steps served (per-step timing table)"
    ),
    "component_service_seconds": _m(
        "simcontinuum_component_service_seconds",
        COUNTER,
        "seconds",
        "service time of the steps served",
    ),
    "component_queue_wait_seconds": _m(
        "simcontinuum_component_queue_wait_seconds",
        COUNTER,
        "seconds",
        "queue wait of the steps served",
    ),
    "component_network_in_seconds": _m(
        "simcontinuum_component_network_in_seconds",
        COUNTER,
        "seconds",
        "time the steps served spent crossing the network to the replica",
    ),
    "frames_sent_total": _m(
        "frames_sent", COUNTER, "", "frames the detector sent to the classifier", "hackathon"
    ),
    "classifier_frames_processed_total": _m(
        "classifier_frames_processed", COUNTER, "", "frames the classifier served", "hackathon"
    ),
    "object_classify_latency": _m(
        "object_classify_latency",
        GAUGE,
        "",
        "classifier queue wait + service per frame, ms, mean over the last interval",
        "hackathon",
    ),
    "detector_frame_latency": _m(
        "detector_frame_latency",
        GAUGE,
        "",
        "detector queue wait + service per frame, ms, mean over the last interval",
        "hackathon",
    ),
    "detector_queue_size": _m(
        "detector_queue_size", GAUGE, "", "frames waiting at the detector", "hackathon"
    ),
}

#: The hackathon application's own metrics, by the component whose steps they measure.
HACKATHON_COMPONENTS = {
    "classifier": (
        "frames_sent_total",
        "classifier_frames_processed_total",
        "object_classify_latency",
    ),
    "detector": ("detector_frame_latency", "detector_queue_size"),
}


@dataclass
class Family:
    """One metric family: its :class:`Metric` and its points.

    ``frame`` has one column per label (in ``labels`` order), then ``time_s`` (simulated
    seconds) and ``value``; rows are sorted by labels, then time.
    """

    metric: Metric
    labels: tuple[str, ...]
    frame: pd.DataFrame

    def series(self) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """Each series: its labels, times and values."""
        df = self.frame
        if df.empty:
            return
        if not self.labels:
            yield {}, df["time_s"].to_numpy(float), df["value"].to_numpy(float)
            return
        for key, grp in df.groupby(list(self.labels), sort=False, observed=True):
            vals = key if isinstance(key, tuple) else (key,)
            yield (
                {k: str(v) for k, v in zip(self.labels, vals, strict=True)},
                grp["time_s"].to_numpy(float),
                grp["value"].to_numpy(float),
            )


def node_info(results: Results, scenario: Scenario | None) -> pd.DataFrame:
    """One row per node: ``node, cluster, tier`` and, with a scenario, ``cores, memory``."""
    import pandas as pd

    if scenario is not None:
        return pd.DataFrame(
            [
                {
                    "node": n.id,
                    "cluster": n.cluster or "",
                    "tier": n.tier,
                    "cores": float(n.cores),
                    "memory": float(n.memory),
                }
                for n in scenario.topology.nodes
            ]
        )
    cost = results.cost
    nodes = cost[cost["tier"] != "network"][["node", "cluster", "tier"]].drop_duplicates("node")
    return nodes.astype(str).reset_index(drop=True)


def sample_times(results: Results) -> np.ndarray:
    """The telemetry sample times (a 5 s grid over the horizon when telemetry was off)."""
    tel = results.telemetry
    if len(tel):
        return np.unique(tel["time_s"].to_numpy(float))
    horizon = float(results.meta.get("horizon_s") or results.meta.get("duration_s") or 0.0)
    return np.arange(5.0, horizon + 1e-9, 5.0)


def families(
    results: Results, scenario: Scenario | None = None, *, delivered_only: bool = False
) -> list[Family]:
    """Every exported family of ``results`` (see the module docstring).

    Args:
        results: the run.
        scenario: its scenario, for node sizes (``node_cpu_seconds_total``, allocatable cpu
            and memory); without it those series are left out.
        delivered_only: keep only samples that reached the collector.
    """

    out: list[Family] = []
    tel = results.telemetry
    if delivered_only:
        tel = tel[tel["delivered_s"].notna()]
    tel = tel[tel["value"].notna()]
    nodes = node_info(results, scenario)
    for kind, labels in (
        ("node", NODE_LABELS),
        ("app", APP_LABELS),
        ("component", COMPONENT_LABELS),
    ):
        part = tel[tel["kind"].astype(str) == kind]
        if part.empty:
            continue
        part = part.assign(metric=part["metric"].astype(str), id=part["id"].astype(str))
        part = _with_labels(part, kind, nodes)
        for name, grp in part.groupby("metric", sort=True):
            metric = METRICS.get(str(name))
            if metric is None:
                if kind != "app":
                    continue
                # an application's SLO metric, under its qos_metrics id (ms, as MLSysOps reads it)
                metric = Metric(
                    str(name),
                    GAUGE,
                    "",
                    "the application's QoS metric (p95 latency, ms)",
                    "hackathon" if name == "frame_classify_latency" else "qos_metrics",
                )
            out.append(_family(metric, labels, grp))
    out += _node_derived(results, tel, nodes)
    out += _pod_phase(results, nodes)
    out += _step_counters(results)
    out += _hackathon(results)
    out += _slo_and_cost(results, scenario)
    return _merge([f for f in out if not f.frame.empty])


def _slo_and_cost(results: Results, scenario: Scenario | None) -> list[Family]:
    """The SLO targets (constant series) and the cumulative cost by tier."""
    import pandas as pd

    from simcontinuum.report.data import cost_over_time, slo_targets

    times = sample_times(results)
    if not len(times):
        return []
    out = []
    targets, _note = slo_targets(results, scenario)
    if targets:
        slo = pd.concat(
            [
                pd.DataFrame({"app": app, "time_s": times, "value": float(sec)})
                for app, (sec, _kind) in targets.items()
            ],
            ignore_index=True,
        )
        out.append(_family(DERIVED["app_slo_latency_seconds"], APP_LABELS, slo))
    edges = np.concatenate([[0.0], times])
    cum = cost_over_time(results, edges)
    if len(cum.columns):
        cost = cum.reset_index().melt(id_vars="time_s", var_name="tier", value_name="value")
        out.append(_family(DERIVED["cost"], ("tier",), cost))
    return out


def _merge(fams: list[Family]) -> list[Family]:
    """One family per name (several applications may each add points to one)."""
    import pandas as pd

    by_name: dict[str, list[Family]] = {}
    for f in fams:
        by_name.setdefault(f.metric.name, []).append(f)
    out = []
    for group in by_name.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        first = group[0]
        df = pd.concat([g.frame for g in group], ignore_index=True)
        out.append(_family(first.metric, first.labels, df))
    return out


def _family(metric: Metric, labels: Sequence[str], df: pd.DataFrame) -> Family:
    cols = [*labels, "time_s", "value"]
    frame = df[cols].sort_values([*labels, "time_s"], kind="stable").reset_index(drop=True)
    return Family(metric, tuple(labels), frame)


def _with_labels(part: pd.DataFrame, kind: str, nodes: pd.DataFrame) -> pd.DataFrame:
    if kind == "node":
        info = nodes.set_index("node")
        return part.assign(
            node=part["id"],
            cluster=part["id"].map(info["cluster"]).fillna(""),
            tier=part["id"].map(info["tier"]).fillna(""),
        )
    if kind == "app":
        return part.assign(app=part["id"])
    split = part["id"].str.split("/", n=1, expand=True)
    return part.assign(app=split[0], component=split[1])


def _node_derived(results: Results, tel: pd.DataFrame, nodes: pd.DataFrame) -> list[Family]:
    import pandas as pd

    if "cores" not in nodes:
        return []
    node_tel = tel[tel["kind"].astype(str) == "node"]
    if node_tel.empty:
        return []
    wide = node_tel.pivot_table(
        index=["id", "time_s"], columns="metric", values="value", aggfunc="last", observed=True
    ).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    info = nodes.set_index("node")
    wide["node"] = wide["id"].astype(str)
    wide["cluster"] = wide["node"].map(info["cluster"])
    wide["tier"] = wide["node"].map(info["tier"])
    cores = wide["node"].map(info["cores"]).astype(float)
    memory = wide["node"].map(info["memory"]).astype(float)
    wide = wide.sort_values(["node", "time_s"], kind="stable").reset_index(drop=True)
    dt = wide.groupby("node")["time_s"].diff().fillna(wide["time_s"]).to_numpy(float)
    util = wide.get("node_cpu_utilisation", pd.Series(0.0, index=wide.index)).fillna(0.0)
    busy = (util * cores * dt).groupby(wide["node"]).cumsum()
    idle = ((1.0 - util) * cores * dt).groupby(wide["node"]).cumsum()
    base = wide[["node", "cluster", "tier", "time_s"]]
    out = []
    cpu = pd.concat(
        [base.assign(mode="user", value=busy), base.assign(mode="idle", value=idle)],
        ignore_index=True,
    )
    out.append(_family(DERIVED["node_cpu_seconds"], (*NODE_LABELS, "mode"), cpu))
    queue = wide.get("node_queue_length", pd.Series(0.0, index=wide.index)).fillna(0.0)
    out.append(_family(DERIVED["node_load1"], NODE_LABELS, base.assign(value=util * cores + queue)))
    out.append(_family(DERIVED["k8s_node_allocatable_cpu"], NODE_LABELS, base.assign(value=cores)))
    has_mem = memory > 0
    mem = base.assign(value=memory)[has_mem]
    out.append(_family(DERIVED["k8s_node_allocatable_memory_bytes"], NODE_LABELS, mem))
    out.append(_family(DERIVED["node_memory_MemTotal_bytes"], NODE_LABELS, mem))
    alloc = wide.get("node_memory_allocated_bytes", pd.Series(0.0, index=wide.index)).fillna(0.0)
    avail = base.assign(value=(memory - alloc).clip(lower=0.0))[has_mem]
    out.append(_family(DERIVED["node_memory_MemAvailable_bytes"], NODE_LABELS, avail))
    return out


def _pod_phase(results: Results, nodes: pd.DataFrame) -> list[Family]:
    """``k8s_pod_phase`` of every replica at every sample time it existed."""
    import pandas as pd

    reps = results.replicas
    times = sample_times(results)
    if reps.empty or not len(times):
        return []
    rows = []
    created = reps["created_s"].to_numpy(float)
    running = reps["running_s"].to_numpy(float, na_value=math.inf)
    removed = reps["removed_s"].to_numpy(float, na_value=math.inf)
    lo = np.searchsorted(times, created, "left")
    hi = np.searchsorted(times, removed, "left")
    ids = zip(
        reps["node"].astype(str),
        reps["app"].astype(str),
        reps["component"].astype(str),
        reps["replica_id"].astype(int),
        strict=True,
    )
    for i, (node, app, comp, rep) in enumerate(ids):
        pod = f"{app}-{comp}-{rep}"
        for t in times[lo[i] : hi[i]].tolist():
            rows.append((node, app, comp, pod, t, 2.0 if t >= running[i] else 1.0))
    df = pd.DataFrame.from_records(
        rows, columns=["node", "app", "component", "pod", "time_s", "value"]
    )
    info = nodes.set_index("node")
    df["cluster"] = df["node"].map(info["cluster"]).fillna("")
    df["tier"] = df["node"].map(info["tier"]).fillna("")
    return [_family(DERIVED["k8s_pod_phase"], ("app", "component", "pod", *NODE_LABELS), df)]


def _cumulative(t_event: np.ndarray, weight: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Sum of ``weight`` over events with ``t_event <= t``, for each ``t`` in ``times``."""
    order = np.argsort(t_event, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(weight[order])])
    return cum[np.searchsorted(t_event[order], times, side="right")]


def _served(results: Results) -> pd.DataFrame:
    steps = results.steps
    return steps[steps["status"].astype(str) == "ok"]


def _step_counters(results: Results) -> list[Family]:
    import pandas as pd

    served = _served(results)
    times = sample_times(results)
    if served.empty or not len(times):
        return []
    names = {
        "component_steps": None,
        "component_service_seconds": "service_s",
        "component_queue_wait_seconds": "queue_wait_s",
        "component_network_in_seconds": "network_in_s",
    }
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in names}
    for (app, comp), grp in served.groupby(["app", "component"], observed=True, sort=True):
        done = grp["done_s"].to_numpy(float)
        for key, col in names.items():
            w = np.ones(len(done)) if col is None else grp[col].to_numpy(float)
            frames[key].append(
                pd.DataFrame(
                    {
                        "app": str(app),
                        "component": str(comp),
                        "time_s": times,
                        "value": _cumulative(done, w, times),
                    }
                )
            )
    return [
        _family(DERIVED[k], COMPONENT_LABELS, pd.concat(v, ignore_index=True))
        for k, v in frames.items()
        if v
    ]


def _hackathon(results: Results) -> list[Family]:
    """The hackathon application's own metrics, from the steps of its components."""
    import pandas as pd

    steps = results.steps
    times = sample_times(results)
    if steps.empty or not len(times):
        return []
    out: list[Family] = []
    served = _served(results)
    prev = np.concatenate([[0.0], times[:-1]])
    for comp, metrics in HACKATHON_COMPONENTS.items():
        mine = steps[steps["component"].astype(str) == comp]
        for app, grp in mine.groupby("app", observed=True, sort=True):
            ok = served[(served["component"].astype(str) == comp) & (served["app"] == app)]
            done = ok["done_s"].to_numpy(float)
            for key in metrics:
                if key == "frames_sent_total":
                    sent = grp["sent_s"].to_numpy(float)
                    value = _cumulative(sent, np.ones(len(sent)), times)
                elif key == "classifier_frames_processed_total":
                    value = _cumulative(done, np.ones(len(done)), times)
                elif key == "detector_queue_size":
                    arrive = grp["arrive_s"].to_numpy(float)
                    start = arrive + grp["queue_wait_s"].to_numpy(float)
                    # waiting at t: arrived by t, not yet started
                    value = _cumulative(arrive, np.ones(len(arrive)), times) - _cumulative(
                        start, np.ones(len(start)), times
                    )
                else:  # mean queue wait + service (ms) of the steps done in the last interval
                    took = (ok["queue_wait_s"] + ok["service_s"]).to_numpy(float) * 1000.0
                    n = _cumulative(done, np.ones(len(done)), times) - _cumulative(
                        done, np.ones(len(done)), prev
                    )
                    s = _cumulative(done, took, times) - _cumulative(done, took, prev)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        value = np.where(n > 0, s / np.maximum(n, 1), np.nan)
                df = pd.DataFrame({"app": str(app), "time_s": times, "value": value})
                df = df[df["value"].notna()]
                out.append(_family(DERIVED[key], APP_LABELS, df))
    return out


def catalogue() -> list[dict[str, Any]]:
    """Every exported name with its type, unit, source and meaning (for the docs)."""
    rows = [
        {
            "simulator": k,
            "exported": m.sample_name,
            "type": m.type,
            "unit": m.unit,
            "source": m.source,
            "help": m.help,
        }
        for k, m in METRICS.items()
    ]
    rows += [
        {
            "simulator": "(derived)",
            "exported": m.sample_name,
            "type": m.type,
            "unit": m.unit,
            "source": m.source,
            "help": m.help,
        }
        for m in DERIVED.values()
    ]
    return rows
