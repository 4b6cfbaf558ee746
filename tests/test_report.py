"""Figures, the HTML run report, the bench report and the ``report`` command.

One short quickstart run (30 s) with a scripted failure and a policy that moves, makes an
invalid move and raises, so every figure has something to draw; and the same tables emptied,
so every figure also copes with nothing.
"""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure

import simcontinuum
from simcontinuum.cli import Exit, main
from simcontinuum.errors import ResultsError
from simcontinuum.metrics.score import SCORE_PARTS
from simcontinuum.policy.api import Move
from simcontinuum.report import data
from simcontinuum.report.bench import bench_report, ranking, split_runs
from simcontinuum.report.figures import FIGURES, Plotter
from simcontinuum.report.html import figure_to_html, page, table_html
from simcontinuum.report.run import write_report
from simcontinuum.results import TABLES, Results

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "scenarios" / "quickstart.yaml"


def short_doc(duration: str = "30s") -> dict[str, Any]:
    """The quickstart scenario, shortened, with edge-1 failing from 15 s to 20 s."""
    doc = yaml.safe_load(QUICK.read_text())
    doc["duration"] = duration
    doc["warmup"] = "5s"
    doc["failures"] = [{"at": "15s", "node": "edge-1", "for": "5s"}]
    return doc


class Scripted:
    """Places on the edge, moves the detector to the cloud at 10 s (plus one invalid move),
    and raises at 20 s — so the actions table has applied, rejected and error rows."""

    name = "scripted"

    def place(self, app: Any, view: Any) -> dict[str, list[str]]:
        return {c.id: ["edge-0" if app.id == "video" else "edge-1"] for c in app.components}

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        if abs(view.now - 10.0) < 1e-9:
            return [
                Move("video", "detector", "edge-0", "cloud-0"),
                Move("video", "detector", "cam-0", "edge-1"),
            ]
        if abs(view.now - 20.0) < 1e-9:
            raise RuntimeError("boom")
        return []


@pytest.fixture(scope="module")
def rich() -> Results:
    return simcontinuum.run(short_doc(), policy=Scripted(), seed=1)


@pytest.fixture(scope="module")
def empty(rich: Results) -> Results:
    tables = {name: getattr(rich, name).iloc[0:0] for name in TABLES}
    return Results(meta={**rich.meta}, **tables)


@pytest.fixture(scope="module")
def saved(rich: Results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rich.save(tmp_path_factory.mktemp("runs") / "rich")


def png_sizes(html: str) -> list[tuple[int, int]]:
    """(width, height) of every embedded PNG, read from its IHDR chunk."""
    sizes = []
    for b64 in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html):
        raw = base64.b64decode(b64)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        sizes.append(struct.unpack(">II", raw[16:24]))
    return sizes


# ----------------------------------------------------------------------------- the run


def test_the_fixture_run_has_everything_the_figures_show(rich: Results) -> None:
    outcomes = set(rich.actions["outcome"])
    assert {"applied", "rejected", "error"} <= outcomes
    assert "node_failed" in set(rich.events["kind"])
    assert len(rich.telemetry) and len(rich.replicas) and len(rich.cost)


# ----------------------------------------------------------------------------- figures


@pytest.mark.parametrize("name", FIGURES)
def test_every_plot_method_returns_a_figure_that_renders(rich: Results, name: str) -> None:
    fig = getattr(rich.plot, name)()
    assert isinstance(fig, Figure)
    assert fig.axes
    ((w, h),) = png_sizes(figure_to_html(fig))
    assert w > 300 and h > 150


@pytest.mark.parametrize("name", FIGURES)
def test_every_plot_method_copes_with_empty_tables(empty: Results, name: str) -> None:
    fig = getattr(Plotter(empty), name)()
    assert isinstance(fig, Figure)
    assert len(png_sizes(figure_to_html(fig))) == 1


def test_plot_is_the_plotter_and_all_returns_every_figure(rich: Results) -> None:
    figs = rich.plot.all()
    assert list(figs) == list(FIGURES)
    assert all(isinstance(f, Figure) for f in figs.values())


def test_heatmap_limits_nodes_and_says_so(rich: Results) -> None:
    fig = rich.plot.utilisation_heatmap(max_nodes=3)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 3
    assert "the 3 busiest of 9 nodes" in ax.get_title()


def test_placements_rows_are_component_at_node(rich: Results) -> None:
    labels = [t.get_text() for t in rich.plot.placements().axes[0].get_yticklabels()]
    assert "video/detector @ edge-0" in labels
    assert "video/detector @ cloud-0" in labels  # the move


def test_latency_over_time_has_one_panel_per_app_with_the_slo_line(rich: Results) -> None:
    sc = simcontinuum.load(short_doc(), seed=1)
    fig = Plotter(rich, sc).latency_over_time()
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
    assert any(t.startswith("video — SLO p95 ≤ 80 ms") for t in titles), titles
    assert any(t.startswith("ingest — SLO p95 ≤ 50 ms") for t in titles), titles


# ----------------------------------------------------------------------------- SLO targets


def test_slo_targets_come_from_the_scenario_file_named_by_the_run() -> None:
    res = simcontinuum.run(QUICK, policy="first-fit", seed=2, reference=False)
    targets, note = data.slo_targets(res)
    assert targets == {"video": (0.08, "p95"), "ingest": (0.05, "p95")}
    assert str(QUICK) in note or "quickstart.yaml" in note


def test_slo_targets_are_omitted_without_a_file_or_when_it_changed(rich: Results) -> None:
    targets, note = data.slo_targets(rich)  # ran from a dict: no file
    assert targets == {} and "omitted" in note
    changed = Results(
        meta={**rich.meta, "scenario_path": str(QUICK), "scenario_digest": "0" * 64},
        **{name: getattr(rich, name) for name in TABLES},
    )
    targets, note = data.slo_targets(changed)
    assert targets == {} and "has changed since this run" in note
    given = simcontinuum.load(short_doc())
    assert data.slo_targets(rich, given)[0]["video"] == (0.08, "p95")


# ----------------------------------------------------------------------------- data helpers


def test_binned_quantiles_match_numpy_per_bin() -> None:
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 100, 5000)
    v = rng.exponential(1.0, 5000)
    edges = data.bin_edges(100.0, target=10)
    q = data.binned_quantiles(t, v, edges, (0.5, 0.95))
    for i in range(len(edges) - 1):
        sel = v[(t >= edges[i]) & (t < edges[i + 1])]
        expected = np.percentile(sel, [50, 95], method="lower")
        assert q[:, i] == pytest.approx(expected)


def test_binned_quantiles_leave_empty_bins_nan() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    q = data.binned_quantiles(np.array([0.5, 2.5]), np.array([1.0, 2.0]), edges, (0.5,))
    assert q[0, 0] == 1.0 and np.isnan(q[0, 1]) and q[0, 2] == 2.0


def test_outcome_counts_add_up_to_the_requests(rich: Results) -> None:
    counts = data.outcome_counts(rich.requests, data.bin_edges(data.horizon_of(rich)))
    status = rich.requests["status"].astype(str).value_counts()
    assert counts["ok"].sum() + counts["ok_slo_missed"].sum() == status.get("ok", 0)
    for s in ("failed", "dropped", "incomplete"):
        assert counts[s].sum() == status.get(s, 0)
    assert sum(c.sum() for c in counts.values()) == len(rich.requests)


def test_cost_over_time_ends_at_the_cost_table_totals(rich: Results) -> None:
    over = data.cost_over_time(rich, data.bin_edges(data.horizon_of(rich)))
    by_tier = rich.cost.groupby("tier")["cost"].sum()
    for tier, total in by_tier.items():
        if total:
            assert over[tier].iloc[-1] == pytest.approx(total)
            assert np.all(np.diff(over[tier].to_numpy()) >= -1e-12)


def test_failure_spans_pair_failures_with_recoveries() -> None:
    ev = pd.DataFrame(
        {
            "time_s": [1.0, 2.0, 3.0, 5.0],
            "kind": ["node_failed", "link_failed", "node_recovered", "app_arrived"],
            "target": ["n1", "a-b", "n1", "x"],
            "detail": [None] * 4,
        }
    )
    assert data.failure_spans(ev, 10.0) == [("node", "n1", 1.0, 3.0), ("link", "a-b", 2.0, 10.0)]


def test_node_matrix_holds_the_last_sample_and_marks_none_before_the_first() -> None:
    tel = pd.DataFrame(
        {
            "time_s": [2.0, 6.0],
            "kind": ["node", "node"],
            "id": ["n", "n"],
            "metric": ["node_cpu_utilisation"] * 2,
            "value": [0.5, 0.25],
        }
    )
    nodes, mat = data.node_matrix(tel, "node_cpu_utilisation", np.arange(0.0, 9.0, 1.0))
    assert nodes == ["n"]
    assert np.isnan(mat[0, :2]).all()
    assert mat[0, 2:6].tolist() == [0.5] * 4 and mat[0, 6:].tolist() == [0.25] * 2


def test_a_million_requests_bin_without_python_loops() -> None:
    n = 1_000_000
    rng = np.random.default_rng(1)
    req = pd.DataFrame(
        {
            "arrival_s": rng.uniform(0, 300, n),
            "status": pd.Categorical(rng.choice(["ok", "failed", "dropped"], n)),
            "slo_violated": pd.array(rng.random(n) < 0.1, dtype="boolean"),
        }
    )
    counts = data.outcome_counts(req, data.bin_edges(300.0))
    assert sum(c.sum() for c in counts.values()) == n


# ----------------------------------------------------------------------------- HTML


def test_table_html_escapes_and_shows_missing_values_as_a_dash() -> None:
    html = table_html(pd.DataFrame({"name": ["<script>x</script>", None], "v": [1.5, np.nan]}))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("—") == 2
    assert '<td class="num">1.5</td>' in html


def test_page_is_a_complete_document_without_external_resources() -> None:
    doc = page("A <title>", "<p>body</p>")
    assert doc.startswith("<!DOCTYPE html>") and doc.rstrip().endswith("</html>")
    assert "<title>A &lt;title&gt;</title>" in doc and "<style>" in doc
    assert not re.search(r"(src|href)=\"(https?:)?//|<script|<link|@import|url\(", doc)


def test_run_report_is_self_contained_with_every_figure(saved: Path, tmp_path: Path) -> None:
    res = Results.load(saved)
    out = write_report(res, tmp_path / "sub" / "report.html")
    html = out.read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//|<script|<link|@import|url\(", html)
    assert len(png_sizes(html)) == len(FIGURES)
    s = res.summary()
    assert f"{s['score']:,.4g}" in html  # the summary's own numbers
    for part in SCORE_PARTS:
        assert f"<td>{part}</td>" in html
    assert "Rejected actions and policy errors" in html and "boom" in html
    assert "node_failed" in html
    assert (out.stat().st_mode & 0o777) != 0o600  # readable like any file the user writes


# ----------------------------------------------------------------------------- bench


def sweep_table() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for sc, base in (("small", 1.0), ("big", 100.0)):
        for pol, factor in (("good", 1.0), ("fair", 1.5), ("poor", 3.0)):
            for seed in (1, 2, 3):
                score = base * factor * (1 + 0.01 * seed)
                rows.append(
                    {"policy": pol, "scenario": sc, "seed": seed, "score": score, "status": "ok"}
                    | {p: score / 6 for p in SCORE_PARTS}
                )
    rows.append({"policy": "crash", "scenario": "small", "seed": 1, "score": None,
                 "status": "error", "error": "PolicyError: boom"})  # fmt: skip
    return pd.DataFrame(rows)


def test_ranking_orders_by_mean_rank_over_scenarios() -> None:
    runs, failed = split_runs(sweep_table())
    assert len(failed) == 1 and failed["policy"].iloc[0] == "crash"
    rank = ranking(runs)
    assert rank["policy"].tolist() == ["good", "fair", "poor"]
    assert rank["mean rank"].tolist() == [1.0, 2.0, 3.0]
    assert rank["wins"].tolist() == [2, 0, 0]
    assert set(SCORE_PARTS) <= set(rank.columns)


def test_bench_report_has_boxes_heatmap_ranking_and_failed_runs(tmp_path: Path) -> None:
    html = bench_report(sweep_table(), tmp_path / "bench.html").read_text()
    assert len(png_sizes(html)) == 2
    assert "Ranking" in html and "Failed runs" in html and "PolicyError: boom" in html
    assert not re.search(r"<script|(src|href)=\"(https?:)?//", html)


def test_bench_report_names_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"missing column.*score"):
        bench_report(pd.DataFrame({"policy": ["a"], "scenario": ["s"], "seed": [1]}), tmp_path)


def test_bench_report_with_only_failed_runs_says_so(tmp_path: Path) -> None:
    table = sweep_table()
    table["status"] = "error"
    html = bench_report(table, tmp_path / "b.html").read_text()
    assert "No usable runs" in html and len(png_sizes(html)) == 0


# ----------------------------------------------------------------------------- commands


def test_report_command_writes_into_the_results_folder_by_default(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(saved)]) == Exit.OK
    assert (saved / "report.html").is_file()
    assert f"report written to {saved / 'report.html'}" in capsys.readouterr().out
    Results.load(saved)  # an extra file does not break the folder


def stub_report(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the (slow) report writer by one that records its calls."""
    calls: list[dict[str, Any]] = []

    def fake(results: Results, path: Any, **kw: Any) -> Path:
        calls.append({"results": results, "path": Path(path), **kw})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("stub")
        return Path(path)

    monkeypatch.setattr("simcontinuum.report.run.write_report", fake)
    return calls


def test_report_command_passes_scenario_title_and_output(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = stub_report(monkeypatch)
    scen = tmp_path / "short.yaml"
    scen.write_text(yaml.safe_dump(short_doc()))
    out = tmp_path / "r.html"
    argv = ["report", str(saved), "-o", str(out), "--scenario", str(scen), "--title", "T"]
    assert main(argv) == Exit.OK
    (call,) = calls
    assert call["path"] == out and call["title"] == "T"
    assert call["scenario"].name == "quickstart"
    assert data.slo_targets(call["results"], call["scenario"])[0]["video"] == (0.08, "p95")


def test_report_command_on_a_missing_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nope")]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert "no such results folder" in err and "Traceback" not in err


def test_report_command_on_a_sweep_table_writes_a_bench_report(tmp_path: Path) -> None:
    table = tmp_path / "sweep.csv"
    sweep_table().to_csv(table, index=False)
    assert main(["report", str(table)]) == Exit.OK
    assert "Ranking" in (tmp_path / "sweep.html").read_text()


@pytest.fixture(scope="module")
def short_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scen") / "short.yaml"
    path.write_text(yaml.safe_dump(short_doc()))
    return path


def test_run_with_report_and_out_writes_out_report_html(
    short_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["run", str(short_yaml), "-q", "--out", str(out), "--report"])
    assert code == Exit.OK
    html = (out / "report.html").read_text()
    assert len(png_sizes(html)) == len(FIGURES)
    assert "SLO targets from the scenario file" in html  # the CLI passes its scenario
    assert f"report written to {out / 'report.html'}" in capsys.readouterr().out


def test_run_with_report_file_writes_there_and_json_stays_clean(
    short_yaml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = stub_report(monkeypatch)
    target = tmp_path / "deep" / "r.html"
    assert main(["run", str(short_yaml), "--json", "--report", str(target)]) == Exit.OK
    out, err = capsys.readouterr()
    assert [c["path"] for c in calls] == [target] and calls[0]["scenario"] is not None
    assert target.is_file() and "report written to" in err
    assert '"score"' in out and "report written" not in out


def test_run_with_bare_report_needs_out(
    short_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(short_yaml), "--report"]) == Exit.BAD_INPUT
    assert "--report without FILE" in capsys.readouterr().err
    assert main(["run", str(short_yaml), "--report", str(tmp_path)]) == Exit.BAD_INPUT
    assert "is a folder" in capsys.readouterr().err


def test_report_modules_have_passing_doctests() -> None:
    import doctest

    from simcontinuum.report import bench

    for module in (data, bench):
        assert doctest.testmod(module).failed == 0
