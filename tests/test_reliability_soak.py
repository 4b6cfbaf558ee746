"""Reliability, soak (CI-sized): 10,000 nodes, random failures on every tier, lossy
telemetry, a migration of every application each control interval, applications arriving
and departing — the run reaches its horizon, every request is accounted for, and no node is
ever over-committed.

The scenario comes from the generator (``random`` template, 10,000 nodes, 4 applications);
arrivals are made periodic at 5/min per device so that each device's request count is known
exactly, and the horizon is short (24 s), so the run takes seconds.
"""

from __future__ import annotations

import copy
import math
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import simcontinuum
from simcontinuum.generate import generate
from simcontinuum.model import Scenario
from simcontinuum.policy import Deploy, Move
from simcontinuum.policy.builtins import FirstFit
from simcontinuum.results import Results

NODES = 10_000
DURATION = 24.0
PERIOD = 12.0  # s between two requests of one device (5/min)
WINDOWS = [(0.0, None), (5.0, None), (0.0, 20.0), (8.0, 17.0)]  # (arrive_at, depart_at)
MTBF = {"cloud": "10min", "edge": "5min", "edge_infrastructure": "5min", "far_edge": "1h"}


def soak_scenario() -> tuple[Scenario, dict[str, tuple[float, float]]]:
    """The scenario, and each application's window of arrivals ``[arrive_at, end)``."""
    made = generate("random", NODES, len(WINDOWS), 7, {"duration": f"{DURATION:g}s"})
    doc: dict[str, Any] = copy.deepcopy(made.document)
    # the stress is set here, not left to the generator's defaults
    doc["warmup"] = "0s"
    clusters = doc["infrastructure"]["clusters"]
    members = [m for c in clusters for m in (*c.get("nodes", []), *c.get("node_groups", []))]
    tiers = sorted({m["tier"] for m in members})
    doc["failures"] = [{"random": {"tier": t, "mtbf": MTBF[t], "mttr": "5s"}} for t in tiers]
    doc["telemetry"] = {**doc.get("telemetry", {}), "interval": "4s", "loss": 0.2}
    doc["control"] = {**doc.get("control", {}), "interval": "3s"}
    for w in doc["workload"]:
        w["arrival"] = {"type": "periodic", "rate": f"{60 / PERIOD:g}/min"}
    windows = {}
    for app, (arrive, depart) in zip(doc["applications"], WINDOWS, strict=True):
        app["arrive_at"] = f"{arrive:g}s"
        app.pop("depart_at", None)
        if depart is not None:
            app["depart_at"] = f"{depart:g}s"
        windows[app["id"]] = (arrive, DURATION if depart is None else depart)
    return simcontinuum.load(doc), windows


class Mover(FirstFit):
    """First-fit placement; every plan moves one replica of every component to a random
    node with room, and re-deploys components that lost every replica to a failure."""

    name = "mover"

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def plan(self, view: Any, telemetry: Any) -> list[Move | Deploy]:
        actions: list[Move | Deploy] = []
        for aid, comps in view.placements.items():
            app = view.apps[aid]
            for cid, nodes in comps.items():
                comp = app.component(cid)
                src = nodes[0] if nodes else None
                room = [n for n in view.eligible(comp) if n != src and view.can_host(comp, n)]
                if not room:
                    continue
                dst = room[self.rng.integers(len(room))]
                actions.append(Move(aid, cid, src, dst) if src else Deploy(aid, cid, dst))
        return actions


def overcommitted(res: Results, sc: Scenario) -> list[str]:
    """Nodes whose reserved cpu or memory ever exceeds their capacity (sweep over the
    replicas' lives; a replica removed at t no longer counts at t)."""
    reps = res.replicas
    horizon = res.meta["horizon_s"]
    nodes = {n.id: n for n in sc.topology.nodes}
    bad = []
    for nid, group in reps.groupby("node", observed=True):
        start = group["created_s"].to_numpy()
        end = group["removed_s"].fillna(horizon).to_numpy()
        for col, cap in (("cpu", nodes[str(nid)].cores), ("memory_bytes", nodes[str(nid)].memory)):
            if col == "memory_bytes" and cap == 0:
                continue  # memory not declared: unlimited
            amount = group[col].to_numpy(dtype=float)
            events = sorted(
                [(t, 1, a) for t, a in zip(start, amount, strict=True)]
                + [(t, 0, -a) for t, a in zip(end, amount, strict=True)]
            )
            level = peak = 0.0
            for _, _, delta in events:  # removals (0) before additions (1) at one instant
                level += delta
                peak = max(peak, level)
            if peak > cap * (1 + 1e-9) + 1e-6:
                bad.append(f"{nid}: {col} {peak:g} > {cap:g}")
    return bad


@pytest.mark.slow
def test_soak_10k_nodes_failures_loss_migrations_arrivals() -> None:
    sc, window = soak_scenario()
    assert len(sc.topology.nodes) == NODES
    assert {f.tier for f in sc.random_failures} >= {"cloud", "edge", "far_edge"}
    started = time.perf_counter()
    res = simcontinuum.run(sc, Mover(), seed=11)
    wall = time.perf_counter() - started

    assert res.meta["status"] == "complete" and res.meta["horizon_s"] == DURATION
    assert res.meta["policy_errors"] == 0
    rq = res.requests
    n = len(rq)
    counts = {s: int((rq["status"] == s).sum()) for s in ("ok", "failed", "dropped", "incomplete")}
    # every request ends exactly once, with one of the four statuses; ids are 0..n-1
    assert sum(counts.values()) == n == res.meta["requests"]
    assert np.array_equal(np.sort(rq["request_id"].to_numpy()), np.arange(n))
    assert rq.loc[rq["status"] == "incomplete", "end_s"].isna().all()
    assert (rq.loc[rq["status"] != "incomplete", "end_s"] <= DURATION).all()

    # every arrival is there: a periodic device sends floor or ceil of window / period
    # (a device that is down sends nothing: those that failed may send fewer)
    events = res.events
    went_down = set(events.loc[events["kind"] == "node_failed", "target"])
    sent = rq.groupby("source", observed=True).size()
    exact = 0
    for src in sc.sources:
        a, b = window[src.app]
        got = int(sent.get(src.id, 0))
        low = math.floor((b - a) / PERIOD)
        assert got <= low + 1, (src.id, got, b - a)
        if src.node not in went_down:
            assert low <= got, (src.id, got, b - a)
            exact += 1
    assert exact > 0.9 * len(sc.sources)
    for aid, (a, b) in window.items():
        times = rq.loc[rq["app"] == aid, "arrival_s"]
        assert len(times) and times.min() >= a and times.max() < b, aid

    # the stress really happened
    events = events["kind"].value_counts()
    assert events.get("app_arrived") == 4 and events.get("app_departed") == 2
    assert events.get("node_failed", 0) > 50 and events.get("node_recovered", 0) > 50
    assert counts["failed"] > 0 and counts["ok"] > 0.5 * n
    assert res.meta["migrations"] >= 7 * 4  # every plan (3 s) moves something of each app
    lost = res.telemetry["delivered_s"].isna().mean()
    assert 0.15 < lost < 0.4  # 20 % dropped, plus samples of nodes that are down

    assert overcommitted(res, sc) == []
    report = {
        "arrived": n,
        **counts,
        "replicas": len(res.replicas),
        "failures": int(events.get("node_failed", 0)),
        "migrations": res.meta["migrations"],
        "wall_s": round(wall, 1),
    }
    print("soak:", report)  # shown with pytest -s


def test_the_overcommit_check_can_fail() -> None:
    """The sweep sees two 3-core replicas overlapping on a 4-core node, and only then."""
    node = SimpleNamespace(id="n", cores=4, memory=0.0)
    topo = SimpleNamespace(topology=SimpleNamespace(nodes=[node]))
    frame = pd.DataFrame(
        {
            "node": ["n", "n", "n"],
            "cpu": [3.0, 3.0, 1.0],
            "memory_bytes": [0.0, 0.0, 0.0],
            "created_s": [0.0, 5.0, 5.0],
            "removed_s": [5.0, None, None],
        }
    )
    res = SimpleNamespace(replicas=frame, meta={"horizon_s": 10.0})
    assert overcommitted(res, topo) == []  # type: ignore[arg-type]  # handover at t = 5
    frame.loc[0, "removed_s"] = 5.5
    assert overcommitted(res, topo) == ["n: cpu 7 > 4"]  # type: ignore[arg-type]
