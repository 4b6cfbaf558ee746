"""The engine's public driving API (``Simulation.advance/apply/view/bill/finish``...): any
slicing gives the run of one piece (same tables, same event count), the CLI's progress bar
adds no events, the running bill is the cost table's, interrupts stop where they are, and a
caller whose node failed ends its request at that failure in both traffic models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import INF, Pin, application, comp, mknode, scenario, source, trace
from golden import TABLE_NAMES, load_shipped

from simcontinuum.engine.simulation import Simulation
from simcontinuum.model import Call, Failure, Link, Scenario
from simcontinuum.policy.api import Deploy, Move
from simcontinuum.policy.registry import load_policy
from simcontinuum.results import Results

ROOT = Path(__file__).resolve().parents[1]


def quickstart(duration: float = 30.0) -> Scenario:
    return replace(load_shipped("quickstart"), duration=duration)


def assert_same_run(a: Results, b: Results) -> None:
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.meta["events"] == b.meta["events"]


@pytest.mark.parametrize("policy", ["first-fit", "threshold-autoscaler"])
def test_any_slicing_gives_the_run_of_one_piece(policy: str) -> None:
    sc = quickstart()
    whole = Simulation(sc, load_policy(policy), seed=3).run()
    sim = Simulation(sc, load_policy(policy), seed=3)
    for t in (0.1 + 0.2, 1.0, 1.0, 5.5, 10.0, 10.000000001, 17.3, 29.99):  # odd floats too
        assert sim.advance(t) == pytest.approx(t)
        assert sim.now == t and not sim.done
    assert sim.advance(1e9) == sc.duration and sim.done  # capped at the horizon
    sliced = sim.finish()
    assert_same_run(whole, sliced)
    assert sim.finish() is sliced  # finishing again gives the same results


def test_the_progress_bar_adds_no_events() -> None:
    """The bar drives the run in slices; ``meta["events"]`` is that of a run without it (it
    grew by 100 per run when the bar was a SimPy timeout)."""
    from simcontinuum.cli import _drive_in_slices, _run_with_progress

    sc = quickstart()
    plain = Simulation(sc, load_policy("first-fit")).run()
    shown: list[float] = []
    sliced = _drive_in_slices(Simulation(sc, load_policy("first-fit")), shown.append)
    assert_same_run(plain, sliced)
    assert len(shown) == 100 and shown[-1] == sc.duration
    assert shown == sorted(shown)
    with_bar = _run_with_progress(Simulation(sc, load_policy("first-fit")), True)
    assert_same_run(plain, with_bar)


def test_bill_is_the_cost_table_and_grows() -> None:
    sc = quickstart()
    sim = Simulation(sc, load_policy("first-fit"))
    sim.advance(10.0)
    early = sim.bill()
    sim.advance(sc.duration)
    late = sim.bill(sc.duration)
    res = sim.finish()
    assert 0 < early.cost < late.cost and 0 < early.energy_kwh < late.energy_kwh
    assert late.cost == pytest.approx(res.cost["cost"].sum(), rel=1e-12)
    assert late.energy_kwh == pytest.approx(res.cost["energy_kwh"].sum(), rel=1e-12)


def test_apply_view_and_plain_reads() -> None:
    sc = quickstart()
    sim = Simulation(sc, load_policy("first-fit"), telemetry=True)
    sim.advance(5.0)
    view = sim.view()
    assert view.now == 5.0
    (aid,) = [a.id for a in sc.applications][:1]
    assert sim.app_active(aid)
    comp_id = sc.applications[0].components[-1].id
    before = sim.placement(aid, comp_id)
    assert before and set(before) <= set(view.nodes)
    assert sim.running_on(aid, comp_id) == set(before)
    assert sim.running_on(aid, "nope") is None and sim.running_on("nope", comp_id) is None
    loads = sim.node_loads()
    assert [n.id for n in loads] == [n.id for n in sc.topology.nodes]
    assert all(n.busy_core_seconds >= 0 and n.queued >= 0 for n in loads)
    assert sim.delivered_telemetry() is not None
    target = next(n for n in view.nodes if n not in before and view.nodes[n].up)
    events = sim.events
    sim.apply([Move(aid, comp_id, before[0], target), Deploy(aid, "no-such", target), "junk"])
    assert sim.events >= events
    res = sim.finish()
    acts = res.actions[res.actions["time_s"] == 5.0]
    assert acts[["kind", "outcome"]].values.tolist() == [
        ["move", "applied"],
        ["deploy", "rejected"],
        ["error", "error"],
    ]
    assert res.meta["migrations"] == 1


def test_an_interrupt_stops_the_run_where_it_is() -> None:
    sc = quickstart()
    sim = Simulation(sc, load_policy("first-fit"))
    sim.advance(4.0)

    def boom(_e: object) -> None:
        raise KeyboardInterrupt

    sim.env.timeout(3.0).callbacks.append(boom)  # a Ctrl-C at t = 7 s
    assert sim.advance(20.0) == 7.0
    assert sim.interrupted and sim.done
    assert sim.advance(25.0) == 7.0  # an interrupted run does not go on
    res = sim.finish()
    assert res.meta["interrupted"] and res.meta["horizon_s"] == 7.0
    assert res.meta["interrupted_by"] == "SIGINT"


def test_a_simulation_runs_once() -> None:
    sim = Simulation(quickstart(), load_policy("first-fit"))
    sim.advance(1.0)
    with pytest.raises(RuntimeError, match="runs once"):
        sim.run()


# ---------------------------------------------------------------- the one join rule


def waiting_caller(contention: bool, failures: tuple[Failure, ...]) -> Scenario:
    """d -> front on a (0.1 s) -> back on b (5 s): front waits for back on node a."""
    sc = scenario(
        [mknode("d", "far_edge"), mknode("a"), mknode("b")],
        [application("app", [comp("front", 0.1), comp("back", 5.0)], [Call("front", "back")])],
        [source("app", "d", trace(1.0))],
        links=[Link("d", "a", 0.001, INF), Link("a", "b", 0.001, INF)],
        duration=30.0,
        failures=failures,
    )
    return replace(sc, topology=replace(sc.topology, contention=contention))


@pytest.mark.parametrize("contention", [False, True])
@pytest.mark.parametrize(
    "failures",
    [
        (Failure(at=2.0, kind="node", target="a", duration=1.0),),  # back before the answer
        (  # and twice: the request was lost at the first failure
            Failure(at=2.0, kind="node", target="a", duration=1.0),
            Failure(at=4.0, kind="node", target="a", duration=10.0),
        ),
        (Failure(at=2.0, kind="node", target="a", duration=None),),  # for good
    ],
    ids=["recovered", "twice", "for-good"],
)
def test_a_waiting_caller_lost_in_a_node_failure_ends_at_that_failure(
    contention: bool, failures: tuple[Failure, ...]
) -> None:
    """Both traffic models end the request ``failed`` at the failure that lost the waiting
    caller — not when the callee's answer comes back (the contended model's old rule), nor
    at the node's latest failure (the default model's)."""
    sc = waiting_caller(contention, failures)
    res = Simulation(sc, Pin({"front": ["a"], "back": ["b"]}), telemetry=False).run()
    (row,) = res.requests.itertuples()
    assert (row.status, row.reason, row.end_s) == ("failed", "node_failure:a", 2.0)


@pytest.mark.parametrize("contention", [False, True])
def test_without_a_failure_the_request_is_ok(contention: bool) -> None:
    sc = waiting_caller(contention, ())
    res = Simulation(sc, Pin({"front": ["a"], "back": ["b"]}), telemetry=False).run()
    (row,) = res.requests.itertuples()
    assert row.status == "ok" and row.end_s == pytest.approx(1.0 + 0.002 + 0.1 + 5.0 + 0.002)


def test_the_replica_life_cycle_is_as_documented() -> None:
    """pulling (image, then start-up) → running → draining → gone; no pending: a deploy that
    does not fit is rejected at once."""
    from simcontinuum.engine.replicas import DRAINING, GONE, PULLING, RUNNING

    sc = scenario(
        [mknode("reg", "cloud"), mknode("e", cores=1)],
        [application("a", [comp("x", 0.01, cpu=0.6, image_size=1e6, startup=2.0)])],
        [source("a", "e", trace(1.0))],
        links=[Link("reg", "e", 0.0, 8e6)],  # 1 MB at 8 Mbit/s: a 1 s pull
        registry="reg",
        duration=30.0,
    )
    sim = Simulation(sc, Pin({"x": ["e"]}), telemetry=False)
    sim.advance(0.5)
    (rep,) = sim.app_by_id["a"].components["x"].replicas
    assert rep.state == PULLING and sim.placement("a", "x") == ("e",)
    assert sim.running_on("a", "x") == set()
    sim.apply([Deploy("a", "x", "e")])  # 0.6 + 0.6 cores > 1: rejected now, never pending
    sim.advance(2.9)
    assert rep.state == PULLING  # pulled at 1 s, starting up until 3 s
    sim.advance(3.5)
    assert rep.state == RUNNING and sim.running_on("a", "x") == {"e"}
    sim.apply([Move("a", "x", "e", "reg")])  # e drains once the copy on reg runs
    res = sim.finish()
    assert rep.state in (DRAINING, GONE)
    rows = res.replicas.set_index("node")
    assert (rows.loc["e", "image_ready_s"], rows.loc["e", "running_s"]) == (1.0, 3.0)
    rejected = res.actions[res.actions["outcome"] == "rejected"]
    assert rejected[["time_s", "kind"]].values.tolist() == [[0.5, "deploy"]]
    assert "over capacity" in rejected["reason"].item()


class CtrlCAt:
    """first-fit that presses Ctrl-C from its ``plan`` at ``t`` seconds."""

    name = "ctrl-c"

    def __init__(self, t: float) -> None:
        self.t = t
        self.inner = load_policy("first-fit")

    def place(self, app: object, view: object) -> object:
        return self.inner.place(app, view)

    def plan(self, view: object, telemetry: object) -> list[object]:
        if view.now >= self.t:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return []


def test_the_dataset_builder_stops_on_ctrl_c_through_the_driving_api() -> None:
    """It drives the run with ``advance``: an interrupt stops the run where it is and comes
    out as KeyboardInterrupt (the CLI's exit 130), not as a table of a partial run."""
    from simcontinuum.learn.datasets import dataset

    sc = quickstart(60.0)
    with pytest.raises(KeyboardInterrupt):
        dataset(sc, CtrlCAt(12.0), seeds=[0])
    table = dataset(sc, CtrlCAt(1e9), seeds=[0])  # never pressed: a whole table
    assert len(table) > 0 and set(table["decision"]) == {"place", "control"}
