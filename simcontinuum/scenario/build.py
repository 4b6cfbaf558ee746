"""From a validated scenario document to the frozen domain types of :mod:`simcontinuum.model`.

Expansion rules (the file's shorthands become plain lists):
- a node group ``{prefix: cam, count: 3, ...}`` becomes nodes ``cam-0``, ``cam-1``, ``cam-2``
  of its cluster, after the cluster's own ``nodes``;
- a group link ``{group: cam, b: edge-0, ...}`` becomes one link per group member;
- a workload ``from_group`` becomes one source per group member;
- source ids are ``{app}@{node}``; a repeated id gets ``#2``, ``#3``, … in file order;
- a scripted link failure targets ``"a|b"`` in the orientation the link was declared.

These functions assume :mod:`simcontinuum.scenario.checks` found no problem; expansion helpers
used by the checks themselves (nodes, groups, links) tolerate unknown references by skipping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from simcontinuum.model import (
    Application,
    Arrival,
    Call,
    Component,
    Constraints,
    Control,
    Failure,
    Gpu,
    Link,
    Node,
    Power,
    Price,
    RandomFailures,
    Scenario,
    Scoring,
    Slo,
    Source,
    Telemetry,
    Topology,
    Work,
)
from simcontinuum.scenario.schema import (
    ApplicationDoc,
    ArrivalDoc,
    ComponentDoc,
    NodeFields,
    ScenarioDoc,
    SloDoc,
    WorkDoc,
    WorkloadDoc,
)
from simcontinuum.scenario.traces import TraceReader


@dataclass(frozen=True, slots=True)
class Expanded:
    """The topology with its shorthands expanded; each item keeps its document path."""

    nodes: tuple[tuple[str, Node], ...]
    groups: dict[str, tuple[str, ...]]  # group prefix -> member node ids
    links: tuple[tuple[str, Link], ...]

    def node_ids(self) -> dict[str, Node]:
        """Nodes by id (the first one where an id is repeated)."""
        out: dict[str, Node] = {}
        for _, node in self.nodes:
            out.setdefault(node.id, node)
        return out


def _node(fields: NodeFields, nid: str, cluster: str) -> Node:
    gpu = fields.gpu
    return Node(
        id=nid,
        tier=fields.tier,  # type: ignore[arg-type]  # validated against TIERS
        cluster=cluster,
        cores=fields.cores,
        speed=fields.speed,
        memory=fields.memory,
        labels=frozenset(fields.labels),
        location=fields.location,
        gpu=Gpu(gpu.model, gpu.count, gpu.speedup, gpu.memory) if gpu else None,
        price=Price(fields.price.per_hour, fields.price.per_core_hour, fields.price.billing),  # type: ignore[arg-type]
        power=Power(fields.power.idle_w, fields.power.max_w),
        max_queue=fields.max_queue,
    )


def expand(doc: ScenarioDoc) -> Expanded:
    """Expand node groups and group links (unknown groups expand to nothing)."""
    nodes: list[tuple[str, Node]] = []
    groups: dict[str, tuple[str, ...]] = {}
    for ci, cluster in enumerate(doc.infrastructure.clusters):
        base = f"infrastructure.clusters[{ci}]"
        for ni, nd in enumerate(cluster.nodes):
            nodes.append((f"{base}.nodes[{ni}]", _node(nd, nd.id, cluster.id)))
        for gi, group in enumerate(cluster.node_groups):
            members = tuple(f"{group.prefix}-{k}" for k in range(group.count))
            groups.setdefault(group.prefix, members)
            path = f"{base}.node_groups[{gi}]"
            nodes.extend((path, _node(group, nid, cluster.id)) for nid in members)
    links: list[tuple[str, Link]] = []
    for li, ld in enumerate(doc.infrastructure.links):
        ends = groups.get(ld.group, ()) if ld.group is not None else (ld.a,)
        for a in ends:
            if a is not None:
                link = Link(a, ld.b, ld.latency, ld.bandwidth, ld.egress_price_per_gb)
                links.append((f"infrastructure.links[{li}]", link))
    return Expanded(tuple(nodes), groups, tuple(links))


def slo(doc: SloDoc | None) -> Slo | None:
    """The model SLO of an ``slo:`` mapping."""
    if doc is None:
        return None
    return Slo(doc.p95_latency, doc.p99_latency, doc.mean_latency, doc.throughput, doc.metric)


def work(doc: WorkDoc) -> Work:
    """The model work distribution; ``empirical`` without ``mean`` gets the values' mean."""
    mean = doc.mean
    if mean is None:
        mean = sum(doc.values) / len(doc.values) if doc.values else 0.0
    cv = doc.cv if doc.cv is not None else 1.0
    return Work(doc.dist, mean, cv, tuple(doc.values))  # type: ignore[arg-type]


def component(doc: ComponentDoc) -> Component:
    """The model component; ``replicas.max`` defaults to ``max(min, 1)``."""
    rmax = doc.replicas.max if doc.replicas.max is not None else max(doc.replicas.min, 1)
    placement = Constraints(
        frozenset(doc.placement.tiers),
        frozenset(doc.placement.labels),
        doc.placement.node,
        doc.placement.cluster,
    )
    return Component(
        id=doc.id,
        cpu=doc.cpu,
        memory=doc.memory,
        image_size=doc.image_size,
        startup=doc.startup,
        work=work(doc.work),
        accelerator=doc.accelerator,
        placement=placement,
        replicas_min=doc.replicas.min,
        replicas_max=rmax,
        slo=slo(doc.slo),
        cpu_limit=doc.cpu_limit,
    )


def application(doc: ApplicationDoc) -> Application:
    """The model application; ``entry`` defaults to the first component."""
    return Application(
        id=doc.id,
        entry=doc.entry if doc.entry is not None else doc.components[0].id,
        components=tuple(component(c) for c in doc.components),
        calls=tuple(Call(c.src, c.to, c.request_size, c.response_size) for c in doc.calls),
        slo=slo(doc.slo),
        arrive_at=doc.arrive_at,
        depart_at=doc.depart_at,
    )


def arrival(doc: ArrivalDoc, times: tuple[float, ...] = (), path: str | None = None) -> Arrival:
    """The model arrival process; a trace carries its (already filtered, sorted) times."""
    rate = doc.rate if doc.rate is not None else 0.0
    return Arrival(
        type=doc.type,  # type: ignore[arg-type]  # validated against ARRIVAL_TYPES
        rate=rate,
        mean_rate=doc.mean_rate if doc.mean_rate is not None else 0.0,
        amplitude=doc.amplitude if doc.amplitude is not None else 0.0,
        period=doc.period if doc.period is not None else 86400.0,
        on=doc.on if doc.on is not None else 0.0,
        off=doc.off if doc.off is not None else 0.0,
        times=times,
        path=path,
    )


def source_nodes(doc: WorkloadDoc, groups: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The nodes a workload entry sends from (``from``, or every member of ``from_group``)."""
    if doc.src is not None:
        return (doc.src,)
    return groups.get(doc.from_group or "", ())


def sources(doc: ScenarioDoc, exp: Expanded, traces: TraceReader) -> tuple[Source, ...]:
    """One source per workload entry and sending node, with unique ids."""
    out: list[Source] = []
    used: dict[str, int] = {}
    for w in doc.workload:
        path = traces.resolve(w.arrival.path) if w.arrival.path is not None else None
        for node in source_nodes(w, exp.groups):
            times: tuple[float, ...] = ()
            if w.arrival.type == "trace" and w.arrival.path is not None:
                times = traces.times(w.arrival.path, w.app, node)
            sid = f"{w.app}@{node}"
            used[sid] = used.get(sid, 0) + 1
            if used[sid] > 1:
                sid = f"{sid}#{used[sid]}"
            arr = arrival(w.arrival, times, path)
            out.append(Source(sid, w.app, node, arr, w.request_size, w.response_size))
    return tuple(out)


def link_target(a: str, b: str, links: Iterable[Link]) -> str | None:
    """``"a|b"`` as the link between ``a`` and ``b`` was declared, or None if there is none."""
    for link in links:
        if {link.a, link.b} == {a, b}:
            return f"{link.a}|{link.b}"
    return None


def failures(
    doc: ScenarioDoc, links: Iterable[Link]
) -> tuple[tuple[Failure, ...], tuple[RandomFailures, ...]]:
    """Scripted and random failures."""
    links = tuple(links)
    scripted: list[Failure] = []
    randoms: list[RandomFailures] = []
    for f in doc.failures:
        if f.random is not None:
            r = f.random
            randoms.append(RandomFailures(r.tier, r.mtbf, r.mttr, r.cluster))
        elif f.node is not None:
            scripted.append(Failure(f.at or 0.0, "node", f.node, f.duration))
        elif f.cluster is not None:
            scripted.append(Failure(f.at or 0.0, "cluster", f.cluster, f.duration))
        elif f.link is not None:
            target = link_target(f.link[0], f.link[1], links) or "|".join(f.link)
            scripted.append(Failure(f.at or 0.0, "link", target, f.duration))
    return tuple(scripted), tuple(randoms)


def default_registry(doc: ScenarioDoc, exp: Expanded) -> str | None:
    """The declared registry, else the first cloud-tier node, else None."""
    if doc.infrastructure.registry is not None:
        return doc.infrastructure.registry
    return next((n.id for _, n in exp.nodes if n.tier == "cloud"), None)


def topology(doc: ScenarioDoc, exp: Expanded) -> Topology:
    """Nodes, links, clusters (id -> node ids in file order) and the registry."""
    clusters: dict[str, list[str]] = {}
    for _, node in exp.nodes:
        clusters.setdefault(node.cluster, []).append(node.id)
    for c in doc.infrastructure.clusters:
        clusters.setdefault(c.id, [])
    return Topology(
        nodes=tuple(n for _, n in exp.nodes),
        links=tuple(link for _, link in exp.links),
        clusters={cid: tuple(ids) for cid, ids in clusters.items()},
        registry=default_registry(doc, exp),
        contention=doc.infrastructure.network.contention,
    )


def scenario(
    doc: ScenarioDoc,
    exp: Expanded,
    traces: TraceReader,
    *,
    name: str,
    source_path: str | None,
    digest: str,
) -> Scenario:
    """The whole :class:`~simcontinuum.model.Scenario`."""
    topo = topology(doc, exp)
    scripted, randoms = failures(doc, topo.links)
    tel = doc.telemetry
    ctl = doc.control
    return Scenario(
        name=doc.name or name,
        topology=topo,
        applications=tuple(application(a) for a in doc.applications),
        sources=sources(doc, exp, traces),
        duration=doc.duration,
        warmup=doc.warmup,
        seed=doc.seed,
        version=1,
        telemetry=Telemetry(tel.interval, tel.collector or topo.registry, tel.loss),
        control=Control(ctl.interval, ctl.charge_decision_time, ctl.policy_timeout),
        failures=scripted,
        random_failures=randoms,
        scoring=Scoring(
            weights=doc.scoring.weights.model_dump(),
            reference_policy=doc.scoring.reference_policy,
            energy_price_per_kwh=doc.scoring.energy_price_per_kwh,
        ),
        source_path=source_path,
        digest=digest,
    )


__all__ = [
    "Expanded",
    "application",
    "arrival",
    "component",
    "default_registry",
    "expand",
    "failures",
    "link_target",
    "scenario",
    "slo",
    "source_nodes",
    "sources",
    "topology",
]
