"""Small scenario builders and helpers shared by the engine tests (``test_engine_*.py``).

Scenarios are built straight from the frozen model types, never from YAML, so the engine
tests do not depend on the loader. A :class:`Pin` policy places exactly where a test says and
can replay scripted actions from ``plan``; :func:`run` runs one scenario with telemetry off
unless asked. :func:`assert_mean_close` is the statistical check of the queueing tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

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
from simcontinuum.policy.api import Event
from simcontinuum.results import Results

GI = 2.0**30
INF = float("inf")


def mknode(nid: str, tier: str = "edge", cluster: str | None = None, **kw: Any) -> Node:
    """A node; its cluster defaults to its own id."""
    return Node(id=nid, tier=tier, cluster=cluster or nid, **kw)  # type: ignore[arg-type]


def topology(
    nodes: Sequence[Node], links: Sequence[Link] = (), registry: str | None = None
) -> Topology:
    """A topology whose clusters are read from the nodes, in order."""
    clusters: dict[str, tuple[str, ...]] = {}
    for n in nodes:
        clusters[n.cluster] = (*clusters.get(n.cluster, ()), n.id)
    return Topology(nodes=tuple(nodes), links=tuple(links), clusters=clusters, registry=registry)


def zero_link(a: str, b: str) -> Link:
    """A link that costs no time at all: zero latency, infinite bandwidth."""
    return Link(a, b, 0.0, INF)


def work(mean: float, dist: str = "constant", **kw: Any) -> Work:
    return Work(dist=dist, mean=mean, **kw)  # type: ignore[arg-type]


def comp(
    cid: str,
    mean: float = 0.0,
    dist: str = "constant",
    cpu: float = 0.1,
    *,
    cv: float = 1.0,
    values: tuple[float, ...] = (),
    **kw: Any,
) -> Component:
    """A component doing ``mean`` core-seconds of ``dist`` work per request."""
    return Component(id=cid, cpu=cpu, work=work(mean, dist, cv=cv, values=values), **kw)


def application(
    aid: str, components: Sequence[Component], calls: Iterable[Call] = (), **kw: Any
) -> Application:
    """An application rooted at its first component."""
    return Application(
        id=aid, entry=components[0].id, components=tuple(components), calls=tuple(calls), **kw
    )


def poisson(rate: float) -> Arrival:
    return Arrival(type="poisson", rate=rate)


def trace(*times: float) -> Arrival:
    return Arrival(type="trace", times=tuple(times))


def source(app: str, node: str, arrival: Arrival, sid: str | None = None, **kw: Any) -> Source:
    return Source(id=sid or f"{app}@{node}", app=app, node=node, arrival=arrival, **kw)


def scenario(
    nodes: Sequence[Node],
    apps: Sequence[Application],
    sources: Sequence[Source],
    *,
    links: Sequence[Link] = (),
    registry: str | None = None,
    duration: float = 100.0,
    **kw: Any,
) -> Scenario:
    """A scenario named ``test`` from its parts."""
    return Scenario(
        name="test",
        topology=topology(nodes, links, registry),
        applications=tuple(apps),
        sources=tuple(sources),
        duration=duration,
        **kw,
    )


class Pin:
    """Places each component exactly on the given nodes (for every application); ``script``
    maps a plan time to the actions ``plan`` returns then, ``on`` maps an event kind to the
    actions ``on_event`` returns. Every event seen is kept in ``events``."""

    name = "pin"

    def __init__(
        self,
        placement: Mapping[str, Sequence[str]],
        script: Mapping[float, list[Any]] | None = None,
        on: Mapping[str, list[Any]] | None = None,
    ) -> None:
        self.placement = {k: list(v) for k, v in placement.items()}
        self.script = dict(script or {})
        self.on = dict(on or {})
        self.events: list[Event] = []

    def place(self, app: Any, view: Any) -> dict[str, list[str]]:
        """``placement[component]``, or ``placement["app/component"]`` when given."""
        out: dict[str, list[str]] = {}
        for c in app.components:
            nodes = self.placement.get(f"{app.id}/{c.id}", self.placement.get(c.id))
            if nodes is not None:
                out[c.id] = list(nodes)
        return out

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        for t, actions in self.script.items():
            if abs(view.now - t) < 1e-9:
                return list(actions)
        return []

    def on_event(self, event: Event, view: Any) -> list[Any]:
        self.events.append(event)
        return list(self.on.get(event.kind, []))


def run(sc: Scenario, policy: Any, *, telemetry: bool = False, **kw: Any) -> Results:
    """Run ``sc`` under ``policy`` (telemetry off by default: faster, not under test)."""
    return Simulation(sc, policy, telemetry=telemetry, **kw).run()


def ok_latencies(res: Results) -> np.ndarray:
    """Latencies of the scored ``ok`` requests, in arrival order."""
    rq = res.requests
    sel = rq[(rq["status"] == "ok") & rq["scored"]].sort_values("arrival_s")
    return sel["latency_s"].to_numpy()


def batch_means(values: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Grand mean and its standard error by the method of batch means.

    Successive sojourn times of a queue are correlated, so the naive ``std/sqrt(n)`` is far
    too small. Cutting the run into ``batches`` consecutive batches, each much longer than
    the queue's relaxation time, makes the batch means nearly independent: their spread
    estimates the standard error honestly.
    """
    n = len(values) // batches * batches
    means = values[:n].reshape(batches, -1).mean(axis=1)
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(batches))


def assert_mean_close(
    values: np.ndarray, expected: float, *, z: float = 4.0, max_rel_se: float = 0.03
) -> None:
    """``values``' mean is within ``z`` batch-means standard errors of ``expected``.

    ``z = 4`` with 20 batches (Student t, 19 d.o.f.) leaves a false-alarm chance below 0.1 %
    for a correct engine; ``max_rel_se`` makes sure the run is long enough for the band to be
    tight (a few per cent of the target), so a wrong formula cannot hide inside it.
    """
    mean, se = batch_means(values)
    assert se <= max_rel_se * expected, f"run too short: SE {se:.4g} vs target {expected:.4g}"
    assert abs(mean - expected) <= z * se, (
        f"mean {mean:.5g} vs theory {expected:.5g} (SE {se:.3g}, {len(values)} samples)"
    )


def rich_scenario() -> Scenario:
    """A 60 s run of a small continuum (shared by the determinism and results tests).

    Every random consumer at once: four arrival kinds, four work distributions, random
    failures, lossy telemetry, image pulls, a gpu, egress, a fan-out DAG, an app arriving
    late and departing early."""
    edge = Constraints(tiers=frozenset({"edge", "cloud"}))
    nodes = [
        mknode(
            "c0",
            "cloud",
            "cloud",
            cores=16,
            memory=64 * GI,
            gpu=Gpu(speedup=5.0),
            price=Price(2.0, 0.04, "when_active"),
            power=Power(200.0, 500.0),
        ),
        mknode("e1", "edge", "site", cores=4, memory=8 * GI, price=Price(0.2, 0.0, "always")),
        mknode("e2", "edge", "site", cores=4, memory=8 * GI, power=Power(20.0, 60.0)),
        mknode("d1", "far_edge", "site"),
        mknode("d2", "far_edge", "site"),
    ]
    links = [
        Link("d1", "e1", 0.002, 1e8),
        Link("d2", "e2", 0.002, 1e8),
        Link("e1", "e2", 0.004, 1e9),
        Link("e1", "c0", 0.025, 1e9, egress_price_per_gb=0.09),
        Link("e2", "c0", 0.030, 1e9, egress_price_per_gb=0.09),
    ]
    shop = application(
        "shop",
        [
            comp(
                "front", 0.004, "exponential", 0.5, placement=edge, replicas_min=2, replicas_max=3
            ),
            comp("back", 0.010, "lognormal", 1.0, cv=2.0, placement=edge, image_size=2e8),
            comp("db", 0.003, "empirical", 1.0, values=(0.001, 0.01), placement=edge),
        ],
        [Call("front", "back", 2e4, 1e5), Call("back", "db", 1e3, 5e4)],
        slo=Slo(p95_latency=0.08, metric="latency_ms"),
    )
    video = application(
        "video",
        [
            comp("ingest", 0.002, "constant", 0.5, placement=edge),
            comp("detect", 0.050, "exponential", 2.0, accelerator="gpu", startup=1.0),
            comp("track", 0.005, "exponential", 0.5, placement=edge),
        ],
        [Call("ingest", "detect", 5e5, 1e3), Call("ingest", "track", 1e4, 1e3)],
        arrive_at=5.0,
        depart_at=50.0,
    )
    sources = [
        source("shop", "d1", poisson(30.0)),
        source("shop", "d2", Arrival(type="diurnal", mean_rate=20.0, amplitude=0.8, period=30.0)),
        source("shop", "e2", Arrival(type="onoff", rate=40.0, on=3.0, off=4.0), sid="burst"),
        source("video", "d2", Arrival(type="periodic", rate=15.0)),
    ]
    return scenario(
        nodes,
        [shop, video],
        sources,
        links=links,
        registry="c0",
        duration=60.0,
        warmup=5.0,
        seed=7,
        telemetry=Telemetry(interval=2.0, loss=0.2),
        control=Control(interval=5.0),
        random_failures=(RandomFailures(tier="edge", mtbf=25.0, mttr=4.0),),
    )


# Scripts that run inside the MLSysOps framework's own venv (tests/test_mlsysops_framework*.py
# start them in a subprocess); pytest must not import them here, doctests included.
collect_ignore = ["mlsysops_framework"]
