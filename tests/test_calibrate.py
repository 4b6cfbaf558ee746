"""Calibration: a round trip through an export recovers known parameters; the report says
what it cannot fit and where latency and utilisation disagree."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

import simcontinuum as sc
from simcontinuum.calibrate.fit import apply_factors, calibrate, ks_distance
from simcontinuum.calibrate.observed import ObservedError, read_observed
from simcontinuum.cli import main

START = 1_767_225_600
WORK = ("work:camera-pipeline/detector", "work:camera-pipeline/classifier")
RATES = "rates:camera-pipeline"


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The known scenario (hackathon, 150 s), its run exported as OpenMetrics."""
    d = tmp_path_factory.mktemp("cal")
    doc = yaml.safe_load(Path("scenarios/hackathon.yaml").read_text())
    doc["duration"] = "150s"
    scn_path = d / "truth.yaml"
    scn_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    sc.run(str(scn_path), policy="first-fit", reference=False).save(d / "run")
    om = d / "run.om"
    assert (
        main(
            [
                "export",
                str(d / "run"),
                "-f",
                "openmetrics",
                "-o",
                str(om),
                "--start-epoch",
                str(START),
            ]
        )
        == 0
    )
    return scn_path, om


def _perturbed(truth_path: Path, tmp: Path) -> Path:
    doc = yaml.safe_load(truth_path.read_text())
    pert = apply_factors(doc, {WORK[0]: 1.5, WORK[1]: 1.5, RATES: 0.7})
    out = tmp / "perturbed.yaml"
    out.write_text(yaml.safe_dump(pert, sort_keys=False))
    return out


def test_round_trip_recovers_parameters(truth: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    scn_path, om = truth
    pert = _perturbed(scn_path, tmp_path)
    fitted = tmp_path / "fitted.yaml"
    rc = main(
        [
            "calibrate",
            str(pert),
            "--observed",
            str(om),
            "--fit",
            "work,rates",
            "-o",
            str(fitted),
            "-q",
        ]
    )
    assert rc == 0
    report = json.loads((tmp_path / "fitted.report.json").read_text())
    f = report["factors"]
    # recovered within 5 %: x1.5 then the fitted factor gives the truth back
    for k in WORK:
        assert 1.5 * f[k] == pytest.approx(1.0, rel=0.05)
    assert 0.7 * f[RATES] == pytest.approx(1.0, rel=0.05)
    truth_doc = yaml.safe_load(scn_path.read_text())
    fit_doc = yaml.safe_load(fitted.read_text())
    det = fit_doc["applications"][0]["components"][0]["work"]["mean"]
    assert sc.load(fitted).applications[0].components[0].work.mean == pytest.approx(
        sc.load(truth_doc).applications[0].components[0].work.mean, rel=0.05
    ), det
    by = {(m["metric"], m["key"]): m for m in report["metrics"]}
    p95 = by[("p95", "camera-pipeline")]["mape"]
    util = by[("util", "group1-node1")]["mape"]
    with capsys.disabled():
        print(f"\nround trip: factors {f}; p95 MAPE {p95:.4%}, utilisation MAPE {util:.4%}")
        print(f"KS: {report['ks']}; {len(report['history'])} simulations")
    assert p95 <= 0.05 and util <= 0.05
    assert any("latency: not asked for" in x for x in report["not_fitted"])
    for ks in report["ks"]:
        assert ks["D"] <= ks["critical_0.05"]
    for ext in (".png", ".html"):
        assert (tmp_path / f"fitted.report{ext}").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "MAPE" in out and "critical value" in out


def test_no_network_series_means_latency_not_fitted(
    truth: tuple[Path, Path], tmp_path: Path
) -> None:
    scn_path, om = truth
    lines = [x for x in om.read_text().splitlines(keepends=True) if "network_in" not in x]
    nonet = tmp_path / "nonet.om"
    nonet.write_text("".join(lines))
    doc = yaml.safe_load(scn_path.read_text())
    cal = calibrate(
        doc, sc.load(doc), read_observed(nonet), ["work", "rates", "latency"], max_iter=3
    )
    assert "latency" not in cal.factors
    assert any(
        x.startswith("latency: no observed series measures the network") for x in cal.not_fitted
    )


def test_utilisation_only_fits_one_work_factor(truth: tuple[Path, Path], tmp_path: Path) -> None:
    scn_path, om = truth
    keep = ("simcontinuum_node_cpu_utilisation_ratio", "simcontinuum_app_requests_total", "# EOF")
    only = tmp_path / "util.om"
    only.write_text(
        "".join(x for x in om.read_text().splitlines(keepends=True) if x.startswith(keep))
    )
    doc = apply_factors(yaml.safe_load(scn_path.read_text()), {WORK[0]: 1.5, WORK[1]: 1.5})
    cal = calibrate(doc, sc.load(doc), read_observed(only), ["work", "rates"], max_iter=6)
    assert cal.factors[WORK[0]] == cal.factors[WORK[1]]
    assert 1.5 * cal.factors[WORK[0]] == pytest.approx(1.0, rel=0.05)
    assert any("one factor" in n for n in cal.notes)


def test_latency_and_utilisation_conflict_is_reported(
    truth: tuple[Path, Path], tmp_path: Path
) -> None:
    scn_path, om = truth
    # a cluster whose latency is twice what its CPU use explains (say, a slow sidecar)
    out = []
    for line in om.read_text().splitlines(keepends=True):
        if line.startswith("simcontinuum_app_latency_p95_seconds{"):
            head, value, ts = line.rsplit(" ", 2)
            line = f"{head} {float(value) * 2} {ts}"
        out.append(line)
    bent = tmp_path / "bent.om"
    bent.write_text("".join(out))
    doc = yaml.safe_load(scn_path.read_text())
    cal = calibrate(doc, sc.load(doc), read_observed(bent), ["work", "rates"], max_iter=4)
    assert any("not both matched" in n and "p95 latency MAPE" in n for n in cal.notes)


def test_grafana_csv_and_prometheus_json_read_like_openmetrics(
    truth: tuple[Path, Path], tmp_path: Path
) -> None:
    _, om = truth
    ref = read_observed(om)
    part = ref[ref["name"] == "simcontinuum_node_cpu_utilisation_ratio"]
    # Grafana: Time in Unix ms, one column per series
    cols = sorted(set(part["labels"]))
    header = ["Time"] + [
        "simcontinuum_node_cpu_utilisation_ratio{" + ", ".join(f'{k}="{v}"' for k, v in lab) + "}"
        for lab in cols
    ]
    rows = {}
    for lab, t, v in zip(part["labels"], part["t"], part["value"], strict=True):
        rows.setdefault(t, {})[lab] = v
    path = tmp_path / "g.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for t in sorted(rows):
            w.writerow([int(t * 1000)] + [rows[t].get(lab, "") for lab in cols])
    g = read_observed(path)
    assert len(g) == len(part)
    assert sorted(g["value"]) == pytest.approx(sorted(part["value"]))
    # Prometheus: a query_range answer
    result = [
        {
            "metric": {"__name__": "simcontinuum_node_cpu_utilisation_ratio", **dict(lab)},
            "values": [[t, repr(v)] for t, v in sorted(rows_t.items())],
        }
        for lab in cols
        for rows_t in [{t: r[lab] for t, r in rows.items() if lab in r}]
    ]
    ans = tmp_path / "a.json"
    ans.write_text(
        json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})
    )
    p = read_observed(ans)
    assert len(p) == len(part)


def test_bad_inputs_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "x.om"
    bad.write_text("this is not { a metric\n")
    with pytest.raises(ObservedError, match=r"x.om:1: not a sample line"):
        read_observed(bad)
    rc = main(
        [
            "calibrate",
            "scenarios/hackathon.yaml",
            "--observed",
            str(bad),
            "-o",
            str(tmp_path / "f.yaml"),
        ]
    )
    assert rc == 2
    assert "not a sample line" in capsys.readouterr().err
    empty = tmp_path / "e.json"
    empty.write_text(
        json.dumps(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [{"metric": {"__name__": "unrelated_metric"}, "values": [[1, "1"]]}],
                },
            }
        )
    )
    rc = main(
        [
            "calibrate",
            "scenarios/hackathon.yaml",
            "--observed",
            str(empty),
            "-o",
            str(tmp_path / "f.yaml"),
        ]
    )
    assert rc == 2
    assert "no observed series maps to this scenario" in capsys.readouterr().err
    rc = main(
        [
            "calibrate",
            "scenarios/hackathon.yaml",
            "--observed",
            str(empty),
            "--fit",
            "speed",
            "-o",
            str(tmp_path / "f.yaml"),
        ]
    )
    assert rc == 2


def test_ks_distance() -> None:
    import numpy as np

    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert ks_distance(a, a) == 0.0
    assert ks_distance(a, a + 10) == 1.0
    assert ks_distance(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == 0.5
