"""Every HTML page at a desktop and a phone width, in headless Chromium through chromedriver:
no horizontal overflow (``scrollWidth <= innerWidth``), no console errors, a screenshot that
is not blank. Pages: the run report, the bench report for one scenario with many long-named
policies and a baseline, the bench report for many scenarios, and the leaderboard.

Skipped, with the reason, where Chromium or chromedriver is missing (Debian: ``apt-get
install chromium chromium-driver``; ``.ci/setup.d/chromium.sh`` installs both). Set
``SIMCONTINUUM_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from webdriver import CHROMEDRIVER, CHROMIUM, Browser  # tests/webdriver.py

import simcontinuum
from simcontinuum.experiment import stats
from simcontinuum.experiment.leaderboard import LeaderboardResult, standings, write_leaderboard
from simcontinuum.report.bench import bench_report
from simcontinuum.report.run import write_report

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 390)
LONG = "team-with-an-exceptionally-long-name-that-wraps-badly-in-tables-and-figures"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium and chromedriver are needed "
    "(apt-get install -y chromium chromium-driver)",
)


def _parts(i: int) -> dict[str, float]:
    return {
        "cost": 0.1 + i / 100,
        "p95_latency_s": 0.05,
        "slo_violation_rate": 0.1,
        "failed_rate": 0.0,
        "migrations": 0.0,
        "energy_kwh": 0.01,
    }


def _runs(policies: list[str], scenarios: list[str], seeds: int = 4) -> pd.DataFrame:
    rows = [
        {
            "policy": p,
            "scenario": s,
            "seed": k,
            "score": 5 + 2 * i + j + k / 3,
            **_parts(i),
            "status": "ok",
        }
        for j, s in enumerate(scenarios)
        for i, p in enumerate(policies)
        for k in range(seeds)
    ]
    return pd.DataFrame(rows)


POLICIES = ["first-fit", "k8s-default", "latency-greedy", LONG, "two-level", "random",
            "cost-greedy", "best-fit", "threshold-autoscaler", "slo-migrator"]  # fmt: skip


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pages")
    doc = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    doc["duration"] = "30s"
    res = simcontinuum.run(doc, policy="latency-greedy", seed=1)
    one = _runs(POLICIES, ["hackathon"])
    many = _runs(POLICIES[:4], [f"city-{i}-{LONG[:20]}" for i in range(7)], seeds=2)
    lb_runs = _runs([LONG, "team-b", "team-c"], ["hidden-1", "hidden-2"], seeds=3)
    lb_runs = lb_runs.rename(columns={"policy": "team"})
    lb_runs = pd.concat(
        [
            lb_runs,
            pd.DataFrame(
                [
                    {
                        "team": "crashes",
                        "scenario": "hidden-1",
                        "seed": 0,
                        "status": "failed",
                        "reason": "ValueError: " + "x" * 300,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    lb_runs = lb_runs.rename(columns={p: f"part_{p}" for p in _parts(0)})
    lb = LeaderboardResult(standings(lb_runs), lb_runs, [], 1.0, isolation="bubblewrap")
    write_leaderboard(lb, out / "lb")
    return {
        "run": write_report(res, out / "report.html"),
        "bench-one-scenario": bench_report(
            one, out / "bench1.html", paired=stats.paired(one, "first-fit")
        ),
        "bench-many-scenarios": bench_report(
            many, out / "bench7.html", paired=stats.paired(many, "first-fit")
        ),
        "leaderboard": out / "lb" / "leaderboard.html",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_screen_without_console_errors(
    pages: dict[str, Path], width: int, tmp_path: Path
) -> None:
    keep = os.environ.get("SIMCONTINUUM_SCREENSHOTS")
    shots = Path(keep) if keep else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    with Browser(width) as browser:
        for name, page in pages.items():
            browser.open(page.resolve().as_uri())
            sizes = browser.js(
                "return [document.documentElement.scrollWidth, window.innerWidth,"
                " [...document.images].filter(i => !i.complete || !i.naturalWidth).length]"
            )
            scroll, inner, broken = sizes
            # an emulated phone widens its layout viewport to fit what overflows, so a wider
            # innerWidth is an overflow too
            assert scroll <= inner == width, f"{name} at {width}px overflows: {sizes}"
            assert broken == 0, f"{name}: {broken} image(s) did not decode"
            errors = [e for e in browser.console() if e.get("level") in ("SEVERE", "WARNING")]
            assert errors == [], (name, errors)
            shot = browser.screenshot(shots / f"{name}-{width}.png")
            with Image.open(shot) as im:
                assert im.size[0] == width
                colours = im.convert("RGB").resize((64, 256)).getcolors(maxcolors=1 << 16)
            assert colours is not None and len(colours) > 20, f"{name} looks blank"


def test_bench_page_sections(pages: dict[str, Path]) -> None:
    html = pages["bench-one-scenario"].read_text()
    assert "Paired comparison with the baseline first-fit" in html
    assert "<td>(all)</td>" not in html  # one scenario: no pooled rows
    assert "a tie for the best counts for each, as in ranking.csv" in html
    many = pages["bench-many-scenarios"].read_text()
    assert many.count("<td>(all)</td>") == 3  # one pooled row per policy but the baseline


def test_leaderboard_bounds_are_clipped_and_explained(pages: dict[str, Path]) -> None:
    html = pages["leaderboard"].read_text()
    assert "the lower bound is clipped at 0" in html
    table = pd.read_csv(pages["leaderboard"].with_name("leaderboard.csv"))
    assert (table["score_ci_low"].dropna() >= 0).all()


def test_ranking_csv_and_bench_page_count_wins_alike() -> None:
    from simcontinuum.report.bench import ranking as page_ranking

    runs = pd.DataFrame(
        {"policy": ["a", "b", "a", "b", "a", "b"], "scenario": ["s", "s", "t", "t", "u", "u"],
         "seed": [0] * 6, "score": [1.0, 1.0, 2.0, 3.0, 5.0, 4.0], "status": ["ok"] * 6,
         **{k: [v] * 6 for k, v in _parts(0).items()}}
    )  # fmt: skip
    csv = stats.ranking(stats.bench_table(runs)).set_index("policy")["wins"].to_dict()
    page = page_ranking(runs).set_index("policy")["wins"].to_dict()
    assert csv == page == {"a": 2, "b": 2}
