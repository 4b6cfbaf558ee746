"""Semantic checks: what a structurally valid scenario must also satisfy.

Each check is a plain function from the validated document (and its expanded topology) to a
list of ``path: message`` problems; :func:`check_scenario` runs them all, so a user sees every
problem at once. The checks establish the invariants :mod:`simcontinuum.model` promises:
unique ids; every reference resolves; call graphs are DAGs whose components are all reachable
from ``entry``; the topology is connected; every component fits at least one node; times are
consistent; trace files exist and parse.

A check never raises on a document that passed :mod:`simcontinuum.scenario.schema`; a check
skips what an earlier problem already made meaningless (an unknown pinned node is reported
once, not again as "fits no node").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel

from simcontinuum.model import Node
from simcontinuum.scenario import build
from simcontinuum.scenario.problems import did_you_mean
from simcontinuum.scenario.schema import (
    ARRIVAL_KEYS,
    ApplicationDoc,
    ComponentDoc,
    NodeFields,
    ScenarioDoc,
    WorkDoc,
    WorkloadDoc,
)
from simcontinuum.scenario.traces import TraceError, TraceReader

MAX_NAMES_SHOWN = 10
MAX_TICKS = 10_000_000  # telemetry samples or control calls over the horizon
MAX_RANDOM_FAILURES = 1_000_000  # expected random node failures over the horizon


@dataclass(frozen=True, slots=True)
class Context:
    """What every check may need: the document, its expansion and the ids it declares."""

    doc: ScenarioDoc
    exp: build.Expanded
    nodes: dict[str, Node]
    clusters: frozenset[str]
    traces: TraceReader


def names(items: Iterable[str], limit: int = MAX_NAMES_SHOWN) -> str:
    """A short list of names for a message.

    >>> names(["a", "b"]), names([str(i) for i in range(12)], limit=3)
    ('a, b', '0, 1, 2 (and 9 more)')
    """
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _unknown(path: str, what: str, value: str, known: Iterable[str]) -> str:
    return f"{path}: unknown {what} '{value}'{did_you_mean(value, known)}"


def _duplicates(pairs: Iterable[tuple[str, str]], what: str) -> list[str]:
    """``(path, id)`` pairs -> a problem for every id seen before."""
    first: dict[str, str] = {}
    out: list[str] = []
    for path, ident in pairs:
        if ident in first:
            out.append(f"{path}: duplicate {what} id '{ident}' (first declared at {first[ident]})")
        else:
            first[ident] = path
    return out


def check_ids(ctx: Context) -> list[str]:
    """Node, cluster, group, application and component ids are unique."""
    infra = ctx.doc.infrastructure
    out = _duplicates(((p, n.id) for p, n in ctx.exp.nodes), "node")
    out += _duplicates(
        ((f"infrastructure.clusters[{i}]", c.id) for i, c in enumerate(infra.clusters)), "cluster"
    )
    groups = [
        (f"infrastructure.clusters[{i}].node_groups[{j}].prefix", g.prefix)
        for i, c in enumerate(infra.clusters)
        for j, g in enumerate(c.node_groups)
    ]
    out += _duplicates(groups, "node group")
    apps = ctx.doc.applications
    out += _duplicates(((f"applications[{i}]", a.id) for i, a in enumerate(apps)), "application")
    for i, app in enumerate(apps):
        comps = ((f"applications[{i}].components[{j}]", c.id) for j, c in enumerate(app.components))
        out += _duplicates(comps, "component")
    if not ctx.exp.nodes:
        out.append("infrastructure.clusters: declare at least one node")
    return out


def check_links(ctx: Context) -> list[str]:
    """Link ends name known nodes or groups; no self-links, no two links between one pair."""
    out: list[str] = []
    for i, ld in enumerate(ctx.doc.infrastructure.links):
        path = f"infrastructure.links[{i}]"
        if (ld.a is None) == (ld.group is None):
            out.append(f"{path}: give exactly one of 'a' (a node) or 'group' (a node group)")
        if ld.a is not None and ld.a not in ctx.nodes:
            out.append(_unknown(f"{path}.a", "node", ld.a, ctx.nodes))
        if ld.group is not None and ld.group not in ctx.exp.groups:
            out.append(_unknown(f"{path}.group", "node group", ld.group, ctx.exp.groups))
        if ld.b not in ctx.nodes:
            out.append(_unknown(f"{path}.b", "node", ld.b, ctx.nodes))
    seen: dict[frozenset[str], str] = {}
    for path, link in ctx.exp.links:
        pair = frozenset((link.a, link.b))
        if len(pair) == 1:
            out.append(f"{path}: a link from '{link.a}' to itself; remove it")
        elif pair in seen and seen[pair] != path:
            out.append(
                f"{path}: a second link between '{link.a}' and '{link.b}' "
                f"(first at {seen[pair]}); keep one"
            )
        seen.setdefault(pair, path)
    return out


def check_connected(ctx: Context) -> list[str]:
    """Every node can reach the registry (or the first node) over the links."""
    if not ctx.nodes:
        return []
    start = build.default_registry(ctx.doc, ctx.exp)
    if start not in ctx.nodes:
        start = next(iter(ctx.nodes))
    adjacent: dict[str, list[str]] = {nid: [] for nid in ctx.nodes}
    for _, link in ctx.exp.links:
        if link.a in adjacent and link.b in adjacent:
            adjacent[link.a].append(link.b)
            adjacent[link.b].append(link.a)
    reached = {start}
    frontier = [start]
    while frontier:
        for nxt in adjacent[frontier.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    lost = [nid for nid in ctx.nodes if nid not in reached]
    if not lost:
        return []
    return [
        f"infrastructure.links: {len(lost)} node(s) cannot be reached from '{start}' over the "
        f"links: {names(lost)}; add links to connect them"
    ]


def check_references(ctx: Context) -> list[str]:
    """Registry, collector, pinned placements and clusters name declared things."""
    out: list[str] = []
    registry = ctx.doc.infrastructure.registry
    if registry is not None and registry not in ctx.nodes:
        out.append(_unknown("infrastructure.registry", "node", registry, ctx.nodes))
    collector = ctx.doc.telemetry.collector
    if collector is not None and collector not in ctx.nodes:
        out.append(_unknown("telemetry.collector", "node", collector, ctx.nodes))
    for i, app in enumerate(ctx.doc.applications):
        for j, comp in enumerate(app.components):
            path = f"applications[{i}].components[{j}].placement"
            node, cluster = comp.placement.node, comp.placement.cluster
            if node is not None and node not in ctx.nodes:
                out.append(_unknown(f"{path}.node", "node", node, ctx.nodes))
            if cluster is not None and cluster not in ctx.clusters:
                out.append(_unknown(f"{path}.cluster", "cluster", cluster, ctx.clusters))
    return out


def _find_cycle(ids: list[str], edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the directed graph as ``[a, b, ..., a]``, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in ids:
        if root in state:
            continue
        path: list[str] = [root]
        state[root] = 1
        stack = [iter(edges.get(root, []))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, [])))
    return None


def _reachable(entry: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {entry}
    frontier = [entry]
    while frontier:
        for nxt in edges.get(frontier.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def check_call_graph(i: int, app: ApplicationDoc) -> list[str]:
    """Calls and entry name components; the call graph is a DAG reaching every component."""
    base = f"applications[{i}]"
    ids = [c.id for c in app.components]
    out: list[str] = []
    if app.entry is not None and app.entry not in ids:
        out.append(_unknown(f"{base}.entry", "component", app.entry, ids))
    edges: dict[str, list[str]] = {}
    for k, call in enumerate(app.calls):
        for key, cid in (("from", call.src), ("to", call.to)):
            if cid not in ids:
                out.append(_unknown(f"{base}.calls[{k}].{key}", "component", cid, ids))
        if call.src in ids and call.to in ids:
            edges.setdefault(call.src, []).append(call.to)
    if not ids:
        return [*out, f"{base}.components: declare at least one component"]
    cycle = _find_cycle(ids, edges)
    if cycle is not None:
        return [*out, f"{base}.calls: the call graph has a cycle: {' -> '.join(cycle)}"]
    entry = app.entry if app.entry in ids else None
    if entry is None and app.entry is None:
        entry = ids[0]
    if entry is not None:
        lost = [cid for cid in ids if cid not in _reachable(entry, edges)]
        if lost:
            out.append(
                f"{base}.components: not reachable from entry '{entry}' over the calls: "
                f"{names(lost)}; call them or remove them"
            )
    return out


def _human(nbytes: float) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:g}{unit}"
    return f"{nbytes:g}B"


def _constraints(comp: ComponentDoc) -> list[tuple[str, Callable[[Node], bool]]]:
    """The component's constraints in the order they are applied, each with a name."""
    p = comp.placement
    rules: list[tuple[str, Callable[[Node], bool]]] = []
    if p.tiers:
        rules.append((f"tiers [{', '.join(p.tiers)}]", lambda n: n.tier in p.tiers))
    if p.labels:
        rules.append((f"labels [{', '.join(p.labels)}]", lambda n: set(p.labels) <= n.labels))
    if p.node is not None:
        rules.append((f"pinned node '{p.node}'", lambda n: n.id == p.node))
    if p.cluster is not None:
        rules.append((f"cluster '{p.cluster}'", lambda n: n.cluster == p.cluster))
    rules.append((f"cpu {comp.cpu:g} cores", lambda n: n.cores >= comp.cpu))
    rules.append(
        (f"memory {_human(comp.memory)}", lambda n: n.memory == 0 or n.memory >= comp.memory)
    )
    return rules


def _fit_problem(comp: ComponentDoc, candidates: list[Node]) -> str | None:
    """Which constraint leaves no node, or None if some node fits (or there is no node)."""
    if not candidates:
        return None  # reported by check_ids
    applied: list[str] = []
    for name, rule in _constraints(comp):
        kept = [n for n in candidates if rule(n)]
        if kept:
            candidates, applied = kept, [*applied, name]
            continue
        n = len(candidates)
        scope = f"all {n} node{'s' if n != 1 else ''}"
        if applied:
            scope += f" left by {' and '.join(applied)}"
        detail = ""
        if name.startswith("cpu"):
            detail = f" (the most any has is {max(c.cores for c in candidates)})"
        elif name.startswith("memory"):
            detail = f" (the most any has is {_human(max(c.memory for c in candidates))})"
        return f"{name} excludes {scope}{detail}"
    return None


def check_fits(ctx: Context) -> list[str]:
    """Every component fits at least one node; else name the constraint that excludes all."""
    out: list[str] = []
    for i, app in enumerate(ctx.doc.applications):
        for j, comp in enumerate(app.components):
            p = comp.placement
            if (p.node is not None and p.node not in ctx.nodes) or (
                p.cluster is not None and p.cluster not in ctx.clusters
            ):
                continue  # reported by check_references
            problem = _fit_problem(comp, list(ctx.nodes.values()))
            if problem:
                out.append(f"applications[{i}].components[{j}]: fits no node: {problem}")
    return out


def check_component(path: str, comp: ComponentDoc) -> list[str]:
    """Replica range and work distribution are consistent."""
    out: list[str] = []
    rmax = comp.replicas.max
    if rmax is not None and rmax < 1:
        out.append(f"{path}.replicas.max: expected at least 1, got {rmax}")
    elif rmax is not None and rmax < comp.replicas.min:
        out.append(f"{path}.replicas: min {comp.replicas.min} is more than max {rmax}")
    if comp.cpu_limit is not None and comp.cpu_limit < comp.cpu:
        out.append(
            f"{path}.cpu_limit: {comp.cpu_limit:g} is less than cpu {comp.cpu:g} (a limit is "
            "at least the request, as Kubernetes requires); raise cpu_limit or lower cpu"
        )
    return out + check_work(f"{path}.work", comp.work)


def check_work(path: str, w: WorkDoc) -> list[str]:
    """``mean`` for constant/exponential/lognormal, ``values`` only for empirical."""
    out: list[str] = []
    given = w.model_fields_set
    if w.dist == "empirical":
        if not w.values:
            out.append(f"{path}.values: dist 'empirical' needs a non-empty list of values")
        if "mean" in given:
            out.append(f"{path}.mean: not used by dist 'empirical' (it draws from values)")
    else:
        if "values" in given:
            out.append(f"{path}.values: only used by dist 'empirical', not '{w.dist}'")
        if w.dist in ("exponential", "lognormal") and w.mean is None:
            out.append(f"{path}.mean: required for dist '{w.dist}', e.g. mean: 20ms")
    if "cv" in given and w.dist != "lognormal":
        out.append(f"{path}.cv: only used by dist 'lognormal', not '{w.dist}'")
    return out


def check_accelerators(ctx: Context) -> list[str]:
    """A component's ``accelerator`` is ``gpu`` (any GPU; no speed-up where there is none)
    or the ``model`` of some node's GPU. Any other name (``tpu``) would never speed anything
    up, so it is an error rather than a silent GPU speed-up."""
    offered = ["gpu", *sorted({n.gpu.model for n in ctx.nodes.values() if n.gpu is not None})]
    out: list[str] = []
    for i, app in enumerate(ctx.doc.applications):
        for j, comp in enumerate(app.components):
            acc = comp.accelerator
            if acc is None or acc in offered:
                continue
            out.append(
                f"applications[{i}].components[{j}].accelerator: {acc!r} is not offered by "
                f"any node; nodes offer {', '.join(repr(o) for o in offered)} ('gpu' = any "
                f"GPU, a model name = only that model){did_you_mean(acc, offered)}"
            )
    return out


def check_applications(ctx: Context) -> list[str]:
    """Per application: call graph, components, arrival/departure times."""
    out: list[str] = []
    for i, app in enumerate(ctx.doc.applications):
        out += check_call_graph(i, app)
        for j, comp in enumerate(app.components):
            out += check_component(f"applications[{i}].components[{j}]", comp)
        if app.depart_at is not None and app.depart_at <= app.arrive_at:
            out.append(
                f"applications[{i}].depart_at: must be later than arrive_at "
                f"({app.arrive_at:g}s), got {app.depart_at:g}s"
            )
    return out


def check_arrival(path: str, w: WorkloadDoc, ctx: Context) -> list[str]:
    """The keys an arrival type needs are there, others are not; a trace file reads."""
    arr = w.arrival
    required, optional = ARRIVAL_KEYS[arr.type]
    given = arr.model_fields_set - {"type"}
    out = [
        f"{path}.{key}: required for type '{arr.type}'"
        for key in required
        if getattr(arr, key) is None
    ]
    for key in sorted(given - set(required) - set(optional)):
        uses = ", ".join(required + optional)
        out.append(f"{path}.{key}: not used by type '{arr.type}' (it uses: {uses})")
    if arr.type == "trace" and arr.path is not None:
        out += _check_trace(f"{path}.path", arr.path, w, ctx)
    return out


def _check_trace(path: str, trace: str, w: WorkloadDoc, ctx: Context) -> list[str]:
    try:
        ctx.traces.rows(trace)
        nodes = build.source_nodes(w, ctx.exp.groups)
        if nodes and not any(ctx.traces.times(trace, w.app, n) for n in nodes):
            return [f"{path}: '{trace}' has no rows for app '{w.app}' from {names(nodes, 3)}"]
    except TraceError as err:
        return [f"{path}: {err}"]
    return []


def check_workload(ctx: Context) -> list[str]:
    """Each entry names a known app and exactly one known sender, and a valid arrival."""
    out: list[str] = []
    apps = [a.id for a in ctx.doc.applications]
    for i, w in enumerate(ctx.doc.workload):
        path = f"workload[{i}]"
        if w.app not in apps:
            out.append(_unknown(f"{path}.app", "application", w.app, apps))
        if (w.src is None) == (w.from_group is None):
            out.append(f"{path}: give exactly one of 'from' (a node) or 'from_group' (a group)")
        if w.src is not None and w.src not in ctx.nodes:
            out.append(_unknown(f"{path}.from", "node", w.src, ctx.nodes))
        if w.from_group is not None and w.from_group not in ctx.exp.groups:
            out.append(_unknown(f"{path}.from_group", "node group", w.from_group, ctx.exp.groups))
        out += check_arrival(f"{path}.arrival", w, ctx)
    return out


def check_failures(ctx: Context) -> list[str]:
    """Scripted failures name one known node, link or cluster; random ones stand alone."""
    out: list[str] = []
    links = [link for _, link in ctx.exp.links]
    for i, f in enumerate(ctx.doc.failures):
        path = f"failures[{i}]"
        targets = [k for k in ("node", "link", "cluster") if getattr(f, k) is not None]
        if f.random is not None:
            extra = [k for k in ("at", "node", "link", "cluster", "for") if k in _given(f)]
            if extra:
                out.append(f"{path}: a random failure takes only 'random: {{...}}', not {extra}")
            rc = f.random.cluster
            if rc is not None and rc not in ctx.clusters:
                out.append(_unknown(f"{path}.random.cluster", "cluster", rc, ctx.clusters))
            continue
        if f.at is None:
            out.append(f"{path}.at: required, e.g. {{at: 300s, node: edge-0, for: 60s}}")
        if len(targets) != 1:
            out.append(f"{path}: give exactly one of node, link or cluster (or random: {{...}})")
        if f.node is not None and f.node not in ctx.nodes:
            out.append(_unknown(f"{path}.node", "node", f.node, ctx.nodes))
        if f.cluster is not None and f.cluster not in ctx.clusters:
            out.append(_unknown(f"{path}.cluster", "cluster", f.cluster, ctx.clusters))
        if f.link is not None and build.link_target(*f.link, links) is None:
            out.append(f"{path}.link: no link between '{f.link[0]}' and '{f.link[1]}'")
    return out


def _given(model: BaseModel) -> set[str]:
    """The keys given in the file (aliases), for messages."""
    fields = type(model).model_fields
    return {fields[name].alias or name for name in model.model_fields_set}


def check_nodes(ctx: Context) -> list[str]:
    """Power models are sane (``max_w >= idle_w``)."""
    out: list[str] = []
    for ci, cluster in enumerate(ctx.doc.infrastructure.clusters):
        items: list[tuple[str, NodeFields]] = [
            (f"nodes[{k}]", n) for k, n in enumerate(cluster.nodes)
        ]
        items += [(f"node_groups[{k}]", g) for k, g in enumerate(cluster.node_groups)]
        for where, fields in items:
            power = fields.power
            if power.max_w < power.idle_w:
                out.append(
                    f"infrastructure.clusters[{ci}].{where}.power.max_w: must be at least "
                    f"idle_w ({power.idle_w:g}), got {power.max_w:g}"
                )
    return out


def check_times(ctx: Context) -> list[str]:
    """Warm-up ends before the horizon."""
    doc = ctx.doc
    if doc.warmup >= doc.duration:
        return [f"warmup: must be shorter than duration ({doc.duration:g}s), got {doc.warmup:g}s"]
    return []


def check_volume(ctx: Context) -> list[str]:
    """Periodic work and random failures stay countable: an interval of nanoseconds or an
    MTBF of microseconds would make a run that never ends or exhausts memory."""
    doc = ctx.doc
    out: list[str] = []
    for path, interval, what in (
        ("telemetry.interval", doc.telemetry.interval, "samples"),
        ("control.interval", doc.control.interval, "policy calls"),
    ):
        if interval is not None and doc.duration / interval > MAX_TICKS:
            out.append(
                f"{path}: {interval:g}s makes {doc.duration / interval:.3g} {what} over the "
                f"{doc.duration:g}s horizon, more than {MAX_TICKS}; use a longer interval"
            )
    for i, f in enumerate(doc.failures):
        r = f.random
        if r is None:
            continue
        n = sum(
            1
            for node in ctx.nodes.values()
            if (r.tier is None or node.tier == r.tier)
            and (r.cluster is None or node.cluster == r.cluster)
        )
        expected = n * doc.duration / (r.mtbf + r.mttr)
        if expected > MAX_RANDOM_FAILURES:
            out.append(
                f"failures[{i}].random: about {expected:.3g} failures expected over the "
                f"{doc.duration:g}s horizon on {n} node(s), more than {MAX_RANDOM_FAILURES}; "
                "raise mtbf"
            )
    return out


CHECKS: tuple[Callable[[Context], list[str]], ...] = (
    check_times,
    check_volume,
    check_ids,
    check_nodes,
    check_links,
    check_connected,
    check_references,
    check_applications,
    check_accelerators,
    check_fits,
    check_workload,
    check_failures,
)


def check_scenario(doc: ScenarioDoc, exp: build.Expanded, traces: TraceReader) -> list[str]:
    """Run every check and return all problems (an empty list: the scenario is valid)."""
    clusters = frozenset(c.id for c in doc.infrastructure.clusters)
    ctx = Context(doc, exp, exp.node_ids(), clusters, traces)
    out: list[str] = []
    for check in CHECKS:
        out += check(ctx)
    return out


__all__ = ["CHECKS", "Context", "check_scenario", "names"]
