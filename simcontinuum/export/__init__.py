"""Simulated runs in the tools a real cluster is watched with.

- :mod:`~simcontinuum.export.series`: every telemetry series of a run (and the series derived
  from its tables) as metric families, named as the MLSysOps framework's collector names them
  where such a name exists (:data:`~simcontinuum.export.series.METRICS`);
- :mod:`~simcontinuum.export.openmetrics`: OpenMetrics text, and Prometheus TSDB blocks made
  from it by ``promtool``;
- :mod:`~simcontinuum.export.otlp`: OTLP JSON Lines (metrics, and one trace per request);
- :mod:`~simcontinuum.export.grafana`: a Grafana provisioning bundle.

``simcontinuum export RESULTS --format ...`` drives them (:mod:`.commands`).
"""
