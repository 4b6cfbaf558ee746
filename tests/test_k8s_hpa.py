"""The HPA: replica-calculator golden cases (ported as data), behaviour limits by hand and
as a property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_cases import load

from simcontinuum.k8s.hpa import Autoscaler, PodMetric, resource_replicas
from simcontinuum.k8s.manifests import HPASpec, ScalingRules

CASES = load("hpa_replica_calculator.yaml")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_replica_calculator(case: dict) -> None:
    pods = [PodMetric(p[0], p[1], p[2] if len(p) > 2 else 0) for p in case["pods"]]
    assert resource_replicas(case["current"], pods, case["target"]) == case["expected"]


def _hpa(
    lo: int = 1, hi: int = 10, up: ScalingRules | None = None, down: ScalingRules | None = None
) -> Autoscaler:
    return Autoscaler(
        HPASpec("h", "default", "Deployment", "w", lo, hi, 50, None, up, down, "test")
    )


def _ready(n: int, usage: int) -> list[PodMetric]:
    return [PodMetric("ready", 1000, usage)] * n


def test_without_behavior_scale_up_at_most_double_or_four() -> None:
    hpa = _hpa(hi=100)
    # 1 pod at 1000 % of a 50 % target wants 20; the v1 rule allows max(2 x 1, 4) = 4
    assert hpa.sync(0.0, 1, _ready(1, 10_000)) == 4
    assert hpa.sync(15.0, 4, _ready(4, 10_000)) == 8


def test_without_behavior_scale_down_waits_for_the_window() -> None:
    hpa = _hpa()
    assert hpa.sync(0.0, 4, _ready(4, 500)) == 4  # 4 recommended
    # a low load recommends 1, but 4 was recommended within the last 300 s
    assert hpa.sync(15.0, 4, _ready(4, 100)) == 4
    assert hpa.sync(299.0, 4, _ready(4, 100)) == 4
    assert hpa.sync(301.0, 4, _ready(4, 100)) == 1


def test_default_behavior_up_4_pods_or_100_percent_per_15s() -> None:
    up = ScalingRules(None, "Max", ())  # every field defaulted
    hpa = _hpa(hi=100, up=up)
    # from 1: max(1 + 4, 1 x 2) = 5
    assert hpa.sync(0.0, 1, _ready(1, 10_000)) == 5
    # 5 added 5 s ago: the period starts at 0 replicas... counting from current 5 - 4 = 1
    assert hpa.sync(5.0, 5, _ready(5, 10_000)) == 5
    # 16 s later the period is over: max(5 + 4, 10) = 10
    assert hpa.sync(16.0, 5, _ready(5, 10_000)) == 10


def test_scale_down_policy_pods_per_minute() -> None:
    down = ScalingRules(0.0, "Max", (("Pods", 1, 60.0),))
    hpa = _hpa(down=down)
    assert hpa.sync(0.0, 6, _ready(6, 0)) == 5
    assert hpa.sync(15.0, 5, _ready(5, 0)) == 5  # one removed within the last 60 s
    assert hpa.sync(61.0, 5, _ready(5, 0)) == 4


def test_disabled_scale_down() -> None:
    hpa = _hpa(down=ScalingRules(0.0, "Disabled", (("Percent", 100, 15.0),)))
    assert hpa.sync(0.0, 6, _ready(6, 0)) == 6


def test_zero_current_disables_scaling() -> None:
    assert _hpa().sync(0.0, 0, []) == 0


@settings(max_examples=150, deadline=None)
@given(
    loads=st.lists(st.integers(0, 5000), min_size=1, max_size=30),
    up_pods=st.integers(1, 5),
    down_pct=st.integers(1, 100),
    period=st.sampled_from([15.0, 30.0, 60.0]),
)
def test_behavior_never_changes_more_than_allowed_per_period(
    loads: list[int], up_pods: int, down_pct: int, period: float
) -> None:
    """Property: with ``behavior`` limits, every sync stays within what the policies allow
    from the replica count at the start of their period (upstream counts the replicas
    added and removed in the period back to that count)."""
    hi = 50
    hpa = _hpa(
        hi=hi,
        up=ScalingRules(0.0, "Max", (("Pods", up_pods, period),)),
        down=ScalingRules(0.0, "Max", (("Percent", down_pct, period),)),
    )
    current = 3
    history: list[tuple[float, int]] = [(-1e9, current)]
    for i, load_ in enumerate(loads):
        now = 15.0 * i
        before = current
        current = hpa.sync(now, current, _ready(current, load_))
        assert 1 <= current <= hi
        base = [c for t, c in history if t <= now - period][-1]
        if current > before:
            assert current <= base + up_pods
        if current < before:
            assert current >= math.floor(base * (1 - down_pct / 100))
        history.append((now, current))
