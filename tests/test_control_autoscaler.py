"""``threshold-autoscaler`` under a load step: it scales out within a bounded number of control
intervals when the load rises, and back in (after its stabilisation window) when it falls.

One device sends a steady 4 requests/s; a trace adds ~36/s between 40 s and 120 s. Each takes
50 ms of one core, so the step asks ~2 cores where 0.2 did: ten times the utilisation
(``component_cpu_utilisation``, used over the 1 core requested) of one replica. Four 2-core
edge nodes sit at the same distance from the device, so replicas there share the load
round-robin.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import INF, application, comp, mknode, poisson, scenario, source, trace

import simcontinuum
from simcontinuum.model import Constraints, Control, Link, Scenario, Slo, Telemetry
from simcontinuum.policy.adaptive import ThresholdAutoscaler
from simcontinuum.results import Results

STEP_UP, STEP_DOWN, HORIZON = 40.0, 120.0, 220.0
INTERVAL = 5.0
EDGE = Constraints(tiers=frozenset({"edge"}))


def step_scenario(seed: int = 2) -> Scenario:
    rng = np.random.default_rng(0)
    burst = STEP_UP + np.cumsum(rng.exponential(1 / 36.0, 4000))
    nodes = [mknode("c0", "cloud", cores=4), mknode("d", "far_edge")]
    nodes += [mknode(f"e{i}", cores=2) for i in range(4)]
    links = [Link(f"e{i}", "c0", 0.005, INF) for i in range(4)]
    links += [Link("d", f"e{i}", 0.002, INF) for i in range(4)]
    work = comp("work", 0.05, cpu=1.0, placement=EDGE, replicas_max=6)
    return scenario(
        nodes,
        [application("a", [work], slo=Slo(p95_latency=0.5))],
        [
            source("a", "d", poisson(4.0), sid="steady"),
            source("a", "d", trace(*burst[burst < STEP_DOWN]), sid="burst"),
        ],
        links=links,
        duration=HORIZON,
        warmup=10.0,
        seed=seed,
        telemetry=Telemetry(interval=INTERVAL, collector="c0"),
        control=Control(interval=INTERVAL),
    )


def replica_counts(res: Results) -> pd.Series:
    """``component_replicas`` of ``a/work`` by sample time (every sample, delivered or not)."""
    tel = res.telemetry
    sel = tel[(tel["id"] == "a/work") & (tel["metric"] == "component_replicas")]
    return sel.set_index("time_s")["value"].sort_index()


@pytest.fixture(scope="module")
def stepped() -> Results:
    return simcontinuum.run(step_scenario(), "threshold-autoscaler")


def test_replicas_rise_within_a_few_intervals_of_the_step(stepped: Results) -> None:
    counts = replica_counts(stepped)
    assert (counts[counts.index < STEP_UP] == 1).all()
    # the step is seen in the first sample after it, the next plan acts on it
    bound = STEP_UP + 3 * INTERVAL
    assert counts[counts.index <= bound].max() >= 3
    assert counts[(counts.index > bound) & (counts.index < STEP_DOWN)].min() >= 3
    # the new replicas went to distinct nodes, where they add capacity
    reps = stepped.replicas
    grown = reps[(reps["created_s"] >= STEP_UP) & (reps["created_s"] <= bound)]
    assert grown["node"].is_unique
    assert (grown["running_s"] <= bound + 1.0).all()


def test_replicas_fall_back_after_the_load_drops(stepped: Results) -> None:
    counts = replica_counts(stepped)
    peak = int(counts.max())
    policy = ThresholdAutoscaler()
    # one replica leaves per stabilisation window, once the low load has been seen
    bound = STEP_DOWN + ((peak - 1) * policy.stabilisation + 3) * INTERVAL
    assert bound < HORIZON
    assert counts[counts.index >= bound].max() == 1
    removed = stepped.actions[
        (stepped.actions["kind"] == "remove") & (stepped.actions["outcome"] == "applied")
    ]
    assert len(removed) == peak - 1
    assert (removed["time_s"] > STEP_DOWN).all()


def test_scaling_out_keeps_the_latency_down(stepped: Results) -> None:
    rq = stepped.requests
    settled = rq[(rq["arrival_s"] > STEP_UP + 30.0) & (rq["arrival_s"] < STEP_DOWN)]
    assert (settled["status"] == "ok").all()
    assert settled["latency_s"].quantile(0.95) < 0.1  # 50 ms of work + 4 ms of network
    scored = rq[rq["scored"] & (rq["status"] != "incomplete")]
    assert stepped.summary()["slo_violation_rate"] < 0.02
    assert math.isclose(stepped.summary()["failed_rate"], 0.0) and len(scored) > 3000


def test_a_static_placement_suffers_the_same_step() -> None:
    res = simcontinuum.run(step_scenario(), "k8s-default")
    counts = replica_counts(res)
    assert (counts == 1).all()
    rq = res.requests
    late = rq[(rq["arrival_s"] > STEP_UP + 30.0) & (rq["arrival_s"] < STEP_DOWN)]
    assert late["latency_s"].quantile(0.95) > 0.5  # two cores cannot keep up
