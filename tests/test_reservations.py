"""The public reservation helper and the one least-allocated rule (baselines and the engine)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from conftest import GI, Pin, application, comp, mknode, poisson, run, scenario, source

from simcontinuum.model import Constraints, Control, Link
from simcontinuum.policy import Reservations, least_allocated
from simcontinuum.policy import reservations as reservations_module
from simcontinuum.policy.api import NodeView, Scale
from simcontinuum.policy.builtins import K8sDefault
from simcontinuum.policy.check import app_view, empty_view


def test_doctests() -> None:
    result = doctest.testmod(reservations_module)
    assert result.attempted >= 6 and result.failed == 0


def test_least_allocated_is_the_kubernetes_formula() -> None:
    """Mean over cpu and memory of (allocatable - requested) / allocatable × 100."""
    node = NodeView.of(mknode("n", cores=8, memory=16 * GI), cpu_allocated=2.0)
    # cpu (8 - 2 - 1) / 8 = 62.5 %, memory (16 - 0 - 4) / 16 = 75 %
    assert least_allocated(node, 1.0, 4 * GI) == pytest.approx(68.75)
    # a node without declared memory is scored on cpu alone
    bare = NodeView.of(mknode("b", cores=4))
    assert least_allocated(bare, 1.0, 4 * GI) == pytest.approx(75.0)


def test_reservations_count_this_decision_only() -> None:
    sc = scenario(
        [mknode("a", cores=2, memory=2 * GI), mknode("b", cores=4)],
        [application("x", [comp("w", cpu=1.0, memory=1 * GI)])],
        [],
    )
    view = empty_view(sc)
    w = sc.applications[0].components[0]
    r = Reservations(view)
    r.reserve(w, "a")
    trial = r.copy()
    trial.reserve(w, "a")
    assert trial.feasible(w) == ["b"] and r.feasible(w) == ["a", "b"]
    assert (r.reserved_cpu("a"), r.reserved_memory("a")) == (1.0, GI)
    assert r.hosts_anything("a") and not r.hosts_anything("b")
    assert view.node("a").cpu_free == 2.0  # the view itself never changes
    # the score after the reservation: cpu (2-1-1)/2 = 0, memory (2-1-1)/2 = 0
    assert r.least_allocated(w, "a") == 0.0


def test_k8s_default_and_the_engine_agree() -> None:
    """Memory decides here: the cpu-only rule the engine's Scale used before picked 'a' (cpu
    (6-1-1)/6 = 67 % free after, against 50 % on 'b'); the Kubernetes rule, now used by both
    the k8s-default baseline and Scale, picks 'b' (memory 98 % free against 0 %)."""
    nodes = [
        mknode("d", "far_edge"),
        mknode("a", cores=6, memory=2 * GI),
        mknode("b", cores=2, memory=64 * GI),
    ]
    edge = Constraints(tiers=frozenset({"edge"}))
    w = comp("w", 0.001, cpu=1.0, memory=1 * GI, replicas_max=3, placement=edge)
    sc = scenario(
        nodes,
        [application("x", [w])],
        [source("x", "d", poisson(1.0))],
        links=[Link("d", n, 0.001, 1e9) for n in ("a", "b")],
        duration=12.0,
        control=Control(interval=5.0),
    )
    k8s = K8sDefault()
    k8s.reset(np.random.default_rng(0))
    assert k8s.place(app_view(sc, sc.applications[0]), empty_view(sc)) == {"w": ["b"]}
    res = run(sc, Pin({"w": ["a"]}, script={5.0: [Scale("x", "w", 2)]}))
    plan = res.actions[res.actions["call"] == "plan"]
    assert plan.loc[plan["kind"] == "deploy", "node"].tolist() == ["b"]
