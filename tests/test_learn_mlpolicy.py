"""Serialized models as policies: training, saving, the ml: spec, and clear loading errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import simcontinuum
from simcontinuum.cli import main
from simcontinuum.errors import PolicyError
from simcontinuum.learn.datasets import dataset
from simcontinuum.learn.features import FEATURES
from simcontinuum.learn.mlpolicy import (
    MLPolicy,
    TelemetryMLPolicy,
    load_ml_policy,
    make_policy,
    save_model,
    spec_path,
    train_latency_model,
)
from simcontinuum.policy import check_policy
from simcontinuum.policy.registry import load_policy

ROOT = Path(__file__).resolve().parent.parent


def short(name: str, duration: str = "40s") -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc["duration"] = duration
    doc["warmup"] = "5s"
    return doc


class HopLatency:
    """A hand-made 'model': predicts the latency into the component."""

    n_features_in_ = len(FEATURES)

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X)[:, FEATURES.index("hop_latency_s")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = dataset(short("quickstart"), "random", range(8))
    model = train_latency_model(data)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    save_model(model, path)
    return path


def test_saved_model_runs_through_the_ml_spec(trained: Path) -> None:
    spec = json.loads(spec_path(trained).read_text())
    assert spec["features"] == list(FEATURES)
    assert spec["target"] == "outcome_mean_latency_s" and spec["objective"] == "min"
    policy = load_policy(f"ml:{trained}")
    assert isinstance(policy, MLPolicy) and policy.name == "ml:model.joblib"
    doc = short("quickstart")
    res = simcontinuum.run(doc, policy, seed=11, reference=False)
    assert res.meta["policy"] == "ml:model.joblib" and res.meta["policy_errors"] == 0
    ff = simcontinuum.run(doc, "first-fit", seed=11, reference=False)
    assert res.summary()["score"] < ff.summary()["score"]  # first-fit picks the far cloud
    assert check_policy(load_policy(f"ml:{trained}"), simcontinuum.load(doc)) == []


def test_same_data_same_model(trained: Path) -> None:
    data = dataset(short("quickstart"), "random", range(3))
    a, b = train_latency_model(data), train_latency_model(data)
    X = data[list(FEATURES)]
    assert np.array_equal(a.predict(X), b.predict(X))


def test_any_object_with_predict_is_a_model(tmp_path: Path) -> None:
    # pickled by reference to this test module, which the loader can import again
    save_model(HopLatency(), tmp_path / "hop.pkl", features=list(FEATURES))
    policy = load_ml_policy(tmp_path / "hop.pkl")
    res = simcontinuum.run(short("quickstart"), policy, seed=1, reference=False)
    placed = dict(zip(res.replicas["component"], res.replicas["node"], strict=True))
    assert placed == {"detector": "edge-0", "classifier": "edge-0", "store": "edge-1"}


def test_capacity_is_checked_with_tentative_reservations() -> None:
    class Cloud:
        def predict(self, X: Any) -> np.ndarray:
            return -np.asarray(X)[:, FEATURES.index("tier_cloud")]  # always the cloud

    doc = short("quickstart")
    doc["infrastructure"]["clusters"][0]["nodes"][0]["cores"] = 1
    doc["applications"][0]["components"][0]["cpu"] = "800m"  # detector: no room left for more
    res = simcontinuum.run(doc, make_policy(Cloud()), seed=0, reference=False)
    where = dict(zip(res.replicas["component"], res.replicas["node"], strict=True))
    assert where["detector"] == "cloud-0" and where["classifier"] != "cloud-0"
    assert set(res.replicas["component"]) == {"detector", "classifier", "store"}
    assert (res.actions["outcome"] == "applied").all()


def test_telemetry_features_make_a_telemetry_policy() -> None:
    feats = [*FEATURES, "node_utilisation"]
    policy = make_policy(HopLatency(), feats)
    assert isinstance(policy, TelemetryMLPolicy) and hasattr(policy, "plan")
    assert not hasattr(make_policy(HopLatency()), "plan")


def test_missing_model_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"ml model 'nope.joblib' not found.*save_model"):
        load_policy("ml:nope.joblib")
    with pytest.raises(PolicyError, match="give a file after 'ml:'"):
        load_policy("ml:")


def test_missing_spec_names_the_expected_file(tmp_path: Path, trained: Path) -> None:
    lone = tmp_path / "lone.joblib"
    lone.write_bytes(trained.read_bytes())
    with pytest.raises(PolicyError, match=r"feature spec '.*lone\.features\.json' is missing"):
        load_policy(f"ml:{lone}")


def test_not_a_model(tmp_path: Path) -> None:
    junk = tmp_path / "junk.joblib"
    junk.write_text("not a pickle")
    spec_path(junk).write_text(json.dumps({"features": list(FEATURES)}))
    with pytest.raises(PolicyError, match=r"junk\.joblib' cannot be loaded"):
        load_policy(f"ml:{junk}")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"weights": [1, 2]}))
    spec_path(plain).write_text(json.dumps({"features": list(FEATURES)}))
    with pytest.raises(PolicyError, match=r"plain\.pkl' holds a dict, which has no predict"):
        load_policy(f"ml:{plain}")


def test_feature_mismatch(tmp_path: Path, trained: Path) -> None:
    spec = spec_path(trained)
    good = spec.read_text()
    try:
        spec.write_text(json.dumps({"features": list(FEATURES[:5])}))
        with pytest.raises(PolicyError, match=r"was fitted on the columns .* re-save"):
            load_policy(f"ml:{trained}")
        spec.write_text(json.dumps({"features": ["comp_cpu", "warp_drive"]}))
        with pytest.raises(PolicyError, match=r"unknown feature\(s\) \['warp_drive'\]"):
            load_policy(f"ml:{trained}")
        spec.write_text("{not json")
        with pytest.raises(PolicyError, match="is not valid JSON"):
            load_policy(f"ml:{trained}")
    finally:
        spec.write_text(good)
    # a model without feature names: the count is checked, then one prediction
    save_model(HopLatency(), tmp_path / "hop.pkl", features=list(FEATURES[:3]))
    with pytest.raises(PolicyError, match=r"expects 27 features but .* lists 3"):
        load_ml_policy(tmp_path / "hop.pkl")


def test_cli_train_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = tmp_path / "qs.yaml"
    scen.write_text(yaml.safe_dump(short("quickstart", "30s")))
    data = tmp_path / "d.parquet"
    assert main(["dataset", str(scen), "--seeds", "0..3", "-o", str(data), "-q"]) == 0
    model = tmp_path / "m.joblib"
    assert main(["train", str(data), "-o", str(model)]) == 0
    assert "m.features.json" in capsys.readouterr().out
    assert main(["run", str(scen), "--policy", f"ml:{model}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requests"] > 0
    assert main(["run", str(scen), "--policy", f"ml:{tmp_path / 'x.joblib'}"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "none.parquet"), "-o", str(model)]) == 2
