"""Every action kind through the replica life cycle, as recorded in the results.

A replica is created (pending) when its action is applied, pulls its image from the registry
(``image_size`` over the route's bandwidth, plus latency; once per node — a node that has the
image starts at once), starts (``startup``), runs, and on removal drains (no new work; its
queue finishes) before it is gone. Each decision is a row of ``results.actions`` with its
time, outcome (``applied`` / ``rejected`` / ``error``) and reason.

Registry r –10 ms, 100 Mbit/s– e1, e2, e3 (2 cores each), all 1 ms from the device. The image
is 25 MB: a pull takes 25e6 × 8 / 1e8 = 2 s + 10 ms; startup is 1 s.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, run, scenario, source

from simcontinuum.model import Constraints, Control, Link, Scenario
from simcontinuum.policy.api import ChangeSpec, Deploy, Move, Remove, Scale
from simcontinuum.results import Results

PULL = 25e6 * 8 / 100e6 + 0.010
STARTUP = 1.0
EDGE = Constraints(tiers=frozenset({"edge"}))
SCRIPT: dict[float, list[Any]] = {
    10.0: [Deploy("a", "front", "e2")],  # a fresh node: pull, then start
    20.0: [Deploy("a", "front", "e1")],  # the image is on e1 already: start only
    30.0: [Remove("a", "front", "e1")],  # the newest replica on e1 drains
    40.0: [Move("a", "front", "e2", "e3")],  # e3 pulls and starts, then e2 drains
    50.0: [ChangeSpec("a", "front", "e1", cpu=1.5)],  # re-created beside the old one
    60.0: [Scale("a", "front", 1)],  # the newest drains
    70.0: [Scale("a", "front", 3)],  # two more on the least-allocated nodes
    80.0: [
        Deploy("a", "front", "e9"),
        Remove("a", "front", "r"),
        Scale("a", "front", 9),
        Move("a", "front", "e3", "e3"),
        ChangeSpec("a", "front", "e3", cpu=5.0),
        "not an action",
    ],
}


def site() -> Scenario:
    nodes = [mknode("r", "cloud", cores=1), mknode("d", "far_edge")]
    nodes += [mknode(f"e{i}", cores=2) for i in (1, 2, 3)]
    links = [Link("r", f"e{i}", 0.010, 100e6) for i in (1, 2, 3)]
    links += [Link("d", f"e{i}", 0.001, INF) for i in (1, 2, 3)]
    front = comp(
        "front", 0.02, cpu=0.5, image_size=25e6, startup=STARTUP, placement=EDGE, replicas_max=4
    )
    return scenario(
        nodes,
        [application("a", [front])],
        [source("a", "d", poisson(20.0))],
        links=links,
        registry="r",
        duration=100.0,
        seed=8,
        control=Control(interval=10.0),
    )


@pytest.fixture(scope="module")
def acted() -> Results:
    return run(site(), Pin({"front": ["e1"]}, script=SCRIPT))


def replica(res: Results, node: str, created: float) -> pd.Series:
    reps = res.replicas
    sel = reps[(reps["node"] == node) & (reps["created_s"] == created)]
    assert len(sel) == 1, f"no single replica on {node} created at {created}"
    return sel.iloc[0]


def test_every_decision_is_recorded_with_time_outcome_and_reason(acted: Results) -> None:
    acts = acted.actions
    assert list(acts.columns) == [
        "time_s",
        "call",
        "kind",
        "app",
        "component",
        "node",
        "target",
        "outcome",
        "reason",
    ]
    good = acts[acts["time_s"] < 80.0]
    assert set(good["outcome"]) == {"applied"}
    assert set(good["reason"].dropna()) == {"scale"}  # the removal a Scale decided
    kinds = good.groupby("time_s")["kind"].apply(list).to_dict()
    assert kinds[10.0] == ["deploy"] and kinds[30.0] == ["remove"] and kinds[40.0] == ["move"]
    assert kinds[50.0] == ["change_spec"]
    assert kinds[60.0] == ["scale", "remove"] and kinds[70.0] == ["scale", "deploy", "deploy"]
    bad = acts[acts["time_s"] == 80.0].reset_index(drop=True)
    assert bad["outcome"].tolist() == ["rejected"] * 5 + ["error"]
    reasons = bad["reason"].tolist()
    assert "unknown node 'e9'" in reasons[0]
    assert "no live replica" in reasons[1]
    assert "outside replicas range" in reasons[2]
    assert "same node" in reasons[3]
    assert "over capacity" in reasons[4]
    assert "not an action" in reasons[5]


def test_deploy_pulls_then_starts_and_the_image_is_cached_per_node(acted: Results) -> None:
    first = replica(acted, "e1", 0.0)
    assert first["image_ready_s"] == pytest.approx(PULL)
    assert first["running_s"] == pytest.approx(PULL + STARTUP)
    fresh = replica(acted, "e2", 10.0)
    assert fresh["image_ready_s"] == pytest.approx(10.0 + PULL)
    assert fresh["running_s"] == pytest.approx(10.0 + PULL + STARTUP)
    cached = replica(acted, "e1", 20.0)
    assert cached["image_ready_s"] == 20.0
    assert cached["running_s"] == pytest.approx(20.0 + STARTUP)
    # nothing serves before the first replica runs; nothing is lost afterwards
    rq = acted.requests
    assert (rq.loc[rq["arrival_s"] < PULL + STARTUP - 0.01, "status"] == "dropped").all()
    later = rq[rq["arrival_s"] > PULL + STARTUP]
    assert set(later["status"].astype(str)) <= {"ok", "incomplete"}


def test_remove_drains_the_newest_replica_on_the_node(acted: Results) -> None:
    gone = replica(acted, "e1", 20.0)
    assert gone["end_reason"] == "removed"
    assert 30.0 <= gone["removed_s"] < 30.1  # its queue (20 ms steps) finishes first
    assert replica(acted, "e1", 0.0)["removed_s"] > 50.0  # the older one stayed


def test_move_overlaps_the_two_replicas(acted: Results) -> None:
    new = replica(acted, "e3", 40.0)
    old = replica(acted, "e2", 10.0)
    assert new["running_s"] == pytest.approx(40.0 + PULL + STARTUP)
    assert old["end_reason"] == "moved"
    assert new["running_s"] <= old["removed_s"] < new["running_s"] + 0.1
    assert acted.meta["migrations"] == 1


def test_change_spec_recreates_the_replica_then_drains_the_old(acted: Results) -> None:
    new = replica(acted, "e1", 50.0)
    old = replica(acted, "e1", 0.0)
    assert (new["cpu"], old["cpu"]) == (1.5, 0.5)
    assert new["image_ready_s"] == 50.0  # same image, cached
    assert new["running_s"] == pytest.approx(50.0 + STARTUP)
    assert old["end_reason"] == "spec_changed"
    assert new["running_s"] <= old["removed_s"] < new["running_s"] + 0.1


def test_scale_drains_the_newest_then_deploys_on_the_least_allocated(acted: Results) -> None:
    scaled_in = replica(acted, "e1", 50.0)  # the newest of e3 (40 s) and e1 (50 s)
    assert scaled_in["end_reason"] == "scaled_in"
    assert 60.0 <= scaled_in["removed_s"] < 60.1
    reps = acted.replicas
    out = reps[reps["created_s"] == 70.0]
    # e3 holds the survivor: the two new replicas go to the emptier e1 and e2
    assert sorted(out["node"]) == ["e1", "e2"]
    assert (out["image_ready_s"] == 70.0).all()  # both nodes have had the image
    live = reps[reps["removed_s"].isna()]
    assert sorted(live["node"]) == ["e1", "e2", "e3"]
