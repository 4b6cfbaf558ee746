"""The Grafana bundle: provisioning YAML as Grafana reads it, a dashboard valid against the
schema of Grafana's dashboard model (the subset used), panels of the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import simcontinuum as sc
from simcontinuum.cli import main
from simcontinuum.export.grafana import SCHEMA_PATH

jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (extra observability)")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("g")
    doc = yaml.safe_load(Path("scenarios/hackathon.yaml").read_text())
    doc["duration"] = "40s"
    sc.run(doc, policy="first-fit", reference=False).save(d / "run")
    assert (
        main(
            [
                "export",
                str(d / "run"),
                "-f",
                "grafana",
                "-o",
                str(d / "out"),
                "--datasource-url",
                "http://127.0.0.1:9999",
                "--start-epoch",
                "1767225600",
            ]
        )
        == 0
    )
    return d / "out"


def test_dashboard_validates_against_the_schema(bundle: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    dash = json.loads(next((bundle / "dashboards" / "json").glob("*.json")).read_text())
    jsonschema.validate(dash, schema)
    titles = [p["title"] for p in dash["panels"]]
    assert titles == [
        "p95 latency against the SLO",
        "Request outcomes",
        "CPU utilisation (nodes × time)",
        "Replicas over time",
        "Cumulative cost by tier",
    ]
    assert dash["time"] == {"from": "1767225600000", "to": "1767225640000"}
    # a broken dashboard is caught: the schema is not vacuous
    bad = {**dash, "panels": [{**dash["panels"][0], "gridPos": {"x": 30, "y": 0, "w": 1, "h": 1}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_provisioning_files(bundle: Path) -> None:
    ds = yaml.safe_load((bundle / "datasources" / "simcontinuum.yaml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://127.0.0.1:9999"
    prov = yaml.safe_load((bundle / "dashboards" / "simcontinuum.yaml").read_text())
    path = Path(prov["providers"][0]["options"]["path"])
    assert path.is_absolute() and any(path.glob("*.json"))
    dash = json.loads(next(path.glob("*.json")).read_text())
    uids = {t["datasource"]["uid"] for p in dash["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}


def test_non_empty_output_folder_needs_force(bundle: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    run = next(bundle.parent.glob("run"))
    assert main(["export", str(run), "-f", "grafana", "-o", str(out)]) == 2
    assert "add --force" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
