"""The layer contracts (``[tool.importlinter]`` in pyproject.toml) hold, and a wrong arrow
breaks them with a message naming the contract and the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def lint(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run(
        [str(LINT), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=path,
        timeout=300,
    )


def test_the_contracts_hold() -> None:
    out = lint(ROOT / "pyproject.toml", ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "arrow"),
    [
        (
            "engine/traffic.py",
            "from simcontinuum.report import figures",
            "Layers",
            "simcontinuum.engine.traffic -> simcontinuum.report",
        ),
        (
            "learn/env.py",
            "from simcontinuum.engine.traffic import Step",
            "Other packages drive the engine",
            "simcontinuum.learn.env -> simcontinuum.engine.traffic",
        ),
        (
            "report/figures.py",
            "import simcontinuum",
            "No module imports the root package",
            "simcontinuum.report.figures -> simcontinuum",
        ),
    ],
    ids=["upward-arrow", "engine-internals", "root-package"],
)
def test_a_wrong_arrow_fails_naming_it(
    tmp_path: Path, module: str, line: str, contract: str, arrow: str
) -> None:
    shutil.copytree(ROOT / "simcontinuum", tmp_path / "simcontinuum")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "simcontinuum" / module
    target.write_text(target.read_text() + f"\n{line}  # a wrong arrow\n")
    out = lint(tmp_path / "pyproject.toml", tmp_path)
    assert out.returncode == 1, out.stdout
    broken = out.stdout[out.stdout.index("Broken contracts") :]
    assert contract in broken and arrow in broken
