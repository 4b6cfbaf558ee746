"""Link contention (``network: {contention: true}``): links are FIFO serialisation servers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import simcontinuum


def doc(contention: bool, *, sources: int = 2) -> dict[str, Any]:
    """Devices d0..dN-1 behind a switch s, one 1 Mb/s link s-e to the server e.

    Each device sends a 125,000-byte request (1 s on the 1 Mb/s link); work and responses
    are free, so only the network counts.
    """
    nodes = [{"id": "e", "tier": "edge", "cores": 4}, {"id": "s", "tier": "edge", "cores": 1}]
    nodes += [{"id": f"d{i}", "tier": "far_edge"} for i in range(sources)]
    links = [{"a": "s", "b": "e", "latency": "10ms", "bandwidth": "1Mbps"}]
    links += [{"a": f"d{i}", "b": "s", "latency": 0, "bandwidth": "10Gbps"} for i in range(sources)]
    return {
        "version": 1,
        "name": "contention",
        "duration": "20s",
        "infrastructure": {
            "registry": "e",
            "clusters": [{"id": "k", "nodes": nodes}],
            "links": links,
            "network": {"contention": contention},
        },
        "applications": [
            {
                "id": "a",
                "components": [
                    {
                        "id": "c",
                        "cpu": "100m",
                        "work": {"dist": "constant", "mean": 0},
                        "placement": {"node": "e"},
                    }
                ],
            }
        ],
        "workload": [
            {
                "app": "a",
                "from": f"d{i}",
                "request_size": 125_000,
                "response_size": 0,
                "arrival": {"type": "periodic", "rate": 1e-9},
            }
            for i in range(sources)
        ],
        "telemetry": {"interval": "5s"},
    }


def latencies(d: dict[str, Any], tmp_path: Path) -> list[float]:
    """Every source sends one request at 1.0 s; the latencies, sorted."""
    trace = tmp_path / "t.csv"
    trace.write_text("time_s\n1.0\n")
    for w in d["workload"]:
        w["arrival"] = {"type": "trace", "path": str(trace)}
    res = simcontinuum.run(d, "first-fit", seed=1, telemetry=False)
    rq = res.requests.sort_values("latency_s")
    assert (rq["status"] == "ok").all(), rq[["status", "reason"]]
    return rq["latency_s"].round(9).tolist()


def test_without_contention_both_take_the_same_time(tmp_path: Path) -> None:
    # 0 + 10 ms + 1 s there, 10 ms back (empty response): 1.02 s each, in parallel
    assert latencies(doc(False), tmp_path) == [1.02, 1.02]


def test_with_contention_the_second_waits_for_the_link(tmp_path: Path) -> None:
    # store-and-forward: each hop serialises, so d->s adds 0.1 ms (125 kB at 10 Gb/s);
    # the second request queues behind the first on s->e: 1 s more
    assert latencies(doc(True), tmp_path) == [1.0201, 2.0201]


def test_directions_are_separate_servers(tmp_path: Path) -> None:
    # big responses go e->s while requests go s->e: no interference between directions
    d = doc(True, sources=1)
    d["workload"][0]["response_size"] = 125_000
    # request 0.1 ms + 1 s + 10 ms, response 1 s + 10 ms + 0.1 ms
    assert latencies(d, tmp_path) == [2.0202]


def test_contention_is_deterministic_and_accounts_every_request() -> None:
    d = doc(True, sources=3)
    for w in d["workload"]:
        w["arrival"] = {"type": "poisson", "rate": 0.4}
        w["request_size"] = 20_000
    a = simcontinuum.run(d, "first-fit", seed=3, telemetry=False).requests
    b = simcontinuum.run(d, "first-fit", seed=3, telemetry=False).requests
    assert a.equals(b)
    assert a["request_id"].tolist() == list(range(len(a)))
    assert set(a["status"]) <= {"ok", "incomplete"}
    # every ok request took at least its own serialisation (0.16 s) plus 20 ms of latency
    ok = a[a["status"] == "ok"]
    assert (ok["latency_s"] >= 0.18 - 1e-9).all()


@pytest.mark.parametrize("name", ["quickstart", "smart-city"])
def test_shipped_scenarios_run_with_contention(name: str) -> None:
    root = Path(__file__).resolve().parents[1]
    sc = simcontinuum.load(root / "scenarios" / f"{name}.yaml")
    sc = replace(sc, topology=replace(sc.topology, contention=True), duration=40.0)
    res = simcontinuum.run(sc, "latency-greedy", seed=1, telemetry=False)
    assert len(res.requests) > 0
    assert res.requests["status"].isin(["ok", "failed", "dropped", "incomplete"]).all()
    assert (res.requests["status"] == "ok").mean() > 0.5
