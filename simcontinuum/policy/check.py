"""A public conformance check for policies, like Gymnasium's ``check_env``.

:func:`check_policy` builds a view of the *empty* continuum of a scenario (every node up,
nothing allocated), calls ``place`` once per application and reports everything the engine
would reject or a policy author would want to know: exceptions, malformed results, unknown
components or nodes, constraint and capacity violations, components left unplaced (as
warnings), and optional methods with the wrong shape.

Invariants: the check never raises for a misbehaving policy (problems are findings) and calls
nothing but ``place`` (once per application, in scenario order): it never calls ``reset``,
``plan`` or ``on_event``. A stateful policy (a round-robin cursor, a random generator) has
advanced exactly as those ``place`` calls advance it, so check a fresh instance or ``reset``
it before a run.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace

import networkx as nx

from simcontinuum.errors import PolicyError
from simcontinuum.model import Application, Arrival, Scenario, Topology
from simcontinuum.policy.api import (
    AppView,
    ClusterView,
    NodeView,
    capacity_violation,
    constraint_violation,
)
from simcontinuum.policy.tracebacks import policy_traceback

WARNING = "warning: "

# method -> the arguments the engine passes (positional)
_OPTIONAL_METHODS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("plan", ("view", "telemetry")),
    ("on_event", ("event", "view")),
    ("reset", ("rng",)),
)


def check_policy(policy: object, scenario: Scenario | str | os.PathLike[str]) -> list[str]:
    """Check that ``policy`` follows the policy contract on ``scenario``.

    Calls ``policy.place`` once for each application of the scenario, each time on a view of
    the empty continuum (the policy's own state advances as those calls advance it).

    Args:
        policy: a policy object, or a spec for :func:`~simcontinuum.policy.load_policy` as a
            string or path (``"first-fit"``, ``"examples/my_policy.py:NearestWithRoom"``).
        scenario: the scenario whose topology and applications to try, or the path of its
            YAML file.

    Returns:
        Findings, one line each; those starting with ``"warning: "`` are legal but suspect.
        An empty list means the policy conforms. :func:`explain` says what to do about one.

    Raises:
        ScenarioError: ``scenario`` is a path to a file that does not load.
    """
    if isinstance(scenario, str | os.PathLike):
        from simcontinuum.scenario import load_scenario

        scenario = load_scenario(scenario)
    if isinstance(policy, os.PathLike):
        policy = os.fspath(policy)
    if isinstance(policy, str):
        from simcontinuum.policy.registry import load_policy

        try:
            policy = load_policy(policy)
        except PolicyError as exc:
            return [str(exc)]
    findings = _check_methods(policy)
    if not callable(getattr(policy, "place", None)):
        return findings
    for app in scenario.applications:
        findings += _check_app(policy, app, scenario)
    return findings


def empty_view(scenario: Scenario, apps: Mapping[str, AppView] | None = None) -> ClusterView:
    """A view of ``scenario``'s continuum at time 0: every node up, nothing allocated."""
    topology = scenario.topology
    return ClusterView(
        now=0.0,
        nodes={n.id: NodeView.of(n) for n in topology.nodes},
        clusters=_clusters(topology),
        placements={},
        apps=dict(apps or {}),
        _latency=topology_latency(topology),
    )


def app_view(scenario: Scenario, app: Application) -> AppView:
    """``app`` with its sources' nodes and mean request rates from ``scenario``."""
    rates: dict[str, float] = defaultdict(float)
    for source in scenario.sources:
        if source.app == app.id:
            rates[source.node] += mean_rate(source.arrival, scenario.duration)
    return AppView(app, tuple(rates.items()))


def mean_rate(arrival: Arrival, duration: float) -> float:
    """The long-run request rate (per second) of an arrival process.

    >>> mean_rate(Arrival(type="onoff", rate=10.0, on=1.0, off=3.0), 60.0)
    2.5
    """
    if arrival.type == "diurnal":
        return arrival.mean_rate
    if arrival.type == "onoff" and arrival.on + arrival.off > 0:
        return arrival.rate * arrival.on / (arrival.on + arrival.off)
    if arrival.type == "trace":
        return len(arrival.times) / duration if duration > 0 else 0.0
    return arrival.rate


def topology_latency(topology: Topology) -> Callable[[str, str], float]:
    """``latency(a, b)``: min-latency path sum in seconds (``inf`` when unreachable).

    One Dijkstra per source node, cached inside the returned function.
    """
    graph = nx.Graph()
    graph.add_nodes_from(n.id for n in topology.nodes)
    for link in topology.links:
        old = graph.get_edge_data(link.a, link.b)
        if old is None or link.latency < old["latency"]:
            graph.add_edge(link.a, link.b, latency=link.latency)
    cache: dict[str, Mapping[str, float]] = {}

    def latency(a: str, b: str) -> float:
        if a == b:
            return 0.0
        if a not in graph or b not in graph:
            return float("inf")
        if a not in cache:
            cache[a] = nx.single_source_dijkstra_path_length(graph, a, weight="latency")
        return float(cache[a].get(b, float("inf")))

    return latency


# ----------------------------------------------------------------------------- helpers


def _clusters(topology: Topology) -> dict[str, tuple[str, ...]]:
    """The topology's clusters, completed with any node its cluster does not list."""
    clusters = {c: list(ids) for c, ids in topology.clusters.items()}
    for node in topology.nodes:
        members = clusters.setdefault(node.cluster, [])
        if node.id not in members:
            members.append(node.id)
    return {c: tuple(ids) for c, ids in clusters.items()}


def _check_methods(policy: object) -> list[str]:
    place = getattr(policy, "place", None)
    if not callable(place):
        return [f"{type(policy).__name__} has no callable place(app, view) method"]
    findings = _signature_problems("place", place, ("app", "view"))
    for method, args in _OPTIONAL_METHODS:
        fn = getattr(policy, method, None)
        if fn is None:
            continue
        if not callable(fn):
            findings.append(f"{method} is defined but not callable")
        else:
            findings += _signature_problems(method, fn, args)
    name = getattr(policy, "name", None)
    if name is not None and not (isinstance(name, str) and name):
        findings.append(f"name should be a non-empty string, got {name!r}")
    return findings


def _signature_problems(method: str, fn: Callable[..., object], args: tuple[str, ...]) -> list[str]:
    call = f"{method}({', '.join(args)})"
    if inspect.iscoroutinefunction(fn):
        return [f"{method} is async; the engine calls {call} synchronously"]
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some C callables have no signature: cannot tell
        return []
    try:
        signature.bind(*args)
    except TypeError:
        takes = f"{method}({', '.join(signature.parameters)})"
        return [f"{takes} cannot be called as {call}"]
    return []


def _check_app(policy: object, app: Application, scenario: Scenario) -> list[str]:
    av = app_view(scenario, app)
    view = empty_view(scenario, {app.id: av})
    try:
        result = policy.place(av, view)  # type: ignore[attr-defined]
    except Exception as exc:
        _, where = policy_traceback(exc)
        return [f"app '{app.id}': place raised {type(exc).__name__}: {exc}{where}"]
    return [_prefixed(p, f"app '{app.id}': ") for p in _placement_problems(app, result, view)]


def _prefixed(finding: str, prefix: str) -> str:
    """``prefix`` after the ``warning:`` marker, so warnings still start with it."""
    if finding.startswith(WARNING):
        return WARNING + prefix + finding[len(WARNING) :]
    return prefix + finding


def _placement_problems(app: Application, result: object, view: ClusterView) -> list[str]:
    if not isinstance(result, Mapping):
        return [f"place returned {type(result).__name__}, expected a dict {{component: [node]}}"]
    known = {c.id for c in app.components}
    used: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # node -> [cpu, memory]
    problems: list[str] = []
    for cid, nodes in result.items():
        if cid not in known:
            problems.append(f"unknown component {cid!r} (components: {', '.join(sorted(known))})")
        elif not isinstance(nodes, list):
            problems.append(f"component '{cid}': expected a list of node ids, got {nodes!r}")
        else:
            problems += _replica_problems(app, cid, nodes, view, used)
    return problems + _unplaced_warnings(app, result)


def _replica_problems(
    app: Application, cid: str, nodes: list[object], view: ClusterView, used: dict[str, list[float]]
) -> list[str]:
    comp = app.component(cid)
    problems: list[str] = []
    if len(nodes) > comp.replicas_max:
        problems.append(
            f"component '{cid}': {len(nodes)} replicas > replicas_max {comp.replicas_max}"
        )
    for nid in nodes:
        if not isinstance(nid, str) or nid not in view.nodes:
            close = difflib.get_close_matches(str(nid), list(view.nodes), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"component '{cid}': unknown node {nid!r}{hint}")
            continue
        node = view.node(nid)  # with what this placement already put there
        node = replace(
            node,
            cpu_allocated=node.cpu_allocated + used[nid][0],
            memory_allocated=node.memory_allocated + used[nid][1],
        )
        why = constraint_violation(comp, node) or capacity_violation(comp, node)
        if why is not None:
            problems.append(f"component '{cid}' on node '{nid}': {why}")
        used[nid][0] += comp.cpu
        used[nid][1] += comp.memory
    return problems


def _unplaced_warnings(app: Application, result: Mapping[object, object]) -> list[str]:
    warnings: list[str] = []
    for comp in app.components:
        nodes = result.get(comp.id)
        count = len(nodes) if isinstance(nodes, list) else 0
        if count == 0 and comp.replicas_min > 0:
            warnings.append(f"{WARNING}component '{comp.id}' left unplaced")
        elif 0 < count < comp.replicas_min:
            short = f"{count} replicas < replicas_min {comp.replicas_min}"
            warnings.append(f"{WARNING}component '{comp.id}': {short}")
    return warnings


# (pattern in a finding, what it means and how to fix it), first match wins
_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    (
        "place raised",
        "the engine records the exception, counts the call as no placement and "
        "drops every request to the app; fix the line named above",
    ),
    (
        "unknown node",
        "node ids are the keys of view.nodes; the engine rejects the replica and "
        "requests to the component are dropped",
    ),
    (
        "unknown component",
        "component ids are [c.id for c in app.components]; the entry is app.entry",
    ),
    (
        "expected a list of node ids",
        "place returns {component: [node, ...]}: one list entry per replica, even for one replica",
    ),
    ("expected a dict", "place returns {component: [node, ...]}, e.g. {'detector': ['edge-0']}"),
    (
        "pinned to node",
        "the scenario pins this component (placement.node): place it there or "
        "leave it to the engine's rejection",
    ),
    (
        "not in allowed tiers",
        "choose among view.eligible(component), which honours tiers, labels, pins and clusters",
    ),
    ("restricted to cluster", "choose among view.eligible(component)"),
    ("lacks labels", "choose among view.eligible(component)"),
    (
        "needs",
        "check view.can_host(component, node) and count what this call already put on "
        "the node (cpu/memory requests add up)",
    ),
    ("node is down", "skip nodes with view.node(id).up == False"),
    ("replicas_max", "a component has at most replicas_max replicas; the extra ones are rejected"),
    ("left unplaced", "every request to an unplaced component is dropped"),
    ("replicas_min", "fewer replicas than replicas_min is legal but the scenario asks for more"),
    (
        "cannot be called as",
        "the engine passes these arguments positionally; match the "
        "signature of simcontinuum.policy.Policy",
    ),
    (
        "is async",
        "the engine calls policies synchronously; MLSysOps async policies run as "
        "policy-<name>.py files instead",
    ),
    ("needs a class", "give path/to/file.py:ClassName"),
    ("unknown policy", "see 'simcontinuum policies' for the names"),
    ("has no callable place", "a policy needs place(app, view) -> {component: [node, ...]}"),
)


def explain(finding: str) -> str | None:
    """What a finding of :func:`check_policy` means for a run and how to fix it.

    >>> explain("app 'a': component 'x': unknown node 'edg-0'; did you mean 'edge-0'?")[:30]
    'node ids are the keys of view.'
    """
    for pattern, text in _EXPLANATIONS:
        if pattern in finding:
            return text
    return None


__all__ = ["app_view", "check_policy", "empty_view", "explain", "mean_rate", "topology_latency"]
