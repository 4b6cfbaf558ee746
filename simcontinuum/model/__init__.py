"""Frozen domain types: what a scenario describes, in base units.

Everything here is immutable and already validated (frozen dataclasses; tuples, frozensets
and :class:`FrozenDict` for containers, so ``scenario.topology.clusters.clear()`` raises): the
scenario loader builds these from the YAML file, the engine only reads them. Units are base
units throughout: seconds, bytes, bits per second, cores, watts, and currency per hour / per
GB / per kWh.

Invariants (checked by the loader, relied on by the engine):
- node ids are unique; every link, source, pinned placement and failure names a known node;
- each application's call graph is a DAG rooted at ``entry``, every call names its components;
- quantities are finite and non-negative; ``cores >= 1``, ``speed > 0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A dict that cannot change after it is made: hashable, picklable, and as fast to read
    as a dict (which it is, so ``isinstance(d, dict)`` and JSON encoding keep working).

    >>> d = FrozenDict({"a": 1})
    >>> d["a"], hash(d) == hash(FrozenDict(a=1)), d == {"a": 1}
    (1, True, True)
    >>> d["b"] = 2
    Traceback (most recent call last):
    ...
    TypeError: FrozenDict is immutable: make a new one, e.g. FrozenDict({**d, key: value})
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> FrozenDict[K, V]:
        self = dict.__new__(cls)
        dict.__init__(self, *args, **kwargs)  # filled here, once
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Filled by ``__new__``; calling ``__init__`` again changes nothing."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "FrozenDict is immutable: make a new one, e.g. FrozenDict({**d, key: value})"
        )

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle would rebuild a dict subclass item by item through __setitem__
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict[K, V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict[K, V]:
        import copy

        return type(self)({copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()})

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def frozen(items: Mapping[K, V] | Iterable[tuple[K, V]] | None = None) -> FrozenDict[K, V]:
    """``items`` as a :class:`FrozenDict` (the same object when it already is one)."""
    if isinstance(items, FrozenDict):
        return items
    return FrozenDict(items or {})


EMPTY: FrozenDict[Any, Any] = FrozenDict()

Tier = Literal["cloud", "edge_infrastructure", "edge", "far_edge"]
TIERS: tuple[str, ...] = ("cloud", "edge_infrastructure", "edge", "far_edge")
Billing = Literal["always", "when_active"]


@dataclass(frozen=True, slots=True)
class Gpu:
    """An accelerator on a node: components with ``accelerator: gpu`` (any GPU) or
    ``accelerator: <model>`` (this model only) run ``speedup`` × faster."""

    model: str = "generic"
    count: int = 1
    speedup: float = 1.0
    memory: float = 0.0  # bytes

    def serves(self, accelerator: str | None) -> bool:
        """Whether a component asking for ``accelerator`` gets this GPU's speed-up.

        >>> Gpu(model="t4").serves("gpu"), Gpu(model="t4").serves("t4")
        (True, True)
        >>> Gpu(model="t4").serves("tpu"), Gpu(model="t4").serves(None)
        (False, False)
        """
        return accelerator is not None and accelerator in ("gpu", self.model)


def speedup(accelerator: str | None, gpu: Gpu | None) -> float:
    """The speed-up a component asking for ``accelerator`` gets on a node with ``gpu``."""
    return gpu.speedup if gpu is not None and gpu.serves(accelerator) else 1.0


@dataclass(frozen=True, slots=True)
class Price:
    """What a node costs. ``when_active`` bills ``per_hour`` only while it hosts a replica."""

    per_hour: float = 0.0
    per_core_hour: float = 0.0  # per requested core of every replica on the node
    billing: Billing = "always"


@dataclass(frozen=True, slots=True)
class Power:
    """Linear power model: ``idle_w + (max_w - idle_w) * cpu_utilisation``; 0 W while down."""

    idle_w: float = 0.0
    max_w: float = 0.0


@dataclass(frozen=True, slots=True)
class Node:
    """A machine of the continuum: ``cores`` identical FIFO servers of relative ``speed``."""

    id: str
    tier: Tier
    cluster: str
    cores: int = 1
    speed: float = 1.0
    memory: float = 0.0  # bytes
    labels: frozenset[str] = frozenset()
    location: tuple[float, float] | None = None  # (lon, lat)
    gpu: Gpu | None = None
    price: Price = Price()
    power: Power = Power()
    max_queue: int | None = None  # waiting steps beyond which new work is dropped
    extra: Mapping[str, object] = field(default=EMPTY, compare=False, hash=False)

    def __post_init__(self) -> None:
        if type(self.extra) is not FrozenDict:
            object.__setattr__(self, "extra", frozen(self.extra))


@dataclass(frozen=True, slots=True)
class Link:
    """An undirected link. ``bandwidth`` in bits/s; egress is billed per GB (1e9 bytes)."""

    a: str
    b: str
    latency: float  # seconds
    bandwidth: float  # bits per second
    egress_price_per_gb: float = 0.0


@dataclass(frozen=True, slots=True)
class Topology:
    """Nodes, clusters (name -> node ids, in file order) and links."""

    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    clusters: Mapping[str, tuple[str, ...]]
    registry: str | None = None  # the node that serves container images
    contention: bool = False  # links as FIFO serialisation servers

    def __post_init__(self) -> None:
        if type(self.clusters) is not FrozenDict:
            object.__setattr__(
                self, "clusters", FrozenDict((k, tuple(v)) for k, v in self.clusters.items())
            )
        if type(self.nodes) is not tuple:
            object.__setattr__(self, "nodes", tuple(self.nodes))
        if type(self.links) is not tuple:
            object.__setattr__(self, "links", tuple(self.links))


WorkDist = Literal["constant", "exponential", "lognormal", "empirical"]


@dataclass(frozen=True, slots=True)
class Work:
    """Work per request in core-seconds at speed 1.0.

    ``lognormal`` uses ``mean`` and coefficient of variation ``cv``; ``empirical`` draws
    uniformly from ``values``.
    """

    dist: WorkDist = "constant"
    mean: float = 0.0
    cv: float = 1.0
    values: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraints:
    """Where a component may run. Empty ``tiers`` or ``labels`` mean no restriction."""

    tiers: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    node: str | None = None
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Slo:
    """Service-level objectives. A request violates a latency SLO when its latency exceeds
    ``p95_latency`` (or ``mean_latency`` when only that is set); ``throughput`` is per second."""

    p95_latency: float | None = None
    p99_latency: float | None = None
    mean_latency: float | None = None
    throughput: float | None = None
    metric: str | None = None  # the MLSysOps qos metric id this SLO is reported as

    @property
    def latency_target(self) -> float | None:
        """The per-request latency threshold (seconds) used for the violation rate."""
        for v in (self.p95_latency, self.p99_latency, self.mean_latency):
            if v is not None:
                return v
        return None


@dataclass(frozen=True, slots=True)
class Component:
    """A microservice. ``cpu`` (cores) and ``memory`` (bytes) are Kubernetes *requests*:
    admission limits, not speed. Service time = work / node speed (÷ gpu speedup)."""

    id: str
    cpu: float = 0.1
    memory: float = 0.0
    image_size: float = 0.0  # bytes
    startup: float = 0.0  # seconds
    work: Work = Work()
    accelerator: str | None = None
    placement: Constraints = Constraints()
    replicas_min: int = 1
    replicas_max: int = 1
    slo: Slo | None = None
    cpu_limit: float | None = None  # cores; a replica never runs faster (CFS quota, fluid)


@dataclass(frozen=True, slots=True)
class Call:
    """A call-graph edge: ``src`` sends ``request_size`` bytes to ``dst`` and waits for
    ``response_size`` bytes back (an RPC)."""

    src: str
    dst: str
    request_size: float = 0.0
    response_size: float = 0.0


@dataclass(frozen=True, slots=True)
class Application:
    """A DAG of components rooted at ``entry``. Each call edge is an RPC: a component does its
    work, then calls its callees in parallel and answers its caller once all have answered."""

    id: str
    entry: str
    components: tuple[Component, ...]
    calls: tuple[Call, ...] = ()
    slo: Slo | None = None
    arrive_at: float = 0.0
    depart_at: float | None = None

    def component(self, cid: str) -> Component:
        """The component called ``cid`` (KeyError if unknown)."""
        for c in self.components:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def callees(self, cid: str) -> tuple[Call, ...]:
        """The calls made by component ``cid``, in file order."""
        return tuple(c for c in self.calls if c.src == cid)


ArrivalType = Literal["poisson", "periodic", "diurnal", "onoff", "trace"]


@dataclass(frozen=True, slots=True)
class Arrival:
    """How a source emits requests. Rates are per second.

    - ``poisson``: exponential gaps of mean ``1/rate``;
    - ``periodic``: one request every ``1/rate`` seconds (a 30 fps camera), random phase;
    - ``diurnal``: Poisson with rate ``mean_rate * (1 + amplitude * sin(2π t / period))``;
    - ``onoff``: Poisson at ``rate`` during ``on`` seconds, silent for ``off`` seconds;
    - ``trace``: the arrival times in ``times`` (seconds), already read from the CSV.
    """

    type: ArrivalType = "poisson"
    rate: float = 0.0
    mean_rate: float = 0.0
    amplitude: float = 0.0
    period: float = 86400.0
    on: float = 0.0
    off: float = 0.0
    times: tuple[float, ...] = ()
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A device or user at ``node`` sending requests to ``app``."""

    id: str
    app: str
    node: str
    arrival: Arrival
    request_size: float = 0.0
    response_size: float = 0.0


@dataclass(frozen=True, slots=True)
class Failure:
    """A scripted failure: ``kind`` ``node``/``link``/``cluster`` ``target`` goes down at ``at``
    for ``duration`` seconds (``None``: for good). A link target is ``"a|b"``."""

    at: float
    kind: Literal["node", "link", "cluster"]
    target: str
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class RandomFailures:
    """Random node failures per tier: exponential up-times (``mtbf``) and repairs (``mttr``)."""

    tier: str | None
    mtbf: float
    mttr: float
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Sampling: every ``interval`` seconds, delivered to ``collector`` with ``loss`` probability
    of losing each sample."""

    interval: float = 5.0
    collector: str | None = None
    loss: float = 0.0


@dataclass(frozen=True, slots=True)
class Control:
    """The control loop: ``plan`` every ``interval`` seconds (``None``: never)."""

    interval: float | None = 10.0
    charge_decision_time: bool = False
    policy_timeout: float = 5.0


DEFAULT_WEIGHTS: Mapping[str, float] = FrozenDict(
    {
        "cost": 1.0,
        "p95_latency_s": 10.0,
        "slo_violation_rate": 100.0,
        "failed_rate": 100.0,
        "migrations": 0.1,
        "energy_kwh": 0.0,
    }
)


@dataclass(frozen=True, slots=True)
class Scoring:
    """How a run becomes one number (lower is better): a weighted sum of its parts."""

    weights: Mapping[str, float] = DEFAULT_WEIGHTS
    reference_policy: str | None = None
    energy_price_per_kwh: float = 0.0

    def __post_init__(self) -> None:
        if type(self.weights) is not FrozenDict:
            object.__setattr__(self, "weights", frozen(self.weights))


@dataclass(frozen=True, slots=True)
class Scenario:
    """One experiment: the continuum, its applications, their load, and how it is scored."""

    name: str
    topology: Topology
    applications: tuple[Application, ...]
    sources: tuple[Source, ...]
    duration: float
    warmup: float = 0.0
    seed: int = 0
    version: int = 1
    telemetry: Telemetry = Telemetry()
    control: Control = Control()
    failures: tuple[Failure, ...] = ()
    random_failures: tuple[RandomFailures, ...] = ()
    scoring: Scoring = field(default_factory=Scoring)
    source_path: str | None = None
    digest: str = ""  # sha256 of the canonical document and the files it reads (result keys)

    def __hash__(self) -> int:
        # Equal scenarios have equal digests (the digest is a field), so this is consistent
        # with the field-wise ``==``; hashing the fields would hash every node and request.
        return hash((self.name, self.digest))

    def node(self, nid: str) -> Node:
        """The node called ``nid`` (KeyError if unknown)."""
        for n in self.topology.nodes:
            if n.id == nid:
                return n
        raise KeyError(nid)

    def application(self, aid: str) -> Application:
        """The application called ``aid`` (KeyError if unknown)."""
        for a in self.applications:
            if a.id == aid:
                return a
        raise KeyError(aid)


def nominal_rate(source: Source) -> float:
    """A source's mean request rate per second (for views and load estimates).

    >>> nominal_rate(Source("s", "app", "dev", Arrival(type="onoff", rate=10.0, on=1.0, off=3.0)))
    2.5
    """
    a = source.arrival
    if a.type in ("poisson", "periodic"):
        return float(a.rate)
    if a.type == "diurnal":
        return float(a.mean_rate)
    if a.type == "onoff":
        cycle = a.on + a.off
        return float(a.rate * a.on / cycle) if cycle > 0 else 0.0
    if a.type == "trace" and a.times:
        span = max(a.times) - min(a.times)
        return len(a.times) / span if span > 0 else float(len(a.times))
    return 0.0


__all__ = [
    "DEFAULT_WEIGHTS",
    "EMPTY",
    "TIERS",
    "Application",
    "Arrival",
    "Call",
    "Component",
    "Constraints",
    "Control",
    "Failure",
    "FrozenDict",
    "Gpu",
    "Link",
    "Node",
    "Power",
    "Price",
    "RandomFailures",
    "Scenario",
    "Scoring",
    "Slo",
    "Source",
    "Telemetry",
    "Topology",
    "Work",
    "frozen",
    "nominal_rate",
    "speedup",
]
