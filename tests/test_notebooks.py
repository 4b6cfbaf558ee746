"""The notebooks run from top to bottom, and are committed without outputs.

Each notebook is copied into a temporary folder and executed there with nbclient (so what it
writes stays out of the repository); ``SIMCONTINUUM_ROOT`` tells it where the scenarios are.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 240  # per cell, on a loaded 2-core machine


def test_the_notebooks_are_there() -> None:
    names = [p.stem for p in NOTEBOOKS]
    for stem in (
        "01-quickstart",
        "02-write-a-policy",
        "03-ml-policy",
        "04-genetic-algorithm",
        "05-organizers",
        "06-mlsysops",
    ):
        assert stem in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(doc["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs; clear them"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has a count"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    monkeypatch.setenv("SIMCONTINUUM_ROOT", str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports this checkout's simcontinuum, wherever the copy is
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    book = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        out
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
