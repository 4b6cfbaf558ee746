"""Results: save/load round trips (Parquet exactly, CSV by value), partial folders are
errors, the summary carries the score and every part, and the warm-up is left out of it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    Pin,
    application,
    comp,
    mknode,
    poisson,
    rich_scenario,
    run,
    scenario,
    source,
    trace,
)

import simcontinuum
from simcontinuum.errors import ResultsError
from simcontinuum.metrics.score import SCORE_PARTS
from simcontinuum.model import DEFAULT_WEIGHTS, Control, Price, Scoring, Slo
from simcontinuum.policy.registry import load_policy
from simcontinuum.results import TABLES, Results


@pytest.fixture(scope="module")
def results() -> Results:
    """A run that fills every table: failures, lossy telemetry, actions, egress, energy."""
    from simcontinuum.engine.simulation import Simulation

    return Simulation(rich_scenario(), load_policy("k8s-default")).run()


def test_every_table_is_filled(results: Results) -> None:
    for name in TABLES:
        assert len(getattr(results, name)) > 0, name


def test_parquet_round_trip_is_exact(results: Results, tmp_path: Path) -> None:
    target = results.save(tmp_path / "run")
    assert target == tmp_path / "run"
    loaded = Results.load(target)
    for name in TABLES:
        # categorical columns (status, app, ...) come back categorical, with their categories
        pd.testing.assert_frame_equal(getattr(results, name), getattr(loaded, name), obj=name)
    assert loaded.meta == {
        **results.meta,
        "format": "parquet",
        "tables": list(TABLES),
        "complete": True,
    }
    assert_same_summary(results.summary(), loaded.summary())


def normalised(df: pd.DataFrame) -> pd.DataFrame:
    """Values as CSV can keep them: numbers as floats, everything else as text, and every
    kind of missing value (None, NaN, NA, "") as None."""

    def text(v: object) -> str | None:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == "":
            return None
        return str(v)

    out = {}
    for col in df.columns:
        s = df[col]
        if s.isna().all():  # an all-missing column has no type left after CSV
            out[col] = pd.Series([None] * len(s), index=s.index, dtype=object)
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(float)
        else:
            out[col] = s.astype(object).map(text).astype(object)
    return pd.DataFrame(out)


def test_csv_round_trip_keeps_every_value(results: Results, tmp_path: Path) -> None:
    loaded = Results.load(results.save(tmp_path / "csv", fmt="csv"))
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(
        ["meta.json", *[f"{t}.csv" for t in TABLES]]
    )
    for name in TABLES:
        pd.testing.assert_frame_equal(
            normalised(getattr(results, name)),
            normalised(getattr(loaded, name)),
            check_exact=False,
            rtol=1e-15,
            obj=name,
        )
    assert loaded.meta["format"] == "csv"
    assert_same_summary(results.summary(), loaded.summary())


def assert_same_summary(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-12), k


def test_save_replaces_an_existing_folder_and_leaves_no_temporaries(
    results: Results, tmp_path: Path
) -> None:
    target = tmp_path / "run"
    results.save(target, fmt="csv")
    results.save(target)  # parquet now, over the csv one
    assert json.loads((target / "meta.json").read_text())["format"] == "parquet"
    assert not list(target.glob("*.csv"))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    with pytest.raises(ValueError, match="fmt"):
        results.save(tmp_path / "x", fmt="xlsx")


def test_partial_or_corrupt_folders_are_errors(results: Results, tmp_path: Path) -> None:
    good = results.save(tmp_path / "good")
    with pytest.raises(ResultsError, match="no such results folder"):
        Results.load(tmp_path / "nothing")

    no_meta = tmp_path / "no_meta"
    shutil.copytree(good, no_meta)
    (no_meta / "meta.json").unlink()
    with pytest.raises(ResultsError, match=r"meta\.json is missing"):
        Results.load(no_meta)

    for table in TABLES:
        missing = tmp_path / f"missing_{table}"
        shutil.copytree(good, missing)
        (missing / f"{table}.parquet").unlink()
        with pytest.raises(ResultsError, match=rf"{table}\.parquet: missing"):
            Results.load(missing)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(good, corrupt)
    (corrupt / "requests.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ResultsError, match="corrupt"):
        Results.load(corrupt)

    unfinished = tmp_path / "unfinished"
    shutil.copytree(good, unfinished)
    meta = json.loads((unfinished / "meta.json").read_text())
    (unfinished / "meta.json").write_text(json.dumps({**meta, "complete": False}))
    with pytest.raises(ResultsError, match="incomplete"):
        Results.load(unfinished)

    garbled = tmp_path / "garbled"
    shutil.copytree(good, garbled)
    (garbled / "meta.json").write_text("{not json")
    with pytest.raises(ResultsError, match="unreadable"):
        Results.load(garbled)


def test_summary_has_the_score_and_every_part(results: Results) -> None:
    s = results.summary()
    weights = results.meta["weights"]
    assert weights == DEFAULT_WEIGHTS
    for part in SCORE_PARTS:
        assert f"part_{part}" in s and f"weighted_{part}" in s
        assert s[f"weighted_{part}"] == pytest.approx(weights[part] * s[f"part_{part}"])
    assert s["score"] == pytest.approx(sum(s[f"weighted_{p}"] for p in SCORE_PARTS))
    assert s["part_cost"] == pytest.approx(results.cost["cost"].sum()) and s["cost"] > 0
    assert s["part_energy_kwh"] == pytest.approx(results.cost["energy_kwh"].sum())
    assert s["part_migrations"] == results.meta["migrations"]
    tiers = set(results.cost["tier"])
    assert {f"cost_{t}" for t in tiers} <= s.keys()
    assert sum(s[f"cost_{t}"] for t in tiers) == pytest.approx(s["cost"])
    for key in ("requests", "ok", "failed", "dropped", "incomplete", "mean_latency_s"):
        assert key in s
    assert s["requests"] == s["ok"] + s["failed"] + s["dropped"] + s["incomplete"]


def queue_then_quiet(warmup: float, weights: dict[str, float] | None = None):
    """One core, 1 s per request. Before 5 s: a dropped request (the replica starts at
    0.55 s) and a burst of three that queue (1, 1.9, 2.8 s); after it, three alone (1 s
    each) and a second burst of three (1, 1.9, 2.8 s). SLO: 1.5 s."""
    times = (0.5, 1.0, 1.1, 1.2, 10.0, 20.0, 30.0, 40.0, 40.1, 40.2)
    app = application("a", [comp("w", 1.0, startup=0.55)], slo=Slo(p95_latency=1.5))
    return scenario(
        [mknode("n", cores=1, price=Price(per_hour=36.0))],
        [app],
        [source("a", "n", trace(*times))],
        duration=3600.0,
        warmup=warmup,
        scoring=Scoring(weights=weights or dict(DEFAULT_WEIGHTS)),
    )


def test_warmup_excludes_early_requests_from_the_score() -> None:
    res = run(queue_then_quiet(warmup=5.0), Pin({"w": ["n"]}))
    rq = res.requests.sort_values("arrival_s")
    assert rq["scored"].tolist() == [False] * 4 + [True] * 6
    assert rq["status"].tolist() == ["dropped"] + ["ok"] * 9
    lat = rq["latency_s"].to_numpy()[1:]
    assert lat == pytest.approx([1.0, 1.9, 2.8, 1.0, 1.0, 1.0, 1.0, 1.9, 2.8], abs=1e-9)
    assert rq["slo_violated"].tolist()[1:] == [False, True, True] + [False] * 4 + [True, True]
    s = res.summary()
    scored = np.array([1.0, 1.0, 1.0, 1.0, 1.9, 2.8])
    assert (s["requests"], s["ok"], s["dropped"]) == (6, 6, 0)
    assert s["mean_latency_s"] == pytest.approx(scored.mean(), abs=1e-9)
    assert s["p95_latency_s"] == pytest.approx(np.percentile(scored, 95), abs=1e-9)
    assert s["slo_violation_rate"] == pytest.approx(2 / 6)
    assert s["failed_rate"] == 0.0

    everything = run(queue_then_quiet(warmup=0.0), Pin({"w": ["n"]})).summary()
    assert (everything["requests"], everything["dropped"]) == (10, 1)
    assert everything["failed_rate"] == pytest.approx(1 / 10)
    # the dropped request counts as a violation: dropping work never helps
    assert everything["slo_violation_rate"] == pytest.approx((1 + 2 + 2) / 10)
    assert everything["mean_latency_s"] == pytest.approx(lat.mean(), abs=1e-9)


def test_custom_weights_make_the_score() -> None:
    weights = {"cost": 2.0, "p95_latency_s": 0.0, "failed_rate": 1000.0}
    res = run(queue_then_quiet(5.0, weights), Pin({"w": ["n"]}))
    s = res.summary()
    assert s["part_cost"] == pytest.approx(36.0)  # always-billed node: 36 per hour, 1 h
    assert s["score"] == pytest.approx(2.0 * 36.0)
    assert s["weighted_slo_violation_rate"] == 0.0  # not weighted here


def test_a_run_that_serves_nothing_scores_the_horizon_as_p95() -> None:
    sc = scenario(
        [mknode("n")],
        [application("a", [comp("w", 0.1)])],
        [source("a", "n", poisson(2.0))],
        duration=30.0,
    )
    s = run(sc, Pin({})).summary()
    assert s["ok"] == 0 and s["dropped"] > 0
    assert s["part_p95_latency_s"] == 30.0
    assert math.isnan(s["p95_latency_s"])
    assert s["failed_rate"] == 1.0


def test_reference_policy_ratios() -> None:
    base = queue_then_quiet(5.0)
    from dataclasses import replace

    sc = replace(base, scoring=Scoring(reference_policy="first-fit"), control=Control(None))
    res = simcontinuum.run(sc, "first-fit", telemetry=False)
    s = res.summary()
    assert res.meta["reference"]["policy"] == "first-fit"
    assert s["ratio_score"] == pytest.approx(1.0)
    assert s["ratio_cost"] == pytest.approx(1.0)
    assert s["ratio_failed_rate"] is None  # 0 / 0: no ratio


def test_finalize_keeps_whole_records_after_an_interrupt_mid_append() -> None:
    """A signal can land between two appends of one record (seen in CI as a shape
    mismatch): finalize keeps whole records only; the half-ended request is incomplete."""
    from pathlib import Path

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy

    root = Path(__file__).resolve().parents[1]
    sc = simcontinuum.load(root / "scenarios" / "quickstart.yaml")
    sim = Simulation(sc, load_policy("first-fit"))
    sim.start()
    sim.env.run(until=20.0)
    tr = sim.traffic
    pending = next(i for i in range(len(tr.t0)) if i not in set(tr.e_rid))
    tr.e_rid.append(pending)  # the end record of `pending` was cut after its first column
    tr.t0.append(20.0)  # and a new request was cut between its two columns
    sim.telemetry.time.append(20.0)  # a telemetry row cut after its first column
    sim.interrupted = True
    res = sim.finalize(0.0)
    rq = res.requests
    assert len(rq) == len(tr.src)
    assert rq.loc[rq["request_id"] == pending, "status"].item() == "incomplete"
    assert len(res.telemetry) == len(sim.telemetry.value)
