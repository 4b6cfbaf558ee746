"""Failures as the control loop lives them: what is lost, what the policy is told (``on_event``),
what it sees (a down node has no capacity) and what it may do about it (nothing on a down
node; anything elsewhere). Random failures replay under the seed.

Site: device d –2 ms– e1 (edge, cluster ``site``) –1 ms– e2 (edge, cluster ``site``);
e1 –20 ms– c0 (cloud, cluster ``cloud``). App ``a`` is one component ``front``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import (
    INF,
    Pin,
    application,
    comp,
    mknode,
    poisson,
    run,
    scenario,
    source,
    topology,
    trace,
)

import simcontinuum
from simcontinuum.model import Constraints, Control, Failure, Link, RandomFailures, Scenario
from simcontinuum.policy.api import ClusterView, Deploy, Event

FAIL_AT = 20.0
DOWN_FOR = 10.0
SERVERS = Constraints(tiers=frozenset({"edge", "cloud"}))


def site(*failures: Failure, arrival: Any = None, duration: float = 40.0, **kw: Any) -> Scenario:
    nodes = [
        mknode("d", "far_edge", cluster="devices"),
        mknode("e1", cores=1, cluster="site"),
        mknode("e2", cores=1, cluster="site"),
        mknode("c0", "cloud", cores=4, cluster="cloud"),
    ]
    links = [Link("d", "e1", 0.002, INF), Link("e1", "e2", 0.001, INF)]
    links.append(Link("e1", "c0", 0.020, INF))
    return scenario(
        nodes,
        [application("a", [comp("front", 0.3, cpu=0.5, placement=SERVERS, replicas_max=2)])],
        [source("a", "d", arrival or poisson(3.0))],
        links=links,
        duration=duration,
        seed=5,
        control=Control(interval=5.0),
        failures=failures,
        **kw,
    )


class Recorder(Pin):
    """A :class:`Pin` that also keeps the view it was shown with every event and plan."""

    def __init__(self, placement: dict[str, list[str]], **kw: Any) -> None:
        super().__init__(placement, **kw)
        self.views: list[tuple[float, str, ClusterView]] = []
        self.latency: list[tuple[str, float]] = []  # d -> e1, asked during the call

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        self.views.append((view.now, "plan", view))
        self.latency.append(("plan", view.latency("d", "e1")))
        return super().plan(view, telemetry)

    def on_event(self, event: Event, view: Any) -> list[Any]:
        self.views.append((view.now, event.kind, view))
        self.latency.append((event.kind, view.latency("d", "e1")))
        return super().on_event(event, view)


def node_down(nid: str = "e1") -> Failure:
    return Failure(at=FAIL_AT, kind="node", target=nid, duration=DOWN_FOR)


# ----------------------------------------------------------------------------- nodes


def test_requests_in_flight_on_a_failed_node_end_failed_with_node_failure() -> None:
    # 0.3 s of work at 3/s on one core: a queue is there when e1 fails
    res = run(site(node_down()), Pin({"front": ["e1"]}))
    rq = res.requests
    failed = rq[rq["status"] == "failed"]
    assert len(failed) >= 1
    at_failure = failed[failed["end_s"] == FAIL_AT]
    assert len(at_failure) >= 1
    assert at_failure["reason"].str.startswith("node_failure").all()
    assert (at_failure["reason"] == "node_failure:e1").all()
    assert (at_failure["arrival_s"] < FAIL_AT).all()
    # every other failure is a step that was on its way to the node when it failed
    others = failed[failed["end_s"] != FAIL_AT]
    assert others["reason"].str.startswith("replica_lost").all()
    assert (others["end_s"] < FAIL_AT + 0.01).all()


def test_the_policy_is_told_and_sees_no_capacity_until_recovery() -> None:
    policy = Recorder({"front": ["e1"]})
    run(site(node_down()), policy)
    told = [(e.time, e.kind, e.target, e.lost) for e in policy.events if e.kind != "app_arrived"]
    assert told == [
        (FAIL_AT, "node_failed", "e1", (("a", "front"),)),
        (FAIL_AT + DOWN_FOR, "node_recovered", "e1", ()),
    ]
    for now, _, view in policy.views:
        e1 = view.node("e1")
        down = FAIL_AT <= now < FAIL_AT + DOWN_FOR
        assert e1.up is not down
        if down:
            assert e1.cpu_free == 0.0 and e1.memory_free == 0.0 and not e1.replicas
            assert "e1" not in view.eligible(comp("front"))
            assert not view.can_host(comp("front"), "e1")
            assert view.placements["a"]["front"] == ()
    assert any(FAIL_AT <= now < FAIL_AT + DOWN_FOR for now, _, _ in policy.views)


def test_a_deploy_on_a_down_node_is_rejected_and_works_after_recovery() -> None:
    deploy = [Deploy("a", "front", "e1")]
    policy = Pin({"front": ["e1"]}, script={25.0: deploy, 35.0: deploy})
    res = run(site(node_down()), policy)
    acts = res.actions[res.actions["call"] == "plan"]
    assert acts[["time_s", "outcome"]].values.tolist() == [[25.0, "rejected"], [35.0, "applied"]]
    assert "down" in acts["reason"].iloc[0]
    reps = res.replicas.sort_values("created_s")
    assert reps[["node", "created_s"]].values.tolist() == [["e1", 0.0], ["e1", 35.0]]


def test_an_adaptive_policy_re_places_the_lost_replica_elsewhere() -> None:
    # the device reaches the servers through a router here (a down node forwards nothing)
    nodes = [
        mknode("d", "far_edge", cluster="devices"),
        mknode("s", "edge_infrastructure", cluster="site"),
        mknode("e1", cores=1, cluster="site"),
        mknode("e2", cores=1, cluster="site"),
        mknode("c0", "cloud", cores=4, cluster="cloud"),
    ]
    links = [Link("d", "s", 0.001, INF), Link("s", "c0", 0.020, INF)]
    links += [Link("s", "e1", 0.001, INF), Link("s", "e2", 0.001, INF)]
    sc = replace(site(node_down()), topology=topology(nodes, links))
    res = simcontinuum.run(sc, "failover", seed=5)
    acts = res.actions
    assert acts.loc[acts["call"] == "place", "node"].tolist() == ["e1"]
    told = acts[(acts["call"] == "on_event") & (acts["kind"] == "deploy")]
    assert told[["time_s", "outcome"]].values.tolist() == [[FAIL_AT, "applied"]]
    # 0.9 cores of work: e2 (1 core) would run at 90 %, the cloud has room
    assert told["node"].iloc[0] == "c0"
    rq = res.requests
    later = rq[(rq["arrival_s"] > FAIL_AT + 1.0) & (rq["status"] != "incomplete")]
    assert (later["status"] == "ok").all()


# ----------------------------------------------------------------------------- random


def random_site(seed: int) -> Scenario:
    sc = site(random_failures=(RandomFailures(tier="edge", mtbf=15.0, mttr=5.0),), duration=80.0)
    return replace(sc, seed=seed)


def test_random_failures_replay_under_the_seed() -> None:
    a1 = simcontinuum.run(random_site(1), "failover")
    a2 = simcontinuum.run(random_site(1), "failover")
    b = simcontinuum.run(random_site(2), "failover")
    ev = a1.events[a1.events["kind"].isin(["node_failed", "node_recovered"])]
    assert len(ev) >= 4  # mtbf 15 s over 80 s on two nodes: failures do happen
    assert set(ev["target"]) <= {"e1", "e2"}  # only the edge tier fails
    for name in ("events", "requests", "actions", "replicas"):
        assert getattr(a1, name).equals(getattr(a2, name)), name
    ev_b = b.events[b.events["kind"].isin(["node_failed", "node_recovered"])]
    assert not ev_b.reset_index(drop=True).equals(ev.reset_index(drop=True))
    # the policy is told of each one, when it happens
    policy = Recorder({"front": ["e1"]})
    run(random_site(1), policy)
    told = [(e.time, e.kind, e.target) for e in policy.events if e.kind != "app_arrived"]
    assert told == [tuple(r) for r in ev[["time_s", "kind", "target"]].values.tolist()]


# ----------------------------------------------------------------------------- links


def with_detour(sc: Scenario) -> Scenario:
    """``sc`` plus a 30 ms link d–c0: d reaches e1 through c0 (50 ms) when d–e1 is down."""
    links = (*sc.topology.links, Link("d", "c0", 0.030, INF))
    return replace(sc, topology=replace(sc.topology, links=links))


def test_a_link_failure_reroutes_and_the_latency_changes() -> None:
    """d–e1 is 2 ms; the detour d–c0–e1 is 30 + 20 ms. d–e1 is down in [20, 30)."""
    sc = site(
        Failure(at=FAIL_AT, kind="link", target="d|e1", duration=DOWN_FOR),
        arrival=trace(10.0, 25.0, 35.0),
    )
    sc = with_detour(sc)
    policy = Recorder({"front": ["e1"]})
    res = run(sc, policy)
    rq = res.requests.sort_values("arrival_s")
    assert rq["status"].tolist() == ["ok", "ok", "ok"]
    assert rq["network_latency_s"].to_numpy() == pytest.approx([0.004, 0.100, 0.004])
    told = [(e.time, e.kind, e.target) for e in policy.events if e.kind != "app_arrived"]
    assert told == [
        (FAIL_AT, "link_failed", "d|e1"),
        (FAIL_AT + DOWN_FOR, "link_recovered", "d|e1"),
    ]
    kinds = [k for k, _ in policy.latency]
    start, end = kinds.index("link_failed"), kinds.index("link_recovered")
    assert end - start >= 2  # the event and a plan in between
    assert [lat for _, lat in policy.latency[start:end]] == pytest.approx([0.050] * (end - start))
    assert [lat for _, lat in policy.latency[end:]] == pytest.approx([0.002] * (len(kinds) - end))
    assert [lat for _, lat in policy.latency[:start]] == pytest.approx([0.002] * start)


def test_a_link_failure_with_no_route_left_ends_the_requests() -> None:
    sc = site(
        Failure(at=FAIL_AT, kind="link", target="d|e1", duration=DOWN_FOR),
        arrival=trace(10.0, 25.0, 35.0),
    )
    res = run(sc, Pin({"front": ["e1"]}))
    rq = res.requests.sort_values("arrival_s")
    assert rq["status"].tolist()[0::2] == ["ok", "ok"]
    assert rq["status"].iloc[1] == "failed"  # replicas exist, no route reaches them
    assert rq["reason"].iloc[1].startswith("no_route")


# ----------------------------------------------------------------------------- clusters


def test_a_cluster_failure_takes_all_its_nodes_down_and_failover_leaves_it() -> None:
    sc = site(Failure(at=FAIL_AT, kind="cluster", target="site", duration=DOWN_FOR))
    policy = Recorder({"front": ["e1", "e2"]})
    res = run(sc, policy)
    failed = res.events[res.events["kind"] == "node_failed"]
    assert sorted(failed["target"]) == ["e1", "e2"]
    assert (failed["time_s"] == FAIL_AT).all()
    recovered = res.events[res.events["kind"] == "node_recovered"]
    assert sorted(recovered["target"]) == ["e1", "e2"]
    told = [(e.kind, e.target, e.lost) for e in policy.events if e.kind != "app_arrived"]
    assert told == [
        ("cluster_failed", "site", (("a", "front"), ("a", "front"))),
        ("cluster_recovered", "site", ()),
    ]
    for now, _, view in policy.views:
        if FAIL_AT <= now < FAIL_AT + DOWN_FOR:
            assert not view.node("e1").up and not view.node("e2").up
            assert view.node("c0").up
    # failover re-places into the best other cluster at once
    res = simcontinuum.run(sc, "failover", seed=5)
    acts = res.actions[(res.actions["call"] == "on_event") & (res.actions["kind"] == "deploy")]
    assert acts["time_s"].tolist() == [FAIL_AT]
    assert acts["node"].tolist() == ["c0"] and acts["outcome"].tolist() == ["applied"]


def test_a_view_kept_after_the_call_still_answers_as_of_its_time() -> None:
    sc = site(
        Failure(at=FAIL_AT, kind="link", target="d|e1", duration=DOWN_FOR),
        arrival=trace(10.0),
    )
    sc = with_detour(sc)
    policy = Recorder({"front": ["e1"]})
    run(sc, policy)
    kept = next(v for _, kind, v in policy.views if kind == "link_failed")
    assert kept.latency("d", "e1") == pytest.approx(0.050)  # as when it was given
