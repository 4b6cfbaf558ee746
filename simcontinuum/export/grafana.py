"""A Grafana provisioning bundle for an exported run: a Prometheus datasource and a dashboard
with the panels of the HTML report.

Layout (point Grafana's ``paths.provisioning`` at ``DIR``)::

    DIR/datasources/simcontinuum.yaml   the Prometheus datasource (uid ``simcontinuum-prom``)
    DIR/dashboards/simcontinuum.yaml    a file provider reading DIR/dashboards/json/
    DIR/dashboards/json/<uid>.json      the dashboard

Panels: p95 latency against each application's SLO, request outcomes (ok and errors per
interval), a node × time utilisation heatmap, replicas over time, cumulative cost by tier.
Every query is PromQL on the names ``simcontinuum export`` writes. The dashboard is plain
JSON in Grafana's dashboard model (schema version :data:`SCHEMA_VERSION`), checked against
``dashboard.schema.json`` (the subset of that model the bundle uses) in the tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simcontinuum.results import Results

SCHEMA_VERSION = 39
DATASOURCE_UID = "simcontinuum-prom"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
SCHEMA_PATH = Path(__file__).with_name("dashboard.schema.json")


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "range": True,
    }


def _panel(
    pid: int,
    title: str,
    kind: str,
    grid: tuple[int, int, int, int],
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    description: str = "",
    options: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom or {}}, "overrides": []},
        "options": options or {},
    }


def dashboard(results: Results) -> dict[str, Any]:
    """The dashboard model for ``results``."""
    meta = results.meta
    name = str(meta.get("scenario") or "run")
    uid = "simcontinuum-" + re.sub(r"[^a-zA-Z0-9_-]", "-", name)[:26]
    panels = [
        _panel(
            1,
            "p95 latency against the SLO",
            "timeseries",
            (0, 0, 12, 8),
            [
                _target("simcontinuum_app_latency_p95_seconds", "{{app}} p95", "A"),
                _target("simcontinuum_app_slo_latency_seconds", "{{app}} SLO", "B"),
            ],
            unit="s",
            description="p95 of the requests answered in each sampling interval; dashed: SLO",
            custom={"lineWidth": 1},
        ),
        _panel(
            2,
            "Request outcomes",
            "timeseries",
            (12, 0, 12, 8),
            [
                _target(
                    "sum by (app) (increase(simcontinuum_app_requests_total[$__rate_interval]))"
                    " - sum by (app) (increase(simcontinuum_app_errors_total[$__rate_interval]))",
                    "{{app}} ok",
                    "A",
                ),
                _target(
                    "sum by (app) (increase(simcontinuum_app_errors_total[$__rate_interval]))",
                    "{{app}} failed or dropped",
                    "B",
                ),
            ],
            description="requests ended per interval, by outcome",
            custom={"drawStyle": "bars", "stacking": {"mode": "normal", "group": "A"}},
        ),
        _panel(
            3,
            "CPU utilisation (nodes × time)",
            "heatmap",
            (0, 8, 24, 9),
            [_target("simcontinuum_node_cpu_utilisation_ratio", "{{node}}", "A")],
            unit="percentunit",
            description="one row per node: busy core-seconds over core-seconds",
            options={
                "calculate": False,
                "yAxis": {"axisPlacement": "left"},
                "rowsFrame": {"layout": "auto"},
                "color": {"mode": "scheme", "scheme": "Oranges", "min": 0, "max": 1},
                "cellGap": 1,
            },
        ),
        _panel(
            4,
            "Replicas over time",
            "timeseries",
            (0, 17, 12, 8),
            [
                _target("simcontinuum_component_replicas", "{{app}}/{{component}}", "A"),
            ],
            description="replicas not yet gone, per component",
            custom={"lineInterpolation": "stepAfter"},
        ),
        _panel(
            5,
            "Cumulative cost by tier",
            "timeseries",
            (12, 17, 12, 8),
            [_target("simcontinuum_cost_total", "{{tier}}", "A")],
            description="node-hours, core-hours, energy and egress, accrued as they are billed",
            custom={"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 20},
        ),
    ]
    return {
        "uid": uid,
        "title": f"simcontinuum: {name} ({meta.get('policy')}, seed {meta.get('seed')})",
        "tags": ["simcontinuum", name],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def write_bundle(
    results: Results,
    directory: str | Path,
    *,
    datasource_url: str = "http://127.0.0.1:9090",
    start_epoch: float | None = None,
) -> list[Path]:
    """Write the provisioning bundle into ``directory``; return the files written.

    Args:
        start_epoch: t=0 of the exported run: the dashboard opens on the run's time span.
    """
    import yaml

    d = Path(directory)
    dash = dashboard(results)
    if start_epoch is not None:
        horizon = float(results.meta.get("horizon_s") or 0.0)
        dash["time"] = {
            "from": str(int(start_epoch * 1000)),
            "to": str(int((start_epoch + horizon) * 1000)),
        }
    files = []
    ds = d / "datasources" / "simcontinuum.yaml"
    ds.parent.mkdir(parents=True, exist_ok=True)
    ds.write_text(
        yaml.safe_dump(
            {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "simcontinuum Prometheus",
                        "uid": DATASOURCE_UID,
                        "type": "prometheus",
                        "access": "proxy",
                        "url": datasource_url,
                        "isDefault": False,
                        "jsonData": {"timeInterval": "5s"},
                    }
                ],
            },
            sort_keys=False,
        )
    )
    files.append(ds)
    json_dir = d / "dashboards" / "json"
    json_dir.mkdir(parents=True, exist_ok=True)
    provider = d / "dashboards" / "simcontinuum.yaml"
    provider.write_text(
        yaml.safe_dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "simcontinuum",
                        "type": "file",
                        "disableDeletion": False,
                        "allowUiUpdates": True,
                        "options": {"path": str(json_dir.resolve())},
                    }
                ],
            },
            sort_keys=False,
        )
    )
    files.append(provider)
    dash_path = json_dir / f"{dash['uid']}.json"
    dash_path.write_text(json.dumps(dash, indent=2))
    files.append(dash_path)
    return files


def queries(dash: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard (for checks)."""
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
