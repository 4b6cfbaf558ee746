"""Every telemetry metric the sampler emits: its name, kind, unit, labels and when it appears.

This is the single list behind ``simcontinuum metrics``, the did-you-mean of telemetry reads
(:class:`~simcontinuum.engine.telemetry.DeliveredTelemetry`) and the reference page of the
documentation. A test checks that the sampler emits exactly these names (plus the SLO metric
id an application declares), so the list cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """One telemetry metric.

    Attributes:
        name: the metric name, as in ``results.telemetry.metric`` and ``latest()`` columns.
        kind: what ``id`` names: ``node`` (a node id), ``app`` (an application id) or
            ``component`` (``app/component``).
        type: ``gauge`` (a value now / over the last interval) or ``counter`` (since the start).
        unit: the unit of ``value``.
        when: when a sample carries it.
        help: what it measures.
    """

    name: str
    kind: str
    type: str
    unit: str
    when: str
    help: str

    @property
    def labels(self) -> str:
        """The labels of one sample (the table's columns besides ``value``)."""
        ident = "app/component" if self.kind == "component" else self.kind
        return f"kind={self.kind}, id=<{ident} id>"


_EVERY = "every telemetry.interval"
_APP = "every telemetry.interval while its app is present"

METRICS: tuple[Metric, ...] = (
    Metric("node_up", "node", "gauge", "1 or 0", _EVERY, "1 while the node is up"),
    Metric(
        "node_cpu_utilisation",
        "node",
        "gauge",
        "ratio 0..1",
        _EVERY,
        "busy core-seconds over cores × interval (0 while down)",
    ),
    Metric(
        "node_cpu_allocated_cores",
        "node",
        "gauge",
        "cores",
        _EVERY,
        "cpu requested by the replicas on the node",
    ),
    Metric(
        "node_memory_allocated_bytes",
        "node",
        "gauge",
        "bytes",
        _EVERY,
        "memory requested by the replicas on the node",
    ),
    Metric(
        "node_queue_length",
        "node",
        "gauge",
        "request steps",
        _EVERY,
        "steps waiting for a core now",
    ),
    Metric(
        "node_power_watts",
        "node",
        "gauge",
        "W",
        _EVERY,
        "power of the linear model at the interval's utilisation (0 while down)",
    ),
    Metric(
        "node_replicas", "node", "gauge", "replicas", _EVERY, "replicas on the node not yet gone"
    ),
    Metric(
        "app_requests_total",
        "app",
        "counter",
        "requests",
        _APP,
        "requests of the application that have ended",
    ),
    Metric(
        "app_errors_total",
        "app",
        "counter",
        "requests",
        _APP,
        "ended requests that were not ok (failed, dropped)",
    ),
    Metric(
        "app_request_rate",
        "app",
        "gauge",
        "requests/s",
        _APP,
        "requests that ended during the last interval, per second",
    ),
    Metric(
        "app_latency_p50_seconds",
        "app",
        "gauge",
        "s",
        _APP + " (NaN when no request succeeded in the interval)",
        "median latency of the ok requests that ended in the last interval",
    ),
    Metric(
        "app_latency_p95_seconds",
        "app",
        "gauge",
        "s",
        _APP + " (NaN when no request succeeded in the interval)",
        "95th percentile latency, as app_latency_p50_seconds",
    ),
    Metric(
        "app_latency_p99_seconds",
        "app",
        "gauge",
        "s",
        _APP + " (NaN when no request succeeded in the interval)",
        "99th percentile latency, as app_latency_p50_seconds",
    ),
    Metric(
        "app_replicas",
        "app",
        "gauge",
        "replicas",
        _APP,
        "live replicas of all the application's components",
    ),
    Metric(
        "<slo.metric>",
        "app",
        "gauge",
        "ms",
        _APP + ", when its SLO names a metric id (MLSysOps qos_metrics)",
        "the p95 latency of the interval under the SLO's own metric id, in milliseconds",
    ),
    Metric(
        "component_replicas",
        "component",
        "gauge",
        "replicas",
        _APP,
        "live replicas of the component (pending, pulling, starting or running)",
    ),
    Metric(
        "component_running_replicas",
        "component",
        "gauge",
        "replicas",
        _APP,
        "running replicas of the component",
    ),
    Metric(
        "component_cpu_utilisation",
        "component",
        "gauge",
        "ratio (may exceed 1)",
        _APP + " (NaN without a running replica)",
        "cpu used over cpu requested by the running replicas: the metric a Kubernetes HPA "
        "scales on",
    ),
)
"""Every metric, in the order the sampler emits them."""

METRIC_NAMES: frozenset[str] = frozenset(m.name for m in METRICS if not m.name.startswith("<"))
"""Names every run may emit (an application's SLO metric id comes on top)."""


def metric(name: str) -> Metric | None:
    """The catalog entry of ``name`` (``None`` for an unknown or an SLO metric id).

    >>> metric("node_cpu_utilisation").unit
    'ratio 0..1'
    """
    for m in METRICS:
        if m.name == name:
            return m
    return None


__all__ = ["METRICS", "METRIC_NAMES", "Metric", "metric"]
