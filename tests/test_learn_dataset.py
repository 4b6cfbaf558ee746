"""The training table: its columns, determinism, and that recording does not change the run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import simcontinuum
import simcontinuum.learn.datasets as dataset_module
import simcontinuum.learn.features as features_module
from simcontinuum.cli import main
from simcontinuum.learn.datasets import COLUMNS, OUTCOME_COLUMNS, dataset, parse_seeds
from simcontinuum.learn.features import FEATURES, TELEMETRY_FEATURES

ROOT = Path(__file__).resolve().parent.parent


def short(name: str, duration: str = "40s") -> dict[str, Any]:
    """A shipped scenario as a dict, cut to ``duration``."""
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc["duration"] = duration
    doc["warmup"] = "5s"
    return doc


def test_columns_are_documented_and_complete() -> None:
    df = dataset(short("quickstart"), "random", [0, 1])
    assert list(df.columns) == list(COLUMNS)
    assert set(df["decision"]) == {"place", "control"}
    assert df["seed"].tolist() == sorted(df["seed"].tolist())
    # every view feature is a number, never missing
    assert not df[list(FEATURES)].isna().any().any()
    # telemetry features are missing only before the first delivery (place rows at t=0)
    control = df[df["decision"] == "control"]
    assert control[list(TELEMETRY_FEATURES[:2])].notna().all().all()
    assert (df["outcome_requests"] >= 0).all()
    rates = df[["outcome_slo_violation_rate", "outcome_failed_rate"]].dropna()
    assert ((rates >= 0) & (rates <= 1)).all().all()
    assert (df["outcome_window_end_s"] >= df["outcome_window_start_s"]).all()
    doc = dataset_module.__doc__ or ""
    for col in ("decision", "applied", *OUTCOME_COLUMNS):
        assert f"``{col}``" in doc, col
    documented = features_module.__doc__ or ""
    for col in FEATURES:
        name = "tier_<tier>" if col.startswith("tier_") else col
        assert f"``{name}``" in documented, col


def test_place_rows_match_the_placement() -> None:
    df = dataset(short("hackathon"), "first-fit", [0])
    place = df[df["decision"] == "place"]
    assert place[["component", "node"]].values.tolist() == [
        ["detector", "group1-node1"],
        ["classifier", "group1-node1"],
    ]
    assert place["applied"].all()
    # the classifier is called by the detector on the same node: no hop latency
    assert place["hop_latency_s"].tolist() == [pytest.approx(0.002), 0.0]
    # the window starts when the replicas run (after pulling images and starting up)
    assert (place["outcome_window_start_s"] > 0).all()


def test_same_seeds_same_table() -> None:
    a = dataset(short("quickstart"), "random", "0..1")
    b = dataset(short("quickstart"), "random", [0, 1])
    pd.testing.assert_frame_equal(a, b)


def test_recording_does_not_change_the_run() -> None:
    doc = short("quickstart")
    for seed in (0, 3):
        df = dataset(doc, "random", [seed])
        res = simcontinuum.run(doc, "random", seed=seed, reference=False)
        assert df["run_score"].iloc[0] == pytest.approx(res.summary()["score"], rel=1e-12)


def test_outcomes_tell_good_nodes_from_bad() -> None:
    df = dataset(short("hackathon", "60s"), "random", range(4))
    cls = df[(df["component"] == "classifier") & (df["decision"] == "control")]
    by_node = cls.groupby("node")["outcome_mean_latency_s"].mean()
    if {"group1-node1", "cloud-node1"} <= set(by_node.index):
        assert by_node["group1-node1"] < by_node["cloud-node1"]
    assert cls["outcome_cost_per_hour"].gt(0).all()


def test_parse_seeds() -> None:
    assert parse_seeds(["0..2", "5", "2"]) == [0, 1, 2, 5]
    assert parse_seeds([3, 1]) == [3, 1]
    for bad in (["2..1"], ["x"], ["-1"], []):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_cli_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = tmp_path / "qs.yaml"
    scen.write_text(yaml.safe_dump(short("quickstart", "30s")))
    out = tmp_path / "data.parquet"
    assert main(["dataset", str(scen), "--seeds", "2", "-o", str(out)]) == 0
    df = pd.read_parquet(out)
    assert list(df.columns) == list(COLUMNS)
    assert sorted(set(df["seed"])) == [0, 1]
    assert "written to" in capsys.readouterr().out
    csv = tmp_path / "data.csv"
    assert main(["dataset", str(scen), "--seeds", "0..0", "-o", str(csv), "-q"]) == 0
    assert len(pd.read_csv(csv)) == (df["seed"] == 0).sum()
    with pytest.raises(SystemExit) as info:
        main(["dataset", str(scen), "--seeds", "3..1", "-o", str(csv)])
    assert info.value.code == 2
    assert "runs backwards" in capsys.readouterr().err
    assert main(["dataset", str(scen), "--policy", "frist-fit", "-o", str(csv)]) == 2
    assert "did you mean 'first-fit'" in capsys.readouterr().err


def test_empty_features_are_finite() -> None:
    df = dataset(short("quickstart", "25s"), "k8s-default", [0])
    values = df[list(FEATURES)].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert not math.isnan(df["run_score"].iloc[0])


@pytest.mark.parametrize("command", ["dataset", "train", "optimize"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "examples:" in capsys.readouterr().out
