"""The per-step timing table: consistent with the requests table, free when switched off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simcontinuum as sc
from simcontinuum.results import Results

SCENARIO = "scenarios/hackathon.yaml"


@pytest.fixture(scope="module")
def hack() -> Results:
    return sc.run(SCENARIO, policy="first-fit", seed=3, reference=False)


def test_other_tables_identical_with_steps_off(hack: Results) -> None:
    off = sc.run(SCENARIO, policy="first-fit", seed=3, reference=False, steps=False)
    assert off.steps.empty
    for name in ("requests", "telemetry", "actions", "replicas", "cost", "events"):
        pd.testing.assert_frame_equal(getattr(hack, name), getattr(off, name))


def test_chain_adds_up_to_the_request_latency(hack: Results) -> None:
    st, req = hack.steps, hack.requests
    assert (st["queue_wait_s"] >= 0).all() and (st["service_s"] >= 0).all()
    ok = req[req["status"] == "ok"].set_index("request_id")
    served = st[st["status"] == "ok"]
    # hackathon: source -> detector -> classifier; the answer retraces the path
    root = served[served["parent_step"] == -1].set_index("request_id")
    leaf = served[served["parent_step"] >= 0].set_index("request_id")
    ids = ok.index.intersection(root.index).intersection(leaf.index)
    assert len(ids) > 1000
    r, lf = root.loc[ids], leaf.loc[ids]
    assert np.allclose(r["sent_s"], ok.loc[ids, "arrival_s"])
    assert np.allclose(lf["sent_s"], r["done_s"])
    end = lf["done_s"] + lf["network_out_s"] + r["network_out_s"]
    assert np.allclose(end, ok.loc[ids, "end_s"], atol=1e-9)
    parts = (
        r["network_in_s"]
        + r["queue_wait_s"]
        + r["service_s"]
        + lf["network_in_s"]
        + lf["queue_wait_s"]
        + lf["service_s"]
        + lf["network_out_s"]
        + r["network_out_s"]
    )
    assert np.allclose(parts, ok.loc[ids, "latency_s"], atol=1e-9)
    assert set(st["component"].astype(str)) == {"detector", "classifier"}


def test_steps_name_their_replica(hack: Results) -> None:
    merged = hack.steps.merge(hack.replicas, on="replica_id", suffixes=("", "_r"))
    assert len(merged) == len(hack.steps)
    assert (merged["node"].astype(str) == merged["node_r"].astype(str)).all()
    assert (merged["component"].astype(str) == merged["component_r"].astype(str)).all()


def test_queueing_is_recorded_under_load() -> None:
    doc = {
        "version": 1,
        "name": "q",
        "seed": 1,
        "duration": "60s",
        "infrastructure": {
            "clusters": [{"id": "c", "nodes": [{"id": "n", "tier": "edge", "cores": 1}]}]
        },
        "applications": [
            {
                "id": "a",
                "entry": "w",
                "components": [
                    {"id": "w", "cpu": "500m", "work": {"dist": "exponential", "mean": "9ms"}}
                ],
            }
        ],
        "workload": [{"app": "a", "from": "n", "arrival": {"type": "poisson", "rate": "100/s"}}],
    }
    res = sc.run(doc, policy="first-fit", seed=1, reference=False)
    st = res.steps[res.steps["status"] == "ok"]
    # M/M/1 at rho = 0.9: the mean wait is rho/(mu - lambda) = 81 ms; well above zero
    assert st["queue_wait_s"].mean() > 0.02
    lat = res.requests.set_index("request_id").loc[st["request_id"], "latency_s"].to_numpy()
    assert np.allclose(
        lat,
        (
            st["network_in_s"] + st["queue_wait_s"] + st["service_s"] + st["network_out_s"]
        ).to_numpy(),
    )


def test_failures_mark_steps_failed() -> None:
    doc = {
        "version": 1,
        "name": "f",
        "seed": 1,
        "duration": "60s",
        "infrastructure": {
            "clusters": [
                {
                    "id": "c",
                    "nodes": [
                        {"id": "n", "tier": "edge", "cores": 1},
                        {"id": "d", "tier": "far_edge", "cores": 1},
                    ],
                }
            ],
            "links": [{"a": "n", "b": "d", "latency": "1ms", "bandwidth": "1Gbps"}],
        },
        "applications": [
            {
                "id": "a",
                "entry": "w",
                "components": [
                    {
                        "id": "w",
                        "cpu": "500m",
                        "work": {"dist": "constant", "mean": "50ms"},
                        "placement": {"node": "n"},
                    }
                ],
            }
        ],
        "workload": [{"app": "a", "from": "d", "arrival": {"type": "poisson", "rate": "15/s"}}],
        "failures": [{"at": "30s", "node": "n", "for": "10s"}],
    }
    res = sc.run(doc, policy="first-fit", seed=1, reference=False)
    counts = res.steps["status"].value_counts()
    assert counts["failed"] >= 1
    failed_req = set(res.requests.loc[res.requests["status"] == "failed", "request_id"])
    failed_steps = set(res.steps.loc[res.steps["status"] == "failed", "request_id"])
    assert failed_steps <= failed_req


def test_saved_and_loaded(hack: Results, tmp_path) -> None:
    hack.save(tmp_path / "r")
    back = Results.load(tmp_path / "r")
    pd.testing.assert_frame_equal(back.steps, hack.steps, check_categorical=False)
    # a folder written before the steps table existed still loads (steps empty)
    (tmp_path / "r" / "steps.parquet").unlink()
    import json

    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    meta["tables"] = [t for t in meta["tables"] if t != "steps"]
    (tmp_path / "r" / "meta.json").write_text(json.dumps(meta))
    assert Results.load(tmp_path / "r").steps.empty
