"""The policy hook: what a policy sees (read-only views) and what it may ask for (actions).

A policy is any object with ``place(app, view) -> {component: [node, ...]}``; ``plan`` and
``on_event`` are optional (see :class:`Policy`). Policies never touch the engine: they get
frozen snapshots (:class:`ClusterView`, :class:`AppView`) and return plain data, which the
engine validates (capacity, constraints, node up) and records with an outcome and a reason.
An invalid decision is rejected and logged; it never crashes the run.

Invariants: views are immutable snapshots taken at the time of the call; mutating what a
policy returns after the call has no effect. Immutable means: every public attribute of a
view is a frozen dataclass, a tuple, a frozenset or a read-only mapping
(:class:`types.MappingProxyType` / :class:`~simcontinuum.model.FrozenDict`), so
``view.clusters.clear()``, ``view.nodes["n"] = ...`` or ``view.now = 0`` raise, and the
lists and frames methods return are fresh copies. Private attributes (a leading underscore)
and function internals are the engine's; against code that goes looking for them on purpose
the protection is the isolated boundary (:mod:`simcontinuum.boundary`), not Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from simcontinuum.model import (
    Application,
    Call,
    Component,
    FrozenDict,
    Gpu,
    Node,
    Power,
    Price,
    Slo,
    Source,
)

if TYPE_CHECKING:
    import pandas as pd

Placement = dict[str, list[str]]
"""``{component id: [node id, ...]}``: one replica per entry (a node may repeat)."""


# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Deploy:
    """Start one more replica of ``component`` on ``node``."""

    app: str
    component: str
    node: str


@dataclass(frozen=True, slots=True)
class Remove:
    """Drain one replica of ``component`` on ``node`` (no new work; its queue finishes)."""

    app: str
    component: str
    node: str


@dataclass(frozen=True, slots=True)
class Move:
    """Deploy on ``dst``, then drain the replica on ``src`` once the new one runs."""

    app: str
    component: str
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class Scale:
    """Set the number of replicas of ``component`` (new ones go to the least-allocated
    eligible node; the newest are drained first)."""

    app: str
    component: str
    replicas: int


@dataclass(frozen=True, slots=True)
class ChangeSpec:
    """Re-create the replica on ``node`` with new requests and/or image."""

    app: str
    component: str
    node: str
    cpu: float | None = None
    memory: float | None = None
    image: str | None = None


Action = Deploy | Remove | Move | Scale | ChangeSpec
ACTION_TYPES: tuple[type, ...] = (Deploy, Remove, Move, Scale, ChangeSpec)


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened which a policy may react to in ``on_event``.

    ``kind`` is one of ``node_failed``, ``node_recovered``, ``link_failed``,
    ``link_recovered``, ``cluster_failed``, ``cluster_recovered``, ``app_arrived``,
    ``app_departed``, ``replica_lost``. ``target`` names the node, link (``"a|b"``), cluster
    or application; ``lost`` lists ``(app, component)`` of replicas lost with it.
    """

    time: float
    kind: str
    target: str
    lost: tuple[tuple[str, str], ...] = ()


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class NodeView:
    """A read-only snapshot of one node."""

    id: str
    tier: str
    cluster: str
    cores: int
    speed: float
    memory: float  # bytes; 0 = not declared (unlimited)
    labels: frozenset[str]
    location: tuple[float, float] | None
    gpu: Gpu | None
    price: Price
    power: Power
    up: bool
    cpu_allocated: float
    memory_allocated: float
    replicas: tuple[tuple[str, str], ...]  # (app, component) of replicas not yet gone

    @property
    def cpu_free(self) -> float:
        """Cores not reserved by replicas (0 while down)."""
        return max(0.0, self.cores - self.cpu_allocated) if self.up else 0.0

    @property
    def memory_free(self) -> float:
        """Bytes not reserved (``inf`` when memory is not declared; 0 while down)."""
        if not self.up:
            return 0.0
        return float("inf") if self.memory <= 0 else max(0.0, self.memory - self.memory_allocated)

    @classmethod
    def of(
        cls,
        node: Node,
        *,
        up: bool = True,
        cpu_allocated: float = 0.0,
        memory_allocated: float = 0.0,
        replicas: tuple[tuple[str, str], ...] = (),
    ) -> NodeView:
        """A view of a model node with the given live state."""
        return cls(
            id=node.id,
            tier=node.tier,
            cluster=node.cluster,
            cores=node.cores,
            speed=node.speed,
            memory=node.memory,
            labels=node.labels,
            location=node.location,
            gpu=node.gpu,
            price=node.price,
            power=node.power,
            up=up,
            cpu_allocated=cpu_allocated,
            memory_allocated=memory_allocated,
            replicas=replicas,
        )


@dataclass(frozen=True, slots=True)
class AppView:
    """An application as a policy sees it: its DAG, constraints, SLO and where its load
    comes from (``sources``: source node ids with their request rate per second)."""

    app: Application
    sources: tuple[tuple[str, float], ...] = ()

    @property
    def id(self) -> str:
        return self.app.id

    @property
    def entry(self) -> str:
        return self.app.entry

    @property
    def components(self) -> tuple[Component, ...]:
        return self.app.components

    @property
    def calls(self) -> tuple[Call, ...]:
        return self.app.calls

    @property
    def slo(self) -> Slo | None:
        return self.app.slo

    def component(self, cid: str) -> Component:
        """The component called ``cid``."""
        return self.app.component(cid)

    def callers(self, cid: str) -> tuple[str, ...]:
        """Components that call ``cid`` (empty for the entry)."""
        return tuple(c.src for c in self.app.calls if c.dst == cid)

    def order(self) -> list[str]:
        """Component ids in call order: the entry first, each callee after its callers."""
        seen: list[str] = []
        frontier = [self.app.entry]
        while frontier:
            cid = frontier.pop(0)
            if cid in seen:
                continue
            if all(p in seen for p in self.callers(cid)) or not seen:
                seen.append(cid)
                frontier.extend(c.dst for c in self.app.callees(cid))
            else:
                frontier.append(cid)
        seen += [c.id for c in self.app.components if c.id not in seen]
        return seen


def constraint_violation(component: Component, node: NodeView | Node) -> str | None:
    """Why ``node`` may never host ``component`` (tiers, labels, pinned node, cluster), or
    ``None`` when it may. Capacity and up/down are not checked here. (An ``accelerator`` is
    an affinity, not a constraint: the component runs faster where the node has one.)

    >>> from simcontinuum.model import Constraints
    >>> n = Node(id="e0", tier="edge", cluster="a", labels=frozenset({"x86"}))
    >>> c = Component(id="det", placement=Constraints(tiers=frozenset({"cloud"})))
    >>> constraint_violation(c, n)
    "tier 'edge' not in allowed tiers ['cloud']"
    """
    p = component.placement
    if p.node is not None and node.id != p.node:
        return f"component is pinned to node '{p.node}'"
    if p.tiers and node.tier not in p.tiers and "*" not in p.tiers:
        return f"tier '{node.tier}' not in allowed tiers {sorted(p.tiers)}"
    if p.cluster is not None and node.cluster != p.cluster:
        return f"component is restricted to cluster '{p.cluster}'"
    missing = p.labels - node.labels
    if missing:
        return f"node lacks labels {sorted(missing)}"
    return None


def capacity_violation(
    component: Component, node: NodeView, cpu: float | None = None, memory: float | None = None
) -> str | None:
    """Why ``node`` cannot admit one more replica of ``component`` now, or ``None``."""
    cpu = component.cpu if cpu is None else cpu
    memory = component.memory if memory is None else memory
    if not node.up:
        return "node is down"
    if cpu > node.cpu_free + 1e-9:
        return f"needs {cpu:g} cpu, node has {node.cpu_free:g} free of {node.cores}"
    if memory > node.memory_free + 1e-6:
        return (
            f"needs {memory / 2**20:.0f}Mi memory, node has {node.memory_free / 2**20:.0f}Mi free"
        )
    return None


def _read_only(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """``value`` as a mapping nobody can change through (no copy)."""
    if isinstance(value, MappingProxyType | FrozenDict):
        return value
    return MappingProxyType(value)


@dataclass(frozen=True, slots=True)
class ClusterView:
    """A read-only snapshot of the continuum at ``now``.

    Attributes:
        now: simulated time in seconds.
        nodes: node id -> :class:`NodeView`, in scenario order.
        clusters: cluster id -> node ids.
        placements: app id -> component id -> node ids of its live replicas (one per replica,
            including replicas still starting; draining ones are left out).
        apps: app id -> :class:`AppView` of the applications present now.
    """

    now: float
    nodes: Mapping[str, NodeView]
    clusters: Mapping[str, tuple[str, ...]]
    placements: Mapping[str, Mapping[str, tuple[str, ...]]]
    apps: Mapping[str, AppView]
    _latency: Callable[[str, str], float] = field(repr=False)

    def __post_init__(self) -> None:
        # Read-only wrappers, not copies: the engine builds fresh dicts for every view and
        # wrapping costs nothing per node.
        object.__setattr__(self, "nodes", _read_only(self.nodes))
        object.__setattr__(self, "clusters", _read_only(self.clusters))
        object.__setattr__(self, "apps", _read_only(self.apps))
        placements = self.placements
        if not isinstance(placements, MappingProxyType | FrozenDict):
            placements = MappingProxyType({k: _read_only(v) for k, v in placements.items()})
        object.__setattr__(self, "placements", placements)

    def node(self, nid: str) -> NodeView:
        """The node called ``nid`` (KeyError if unknown)."""
        return self.nodes[nid]

    def latency(self, a: str, b: str) -> float:
        """One-way min-latency path latency between two nodes, seconds (``inf``: no route)."""
        return self._latency(a, b)

    def eligible(self, component: Component) -> list[str]:
        """Up nodes whose constraints allow ``component`` (capacity not checked)."""
        return [
            n.id for n in self.nodes.values() if n.up and constraint_violation(component, n) is None
        ]

    def can_host(self, component: Component, nid: str) -> bool:
        """Whether ``nid`` satisfies the constraints and has room for one more replica."""
        n = self.nodes[nid]
        return (
            constraint_violation(component, n) is None and capacity_violation(component, n) is None
        )

    def nodes_frame(self) -> pd.DataFrame:
        """One row per node: the columns of :class:`NodeView` flattened (for ML features)."""
        import pandas as pd

        rows = []
        for n in self.nodes.values():
            rows.append(
                {
                    "node": n.id,
                    "tier": n.tier,
                    "cluster": n.cluster,
                    "cores": n.cores,
                    "speed": n.speed,
                    "memory_bytes": n.memory,
                    "gpu_speedup": n.gpu.speedup if n.gpu else None,
                    "price_per_hour": n.price.per_hour,
                    "price_per_core_hour": n.price.per_core_hour,
                    "billing": n.price.billing,
                    "up": n.up,
                    "cpu_allocated": n.cpu_allocated,
                    "cpu_free": n.cpu_free,
                    "memory_allocated_bytes": n.memory_allocated,
                    "replicas": len(n.replicas),
                    "lon": n.location[0] if n.location else None,
                    "lat": n.location[1] if n.location else None,
                }
            )
        return pd.DataFrame(rows)


class TelemetryView(Protocol):
    """The telemetry a policy may read in ``plan(view, telemetry)``: only samples that have
    reached the collector by now (stale by the network delay from their node, some lost with
    ``telemetry.loss``), never the engine's state.

    Metric names, kinds, units and when each is emitted: ``simcontinuum metrics`` or
    :data:`simcontinuum.engine.metric_catalog.METRICS`. Ids are node ids (``kind="node"``),
    application ids (``"app"``) and ``"app/component"`` (``"component"``). A metric name or id
    that no run of the scenario emits raises :class:`~simcontinuum.errors.TelemetryError` with
    a did-you-mean, so a typo cannot pass for "no sample yet".

    Example::

        def plan(self, view, telemetry):
            p95 = telemetry.value("app_latency_p95_seconds", "video")   # None: no sample yet
            util = telemetry.value("node_cpu_utilisation", "edge-0", default=0.0)
            last = telemetry.latest()        # a row per node/app/component, a column per metric
            recent = telemetry.window(30.0)  # long form: time_s, delivered_s, kind, id, metric...
    """

    now: float

    def value(self, metric: str, ident: str, default: float | None = None) -> float | None:
        """The newest delivered value of ``metric`` for ``ident`` (``default`` when none has
        arrived yet, or it is NaN)."""
        ...

    def latest(self) -> Any:
        """The newest delivered value of every metric: one row per ``(kind, id)``, one
        column per metric, plus ``time_s`` (when that row's newest sample was taken)."""
        ...

    def window(self, seconds: float) -> pd.DataFrame:
        """Delivered samples taken in the last ``seconds``, one row per value (columns
        ``time_s, delivered_s, kind, id, metric, value``)."""
        ...


@runtime_checkable
class Policy(Protocol):
    """A placement policy. Only ``place`` is required.

    Optional methods, called when present:
    ``plan(view, telemetry) -> list[Action]`` every ``control.interval`` and
    ``on_event(event, view) -> list[Action]`` on failures, recoveries and app arrivals.
    A policy may also define ``name`` (shown in results) and ``reset(rng)``: called once
    before a run with the run's named stream ``"policy"`` (a ``numpy.random.Generator``), so
    a policy that draws at random replays exactly under the seed. Never use global random
    state in a policy.
    """

    def place(self, app: AppView, view: ClusterView) -> Placement: ...


def policy_name(policy: Any) -> str:
    """A policy's display name: its ``name`` attribute, else its class name."""
    name = getattr(policy, "name", None)
    return name if isinstance(name, str) and name else type(policy).__name__


__all__ = [
    "ACTION_TYPES",
    "Action",
    "AppView",
    "ChangeSpec",
    "ClusterView",
    "Deploy",
    "Event",
    "Move",
    "NodeView",
    "Placement",
    "Policy",
    "Remove",
    "Scale",
    "Source",
    "TelemetryView",
    "capacity_violation",
    "constraint_violation",
    "policy_name",
]
