"""Golden cases computed by hand: one request at a time (no queueing), so every latency, cost
and energy figure is exact arithmetic on the scenario's numbers, checked to 1e-9.

The message model (DESIGN §1): ``size`` bytes from a to b take ``latency(path) + 8 size /
bottleneck_bandwidth``; a component does its work (``work / speed``, ÷ the gpu speed-up when
it uses one), then calls its callees in parallel and answers its caller once all answered.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import (
    INF,
    Pin,
    application,
    comp,
    mknode,
    run,
    scenario,
    source,
    trace,
)

from simcontinuum.model import (
    Arrival,
    Call,
    Control,
    Failure,
    Gpu,
    Link,
    Power,
    Price,
    Scoring,
    Telemetry,
)
from simcontinuum.policy.api import Deploy

EXACT = 1e-9


def xfer(latency: float, size: float, bandwidth: float) -> float:
    """Seconds to send ``size`` bytes over one path (DESIGN §1)."""
    return latency + 8.0 * size / bandwidth


# d (device) --5 ms, 100 Mb/s-- e (edge, speed 2) --20 ms, 1 Gb/s, billable-- c (cloud)
#                                e --2 ms, 100 Mb/s-- e2 (edge)
D_E = (0.005, 100e6)
E_C = (0.020, 1e9)
E_E2 = (0.002, 100e6)
EGRESS_PER_GB = 0.09
REQ, RESP = 1e5, 5e4  # the device's request and response


def continuum(apps, sources, **kw):
    nodes = [
        mknode("d", "far_edge"),
        mknode("e", speed=2.0, cores=2),
        mknode("e2"),
        mknode("c", "cloud", cores=2),
    ]
    links = [
        Link("d", "e", *D_E),
        Link("e", "c", *E_C, egress_price_per_gb=EGRESS_PER_GB),
        Link("e", "e2", *E_E2),
    ]
    return scenario(nodes, apps, sources, links=links, **kw)


def device(app: str, arrival: Arrival):
    return source(app, "d", arrival, request_size=REQ, response_size=RESP)


def chain_app():
    return application(
        "a", [comp("front", 0.010), comp("back", 0.040)], [Call("front", "back", 1e6, 2e5)]
    )


# ----------------------------------------------------------------------------- latency


def test_chain_latency_is_exact() -> None:
    sc = continuum([chain_app()], [device("a", Arrival(type="periodic", rate=0.1))])
    res = run(sc, Pin({"front": ["e"], "back": ["c"]}))
    rq = res.requests
    expected = (
        xfer(D_E[0], REQ, D_E[1])  # device -> front: 5 ms + 8 ms
        + 0.010 / 2.0  # front's work on the speed-2 edge
        + xfer(E_C[0], 1e6, E_C[1])  # front -> back: 20 ms + 8 ms
        + 0.040  # back's work on the speed-1 cloud
        + xfer(E_C[0], 2e5, E_C[1])  # back's answer: 20 ms + 1.6 ms
        + xfer(D_E[0], RESP, D_E[1])  # front's answer: 5 ms + 4 ms
    )
    assert expected == pytest.approx(0.1166, abs=EXACT)  # the same sum, by hand
    assert len(rq) == 10  # one every 10 s for 100 s, whatever the random phase
    assert (rq["status"] == "ok").all()
    assert rq["latency_s"].to_numpy() == pytest.approx([expected] * 10, abs=EXACT)
    assert (rq["end_s"] - rq["arrival_s"]).to_numpy() == pytest.approx(rq["latency_s"], abs=EXACT)
    # the pure link latency, there and back on both hops
    assert rq["network_latency_s"].to_numpy() == pytest.approx([0.05] * 10, abs=EXACT)
    assert rq["arrival_s"].diff().dropna().to_numpy() == pytest.approx([10.0] * 9, abs=EXACT)


def test_fan_out_latency_is_the_slowest_branch() -> None:
    """front calls b1 (cloud) and b2 (other edge) in parallel; b2 calls b3 (cloud): the answer
    leaves front when the slower branch is back."""
    app = application(
        "a",
        [comp("front", 0.010), comp("b1", 0.040), comp("b2", 0.100), comp("b3", 0.030)],
        [
            Call("front", "b1", 1e6, 2e5),
            Call("front", "b2", 1e6, 1e6),
            Call("b2", "b3", 5e5, 0.0),
        ],
    )
    sc = continuum([app], [device("a", trace(5.0, 20.0))], duration=40.0)
    res = run(sc, Pin({"front": ["e"], "b1": ["c"], "b2": ["e2"], "b3": ["c"]}))
    to_front = xfer(D_E[0], REQ, D_E[1]) + 0.010 / 2.0
    branch1 = xfer(E_C[0], 1e6, E_C[1]) + 0.040 + xfer(E_C[0], 2e5, E_C[1])  # 0.0896
    # e2 -> c goes e2 - e - c: latency 22 ms, bottleneck 100 Mb/s
    b2_to_b3 = xfer(E_E2[0] + E_C[0], 5e5, E_E2[1]) + 0.030 + (E_E2[0] + E_C[0])
    branch2 = xfer(E_E2[0], 1e6, E_E2[1]) + 0.100 + b2_to_b3 + xfer(E_E2[0], 1e6, E_E2[1])
    assert branch2 > branch1
    expected = to_front + max(branch1, branch2) + xfer(D_E[0], RESP, D_E[1])
    assert expected == pytest.approx(0.013 + 0.005 + 0.082 + 0.1 + 0.114 + 0.082 + 0.009)
    rq = res.requests
    assert (rq["status"] == "ok").all()
    assert rq["latency_s"].to_numpy() == pytest.approx([expected] * 2, abs=EXACT)
    # the largest pure-latency lower bound among the branches: via b1, 2 × (5 + 20) ms
    lb_branch1 = 2 * E_C[0]
    lb_branch2 = 2 * E_E2[0] + 2 * (E_E2[0] + E_C[0])
    assert rq["network_latency_s"].to_numpy() == pytest.approx(
        [2 * D_E[0] + max(lb_branch1, lb_branch2)] * 2, abs=EXACT
    )


def test_gpu_speedup_applies_only_to_accelerated_components() -> None:
    """On a speed-2 node with a 4× gpu: a gpu component serves work / 8, a plain one work / 2;
    a gpu component on a node without a gpu serves work / speed."""
    gpu_app = application(
        "g",
        [comp("pre", 0.8), comp("infer", 0.8, accelerator="gpu")],
        [Call("pre", "infer")],
    )
    plain_app = application("h", [comp("infer", 0.8, accelerator="gpu")])
    nodes = [
        mknode("gpu", speed=2.0, gpu=Gpu(model="t4", count=1, speedup=4.0)),
        mknode("cpu", speed=1.0),
    ]
    sc = scenario(
        nodes,
        [gpu_app, plain_app],
        [source("g", "gpu", trace(1.0, 5.0)), source("h", "cpu", trace(1.0, 5.0))],
        duration=10.0,
    )
    res = run(sc, Pin({"g/pre": ["gpu"], "g/infer": ["gpu"], "h/infer": ["cpu"]}))
    rq = res.requests
    by_app = rq.groupby("app", observed=True)["latency_s"].agg(["min", "max"])
    assert by_app.loc["g"].to_numpy() == pytest.approx([0.8 / 2 + 0.8 / 8] * 2, abs=EXACT)
    assert by_app.loc["h"].to_numpy() == pytest.approx([0.8] * 2, abs=EXACT)


def test_image_pull_and_startup_delay_the_first_service() -> None:
    """front's 500 MB image comes from the registry (cloud) over 20 ms / 1 Gb/s: ready at
    4.02 s, running after 1 s of startup at 5.02 s. Until then requests find no replica.
    A second replica on the same node shares the pull; a later one finds the image cached;
    a replica on the registry itself pulls nothing."""
    size, startup = 5e8, 1.0
    front = comp("front", 0.1, image_size=size, startup=startup, replicas_max=3)
    local = comp("local", 0.1, image_size=size, startup=startup)
    sc = continuum(
        [application("a", [front]), application("b", [local])],
        [source("a", "e", trace(1.0, 3.0, 5.0, 5.5, 8.0, 30.0)), source("b", "c", trace(0.5, 2))],
        registry="c",
        duration=40.0,
        control=Control(interval=20.0),
    )
    pull = xfer(E_C[0], size, E_C[1])
    assert pull == pytest.approx(4.02)
    policy = Pin({"front": ["e", "e"], "local": ["c"]}, script={20.0: [Deploy("a", "front", "e")]})
    res = run(sc, policy)
    reps = res.replicas.set_index("replica_id").sort_index()
    fr = reps[reps["component"] == "front"]
    assert fr["created_s"].tolist() == [0.0, 0.0, 20.0]
    assert fr["image_ready_s"].to_numpy() == pytest.approx([pull, pull, 20.0], abs=EXACT)
    assert fr["running_s"].to_numpy() == pytest.approx(
        [pull + startup, pull + startup, 20.0 + startup], abs=EXACT
    )
    loc = reps[reps["component"] == "local"].iloc[0]
    assert (loc["image_ready_s"], loc["running_s"]) == (0.0, startup)

    rq = res.requests.sort_values("arrival_s")
    a = rq[rq["app"] == "a"]
    assert a["status"].tolist() == ["dropped"] * 3 + ["ok"] * 3
    assert a["reason"].iloc[:3].str.startswith("no_replica").all()
    assert a["reason"].iloc[:3].tolist() == ["no_replica:a/front"] * 3
    assert a["end_s"].iloc[:3].tolist() == [1.0, 3.0, 5.0]  # dropped on arrival
    assert a["latency_s"].iloc[3:].to_numpy() == pytest.approx([0.05] * 3, abs=EXACT)
    b = rq[rq["app"] == "b"]
    assert b["status"].tolist() == ["dropped", "ok"]  # 0.5 s < 1 s of startup < 2 s


# ----------------------------------------------------------------------------- cost


def test_egress_is_billed_per_gb_on_billable_links() -> None:
    """Each request crosses e–c with 1 MB there and 200 kB back: 1.2 MB at 0.09 per GB. A
    second app on the cloud pulls the device's bytes over d–e–c; d–e is free."""
    far = application("far", [comp("only", 0.001)])
    sources = [
        device("a", trace(*[5.0 * k for k in range(1, 11)])),
        source("far", "d", trace(1.0, 2.0, 3.0), request_size=3e6, response_size=1e6),
    ]
    sc = continuum([chain_app(), far], sources, duration=60.0)
    res = run(sc, Pin({"front": ["e"], "back": ["c"], "only": ["c"]}))
    assert (res.requests["status"] == "ok").all()
    egress = res.cost[res.cost["item"] == "egress"]
    assert egress["node"].tolist() == ["e|c"]  # the free link has no row
    gb = (10 * (1e6 + 2e5) + 3 * (3e6 + 1e6)) / 1e9
    assert egress["quantity"].iloc[0] == pytest.approx(gb, abs=EXACT)
    assert egress["unit"].iloc[0] == "GB"
    assert egress["cost"].iloc[0] == pytest.approx(gb * EGRESS_PER_GB, abs=EXACT)
    assert res.summary()["cost"] == pytest.approx(gb * EGRESS_PER_GB, abs=EXACT)


def test_egress_is_billed_even_if_the_link_fails_later() -> None:
    sc = continuum(
        [chain_app()],
        [device("a", trace(5.0, 10.0))],
        duration=60.0,
        failures=(Failure(at=50.0, kind="link", target="e|c"),),
    )
    res = run(sc, Pin({"front": ["e"], "back": ["c"]}))
    assert (res.requests["status"] == "ok").all()
    egress = res.cost.loc[res.cost["item"] == "egress", "cost"].sum()
    assert egress == pytest.approx(2 * 1.2e6 / 1e9 * EGRESS_PER_GB, abs=EXACT)


def test_node_hours_and_core_hours() -> None:
    """``always`` bills the horizon; ``when_active`` the hours hosting a replica (an app that
    arrives at 600 s and departs at 2400 s: 0.5 h); ``per_core_hour`` the requested cores."""
    nodes = [
        mknode("own", cores=4, price=Price(per_hour=0.5, per_core_hour=0.01, billing="always")),
        mknode("cloud", "cloud", cores=8, price=Price(2.0, 0.04, "when_active")),
        mknode("spare", "cloud", cores=8, price=Price(3.0, 0.05, "when_active")),
    ]
    steady = application("steady", [comp("s", cpu=1.5)])
    visit = application("visit", [comp("v", cpu=2.0)], arrive_at=600.0, depart_at=2400.0)
    sc = scenario(nodes, [steady, visit], [], duration=7200.0)
    res = run(sc, Pin({"s": ["own"], "v": ["cloud"]}))
    cost = res.cost.set_index(["node", "item"])
    hours = 7200.0 / 3600.0
    assert cost.loc[("own", "node_hours"), "quantity"] == pytest.approx(hours, abs=EXACT)
    assert cost.loc[("own", "node_hours"), "cost"] == pytest.approx(0.5 * hours, abs=EXACT)
    assert cost.loc[("own", "core_hours"), "quantity"] == pytest.approx(1.5 * hours, abs=EXACT)
    assert cost.loc[("own", "core_hours"), "cost"] == pytest.approx(0.01 * 3.0, abs=EXACT)
    assert cost.loc[("cloud", "node_hours"), "quantity"] == pytest.approx(0.5, abs=EXACT)
    assert cost.loc[("cloud", "node_hours"), "cost"] == pytest.approx(1.0, abs=EXACT)
    assert cost.loc[("cloud", "core_hours"), "cost"] == pytest.approx(2 * 0.5 * 0.04, abs=EXACT)
    assert cost.loc[("spare", "node_hours"), "cost"] == 0.0
    assert cost.loc[("spare", "core_hours"), "cost"] == 0.0
    rep = res.replicas.set_index("component")
    assert (rep.loc["v", "created_s"], rep.loc["v", "removed_s"]) == (600.0, 2400.0)
    assert rep.loc["v", "end_reason"] == "app_departed"
    summary = res.summary()
    assert summary["cost"] == pytest.approx(1.0 + 0.03 + 1.0 + 0.04, abs=EXACT)
    assert summary["cost_cloud"] == pytest.approx(1.04, abs=EXACT)
    assert summary["cost_edge"] == pytest.approx(1.03, abs=EXACT)


def test_energy_integrates_the_linear_power_model() -> None:
    """idle_w × up time + (max_w − idle_w) × busy core-seconds / cores, in kWh. Ten requests
    of 1 core-second on a speed-2 node keep a core busy 0.5 s each; a failure takes the node
    down for 600 s in the middle of an eleventh (4 core-s) request, of which 1 s was done."""
    idle, peak, cores, horizon = 100.0, 200.0, 2, 3600.0
    node = mknode("e", cores=cores, speed=2.0, power=Power(idle_w=idle, max_w=peak))
    steady = application("a", [comp("w", 1.0)])
    heavy = application("h", [comp("w", 4.0)])
    times = [10.0 * k for k in range(1, 11)]
    sc = scenario(
        [node, mknode("dev", "far_edge", power=Power(5.0, 50.0))],
        [steady, heavy],
        [source("a", "e", trace(*times)), source("h", "e", trace(999.0))],
        duration=horizon,
        failures=(Failure(at=1000.0, kind="node", target="e", duration=600.0),),
        scoring=Scoring(energy_price_per_kwh=0.25),
    )
    res = run(sc, Pin({"a/w": ["e"], "h/w": ["e"]}))
    assert res.requests.sort_values("arrival_s")["status"].tolist() == ["ok"] * 10 + ["failed"]
    busy = 10 * 0.5 + 1.0  # core-seconds actually served
    joules = idle * (horizon - 600.0) + (peak - idle) * busy / cores
    energy = res.cost[res.cost["item"] == "energy"].set_index("node")
    assert energy.loc["e", "quantity"] == pytest.approx(joules / 3.6e6, abs=EXACT)
    assert energy.loc["e", "energy_kwh"] == pytest.approx(joules / 3.6e6, abs=EXACT)
    assert energy.loc["e", "cost"] == pytest.approx(0.25 * joules / 3.6e6, abs=EXACT)
    # an idle device that never fails draws idle power for the whole horizon
    assert energy.loc["dev", "energy_kwh"] == pytest.approx(5.0 * horizon / 3.6e6, abs=EXACT)
    assert res.summary()["energy_kwh"] == pytest.approx((joules + 5.0 * horizon) / 3.6e6, abs=EXACT)


# ----------------------------------------------------------------------------- failures


def failing_edge(policy_on=None, arrivals=(10.0, 27.5, 29.0, 29.5, 29.997, 35.0, 45.0)):
    """Device d –5 ms– edge e (1 core): front does 2 s of work. e fails at 30 s for 10 s."""
    nodes = [mknode("d", "far_edge"), mknode("e", cores=1)]
    app = application("a", [comp("front", 2.0)])
    sc = scenario(
        nodes,
        [app],
        [source("a", "d", trace(*arrivals))],
        links=[Link("d", "e", 0.005, INF)],
        duration=60.0,
        failures=(Failure(at=30.0, kind="node", target="e", duration=10.0),),
    )
    return sc, Pin({"front": ["e"]}, on=policy_on)


def test_node_failure_fails_work_in_flight_and_loses_the_replica() -> None:
    sc, policy = failing_edge()
    res = run(sc, policy)
    rq = res.requests.sort_values("arrival_s").set_index("arrival_s")
    # 27.5 arrives at 27.505 and is served until 29.505; 29.0 is in service at 30 s, 29.5
    # waits behind it; 29.997 is on the wire and reaches e at 30.002, after the failure.
    assert rq["status"].tolist() == ["ok", "ok", "failed", "failed", "failed", "dropped", "dropped"]
    assert rq.loc[[10.0, 27.5], "latency_s"].to_numpy() == pytest.approx([2.01, 2.01], abs=EXACT)
    assert rq.loc[[29.0, 29.5], "reason"].tolist() == ["node_failure:e"] * 2
    assert rq.loc[[29.0, 29.5], "end_s"].tolist() == [30.0, 30.0]
    assert rq.loc[29.997, "reason"].startswith("replica_lost")
    assert rq.loc[29.997, "end_s"] == pytest.approx(30.002, abs=EXACT)
    # static policy: nothing comes back after the recovery
    assert rq.loc[[35.0, 45.0], "reason"].tolist() == ["no_replica:a/front"] * 2
    # a finished request's latency is the time to its end, whatever the status
    assert (rq["latency_s"] == rq["end_s"] - rq.index).all()
    reps = res.replicas
    assert len(reps) == 1
    assert (reps["removed_s"].iloc[0], reps["end_reason"].iloc[0]) == (30.0, "node_failure")
    ev = res.events[res.events["kind"].isin(["node_failed", "node_recovered"])]
    assert ev[["time_s", "kind", "target"]].values.tolist() == [
        [30.0, "node_failed", "e"],
        [40.0, "node_recovered", "e"],
    ]
    told = [(e.time, e.kind, e.target, e.lost) for e in policy.events if e.kind != "app_arrived"]
    assert told == [
        (30.0, "node_failed", "e", (("a", "front"),)),
        (40.0, "node_recovered", "e", ()),
    ]


def test_failed_node_admits_nothing_until_it_recovers() -> None:
    redeploy = [Deploy("a", "front", "e")]
    sc, policy = failing_edge({"node_failed": redeploy, "node_recovered": redeploy})
    res = run(sc, policy)
    acts = res.actions[res.actions["call"] == "on_event"]
    assert acts[["time_s", "outcome"]].values.tolist() == [[30.0, "rejected"], [40.0, "applied"]]
    assert acts["reason"].iloc[0] == "node 'e' is down"
    reps = res.replicas.sort_values("created_s")
    assert reps["created_s"].tolist() == [0.0, 40.0]
    assert reps["running_s"].tolist() == [0.0, 40.0]
    rq = res.requests.set_index("arrival_s")
    assert rq.loc[35.0, "status"] == "dropped"
    assert rq.loc[45.0, "status"] == "ok"
    assert rq.loc[45.0, "latency_s"] == pytest.approx(2.01, abs=EXACT)


def test_cluster_failure_fails_every_node_of_the_cluster() -> None:
    nodes = [mknode("d", "far_edge"), mknode("e1", cluster="site"), mknode("e2", cluster="site")]
    app = application("a", [comp("x", 0.5), comp("y", 0.5)], [Call("x", "y")])
    sc = scenario(
        nodes,
        [app],
        [source("a", "d", trace(5.0, 20.0, 35.0))],
        links=[Link("d", "e1", 0.001, INF), Link("e1", "e2", 0.001, INF)],
        duration=40.0,
        failures=(Failure(at=10.0, kind="cluster", target="site", duration=20.0),),
    )
    policy = Pin({"x": ["e1"], "y": ["e2"]})
    res = run(sc, policy)
    assert res.requests.sort_values("arrival_s")["status"].tolist() == ["ok", "dropped", "dropped"]
    assert sorted(res.replicas["end_reason"]) == ["node_failure", "node_failure"]
    assert (res.replicas["removed_s"] == 10.0).all()
    kinds = [(e.kind, e.target) for e in policy.events if e.kind != "app_arrived"]
    assert ("cluster_failed", "site") in kinds and ("cluster_recovered", "site") in kinds
    failed = res.events[res.events["kind"] == "node_failed"]
    assert sorted(failed["target"]) == ["e1", "e2"]


def test_link_failure_reroutes_and_recovers() -> None:
    """d–e direct is 5 ms; the detour d–x–e is 20 ms. The direct link is down in [20, 40)."""
    nodes = [mknode("d", "far_edge"), mknode("x"), mknode("e")]
    links = [Link("d", "e", 0.005, INF), Link("d", "x", 0.010, INF), Link("x", "e", 0.010, INF)]
    sc = scenario(
        nodes,
        [application("a", [comp("front", 0.1)])],
        [source("a", "d", trace(10.0, 25.0, 50.0))],
        links=links,
        duration=60.0,
        failures=(Failure(at=20.0, kind="link", target="d|e", duration=20.0),),
    )
    res = run(sc, Pin({"front": ["e"]}))
    rq = res.requests.sort_values("arrival_s")
    assert rq["latency_s"].to_numpy() == pytest.approx([0.11, 0.14, 0.11], abs=EXACT)
    assert rq["network_latency_s"].to_numpy() == pytest.approx([0.01, 0.04, 0.01], abs=EXACT)
    ev = res.events[res.events["kind"].str.startswith("link")]
    assert ev[["time_s", "kind", "target"]].values.tolist() == [
        [20.0, "link_failed", "d|e"],
        [40.0, "link_recovered", "d|e"],
    ]


def test_link_failure_without_detour_fails_with_no_route() -> None:
    nodes = [mknode("d", "far_edge"), mknode("e")]
    sc = scenario(
        nodes,
        [application("a", [comp("front", 0.1)])],
        [source("a", "d", trace(10.0, 25.0, 50.0))],
        links=[Link("d", "e", 0.005, INF)],
        duration=60.0,
        failures=(Failure(at=20.0, kind="link", target="d|e", duration=20.0),),
    )
    res = run(sc, Pin({"front": ["e"]}))
    rq = res.requests.sort_values("arrival_s")
    assert rq["status"].tolist() == ["ok", "failed", "ok"]  # the transfer fails
    assert rq["reason"].iloc[1] == "no_route:a/front"
    assert math.isnan(rq["network_latency_s"].iloc[1])


def test_request_waiting_on_a_failed_caller_fails() -> None:
    """front (on e) finished its own work and waits for back (on c, 5 s of work); e fails at
    12 s. The answer has nowhere to return to: the request must end failed, not ok."""
    sc = continuum(
        [application("a", [comp("front", 0.01), comp("back", 5.0)], [Call("front", "back")])],
        [device("a", trace(10.0))],
        duration=60.0,
        failures=(Failure(at=12.0, kind="node", target="e", duration=100.0),),
    )
    res = run(sc, Pin({"front": ["e"], "back": ["c"]}))
    assert res.requests["status"].tolist() == ["failed"]


def test_results_columns_are_typed() -> None:
    sc = continuum([chain_app()], [device("a", trace(1.0))], duration=5.0)
    rq = run(sc, Pin({"front": ["e"], "back": ["c"]})).requests
    assert isinstance(rq["status"].dtype, pd.CategoricalDtype)
    assert list(rq["status"].cat.categories) == ["ok", "failed", "dropped", "incomplete"]


def test_telemetry_never_reports_a_request_before_it_ends() -> None:
    """The answer to a request sent at 1 s takes 10 s over a 1 Mb/s link (1.25 MB): it ends
    at 11.01 s, so the sample at 5 s must not count it nor its 10 s latency."""
    sc = scenario(
        [mknode("d", "far_edge"), mknode("e")],
        [application("a", [comp("front", 0.01)])],
        [source("a", "d", trace(1.0), response_size=1.25e6)],
        links=[Link("d", "e", 0.0, 1e6)],
        duration=20.0,
        telemetry=Telemetry(interval=5.0),
    )
    res = run(sc, Pin({"front": ["e"]}), telemetry=True)
    assert res.requests["end_s"].tolist() == pytest.approx([11.01], abs=EXACT)
    tel = res.telemetry
    app = tel[(tel["kind"] == "app") & (tel["metric"] == "app_requests_total")]
    assert app.set_index("time_s")["value"].to_dict() == {5.0: 0.0, 10.0: 0.0, 15.0: 1.0}
