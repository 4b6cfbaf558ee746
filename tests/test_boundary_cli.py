"""``--isolate`` on the command line: it runs, it equals the in-process run, it refuses where
no isolation can be had and says how to get it, and ``--insecure`` says loudly what it does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simcontinuum.boundary import IsolationError, probe
from simcontinuum.cli import Exit, main

ROOT = Path(__file__).resolve().parent.parent
QUICK = str(ROOT / "scenarios" / "quickstart.yaml")


def summary(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == Exit.OK
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_run_isolate_equals_the_in_process_run(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        probe()
    except IsolationError as exc:
        pytest.skip(f"no isolation here: {exc}")
    argv = ["run", QUICK, "--policy", "latency-greedy", "--seed", "4", "--json"]
    assert summary(capsys, [*argv, "--isolate"]) == summary(capsys, argv)


def test_without_bubblewrap_isolation_refuses_and_says_how(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    assert main(["run", QUICK, "--isolate", "--json"]) == Exit.FAILED
    err = capsys.readouterr().err
    assert "cannot isolate" in err and "apt-get install bubblewrap" in err and "--insecure" in err
    assert "Traceback" not in err
    assert (
        main(
            [
                "leaderboard",
                str(ROOT / "examples" / "submissions"),
                "--scenarios",
                QUICK,
                "--out",
                str(tmp_path / "lb"),
            ]
        )
        == 2
    )
    assert "--insecure" in capsys.readouterr().err
    assert not (tmp_path / "lb").exists()


def test_insecure_runs_and_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")  # python found, bwrap not
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None if name == "bwrap" else "/x")
    argv = ["run", QUICK, "--policy", "first-fit", "--seed", "1", "--json"]
    assert main([*argv, "--isolate", "--insecure"]) == Exit.OK
    captured = capsys.readouterr()
    assert "WARNING: NOT ISOLATED" in captured.err
    assert json.loads(captured.out) == summary(capsys, argv)


def test_bench_isolate_gives_the_same_rows(tmp_path: Path) -> None:
    from simcontinuum.experiment.bench import run_bench

    args = (["first-fit", "threshold-autoscaler"], [QUICK], [0])
    here = run_bench(*args, None)
    there = run_bench(*args, None, isolate="insecure")
    cols = ["policy", "seed", "status", "score", "requests", "ok", "cost"]
    pd.testing.assert_frame_equal(here.runs[cols], there.runs[cols])
