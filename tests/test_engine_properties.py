"""Invariants that hold for every scenario: random small continua (a random tree plus extra
links), random DAG applications, random load and a random built-in policy, with and without
random node failures.

- every request ends exactly once, with a consistent record (status, times, reason);
- reserved cpu (and memory, when declared) never exceeds a node's capacity;
- an ok request is never faster than the pure link latency of its path;
- costs are non-negative, ``always`` nodes bill the horizon, idle pay-per-use nodes bill
  nothing, core-hours and energy match the replicas table and the power model's bounds;
- with failures: no replica is created on a node while it is down, and replicas lost to a
  failure end at that failure.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simcontinuum.engine.simulation import Simulation
from simcontinuum.model import (
    Application,
    Arrival,
    Call,
    Component,
    Constraints,
    Control,
    Gpu,
    Link,
    Node,
    Power,
    Price,
    RandomFailures,
    Scenario,
    Slo,
    Source,
    Telemetry,
    Topology,
    Work,
)
from simcontinuum.policy.registry import available_policies, load_policy
from simcontinuum.results import Results

GI = 2.0**30
POLICIES = sorted(available_policies())
STATUSES = {"ok", "failed", "dropped", "incomplete"}
EPS = 1e-9

# ----------------------------------------------------------------------------- strategies


@st.composite
def nodes_st(draw: Any) -> list[Node]:
    n = draw(st.integers(3, 8))
    out = []
    for i in range(n):
        tier = draw(st.sampled_from(["cloud", "edge", "edge", "far_edge"]))
        billing = draw(st.sampled_from(["always", "when_active"]))
        price = Price(
            per_hour=draw(st.sampled_from([0.0, 0.1, 2.0])),
            per_core_hour=draw(st.sampled_from([0.0, 0.05])),
            billing=billing,
        )
        idle = draw(st.sampled_from([0.0, 10.0, 50.0]))
        out.append(
            Node(
                id=f"n{i}",
                tier=tier,  # type: ignore[arg-type]
                cluster=f"k{draw(st.integers(0, 2))}",
                cores=draw(st.integers(1, 8)),
                speed=draw(st.sampled_from([0.5, 1.0, 2.0])),
                memory=draw(st.sampled_from([0.0, 2 * GI, 8 * GI])),
                labels=frozenset(draw(st.sets(st.sampled_from(["ssd", "x86"]), max_size=2))),
                gpu=draw(st.sampled_from([None, Gpu(speedup=3.0)])),
                price=price,
                power=Power(idle_w=idle, max_w=idle + draw(st.sampled_from([0.0, 100.0]))),
                max_queue=draw(st.sampled_from([None, None, 0, 5])),
            )
        )
    return out


@st.composite
def links_st(draw: Any, nodes: list[Node]) -> list[Link]:
    n = len(nodes)
    pairs = [(draw(st.integers(0, i - 1)), i) for i in range(1, n)]  # a random spanning tree
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
    seen = {frozenset(p) for p in pairs}
    for a, b in extra:
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            pairs.append((a, b))
    return [
        Link(
            f"n{a}",
            f"n{b}",
            latency=draw(st.sampled_from([0.0, 0.001, 0.005, 0.02, 0.05])),
            bandwidth=draw(st.sampled_from([1e6, 1e8, 1e10])),
            egress_price_per_gb=draw(st.sampled_from([0.0, 0.0, 0.09])),
        )
        for a, b in pairs
    ]


@st.composite
def app_st(draw: Any, aid: str) -> Application:
    k = draw(st.integers(1, 4))
    comps = []
    for j in range(k):
        dist = draw(st.sampled_from(["constant", "exponential", "lognormal", "empirical"]))
        mean = draw(st.sampled_from([0.001, 0.01, 0.05]))
        w = Work(dist=dist, mean=mean, values=(mean / 2, mean, 2 * mean))  # type: ignore[arg-type]
        lo = draw(st.integers(1, 2))
        tiers = draw(st.sampled_from([frozenset(), frozenset({"edge", "cloud"})]))
        labels = draw(st.sampled_from([frozenset(), frozenset({"ssd"})]))
        comps.append(
            Component(
                id=f"c{j}",
                cpu=draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])),
                memory=draw(st.sampled_from([0.0, 0.5 * GI, 1 * GI])),
                work=w,
                accelerator=draw(st.sampled_from([None, "gpu"])),
                placement=Constraints(tiers=tiers, labels=labels),
                replicas_min=lo,
                replicas_max=lo + draw(st.integers(0, 1)),
                image_size=draw(st.sampled_from([0.0, 1e8])),
                startup=draw(st.sampled_from([0.0, 0.5])),
            )
        )
    calls = []
    for j in range(1, k):  # forward only: each component has a caller before it
        for i in sorted({draw(st.integers(0, j - 1)), *draw(st.sets(st.integers(0, j - 1)))}):
            calls.append(
                Call(
                    f"c{i}",
                    f"c{j}",
                    draw(st.sampled_from([0.0, 1e3, 1e5])),
                    draw(st.sampled_from([0.0, 1e4])),
                )
            )
    slo = draw(st.sampled_from([None, Slo(p95_latency=0.05)]))
    return Application(id=aid, entry="c0", components=tuple(comps), calls=tuple(calls), slo=slo)


@st.composite
def scenario_st(draw: Any, failures: bool = False) -> Scenario:
    nodes = draw(nodes_st())
    links = draw(links_st(nodes))
    apps = [draw(app_st(f"app{i}")) for i in range(draw(st.integers(1, 2)))]
    sources = []
    for a in apps:
        for s in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["poisson", "periodic"]))
            rate = draw(st.sampled_from([1.0, 5.0, 20.0, 40.0]))
            sources.append(
                Source(
                    id=f"{a.id}-s{s}",
                    app=a.id,
                    node=f"n{draw(st.integers(0, len(nodes) - 1))}",
                    arrival=Arrival(type=kind, rate=rate),  # type: ignore[arg-type]
                    request_size=draw(st.sampled_from([0.0, 1e4])),
                    response_size=draw(st.sampled_from([0.0, 1e4])),
                )
            )
    clusters: dict[str, tuple[str, ...]] = {}
    for n in nodes:
        clusters[n.cluster] = (*clusters.get(n.cluster, ()), n.id)
    duration = float(draw(st.sampled_from([10.0, 20.0, 30.0])))
    rf: tuple[RandomFailures, ...] = ()
    if failures:
        rf = (
            RandomFailures(
                tier=draw(st.sampled_from([None, "edge"])),
                mtbf=draw(st.sampled_from([5.0, 15.0])),
                mttr=draw(st.sampled_from([1.0, 5.0])),
            ),
        )
    return Scenario(
        name="prop",
        topology=Topology(
            nodes=tuple(nodes),
            links=tuple(links),
            clusters=clusters,
            registry=draw(st.sampled_from([None, "n0"])),
        ),
        applications=tuple(apps),
        sources=tuple(sources),
        duration=duration,
        warmup=draw(st.sampled_from([0.0, 2.0])),
        seed=draw(st.integers(0, 2**16)),
        telemetry=Telemetry(interval=5.0),
        control=Control(interval=5.0),
        random_failures=rf,
    )


# ----------------------------------------------------------------------------- checks


def check_requests(sc: Scenario, res: Results) -> None:
    rq = res.requests
    n = len(rq)
    horizon = sc.duration
    assert rq["request_id"].tolist() == list(range(n))
    assert set(rq["status"].astype(str)) <= STATUSES
    assert ((rq["arrival_s"] >= 0) & (rq["arrival_s"] < horizon)).all()
    assert (rq["scored"] == (rq["arrival_s"] >= sc.warmup)).all()
    ok = rq["status"] == "ok"
    inc = rq["status"] == "incomplete"
    fin = ~inc
    # finished: an end within the horizon, never before the arrival
    assert (rq.loc[fin, "end_s"] >= rq.loc[fin, "arrival_s"]).all()
    assert (rq.loc[fin, "end_s"] <= horizon + EPS).all()
    assert np.allclose(
        rq.loc[fin, "latency_s"], rq.loc[fin, "end_s"] - rq.loc[fin, "arrival_s"], atol=EPS
    )
    assert rq.loc[inc, "end_s"].isna().all() and rq.loc[inc, "latency_s"].isna().all()
    # a reason exactly for failed/dropped requests
    assert rq.loc[ok | inc, "reason"].isna().all()
    bad = rq.loc[~(ok | inc), "reason"]
    assert bad.notna().all()
    # ``replica_lost`` (a step reached a replica lost on its way) names the node too
    known = bad.str.match(r"^(no_replica|no_route|queue_full|node_failure|replica_lost):.")
    assert known.all(), bad[~known].unique()
    # an ok request is never faster than the link latency of its path
    lb = rq.loc[ok, "network_latency_s"]
    assert (lb >= 0).all()
    assert (rq.loc[ok, "latency_s"] >= lb - EPS).all()
    assert rq.loc[~ok, "network_latency_s"].isna().all()
    # SLO flags only on ok requests of SLO apps
    assert rq.loc[~ok | ~rq["has_slo"], "slo_violated"].isna().all()
    summary = res.summary()
    scored = rq[rq["scored"]]
    assert summary["requests"] == len(scored)
    for s in STATUSES:
        assert summary[s] == int((scored["status"] == s).sum())


def check_entry_lower_bound(sc: Scenario, res: Results) -> None:
    """An ok request goes from its source to an entry replica and back: its latency is at
    least twice the path latency to the nearest node that ever hosted its app's entry."""
    g = nx.Graph()
    g.add_nodes_from(n.id for n in sc.topology.nodes)
    for lk in sc.topology.links:
        g.add_edge(lk.a, lk.b, latency=lk.latency)
    dist = dict(nx.all_pairs_dijkstra_path_length(g, weight="latency"))
    reps = res.replicas
    rq = res.requests[res.requests["status"] == "ok"]
    for app in sc.applications:
        hosts = reps.loc[(reps["app"] == app.id) & (reps["component"] == app.entry), "node"]
        sub = rq[rq["app"] == app.id]
        if sub.empty:
            continue
        assert len(hosts) > 0
        for src_node, grp in sub.groupby("source_node", observed=True):
            nearest = min(dist[str(src_node)].get(h, math.inf) for h in hosts)
            assert (grp["network_latency_s"] >= 2 * nearest - EPS).all()
            assert (grp["latency_s"] >= 2 * nearest - EPS).all()


def check_capacity(sc: Scenario, res: Results) -> None:
    reps = res.replicas
    horizon = sc.duration
    assert reps["replica_id"].is_unique
    for node in sc.topology.nodes:
        mine = reps[reps["node"] == node.id]
        if mine.empty:
            continue
        start = mine["created_s"].to_numpy(dtype=float)
        end = pd.to_numeric(mine["removed_s"]).fillna(horizon).to_numpy(dtype=float)
        assert (end >= start).all()
        cpu = mine["cpu"].to_numpy(dtype=float)
        mem = mine["memory_bytes"].to_numpy(dtype=float)
        for t in np.unique(start):  # the reservation only grows at creations
            alive = (start <= t) & (t < end)
            assert cpu[alive].sum() <= node.cores + 1e-9, (node.id, t)
            if node.memory > 0:
                assert mem[alive].sum() <= node.memory + 1e-6, (node.id, t)
        assert ((mine["running_s"].isna()) | (mine["running_s"] >= mine["image_ready_s"])).all()
        assert (mine["image_ready_s"] >= mine["created_s"]).all()


def check_telemetry(sc: Scenario, res: Results) -> None:
    """The engine's own samples agree: allocation within capacity, utilisation in [0, 1]."""
    tel = res.telemetry
    if tel.empty:
        return
    cores = {n.id: n.cores for n in sc.topology.nodes}
    alloc = tel[tel["metric"] == "node_cpu_allocated_cores"]
    assert (alloc["value"] <= alloc["id"].map(cores) + 1e-9).all()
    util = tel.loc[tel["metric"] == "node_cpu_utilisation", "value"]
    assert ((util >= 0) & (util <= 1)).all()
    assert (tel["delivered_s"].isna() | (tel["delivered_s"] >= tel["time_s"])).all()


def check_cost(sc: Scenario, res: Results) -> None:
    cost = res.cost
    horizon = sc.duration
    assert (cost["cost"] >= 0).all() and (cost["quantity"] >= 0).all()
    assert (cost["energy_kwh"] >= 0).all()
    reps = res.replicas
    hosts = set(reps["node"])
    c = cost.set_index(["node", "item"])
    down = down_seconds(res, horizon)
    for node in sc.topology.nodes:
        hours = c.loc[(node.id, "node_hours"), "quantity"]
        if node.price.billing == "always":
            assert math.isclose(hours, horizon / 3600.0, rel_tol=1e-12)
        elif node.id not in hosts:
            assert hours == 0.0 and c.loc[(node.id, "node_hours"), "cost"] == 0.0
        else:
            assert hours <= horizon / 3600.0 + EPS
        mine = reps[reps["node"] == node.id]
        ends = pd.to_numeric(mine["removed_s"]).fillna(horizon)
        core_h = float((mine["cpu"] * (ends - mine["created_s"])).sum()) / 3600.0
        assert math.isclose(
            c.loc[(node.id, "core_hours"), "quantity"], core_h, rel_tol=1e-9, abs_tol=1e-12
        )
        up = horizon - down.get(node.id, 0.0)
        kwh = c.loc[(node.id, "energy"), "energy_kwh"]
        lo = node.power.idle_w * up / 3.6e6
        hi = node.power.max_w * up / 3.6e6
        assert lo - 1e-12 <= kwh <= hi + 1e-12
    summary = res.summary()
    assert math.isclose(summary["cost"], float(cost["cost"].sum()), rel_tol=1e-12, abs_tol=0)
    assert summary["score"] >= 0


def down_seconds(res: Results, horizon: float) -> dict[str, float]:
    """Seconds each node spent down, from the events table."""
    out: dict[str, float] = {}
    since: dict[str, float] = {}
    for t, kind, target in res.events[["time_s", "kind", "target"]].itertuples(index=False):
        if kind == "node_failed":
            since[target] = t
        elif kind == "node_recovered":
            out[target] = out.get(target, 0.0) + t - since.pop(target)
    for target, t in since.items():
        out[target] = out.get(target, 0.0) + horizon - t
    return out


def check_failures(sc: Scenario, res: Results) -> None:
    ev = res.events
    reps = res.replicas
    periods: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for t, kind, target in ev[["time_s", "kind", "target"]].itertuples(index=False):
        if kind == "node_failed":
            assert target not in since  # nested failures are one outage
            since[target] = t
        elif kind == "node_recovered":
            periods.setdefault(target, []).append((since.pop(target), t))
    for target, t in since.items():
        periods.setdefault(target, []).append((t, math.inf))
    for row in reps.itertuples(index=False):
        for a, b in periods.get(row.node, []):
            assert not (a <= row.created_s < b), f"replica created on {row.node} while down"
        if row.end_reason == "node_failure":
            starts = [a for a, _ in periods.get(row.node, [])]
            assert row.removed_s in starts
    rq = res.requests
    failed = rq[rq["status"] == "failed"]
    assert failed["reason"].str.match(r"^(node_failure|replica_lost|no_route):.").all()
    if not periods:
        assert failed.empty


def check_all(sc: Scenario, res: Results) -> None:
    statuses = set(res.requests["status"].astype(str))
    event("statuses: " + ",".join(sorted(statuses)))  # shown by --hypothesis-show-statistics
    event(f"failures happened: {bool((res.events['kind'] == 'node_failed').any())}")
    check_requests(sc, res)
    check_capacity(sc, res)
    check_telemetry(sc, res)
    check_cost(sc, res)
    check_failures(sc, res)


# ----------------------------------------------------------------------------- properties

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(sc=scenario_st(), policy=st.sampled_from(POLICIES))
def test_invariants_hold_for_every_builtin_policy(sc: Scenario, policy: str) -> None:
    res = Simulation(sc, load_policy(policy)).run()
    check_all(sc, res)
    check_entry_lower_bound(sc, res)
    assert res.meta["policy_errors"] == 0
    assert (res.requests["status"] != "failed").all()  # nothing fails without failures


@SETTINGS
@given(sc=scenario_st(failures=True), policy=st.sampled_from(POLICIES))
def test_invariants_hold_under_random_node_failures(sc: Scenario, policy: str) -> None:
    res = Simulation(sc, load_policy(policy), telemetry=False).run()
    check_all(sc, res)
    check_entry_lower_bound(sc, res)
