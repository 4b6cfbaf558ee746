"""CPU limits throttle a replica (fluid CFS quota): hand-computed latencies.

One node, one replica, constant work of 10 ms at speed 1, three requests arriving together
at t = 1 s from the node itself (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcontinuum.engine.simulation import Simulation
from simcontinuum.errors import ScenarioError
from simcontinuum.policy.registry import load_policy
from simcontinuum.scenario import load_scenario


def _doc(tmp: Path, limit: str | None, cores: int = 4, cpu: str = "500m") -> dict:
    trace = tmp / "t.csv"
    trace.write_text("time_s\n1.0\n1.0\n1.0\n")
    comp: dict = {"id": "c", "cpu": cpu, "work": {"dist": "constant", "mean": "10ms"}}
    if limit is not None:
        comp["cpu_limit"] = limit
    return {
        "version": 1,
        "name": "limits",
        "duration": "5s",
        "infrastructure": {
            "clusters": [{"id": "a", "nodes": [{"id": "n", "tier": "edge", "cores": cores}]}]
        },
        "applications": [{"id": "app", "components": [comp]}],
        "workload": [{"app": "app", "from": "n", "arrival": {"type": "trace", "path": str(trace)}}],
    }


def _latencies(doc: dict) -> list[float]:
    r = Simulation(load_scenario(doc), load_policy("first-fit"), telemetry=False).run()
    q = r.requests
    return sorted(round(x, 9) for x in (q.end_s - q.arrival_s))


@pytest.mark.parametrize(
    ("limit", "cores", "want"),
    [
        (None, 4, [0.010, 0.010, 0.010]),  # no limit: three cores in parallel
        ("500m", 4, [0.020, 0.040, 0.060]),  # one slot at half a core: 20 ms each, in turn
        ("2", 4, [0.010, 0.010, 0.020]),  # two full slots: the third waits for one
        ("1.5", 4, [0.040 / 3, 0.040 / 3, 0.080 / 3]),  # two slots at 0.75 of a core
        ("2", 1, [0.010, 0.020, 0.030]),  # the node's single core is the bottleneck
    ],
)
def test_throttled_latency(
    tmp_path: Path, limit: str | None, cores: int, want: list[float]
) -> None:
    assert _latencies(_doc(tmp_path, limit, cores)) == pytest.approx(want, abs=1e-9)


def test_limit_below_request_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"cpu_limit: 0.25 is less than cpu 0.5"):
        load_scenario(_doc(tmp_path, "250m"))
