"""Same seed ⇒ identical tables, for every adaptive built-in: their decisions depend only on
the views, the delivered telemetry (itself drawn from named streams: which samples are lost)
and the generator given to ``reset``. The scenario makes each of them act: diurnal load, lost
telemetry, a scripted edge failure and random device failures.
"""

from __future__ import annotations

import pytest
from conftest import application, comp, mknode, scenario, source

import simcontinuum
from simcontinuum.model import (
    Arrival,
    Call,
    Constraints,
    Control,
    Failure,
    Link,
    RandomFailures,
    Scenario,
    Slo,
    Telemetry,
)
from simcontinuum.policy.adaptive import ADAPTIVE
from simcontinuum.results import Results

SERVERS = Constraints(tiers=frozenset({"edge", "cloud"}))
TABLES = ("requests", "actions", "replicas", "telemetry", "events", "cost")


def city(seed: int) -> Scenario:
    """Two edge sites of two nodes each and a cloud; four devices per site."""
    nodes = [mknode("c0", "cloud", cores=16, speed=1.5, cluster="cloud")]
    links = []
    for s, wan in (("a", 0.015), ("b", 0.020)):
        nodes += [mknode(f"{s}{i}", cores=2, cluster=s) for i in range(2)]
        nodes += [mknode(f"{s}-dev{i}", "far_edge", cluster=s) for i in range(4)]
        links += [Link(f"{s}0", "c0", wan, 1e9), Link(f"{s}0", f"{s}1", 0.0005, 1e10)]
        links += [Link(f"{s}-dev{i}", f"{s}0", 0.002, 1e8) for i in range(4)]
    links.append(Link("a0", "b0", 0.004, 1e9))
    front = comp("front", 0.01, "exponential", cpu=0.5, placement=SERVERS, replicas_max=4)
    back = comp("back", 0.02, "lognormal", cv=0.5, cpu=0.5, placement=SERVERS, replicas_max=4)
    app = application("app", [front, back], [Call("front", "back")], slo=Slo(p95_latency=0.08))
    day = Arrival(type="diurnal", mean_rate=12.0, amplitude=0.7, period=120.0)
    sources = [source("app", f"{s}-dev{i}", day) for s in "ab" for i in range(4)]
    return scenario(
        nodes,
        [app],
        sources,
        links=links,
        registry="c0",
        duration=120.0,
        warmup=10.0,
        seed=seed,
        telemetry=Telemetry(interval=5.0, collector="c0", loss=0.1),
        control=Control(interval=5.0),
        failures=(Failure(at=40.0, kind="node", target="a0", duration=30.0),),
        random_failures=(RandomFailures(tier="far_edge", mtbf=300.0, mttr=20.0),),
    )


def frames_equal(x: Results, y: Results) -> None:
    for name in TABLES:
        assert getattr(x, name).equals(getattr(y, name)), f"{name} differ"


@pytest.mark.parametrize("policy", [cls.name for cls in ADAPTIVE])
def test_same_seed_same_tables(policy: str) -> None:
    first, again = simcontinuum.run(city(7), policy), simcontinuum.run(city(7), policy)
    frames_equal(first, again)
    assert first.summary() == again.summary()
    acted = first.actions[first.actions["call"].isin(["plan", "on_event"])]
    assert (acted["outcome"] == "applied").any(), "the policy never acted: a vacuous check"
    other = simcontinuum.run(city(8), policy)
    assert not other.requests.equals(first.requests)
