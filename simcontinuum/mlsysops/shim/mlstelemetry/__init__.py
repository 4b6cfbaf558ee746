"""Stand-in for ``mlstelemetry`` (0.3.2, a dependency of the MLSysOps framework) that reads
the simulation's delivered telemetry.

Four of the framework's policies import ``from mlstelemetry import MLSTelemetry``. Here
``MLSTelemetry(...).get_metric_value_with_label(metric_name=..., label_name=..., label_value=...,
node_name=...)`` answers from the samples delivered by the time of the policy call, in the
shape of the local OpenTelemetry collector's Prometheus endpoint as ``mlstelemetry`` parses it:
``[{"labels": {...}, "value": float, "timestamp": None}, ...]`` per metric, or ``None`` when
nothing matches. Node series carry ``node_name`` and ``key_service_hostname`` (what
``node_name=`` filters on); application series ``app``. Names are the simulator's plus the
framework's (see :mod:`simcontinuum.mlsysops.telemetry`). ``pushMetric`` accepts the three
instrument types and keeps the value on the object (it does not feed the simulation); the
``pushLog*`` methods log to the policy logger. Outside a policy call (e.g. at import time)
there is no telemetry: every query answers ``None``.
"""

from __future__ import annotations

from typing import Any

from simcontinuum.mlsysops.callenv import current_metrics
from simcontinuum.mlsysops.shim.mlsysops.logger_util import logger

_INSTRUMENTS = ("async_counter", "counter", "gauge")


class MLSTelemetry:
    """The client policies create (``MLSTelemetry("policy_cpu", "policy_cpu")``)."""

    def __init__(self, application_name: str = "default", application_component: str = "none"):
        self.name = application_name
        self.instanceId = application_component
        self.counters: dict[str, Any] = {}

    def getLocalMetrics(self, metric_label: str = "") -> dict[str, list[dict[str, Any]]]:
        """Every delivered series, by metric name (the collector's ``/metrics``)."""
        return current_metrics()

    def getTelemetryLatest(self, metric_label: str = "") -> dict[str, list[dict[str, Any]]]:
        """The same series (the framework reads a fixed Prometheus endpoint here)."""
        return current_metrics()

    def get_metric_value_with_label(
        self,
        agent: str = "local",
        metric_name: str = "",
        label_name: str = "",
        label_value: str = "",
        node_name: str = "",
    ) -> list[dict[str, Any]] | None:
        """The series of ``metric_name``, filtered as ``mlstelemetry`` 0.3.2 filters them."""
        metrics = current_metrics()
        if metric_name not in metrics:
            return None
        series = metrics[metric_name]
        if node_name:
            series = [m for m in series if m["labels"].get("key_service_hostname") == node_name]
            if not series:
                return None
        if label_name and label_value:
            series = [m for m in series if m["labels"].get(label_name) == label_value]
            if not series:
                return None
        return series

    def pushMetric(
        self,
        name: str,
        instrument_type: str,
        value: Any,
        description: str = "",
        frequency: int = 1,
        attributes: dict[str, Any] | None = None,
        unit: str = "",
    ) -> None:
        """Keep ``value`` under ``name`` (a policy's own metrics do not reach the simulation)."""
        if instrument_type not in _INSTRUMENTS:
            raise ValueError(f"Unknown instrument type: {instrument_type}")
        self.counters[name] = value

    def pushLogInfo(self, message: Any, attributes: Any = None) -> None:
        logger.info(message)

    def pushLogDebug(self, message: Any, attributes: Any = None) -> None:
        logger.debug(message)

    def pushLogError(self, message: Any, attributes: Any = None) -> None:
        logger.error(message)


__all__ = ["MLSTelemetry"]
