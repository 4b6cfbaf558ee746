"""The documentation site: it builds with ``mkdocs build --strict`` (every warning an error),
and every example on its pages runs — each page's ```python blocks in order in one
namespace, and each ``$ simcontinuum ...`` line of its ```console blocks through the CLI.

``out/`` in an example is a temporary folder, so examples may write there and read it back.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simcontinuum.cli import Exit, main
from simcontinuum.engine.metric_catalog import METRICS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))
# the site's own sections run every example; a topic page written elsewhere in the project
# (architecture, protocol, ...) opts in with the marker below
OWN = ("index.md", "tutorial.md", "how-to/", "reference/", "explanation/")
RUN_MARKER = "<!-- docs-test: run -->"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _commands(text: str) -> list[str]:
    cmds = []
    for block in _blocks(text, "console"):
        for line in block.splitlines():
            if line.startswith("$ simcontinuum "):
                cmds.append(line[2:].split("  #")[0].strip())
    return cmds


def _out(text: str, tmp: Path) -> str:
    return re.sub(r"(^|[\s:\"'(=])out/", lambda m: f"{m.group(1)}{tmp}/", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(DOCS).as_posix()
    if not name.startswith(OWN) and RUN_MARKER not in text:
        pytest.skip(f"topic page: its examples run once it carries {RUN_MARKER}")
    python = _blocks(text, "python")
    commands = _commands(text)
    if not python and not commands:
        pytest.skip("no runnable examples on this page")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    # python first, then the commands: pages write files in python that commands then use
    for i, code in enumerate(python):
        exec(compile(_out(code, tmp_path), f"{page.name}[python {i}]", "exec"), namespace)
    for command in commands:
        argv = [_out(a, tmp_path) for a in shlex.split(command)[1:]]
        code = main(argv)
        assert code in (Exit.OK, 1 if argv[0] == "check-policy" else 0), command


def test_every_metric_is_in_the_telemetry_reference() -> None:
    text = (DOCS / "reference" / "telemetry.md").read_text(encoding="utf-8")
    for metric in METRICS:
        assert f"`{metric.name}`" in text, metric.name


MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.mark.skipif(
    shutil.which("mkdocs") is None and not MKDOCS.exists(),
    reason="mkdocs not installed: pip install 'simcontinuum[docs]'",
)
def test_site_builds_strict(tmp_path: Path) -> None:
    cmd = [str(MKDOCS) if MKDOCS.exists() else "mkdocs", "build", "--strict", "-d", str(tmp_path)]
    env = {**os.environ, "NO_COLOR": "1", "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "reference" / "views" / "index.html").is_file()
    html = (tmp_path / "reference" / "views" / "index.html").read_text(encoding="utf-8")
    assert "ClusterView" in html and "cpu_free" in html  # rendered from the docstrings
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "check-policy" in cli and "N|A..B" in cli
