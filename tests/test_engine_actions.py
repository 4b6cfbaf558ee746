"""What the engine does with a policy's decisions: every one is validated and recorded with an
outcome (``applied`` / ``rejected`` / ``error``) and a reason; nothing a policy returns or
raises stops the run (unless ``strict``); applied actions have the documented life cycle.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, run, scenario, source, trace

import simcontinuum
from simcontinuum.errors import PolicyError
from simcontinuum.model import Constraints, Control, Link, Scenario
from simcontinuum.policy.api import ChangeSpec, Deploy, Move, Remove, Scale
from simcontinuum.results import Results

EDGE = Constraints(tiers=frozenset({"edge"}))


def site(components, arrival=None, *, duration: float = 40.0, interval: float = 10.0) -> Scenario:
    """Device d –2 ms– e1 (edge, ssd) –3 ms– e2 (edge); e1 –20 ms– c0 (cloud). App ``a``."""
    nodes = [
        mknode("d", "far_edge"),
        mknode("e1", cores=2, labels=frozenset({"ssd"})),
        mknode("e2", cores=2),
        mknode("c0", "cloud", cores=8),
    ]
    links = [Link("d", "e1", 0.002, INF), Link("e1", "e2", 0.003, INF)]
    links.append(Link("e1", "c0", 0.020, INF))
    return scenario(
        nodes,
        [application("a", components)],
        [source("a", "d", arrival or poisson(5.0))],
        links=links,
        duration=duration,
        seed=4,
        control=Control(interval=interval),
    )


def front(**kw: Any):
    kw.setdefault("placement", EDGE)
    return comp("front", kw.pop("mean", 0.01), kw.pop("dist", "constant"), **kw)


def rows(res: Results, call: str | None = None):
    acts = res.actions
    return acts if call is None else acts[acts["call"] == call].reset_index(drop=True)


class Returns:
    """A policy whose ``place`` returns ``placement`` as is (anything at all) and whose
    ``plan`` returns ``plan`` (or raises it, when it is an exception)."""

    name = "returns"

    def __init__(self, placement: Any, plan: Any = None) -> None:
        self.placement = placement
        self.plan_result = plan

    def place(self, app: Any, view: Any) -> Any:
        if isinstance(self.placement, Exception):
            raise self.placement
        return self.placement

    def plan(self, view: Any, telemetry: Any) -> Any:
        if isinstance(self.plan_result, Exception):
            raise self.plan_result
        return self.plan_result


# ----------------------------------------------------------------------------- place()


def test_invalid_placements_are_rejected_with_reasons_and_the_run_goes_on() -> None:
    components = [
        front(cpu=1.5, replicas_max=2),
        comp("db", cpu=1.0, placement=Constraints(node="c0")),
        comp("ml", placement=Constraints(labels=frozenset({"gpu", "ssd"}))),
        comp("solo", cpu=0.1, replicas_max=1),
    ]
    placement = {
        "front": ["e11", "c0", "e1", "e1"],
        "db": ["e2"],
        "ml": ["e1"],
        "solo": ["e2", "e2"],
        "frnt": ["e1"],
    }
    res = run(site(components), Returns(placement))
    acts = rows(res, "place")
    deploys = acts[acts["kind"] == "deploy"]
    got = list(
        zip(
            deploys["component"], deploys["node"].fillna("<unset>"), deploys["outcome"], strict=True
        )
    )
    assert got == [
        ("front", "e11", "rejected"),
        ("front", "c0", "rejected"),
        ("front", "e1", "applied"),
        ("front", "e1", "rejected"),
        ("db", "e2", "rejected"),
        ("ml", "e1", "rejected"),
        ("solo", "e2", "applied"),
        ("solo", "e2", "rejected"),
        ("frnt", "<unset>", "rejected"),
    ]
    reasons = deploys["reason"].tolist()
    assert reasons[0] == "unknown node 'e11'; did you mean 'e1'?"
    assert reasons[1] == "tier 'cloud' not in allowed tiers ['edge']"
    assert pd.isna(reasons[2])
    assert reasons[3].startswith("over capacity on 'e1': needs 1.5 cpu")
    assert reasons[4] == "component is pinned to node 'c0'"
    assert reasons[5] == "node lacks labels ['gpu']"
    assert reasons[7] == "component already has replicas.max = 1 replicas"
    assert reasons[8] == "unknown component 'frnt'; did you mean 'front'?"
    unplaced = acts[acts["kind"] == "unplaced"]
    assert sorted(unplaced["component"]) == ["db", "ml"]
    assert (unplaced["outcome"] == "rejected").all()
    # the valid part is deployed and serves: the run went on
    assert sorted(zip(res.replicas["component"], res.replicas["node"], strict=True)) == [
        ("front", "e1"),
        ("solo", "e2"),
    ]
    assert (res.requests["status"] == "ok").mean() > 0.9
    assert res.meta["policy_errors"] == 0


@pytest.mark.parametrize(
    ("placement", "reason"),
    [
        (["e1"], "place() must return a dict {component: [node, ...]}, got list"),
        ("e1", "place() must return a dict {component: [node, ...]}, got str"),
    ],
)
def test_a_non_dict_placement_is_an_error_row(placement: Any, reason: str) -> None:
    res = run(site([front()]), Returns(placement))
    err = rows(res, "place").iloc[0]
    assert (err["kind"], err["outcome"], err["reason"]) == ("error", "error", reason)
    assert res.meta["policy_errors"] == 1
    assert (res.requests["status"] == "dropped").all() and len(res.requests) > 0


def test_a_non_list_node_value_is_rejected_and_a_bare_string_is_one_node() -> None:
    components = [front(), comp("side")]
    res = run(site(components), Returns({"front": 5, "side": "e2"}))
    acts = rows(res, "place")
    bad = acts[acts["component"] == "front"].iloc[0]
    assert (bad["outcome"], bad["reason"]) == ("rejected", "expected a list of node ids, got int")
    side = acts[(acts["component"] == "side") & (acts["kind"] == "deploy")].iloc[0]
    assert (side["node"], side["outcome"]) == ("e2", "applied")


def test_a_policy_that_raises_is_recorded_and_the_run_goes_on() -> None:
    res = run(site([front()]), Returns(ValueError("kaboom 42")))
    err = rows(res, "place").iloc[0]
    assert (err["kind"], err["outcome"]) == ("error", "error")
    assert err["reason"].startswith("ValueError: kaboom 42 (at tests/test_engine_actions.py:")
    assert res.meta["policy_errors"] >= 1
    assert res.meta["status"] == "complete"
    unplaced = rows(res, "place")
    assert unplaced.iloc[1][["kind", "component"]].tolist() == ["unplaced", "front"]
    rq = res.requests
    assert len(rq) > 100 and (rq["reason"] == "no_replica:a/front").all()


def test_plan_errors_are_counted_every_time() -> None:
    res = run(site([front()]), Returns({"front": ["e1"]}, plan=RuntimeError("plan broke")))
    errs = rows(res, "plan")
    assert errs["time_s"].tolist() == [10.0, 20.0, 30.0, 40.0][: len(errs)]
    assert len(errs) >= 3
    assert errs["reason"].str.startswith("RuntimeError: plan broke (at ").all()
    assert res.meta["policy_errors"] == len(errs)
    assert (res.requests["status"] != "failed").all()


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        ("move it", "plan() must return a list of actions, got str"),
        ([42], "not an action: 42 (use Deploy, Remove, Move, Scale, ChangeSpec from"),
    ],
)
def test_plan_results_that_are_not_actions_are_errors(plan: Any, reason: str) -> None:
    res = run(site([front()], duration=15.0), Returns({"front": ["e1"]}, plan=plan))
    err = rows(res, "plan").iloc[0]
    assert (err["kind"], err["outcome"]) == ("error", "error")
    assert err["reason"].startswith(reason)


@pytest.mark.parametrize(
    "policy",
    [Returns(ValueError("kaboom 42")), Returns(["e1"])],
    ids=["raises", "non-dict"],
)
def test_strict_mode_raises_policy_error(policy: Returns) -> None:
    with pytest.raises(PolicyError, match=r"kaboom 42|must return a dict"):
        run(site([front()]), policy, strict=True)
    with pytest.raises(PolicyError):
        simcontinuum.run(site([front()]), policy, strict=True, telemetry=False)


def test_strict_mode_raises_on_a_plan_error() -> None:
    policy = Returns({"front": ["e1"]}, plan=KeyError("gone"))
    with pytest.raises(PolicyError, match="plan"):
        run(site([front()]), policy, strict=True)


# ----------------------------------------------------------------------------- plan()


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (Deploy("aa", "front", "e2"), "unknown application 'aa'; did you mean 'a'?"),
        (Deploy("a", "frnt", "e2"), "unknown component 'frnt'; did you mean 'front'?"),
        (Deploy("a", "front", "e22"), "unknown node 'e22'; did you mean 'e2'?"),
        (Deploy("a", "front", "c0"), "tier 'cloud' not in allowed tiers ['edge']"),
        (Remove("a", "front", "e2"), "no live replica of a/front on 'e2'"),
        (Move("a", "front", "e2", "e1"), "no live replica of a/front on 'e2'"),
        (Move("a", "front", "e1", "e1"), "source and destination are the same node"),
        (Scale("a", "front", 5), "outside replicas range [1, 3]"),
        (Scale("a", "front", -1), "replicas must be a non-negative int, got -1"),
        (Scale("a", "front", 1.5), "replicas must be a non-negative int, got 1.5"),
        (ChangeSpec("a", "front", "e1", cpu=4.0), "over capacity on 'e1': needs 4 cpu"),
    ],
)
def test_invalid_plan_actions_are_rejected(action: Any, reason: str) -> None:
    sc = site([front(replicas_max=3)], duration=15.0)
    res = run(sc, Pin({"front": ["e1"]}, script={10.0: [action]}))
    row = rows(res, "plan").iloc[0]
    assert row["time_s"] == 10.0
    assert row["outcome"] == "rejected"
    assert row["reason"].startswith(reason)
    assert len(res.replicas) == 1  # nothing changed
    assert (res.requests["status"] == "ok").all()


def test_deploy_from_plan_adds_a_replica() -> None:
    res = run(
        site([front(replicas_max=2)]),
        Pin({"front": ["e1"]}, script={10.0: [Deploy("a", "front", "e2")]}),
    )
    row = rows(res, "plan").iloc[0]
    assert (row["kind"], row["node"], row["outcome"]) == ("deploy", "e2", "applied")
    reps = res.replicas.sort_values("created_s")
    assert reps[["node", "created_s", "running_s"]].values.tolist() == [
        ["e1", 0.0, 0.0],
        ["e2", 10.0, 10.0],
    ]


def test_move_overlaps_both_replicas_and_loses_nothing() -> None:
    """Move front e1 -> c0 at 10 s; the new replica starts for 2 s, then the old one drains."""
    sc = site([front(startup=2.0, placement=Constraints())], poisson(20.0), duration=30.0)
    policy = Pin({"front": ["e1"]}, script={10.0: [Move("a", "front", "e1", "c0")]})
    res = run(sc, policy)
    row = rows(res, "plan").iloc[0]
    assert (row["kind"], row["node"], row["target"], row["outcome"]) == (
        "move",
        "e1",
        "c0",
        "applied",
    )
    assert res.meta["migrations"] == 1
    assert res.summary()["migrations"] == 1
    reps = res.replicas.set_index("node")
    old, new = reps.loc["e1"], reps.loc["c0"]
    assert (new["created_s"], new["running_s"]) == (10.0, 12.0)
    # the old replica served until the new one ran: their lives overlap over [10, 12]
    assert old["removed_s"] >= new["running_s"] > new["created_s"]
    assert old["removed_s"] < 12.0 + 0.02  # then drained (its queue is ~10 ms at most)
    assert old["end_reason"] == "moved"
    rq = res.requests
    # the first replica starts at 2 s: only requests before that find no replica
    assert (rq.loc[rq["status"] == "dropped", "arrival_s"] < 2.0).all()
    assert set(rq.loc[rq["arrival_s"] >= 2.0, "status"]) <= {"ok", "incomplete"}
    assert (rq["status"] == "ok").sum() > 400
    # before the switch requests stay on the edge (4 ms there and back), after it on the cloud
    before = rq[(rq["arrival_s"] < 12.0) & (rq["status"] == "ok")]
    after = rq[(rq["arrival_s"] > 12.0) & (rq["status"] == "ok")]
    assert before["network_latency_s"].to_numpy() == pytest.approx(0.004, abs=1e-12)
    assert after["network_latency_s"].to_numpy() == pytest.approx(0.044, abs=1e-12)


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (Move("a", "front", "e1", "e2"), "moved"),
        (ChangeSpec("a", "front", "e1", cpu=0.5), "spec_changed"),
    ],
    ids=["move", "change_spec"],
)
def test_instant_move_drains_the_old_replica(action: Any, reason: str) -> None:
    sc = site([front(startup=0.0)], duration=30.0)
    res = run(sc, Pin({"front": ["e1"]}, script={10.0: [action]}))
    assert rows(res, "plan")["outcome"].tolist() == ["applied"]
    old = res.replicas.sort_values("created_s").iloc[0]
    assert (old["removed_s"], old["end_reason"]) == (10.0, reason)


def test_change_spec_recreates_the_replica_with_the_new_requests() -> None:
    sc = site([front(cpu=0.5, startup=1.0)], duration=30.0)
    res = run(sc, Pin({"front": ["e1"]}, script={10.0: [ChangeSpec("a", "front", "e1", cpu=1.25)]}))
    assert rows(res, "plan")[["kind", "outcome"]].values.tolist() == [["change_spec", "applied"]]
    reps = res.replicas.sort_values("created_s")
    assert reps["cpu"].tolist() == [0.5, 1.25]
    assert reps["node"].tolist() == ["e1", "e1"]
    old, new = reps.iloc[0], reps.iloc[1]
    assert (new["created_s"], new["running_s"]) == (10.0, 11.0)
    assert old["end_reason"] == "spec_changed"
    assert 11.0 <= old["removed_s"] < 11.02
    assert res.meta["migrations"] == 0
    rq = res.requests
    assert set(rq.loc[rq["arrival_s"] >= 1.0, "status"]) <= {"ok", "incomplete"}


def test_scale_out_and_in() -> None:
    sc = site([front(cpu=0.5, replicas_max=3)], duration=40.0)
    script = {
        10.0: [Scale("a", "front", 3)],
        20.0: [Scale("a", "front", 1)],
        30.0: [Scale("a", "front", 5)],
    }
    res = run(sc, Pin({"front": ["e1"]}, script=script))
    plan = rows(res, "plan")
    scales = plan[plan["kind"] == "scale"]
    assert scales[["time_s", "target", "outcome"]].values.tolist() == [
        [10.0, "3", "applied"],
        [20.0, "1", "applied"],
        [30.0, "5", "rejected"],
    ]
    deployed = plan[(plan["kind"] == "deploy") & (plan["time_s"] == 10.0)]
    assert deployed["outcome"].tolist() == ["applied", "applied"]
    removed = plan[(plan["kind"] == "remove") & (plan["time_s"] == 20.0)]
    assert removed["outcome"].tolist() == ["applied", "applied"]
    reps = res.replicas.sort_values(["created_s", "replica_id"])
    assert reps["created_s"].tolist() == [0.0, 10.0, 10.0]
    # the newest are drained first; the original replica stays to the horizon
    assert reps["end_reason"].fillna("<unset>").tolist() == ["<unset>", "scaled_in", "scaled_in"]
    assert (reps["removed_s"].iloc[1:] >= 20.0).all() and (reps["removed_s"].iloc[1:] < 20.1).all()
    assert reps["removed_s"].iloc[:1].isna().all()
    # Scale places on the least-allocated eligible (edge) nodes
    assert set(reps["node"].iloc[1:]) <= {"e1", "e2"}
    assert set(res.requests["status"]) <= {"ok", "incomplete"}


def test_remove_drains_the_queue_before_the_replica_goes() -> None:
    """front (1 core, 5 s per request) gets requests at 9 and 9.5; Remove at 10 stops new
    work, but the replica stays until its queue is done: 9.002 + 5 + 5 = 19.002 s."""
    nodes = [mknode("d", "far_edge"), mknode("e1", cores=1)]
    sc = scenario(
        nodes,
        [application("a", [comp("front", 5.0)])],
        [source("a", "d", trace(9.0, 9.5, 11.0))],
        links=[Link("d", "e1", 0.002, INF)],
        duration=40.0,
        control=Control(interval=10.0),
    )
    res = run(sc, Pin({"front": ["e1"]}, script={10.0: [Remove("a", "front", "e1")]}))
    assert rows(res, "plan")[["kind", "outcome"]].values.tolist() == [["remove", "applied"]]
    rep = res.replicas.iloc[0]
    assert rep["removed_s"] == pytest.approx(19.002, abs=1e-9)
    assert rep["end_reason"] == "removed"
    rq = res.requests.sort_values("arrival_s")
    assert rq["status"].tolist() == ["ok", "ok", "dropped"]
    assert rq["end_s"].iloc[:2].to_numpy() == pytest.approx([14.004, 19.004], abs=1e-9)
    assert rep["removed_s"] >= rq["end_s"].iloc[1] - 0.002  # the last step ended there


def test_actions_on_a_departed_app_are_rejected() -> None:
    from dataclasses import replace

    sc = site([front(replicas_max=2)], duration=30.0)
    sc = replace(sc, applications=(replace(sc.applications[0], depart_at=15.0),))
    res = run(sc, Pin({"front": ["e1"]}, script={20.0: [Deploy("a", "front", "e2")]}))
    row = rows(res, "plan").iloc[0]
    assert (row["outcome"], row["reason"]) == ("rejected", "application 'a' is not running")
    rep = res.replicas.iloc[0]
    assert rep["end_reason"] == "app_departed"
    assert (res.requests["arrival_s"] < 15.0).all()
