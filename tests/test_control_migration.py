"""Migration (``Move``) as Kubernetes does it — no live migration: the new replica is deployed
(pulled, started) while the old one keeps serving; once the new one runs, the old one drains
(takes no new work, finishes what it accepted) and is gone. So during a move both replicas
are billed, and no request the old replica accepted is lost.

The device reaches e1 in 2 ms and e2 in 5 ms, so the pure network latency of a request
(``network_latency_s``: 4 ms or 10 ms there and back) tells which replica served it.
"""

from __future__ import annotations

import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, run, scenario, source

from simcontinuum.model import Control, Link, Price, Scenario
from simcontinuum.policy.api import Move
from simcontinuum.results import Results

MOVE_AT = 20.0
STARTUP = 4.0
HORIZON = 60.0
PRICE = Price(per_core_hour=1.0)


def site() -> Scenario:
    """d –2 ms– e1 –3 ms– e2; one core each; ``front`` takes 50 ms (a queue at 15/s)."""
    nodes = [
        mknode("d", "far_edge"),
        mknode("e1", cores=1, price=PRICE),
        mknode("e2", cores=1, price=PRICE),
    ]
    links = [Link("d", "e1", 0.002, INF), Link("e1", "e2", 0.003, INF)]
    front = comp("front", 0.05, cpu=0.5, startup=STARTUP)
    return scenario(
        nodes,
        [application("a", [front])],
        [source("a", "d", poisson(15.0))],
        links=links,
        duration=HORIZON,
        warmup=STARTUP + 1.0,
        seed=11,
        control=Control(interval=10.0),
    )


@pytest.fixture(scope="module")
def moved() -> Results:
    policy = Pin({"front": ["e1"]}, script={MOVE_AT: [Move("a", "front", "e1", "e2")]})
    return run(site(), policy)


def test_the_move_is_applied_and_counted(moved: Results) -> None:
    acts = moved.actions
    move = acts[acts["kind"] == "move"]
    assert len(move) == 1
    assert move["outcome"].iloc[0] == "applied"
    assert (move["time_s"].iloc[0], move["node"].iloc[0], move["target"].iloc[0]) == (
        MOVE_AT,
        "e1",
        "e2",
    )
    assert moved.meta["migrations"] == 1
    assert moved.summary()["migrations"] == 1


def test_both_replicas_overlap_and_are_both_billed(moved: Results) -> None:
    reps = moved.replicas.set_index("node")
    old, new = reps.loc["e1"], reps.loc["e2"]
    assert old["end_reason"] == "moved"
    assert new["created_s"] == MOVE_AT
    assert new["running_s"] == pytest.approx(MOVE_AT + STARTUP)
    # the old replica runs until the new one does, then drains its queue
    assert old["removed_s"] >= new["running_s"]
    assert old["removed_s"] < new["running_s"] + 1.0
    cost = moved.cost
    core_h = cost[cost["item"] == "core_hours"].set_index("node")["quantity"]
    assert core_h["e1"] == pytest.approx(0.5 * old["removed_s"] / 3600)
    assert core_h["e2"] == pytest.approx(0.5 * (HORIZON - MOVE_AT) / 3600)
    overlap = old["removed_s"] - new["created_s"]
    assert overlap >= STARTUP
    billed = core_h["e1"] + core_h["e2"]
    assert billed == pytest.approx(0.5 * (HORIZON + overlap) / 3600)


def test_no_request_is_lost_and_work_in_flight_at_the_source_finishes(moved: Results) -> None:
    rq = moved.requests
    scored = rq[rq["scored"]]
    assert set(scored["status"].astype(str)) <= {"ok", "incomplete"}
    # incomplete: only what was still queued at the horizon
    assert scored.loc[scored["status"] == "incomplete", "arrival_s"].min() > HORIZON - 3.0
    ok = rq[rq["status"] == "ok"]
    at_e1 = ok[ok["network_latency_s"].round(6) == 0.004]
    at_e2 = ok[ok["network_latency_s"].round(6) == 0.010]
    assert len(at_e1) + len(at_e2) == len(ok)
    switch = MOVE_AT + STARTUP
    # until the new replica runs, the old one serves everything
    during = rq[(rq["arrival_s"] >= MOVE_AT) & (rq["arrival_s"] < switch)]
    assert len(during) > 30 and (during["status"] == "ok").all()
    assert (during["network_latency_s"].round(6) == 0.004).all()
    # some of it was still queued at e1 when the new replica took over, and finished there
    assert (at_e1["end_s"] > switch).any()
    # afterwards the new replica serves everything
    assert (at_e2["arrival_s"] >= switch).all()
    assert (ok.loc[ok["arrival_s"] > switch, "network_latency_s"].round(6) == 0.010).all()
    assert not (rq["status"] == "failed").any()


def test_a_move_the_target_cannot_admit_is_rejected_and_the_source_keeps_serving() -> None:
    policy = Pin({"front": ["e1"]}, script={MOVE_AT: [Move("a", "front", "e1", "nowhere")]})
    res = run(site(), policy)
    move = res.actions[res.actions["kind"] == "move"]
    assert move["outcome"].tolist() == ["rejected"]
    assert "unknown node 'nowhere'" in move["reason"].iloc[0]
    assert res.meta["migrations"] == 0
    scored = res.requests[res.requests["scored"]]
    assert set(scored["status"].astype(str)) <= {"ok", "incomplete"}
