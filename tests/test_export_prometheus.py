"""A real Prometheus serves the backfilled blocks; PromQL answers equal the results tables.

Needs Debian's ``prometheus`` package (``prometheus`` and ``promtool``; ``.ci/setup.d/
prometheus.sh`` installs it). Skips, saying so, when it is absent.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import simcontinuum as sc
from simcontinuum.cli import main
from simcontinuum.results import Results

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Prometheus is not installed (Debian: apt-get install prometheus; "
    ".ci/setup.d/prometheus.sh does it in CI)",
)

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: t=0 of the simulated run
NODE = "group1-node1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load(Path("scenarios/hackathon.yaml").read_text())
    doc["duration"] = "120s"
    path = tmp_path_factory.mktemp("scn") / "hack.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path_factory.mktemp("res") / "run"
    sc.run(str(path), policy="first-fit", seed=5, reference=False).save(out)
    return out


@pytest.fixture(scope="module")
def prom(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tsdb = tmp_path_factory.mktemp("tsdb") / "blocks"
    rc = main(
        [
            "export",
            str(run_dir),
            "--format",
            "prometheus-tsdb",
            "-o",
            str(tsdb),
            "--start-epoch",
            str(START),
        ]
    )
    assert rc == 0
    assert any(p.is_dir() for p in tsdb.iterdir()), "promtool made no block"
    cfg = tsdb.parent / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={cfg}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not become ready in 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(url: str, path: str, **params: Any) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}/api/v1/{path}?{q}", timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def query(url: str, promql: str, t: float) -> list[dict[str, Any]]:
    return _get(url, "query", query=promql, time=f"{START + t:.3f}")


def scalar(url: str, promql: str, t: float) -> float:
    res = query(url, promql, t)
    assert len(res) == 1, (promql, res)
    return float(res[0]["value"][1])


def _tel(results: Results, kind: str, ident: str, metric: str) -> Any:
    t = results.telemetry
    m = (t["kind"] == kind) & (t["id"] == ident) & (t["metric"] == metric)
    return t[m].sort_values("time_s")


def test_node_utilisation_mean_over_a_window(prom: str, run_dir: Path) -> None:
    res = Results.load(run_dir)
    tel = _tel(res, "node", NODE, "node_cpu_utilisation")
    t, window = 102.5, 60  # samples at 45..100 s: no sample on the window's edges
    want = tel[(tel["time_s"] > t - window) & (tel["time_s"] <= t)]["value"].mean()
    got = scalar(
        prom,
        f'avg_over_time(simcontinuum_node_cpu_utilisation_ratio{{node="{NODE}"}}[{window}s])',
        t,
    )
    print(f"PromQL node utilisation mean {got:.6f} vs table {want:.6f}")
    assert got == pytest.approx(want, rel=1e-9)
    assert want > 0.0


def test_request_counts(prom: str, run_dir: Path) -> None:
    res = Results.load(run_dir)
    req = res.requests
    t = 100.0
    ended = int((req["end_s"] <= t).sum())
    errors = int(((req["end_s"] <= t) & req["status"].isin(["failed", "dropped"])).sum())
    got = scalar(prom, "sum(simcontinuum_app_requests_total)", t)
    got_err = scalar(prom, "sum(simcontinuum_app_errors_total)", t)
    print(f"PromQL requests {got:.0f} vs table {ended}; errors {got_err:.0f} vs {errors}")
    assert got == ended and got_err == errors
    steps = res.steps
    done = steps[(steps["component"] == "classifier") & (steps["status"] == "ok")]
    frames = int((done["done_s"] <= t).sum())
    assert scalar(prom, "sum(classifier_frames_processed_total)", t) == frames
    # increase over a window between samples is exact when both ends hold a sample
    inc = scalar(prom, "sum(increase(simcontinuum_app_requests_total[50s]))", 100.0)
    in_window = int(((req["end_s"] > 50.0) & (req["end_s"] <= 100.0)).sum())
    # Prometheus extrapolates increase() to the window's edges: 45 s between the first and
    # last sample inside (55 s, 100 s], stretched to 50 s
    first = int(((req["end_s"] > 55.0 - 5.0) & (req["end_s"] <= 55.0)).sum())
    assert inc == pytest.approx((in_window - first) * 50.0 / 45.0, rel=1e-9)


def test_latency_quantile(prom: str, run_dir: Path) -> None:
    res = Results.load(run_dir)
    req = res.requests
    ok = req[req["status"] == "ok"]
    app = str(req["app"].iloc[0])
    for t in (60.0, 90.0, 115.0):
        lat = ok[(ok["end_s"] > t - 5.0) & (ok["end_s"] <= t)]["latency_s"].to_numpy()
        want = float(np.percentile(lat, 95))
        got = scalar(prom, f'simcontinuum_app_latency_p95_seconds{{app="{app}"}}', t)
        print(f"PromQL p95 at {t:.0f}s {got:.6f} vs table {want:.6f}")
        assert got == pytest.approx(want, rel=1e-9)


def test_query_range_matches_every_sample(prom: str, run_dir: Path) -> None:
    res = Results.load(run_dir)
    tel = _tel(res, "node", NODE, "node_cpu_utilisation")
    last = float(tel["time_s"].max())
    series = _get(
        prom,
        "query_range",
        query=f'simcontinuum_node_cpu_utilisation_ratio{{node="{NODE}"}}',
        start=f"{START + 5:.3f}",
        end=f"{START + last:.3f}",
        step="5",
    )
    assert len(series) == 1
    assert series[0]["metric"]["cluster"] == "group1" and series[0]["metric"]["tier"] == "edge"
    got = np.array([float(v) for _t, v in series[0]["values"]])
    want = tel[tel["time_s"] >= 5]["value"].to_numpy()
    assert np.allclose(got, want, rtol=1e-12)
    cores = scalar(prom, f'k8s_node_allocatable_cpu{{node="{NODE}"}}', 60)
    assert cores == 8


def test_grafana_dashboard_queries_answer(prom: str, run_dir: Path, tmp_path: Path) -> None:
    from simcontinuum.export.grafana import queries

    out = tmp_path / "grafana"
    assert (
        main(
            [
                "export",
                str(run_dir),
                "--format",
                "grafana",
                "-o",
                str(out),
                "--start-epoch",
                str(START),
            ]
        )
        == 0
    )
    dash = json.loads(next((out / "dashboards" / "json").glob("*.json")).read_text())
    for expr in queries(dash):
        res = query(prom, expr.replace("$__rate_interval", "30s"), 100.0)
        assert res, f"no data for the dashboard query {expr}"


def test_calibrate_from_query_range_answers(prom: str, run_dir: Path, tmp_path: Path) -> None:
    """The observed file is what a real Prometheus answers to query_range."""
    res = Results.load(run_dir)
    names = [
        "simcontinuum_node_cpu_utilisation_ratio",
        "simcontinuum_app_requests_total",
        "simcontinuum_app_latency_p95_seconds",
        "simcontinuum_component_service_seconds_total",
        "simcontinuum_component_steps_total",
    ]
    answers = []
    for name in names:
        q = urllib.parse.urlencode(
            {"query": name, "start": f"{START + 5:.3f}", "end": f"{START + 115:.3f}", "step": "5"}
        )
        with urllib.request.urlopen(f"{prom}/api/v1/query_range?{q}", timeout=10) as r:
            answers.append(json.loads(r.read()))
    observed = tmp_path / "answers.json"
    observed.write_text(json.dumps(answers))
    doc = yaml.safe_load(Path(res.meta["scenario_path"]).read_text())
    from simcontinuum.calibrate.fit import apply_factors

    perturbed = tmp_path / "perturbed.yaml"
    perturbed.write_text(yaml.safe_dump(apply_factors(doc, {"rates:camera-pipeline": 0.8})))
    fitted = tmp_path / "fitted.yaml"
    rc = main(
        [
            "calibrate",
            str(perturbed),
            "--observed",
            str(observed),
            "--fit",
            "rates,work",
            "--seed",
            str(res.meta["seed"]),
            "--start-epoch",
            str(START),
            "-o",
            str(fitted),
            "-q",
        ]
    )
    assert rc == 0
    report = json.loads((tmp_path / "fitted.report.json").read_text())
    assert 0.8 * report["factors"]["rates:camera-pipeline"] == pytest.approx(1.0, rel=0.05)
    for key in ("work:camera-pipeline/detector", "work:camera-pipeline/classifier"):
        assert report["factors"][key] == pytest.approx(1.0, rel=0.05)
