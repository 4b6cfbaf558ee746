"""``control.charge_decision_time``: a policy's wall time becomes simulated time. Its actions
take effect that long after the call (a slow controller acts on an older world); without the
flag they take effect at the call. ``results.meta["charge_decision_time"]`` says which.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, run, scenario, source

from simcontinuum.model import Control, Link, Scenario
from simcontinuum.policy.api import Deploy

SLEEP = 0.05


def site(charge: bool) -> Scenario:
    nodes = [mknode("d", "far_edge"), mknode("e1", cores=2), mknode("e2", cores=2)]
    return scenario(
        nodes,
        [application("a", [comp("front", 0.01, replicas_max=3)])],
        [source("a", "d", poisson(5.0))],
        links=[Link("d", "e1", 0.001, INF), Link("e1", "e2", 0.001, INF)],
        duration=25.0,
        control=Control(interval=10.0, charge_decision_time=charge),
    )


class Slow(Pin):
    """Places on e1 and deploys one more replica on e2 from ``plan`` at 10 s, sleeping
    ``SLEEP`` seconds of wall time in every call."""

    def __init__(self) -> None:
        super().__init__({"front": ["e1"]}, script={10.0: [Deploy("a", "front", "e2")]})
        self.calls: list[tuple[str, float]] = []

    def place(self, app: Any, view: Any) -> dict[str, list[str]]:
        self.calls.append(("place", view.now))
        time.sleep(SLEEP)
        return super().place(app, view)

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        self.calls.append(("plan", view.now))
        time.sleep(SLEEP)
        return super().plan(view, telemetry)


@pytest.mark.parametrize("charge", [True, False])
def test_actions_are_applied_after_the_decision_time_only_when_charged(charge: bool) -> None:
    policy = Slow()
    res = run(site(charge), policy)
    assert res.meta["charge_decision_time"] is charge
    assert res.meta["decision_s"] >= SLEEP * len(policy.calls)
    acts = res.actions.set_index("call")
    placed, planned = acts.loc["place", "time_s"], acts.loc["plan", "time_s"]
    assert ("place", 0.0) in policy.calls and ("plan", 10.0) in policy.calls
    reps = res.replicas.set_index("node")
    if charge:
        # applied at call time + the wall time taken (at least the sleep, not absurdly more)
        assert SLEEP <= placed < 1.0
        assert 10.0 + SLEEP <= planned < 11.0
        assert reps.loc["e1", "created_s"] == pytest.approx(placed)
        assert reps.loc["e2", "created_s"] == pytest.approx(planned)
        # nothing serves before the placement lands: the first requests find no replica
        rq = res.requests
        early = rq[rq["arrival_s"] < placed]
        assert (early["status"] == "dropped").all()
    else:
        assert (placed, planned) == (0.0, 10.0)
        assert reps.loc["e2", "created_s"] == 10.0
