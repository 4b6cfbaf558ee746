"""The HTML reports in a real browser: headless Chromium loads them without console errors,
decodes every embedded figure, and renders a page that is not blank.

Skipped, with the reason, where Chromium is not installed (Debian: ``apt-get install
chromium``). The report itself has no JavaScript; to ask the browser whether each image
decoded, the test loads a copy with a small probe script appended.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import simcontinuum
from simcontinuum.report.bench import bench_report
from simcontinuum.report.figures import FIGURES
from simcontinuum.report.run import write_report

ROOT = Path(__file__).resolve().parents[1]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found (install it: apt-get install -y chromium)",
)

PROBE = """<script>
window.addEventListener("load", () => {
  const p = document.createElement("pre");
  p.id = "probe";
  p.textContent = JSON.stringify([...document.images].map(i => [i.complete, i.naturalWidth]));
  document.body.appendChild(p);
});
</script>"""


def chromium(tmp_path: Path, page: Path, *mode: str) -> tuple[str, str]:
    """Run headless Chromium on ``page``; returns (stdout, stderr)."""
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        *mode,
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def console_messages(stderr: str) -> list[str]:
    """Lines the page wrote to the console (errors, failed loads, ...)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def probe(tmp_path: Path, report: Path) -> list[list[Any]]:
    """[complete, naturalWidth] of every image, as the browser decoded them."""
    copy = tmp_path / f"probe-{report.name}"
    copy.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom, err = chromium(tmp_path, copy, "--dump-dom")
    assert console_messages(err) == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-500:]
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def run_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    doc["duration"] = "30s"
    doc["failures"] = [{"at": "15s", "node": "edge-1", "for": "5s"}]
    res = simcontinuum.run(doc, policy="latency-greedy", seed=1)
    return write_report(res, tmp_path_factory.mktemp("browser") / "report.html")


def test_run_report_loads_without_console_errors_and_shows_every_figure(
    run_report: Path, tmp_path: Path
) -> None:
    dom, err = chromium(tmp_path, run_report, "--dump-dom")
    assert console_messages(err) == []
    assert dom.count("<img ") == len(FIGURES)
    assert "Summary" in dom and "Score (lower is better)" in dom
    images = probe(tmp_path, run_report)
    assert len(images) == len(FIGURES)
    assert all(done and width > 300 for done, width in images), images


def test_run_report_screenshot_is_not_blank(run_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(tmp_path, run_report, f"--screenshot={shot}", "--window-size=1280,2400")
    from PIL import Image  # matplotlib depends on Pillow

    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        colours = im.convert("RGB").resize((160, 300)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # text, tables and figures, not a blank


def test_bench_report_loads_and_decodes_its_figures(tmp_path: Path) -> None:
    import pandas as pd

    rows = [
        {"policy": p, "scenario": s, "seed": k, "score": f * b + k / 100}
        for s, b in (("a", 1.0), ("b", 10.0))
        for p, f in (("x", 1.0), ("y", 2.0))
        for k in (1, 2)
    ]
    report = bench_report(pd.DataFrame(rows), tmp_path / "bench.html")
    images = probe(tmp_path, report)
    assert len(images) == 2 and all(done and width > 100 for done, width in images)
