"""Cached runs go stale when what they were computed from changes: the scenario's files
(traces), the policy's files, and the package's own source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from simcontinuum.cli import main
from simcontinuum.experiment import store
from simcontinuum.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def traced_scenario(folder: Path, times: list[float]) -> Path:
    """quickstart on a short horizon with its cameras replaying ``trace.csv``."""
    doc = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    doc.update(duration="20s", warmup="0s")
    doc["workload"][0]["arrival"] = {"type": "trace", "path": "trace.csv"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trace.csv").write_text("time_s\n" + "".join(f"{t}\n" for t in times))
    path = folder / "traced.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_digest_covers_trace_files(tmp_path: Path) -> None:
    path = traced_scenario(tmp_path / "a", [1.0, 2.0])
    first = load_scenario(path)
    assert load_scenario(path).digest == first.digest
    (tmp_path / "a" / "trace.csv").write_text("time_s\n1.0\n2.5\n")
    assert load_scenario(path).digest != first.digest
    # the scenario moved with its trace is the same scenario
    moved = traced_scenario(tmp_path / "b", [1.0, 2.0])
    assert load_scenario(moved).digest == first.digest
    # a scenario reading no file keeps the digest of its document alone
    plain = load_scenario(ROOT / "scenarios" / "quickstart.yaml")
    assert plain.digest == store_digest_of_document(ROOT / "scenarios" / "quickstart.yaml")


def store_digest_of_document(path: Path) -> str:
    from simcontinuum.scenario.loader import scenario_digest

    return scenario_digest(yaml.safe_load(path.read_text()))


def _bench(scenario: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, float]:
    argv = ["bench", "--policies", "first-fit", "--scenarios", str(scenario), "--seeds", "1"]
    assert main([*argv, "--executor", "inline", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    runs = pd.read_csv(out / "runs.csv")
    return err, float(runs["requests"].iloc[0])


def test_editing_a_trace_invalidates_a_cached_bench_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: '0 runs executed, 1 found' and the stale row of the old trace."""
    scenario = traced_scenario(tmp_path / "sc", [1.0, 2.0, 3.0])
    out = tmp_path / "bench"
    err, before = _bench(scenario, out, capsys)
    assert "1 runs executed" in err
    err, again = _bench(scenario, out, capsys)
    assert "0 runs executed, 1 found" in err and again == before
    (tmp_path / "sc" / "trace.csv").write_text(
        "time_s\n" + "".join(f"{t / 10}\n" for t in range(10, 190))
    )
    err, after = _bench(scenario, out, capsys)
    assert "1 runs executed" in err
    assert after > before  # the new trace has 60x the camera requests


def test_a_changed_source_fingerprint_invalidates_cached_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = traced_scenario(tmp_path / "sc", [1.0])
    out = tmp_path / "bench"
    assert "1 runs executed" in _bench(scenario, out, capsys)[0]
    assert "0 runs executed, 1 found" in _bench(scenario, out, capsys)[0]
    monkeypatch.setattr(store, "source_fingerprint", lambda: "an edited engine")
    assert "1 runs executed" in _bench(scenario, out, capsys)[0]


def test_the_fingerprint_follows_the_package_source(tmp_path: Path) -> None:
    """It hashes the package's .py files: a copy has the same, an edit to the engine differs,
    byte-code caches do not count."""
    import shutil

    fp = store.source_fingerprint()
    assert store.run_key("d", "p", 1)["source"] == fp
    pkg = Path(store.__file__).resolve().parents[1]
    copy = tmp_path / "simcontinuum"
    shutil.copytree(pkg, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert store.tree_fingerprint(copy) == fp
    (copy / "engine" / "__pycache__").mkdir(exist_ok=True)
    (copy / "engine" / "__pycache__" / "x.py").write_text("# stray\n")
    assert store.tree_fingerprint(copy) == fp
    engine = copy / "engine" / "compute.py"
    engine.write_text(engine.read_text() + "\n# faster\n")
    assert store.tree_fingerprint(copy) != fp
