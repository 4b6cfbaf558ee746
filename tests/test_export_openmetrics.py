"""The OpenMetrics text: families, units, counters, labels, timestamps, # EOF; CLI errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import simcontinuum as sc
from simcontinuum.cli import main
from simcontinuum.export.series import DERIVED, METRICS, families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("om")
    doc = yaml.safe_load(Path("scenarios/hackathon.yaml").read_text())
    doc["duration"] = "30s"
    path = d / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    sc.run(str(path), policy="first-fit", reference=False).save(d / "run")
    return d / "run"


def test_text_format(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.om"
    assert (
        main(["export", str(run_dir), "-f", "openmetrics", "-o", str(out), "--start-epoch", "1000"])
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[-1] == "# EOF" and lines.count("# EOF") == 1
    seen: list[str] = []
    kind: dict[str, str] = {}
    unit: dict[str, str] = {}
    current = None
    for line in lines[:-1]:
        if line.startswith("# HELP "):
            current = line.split()[2]
            assert current not in seen, f"family {current} twice"
            seen.append(current)
        elif line.startswith("# TYPE "):
            kind[line.split()[2]] = line.split()[3]
        elif line.startswith("# UNIT "):
            _, _, name, u = line.split()
            unit[name] = u
            assert name.endswith("_" + u)
        else:
            name = re.match(r"^([^{ ]+)", line).group(1)
            assert current is not None
            want = current + "_total" if kind[current] == "counter" else current
            assert name == want, line
            value, ts = line.rsplit(" ", 2)[-2:]
            float(value)
            assert 1000 < float(ts) <= 1030
    assert all(NAME.match(n) for n in seen)
    for must in (
        "node_cpu_seconds",
        "k8s_node_allocatable_cpu",
        "k8s_pod_phase",
        "frames_sent",
        "classifier_frames_processed",
        "simcontinuum_node_cpu_utilisation_ratio",
    ):
        assert must in seen
    text = out.read_text()
    assert 'node="group1-node1",cluster="group1",tier="edge"' in text
    assert 'app="camera-pipeline",component="classifier"' in text
    assert (
        'node_cpu_seconds_total{node="group1-node1",cluster="group1",tier="edge",mode="idle"}'
        in text
    )


def test_counters_never_decrease(run_dir: Path) -> None:
    from simcontinuum.results import Results

    res = Results.load(run_dir)
    for fam in families(res, sc.load(res.meta["scenario_path"], seed=res.meta["seed"])):
        if fam.metric.type != "counter":
            continue
        for labels, _t, v in fam.series():
            assert (v[1:] >= v[:-1] - 1e-9).all(), (fam.metric.name, labels)


def test_names_are_unique() -> None:
    names = [m.name for m in [*METRICS.values(), *DERIVED.values()]]
    assert len(names) == len(set(names))


def test_bad_arguments_exit_2(run_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "nope"), "-f", "openmetrics", "-o", "x.om"]) == 2
    assert "no such results folder" in capsys.readouterr().err
    assert (
        main(
            ["export", str(run_dir), "-f", "otlp-json", "-o", str(tmp_path / "o"), "--sample", "2"]
        )
        == 2
    )
    assert "--sample" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(run_dir), "-f", "xml", "-o", "x"])
    assert exc.value.code == 2
