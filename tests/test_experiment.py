"""Sweeps: statistics by hand, equal results on every executor, resume, outputs, CLI."""

from __future__ import annotations

import doctest
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from simcontinuum.cli import main
from simcontinuum.experiment import stats, store
from simcontinuum.experiment.bench import BenchError, BenchInterrupted, run_bench
from simcontinuum.experiment.executors import ExecutorError, executor
from simcontinuum.experiment.stats import mean_ci, paired, ranking, t_quantile
from simcontinuum.experiment.store import policy_hash
from simcontinuum.generate.build import generate

POLICIES = ["first-fit", "k8s-default"]
VOLATILE = ("wall_s", "cached")  # wall time differs between runs; the rest must not


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    """Two tiny generated scenarios (a couple of seconds of traffic each)."""
    folder = tmp_path / "scenarios"
    for template, seed in (("smart-city", 1), ("random", 2)):
        g = generate(template, 10, 2, seed, {"duration": "4s", "warmup": "0s", "load": 0.1})
        g.write(folder / f"{template}.yaml")
    return folder


def numbers(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=[c for c in VOLATILE if c in runs]).reset_index(drop=True)


@pytest.mark.parametrize("module", [stats, store])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_confidence_interval_by_hand() -> None:
    # t(0.975, 4) = 2.776445; s = sqrt(2.5); half-width = t * s / sqrt(5) = 1.963243
    mean, low, high = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0
    assert high - mean == pytest.approx(1.963243, abs=1e-6)
    assert mean - low == pytest.approx(high - mean)
    assert t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)
    assert t_quantile(0.025, 4) == pytest.approx(-2.776445, abs=1e-6)
    assert t_quantile(0.95, 1) == pytest.approx(6.313752, abs=1e-6)
    assert t_quantile(0.975, 10_000) == pytest.approx(1.960201, abs=1e-6)
    m, lo, hi = mean_ci([4.0])
    assert m == 4.0 and math.isnan(lo) and math.isnan(hi)


def test_ranking_by_mean_rank_over_scenarios() -> None:
    table = pd.DataFrame(
        {
            "policy": ["a", "b", "c"] * 2,
            "scenario": ["s"] * 3 + ["t"] * 3,
            "score_mean": [1.0, 2.0, 3.0, 30.0, 10.0, 20.0],
        }
    )
    r = ranking(table)
    # ranks: a 1,3 -> 2.0; b 2,1 -> 1.5; c 3,2 -> 2.5
    assert r["policy"].tolist() == ["b", "a", "c"]
    assert r["mean_rank"].tolist() == [1.5, 2.0, 2.5]
    assert r["rank"].tolist() == [1, 2, 3]
    assert r["wins"].tolist() == [1, 1, 0]


def test_paired_comparison_by_hand() -> None:
    runs = pd.DataFrame(
        {
            "policy": ["base"] * 4 + ["p"] * 4,
            "scenario": ["s", "s", "t", "t"] * 2,
            "seed": [1, 2, 1, 2] * 2,
            "score": [10.0, 12.0, 5.0, 5.0, 9.0, 10.0, 6.0, 5.0],
            "status": ["ok"] * 8,
        }
    )
    p = paired(runs, "base").set_index("scenario")
    assert p.loc["s", "mean_diff"] == -1.5  # diffs -1, -2
    assert (p.loc["s", "wins"], p.loc["s", "losses"]) == (2, 0)
    assert (p.loc["t", "wins"], p.loc["t", "losses"], p.loc["t", "ties"]) == (0, 1, 1)
    allp = p.loc["(all)"]
    assert allp["n"] == 4 and allp["mean_diff"] == pytest.approx(-0.5)
    half = t_quantile(0.975, 3) * math.sqrt(pd.Series([-1.0, -2.0, 1.0, 0.0]).var() / 4)
    assert allp["ci_high"] - allp["mean_diff"] == pytest.approx(half)


def test_jobs_1_and_jobs_2_give_the_same_numbers(scenarios: Path, tmp_path: Path) -> None:
    one = run_bench(POLICIES, [scenarios], range(3), tmp_path / "one", jobs=1)
    two = run_bench(POLICIES, [scenarios], range(3), tmp_path / "two", jobs=2)
    assert one.executor == "inline" and two.executor == "process"
    assert len(one.runs) == 2 * 2 * 3 and one.errors == 0
    pd.testing.assert_frame_equal(numbers(one.runs), numbers(two.runs))
    pd.testing.assert_frame_equal(one.table, two.table)


def test_dask_gives_the_same_numbers(scenarios: Path, tmp_path: Path) -> None:
    pytest.importorskip(
        "distributed", reason="Dask is not installed: pip install 'simcontinuum[dask]'"
    )
    local = run_bench(["first-fit"], [scenarios], range(2), None, jobs=1)
    dask = run_bench(
        ["first-fit"], [scenarios], range(2), tmp_path / "d", executor_kind="dask", jobs=2
    )
    assert dask.executor == "dask"
    pd.testing.assert_frame_equal(numbers(local.runs), numbers(dask.runs))


def test_dask_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with (
        pytest.raises(ExecutorError, match=r"pip install 'simcontinuum\[dask\]'"),
        executor("dask", 1),
    ):
        pass


def test_resume_skips_finished_runs(scenarios: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = run_bench(["first-fit"], [scenarios], range(2), out)
    assert (first.executed, first.skipped) == (4, 0)
    assert len(list((out / "runs").glob("*.json"))) == 4
    again = run_bench(["first-fit"], [scenarios], range(3), out)
    assert (again.executed, again.skipped) == (2, 4)
    victim = sorted((out / "runs").glob("*.json"))[0]
    victim.unlink()
    third = run_bench(["first-fit"], [scenarios], range(3), out)
    assert (third.executed, third.skipped) == (1, 5)
    pd.testing.assert_frame_equal(numbers(again.runs), numbers(third.runs))


def test_interrupted_sweep_keeps_finished_runs(scenarios: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    calls = []

    def ctrl_c_after_first_task(done: int, total: int) -> None:
        calls.append(done)
        if done:
            raise KeyboardInterrupt

    with pytest.raises(BenchInterrupted) as err:
        run_bench(POLICIES, [scenarios], range(2), out, chunk=1, progress=ctrl_c_after_first_task)
    assert err.value.finished == 1 and err.value.total == 8
    assert calls == [0, 1]
    resumed = run_bench(POLICIES, [scenarios], range(2), out, chunk=1)
    assert (resumed.executed, resumed.skipped) == (7, 1)


def test_policy_file_content_is_part_of_the_key(scenarios: Path, tmp_path: Path) -> None:
    policy = tmp_path / "mine.py"
    policy.write_text(
        "from simcontinuum.policy.builtins import FirstFit\n\nclass Mine(FirstFit):\n    pass\n"
    )
    spec = f"{policy}:Mine"
    h1 = policy_hash(spec)
    out = tmp_path / "sweep"
    assert run_bench([spec], [scenarios], [0], out).executed == 2
    assert run_bench([spec], [scenarios], [0], out).executed == 0
    policy.write_text(policy.read_text() + "\n# tuned\n")
    assert policy_hash(spec) != h1
    assert run_bench([spec], [scenarios], [0], out).executed == 2
    assert policy_hash("first-fit") == policy_hash("First_Fit")


def test_bad_arguments(scenarios: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--baseline"):
        run_bench(["first-fit"], [scenarios], [0], None, baseline="k8s-default")
    with pytest.raises(BenchError, match="no such scenario"):
        run_bench(["first-fit"], [tmp_path / "missing"], [0], None)


def test_cli_bench_writes_tables(
    scenarios: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--policies", *POLICIES, "--scenarios", str(scenarios), "--seeds", "2"]
    assert main([*argv, "--baseline", "first-fit", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "Ranking" in printed.out and "Paired with first-fit" in printed.out
    assert "8 runs executed" in printed.err
    for name in ("runs", "bench", "ranking", "paired"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    assert (out / "bench.html").read_text().lstrip().startswith("<!DOCTYPE html>")
    table = pd.read_parquet(out / "bench.parquet")
    assert set(table["policy"]) == set(POLICIES) and (table["n"] == 2).all()
    assert {"score_mean", "score_ci_low", "score_ci_high", "energy_kwh_mean"} <= set(table)
    assert main([*argv, "--out", str(out)]) == 0
    assert "0 runs executed, 8 found" in capsys.readouterr().err
    assert main([*argv, "--baseline", "best-fit", "--out", str(out)]) == 2
    assert main([*argv, "--executor", "inline", "--address", "tcp://x:1", "--out", str(out)]) == 2


def test_policy_hash_follows_the_files_a_spec_reads(tmp_path: Path) -> None:
    """Retraining a model, editing a placement or an MLSysOps policy file in place
    invalidates cached runs; the same content elsewhere keeps them."""
    from simcontinuum.experiment.store import policy_hash

    model = tmp_path / "model.joblib"
    model.write_bytes(b"v1")
    (tmp_path / "model.features.json").write_text("{}")
    plan = tmp_path / "best.yaml"
    plan.write_text("a: {b: [n]}\n")
    mls = tmp_path / "policy-mover.py"
    mls.write_text("# v1\n")
    before = [policy_hash(f"ml:{model}"), policy_hash(f"fixed:{plan}"), policy_hash(str(mls))]
    model.write_bytes(b"v2")
    plan.write_text("a: {b: [m]}\n")
    mls.write_text("# v2\n")
    after = [policy_hash(f"ml:{model}"), policy_hash(f"fixed:{plan}"), policy_hash(str(mls))]
    assert all(b != a for b, a in zip(before, after, strict=True))
    assert policy_hash("first-fit") == policy_hash("First_Fit")
