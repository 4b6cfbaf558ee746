"""The scenario file's structure (version 1) as pydantic v2 models.

These models mirror ``SCENARIO.md`` key for key. They check structure and units only: every
model forbids unknown keys (``extra="forbid"``), every quantity goes through a parser of
:mod:`simcontinuum.scenario.units` and is held in base units (seconds, bytes, bits/s, cores,
per second). Cross-references (does this node exist? is the call graph a DAG?) are checked
later, by :mod:`simcontinuum.scenario.checks`, on a document that passed these models.

Defaults follow ``SCENARIO.md``: a component asks for 100m cpu, no memory, no image and no
work; a node has 1 core of speed 1.0 and ``memory: 0``, which means *not declared*, i.e.
unlimited memory; prices are zero and billed ``always``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from simcontinuum.model import DEFAULT_WEIGHTS, TIERS
from simcontinuum.scenario.problems import did_you_mean
from simcontinuum.scenario.units import (
    describe,
    parse_bandwidth,
    parse_count,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_number,
    parse_rate,
    parse_size,
)

SCENARIO_VERSION = 1
MAX_GROUP_COUNT = 100_000
MAX_NODE_CORES = 1_000_000  # the engine keeps one server slot per core
BILLINGS = ("always", "when_active")
WORK_DISTS = ("constant", "exponential", "lognormal", "empirical")
ARRIVAL_TYPES = ("poisson", "periodic", "diurnal", "onoff", "trace")
MAX_ID_LENGTH = 253


def parse_id(value: object) -> str:
    """An identifier: non-empty text without whitespace or ``|`` (it joins link ends).

    >>> parse_id("edge-a-0")
    'edge-a-0'
    """
    expected = "expected an id like edge-0 (text without spaces)"
    if not isinstance(value, str):
        hint = f" (quote it: '{value}')" if isinstance(value, int | float) else ""
        raise ValueError(f"{expected}, got {describe(value)}{hint}")
    if not value or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{expected} of 1 to {MAX_ID_LENGTH} characters, got {describe(value)}")
    if any(ch.isspace() or ch == "|" or not ch.isprintable() for ch in value):
        raise ValueError(f"{expected}, got {describe(value)}")
    return value


def parse_label(value: object) -> str:
    """A label: non-empty text without whitespace, like ``gpu`` or ``zone=a``."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"expected a label like gpu (text without spaces), got {describe(value)}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"expected a label like gpu (text without spaces), got {describe(value)}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {describe(value)}")
    return value


def _choice(what: str, options: tuple[str, ...]) -> PlainValidator:
    """A validator accepting one of ``options``, with a did-you-mean on a typo."""

    def check(value: object) -> str:
        if isinstance(value, str) and value in options:
            return value
        listed = ", ".join(options)
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        article = "an" if what[0] in "aeiou" else "a"
        raise ValueError(f"expected {article} {what} ({listed}), got {describe(value)}{hint}")

    return PlainValidator(check)


def _positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a positive duration like 20ms or 1.5s, got {describe(value)}")
    return seconds


def _location(value: object) -> tuple[float, float]:
    expected = "expected a location [lon, lat] like [23.7, 37.9]"
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{expected}, got {describe(value)}")
    lon = parse_number(value[0], "a longitude between -180 and 180", minimum=-180, maximum=180)
    lat = parse_number(value[1], "a latitude between -90 and 90", minimum=-90, maximum=90)
    return (lon, lat)


def _link_ends(value: object) -> tuple[str, str]:
    expected = "expected a link as [a, b], two node ids"
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{expected}, got {describe(value)}")
    return (parse_id(value[0]), parse_id(value[1]))


def _group_count(value: object) -> int:
    count = parse_count(value, "a whole number of nodes (1 or more)", minimum=1, maximum=10**18)
    if count > MAX_GROUP_COUNT:
        raise ValueError(
            f"a node group holds at most {MAX_GROUP_COUNT} nodes, got {count}; "
            "describe fewer, more powerful devices"
        )
    return count


def _node_cores(value: object) -> int:
    cores = parse_count(value, "a whole number of cores (1 or more)", minimum=1, maximum=10**18)
    if cores > MAX_NODE_CORES:
        raise ValueError(
            f"a node has at most {MAX_NODE_CORES} cores, got {cores}; "
            "split it into several nodes or a node group"
        )
    return cores


Id = Annotated[str, PlainValidator(parse_id)]
Text = Annotated[str, PlainValidator(_text)]
Label = Annotated[str, PlainValidator(parse_label)]
Duration = Annotated[float, PlainValidator(parse_duration)]
PositiveDuration = Annotated[float, PlainValidator(_positive_duration)]
Size = Annotated[float, PlainValidator(parse_size)]
Memory = Annotated[float, PlainValidator(parse_memory)]
Bandwidth = Annotated[float, PlainValidator(parse_bandwidth)]
Cpu = Annotated[float, PlainValidator(parse_cpu)]
Rate = Annotated[float, PlainValidator(parse_rate)]
Number = Annotated[float, PlainValidator(parse_number)]
Positive = Annotated[
    float,
    PlainValidator(lambda v: parse_number(v, "a positive number", exclusive_minimum=True)),
]
Fraction = Annotated[
    float,
    PlainValidator(lambda v: parse_number(v, "a fraction between 0 and 1", maximum=1.0)),
]
Cores = Annotated[
    int,
    PlainValidator(lambda v: parse_count(v, "a whole number of cores (1 or more)", minimum=1)),
]
Count = Annotated[
    int, PlainValidator(lambda v: parse_count(v, "a whole number (0 or more)", maximum=10**6))
]
GroupCount = Annotated[int, PlainValidator(_group_count)]
NodeCores = Annotated[int, PlainValidator(_node_cores)]
Seed = Annotated[
    int, PlainValidator(lambda v: parse_count(v, "a seed from 0 to 2**63-1", maximum=2**63 - 1))
]
Location = Annotated[tuple[float, float], PlainValidator(_location)]
LinkEnds = Annotated[tuple[str, str], PlainValidator(_link_ends)]
TierName = Annotated[str, _choice("tier", TIERS)]
BillingName = Annotated[str, _choice("billing", BILLINGS)]
DistName = Annotated[str, _choice("work distribution", WORK_DISTS)]
ArrivalName = Annotated[str, _choice("arrival type", ARRIVAL_TYPES)]


class Doc(BaseModel):
    """Base of every scenario model: unknown keys are errors, keys are read by their alias."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_default=False)


class GpuDoc(Doc):
    """``gpu: {model, count, speedup, memory}``."""

    model: Text = "generic"
    count: Cores = 1
    speedup: Positive = 1.0
    memory: Memory = 0.0


class PriceDoc(Doc):
    """``price: {per_hour, per_core_hour, billing}``."""

    per_hour: Number = 0.0
    per_core_hour: Number = 0.0
    billing: BillingName = "always"


class PowerDoc(Doc):
    """``power: {idle_w, max_w}``."""

    idle_w: Number = 0.0
    max_w: Number = 0.0


class NodeFields(Doc):
    """What a node and a node group share."""

    tier: TierName
    cores: NodeCores = 1
    speed: Positive = 1.0
    memory: Memory = 0.0  # 0: not declared, i.e. unlimited
    labels: list[Label] = Field(default_factory=list)
    location: Location | None = None
    gpu: GpuDoc | None = None
    price: PriceDoc = Field(default_factory=PriceDoc)
    power: PowerDoc = Field(default_factory=PowerDoc)
    max_queue: Count | None = None


class NodeDoc(NodeFields):
    """One node: ``{id, tier, cores, ...}``."""

    id: Id


class NodeGroupDoc(NodeFields):
    """Many alike nodes ``{prefix}-0 .. {prefix}-{count-1}``."""

    prefix: Id
    count: GroupCount


class ClusterDoc(Doc):
    """``{id, nodes: [...], node_groups: [...]}``."""

    id: Id
    nodes: list[NodeDoc] = Field(default_factory=list)
    node_groups: list[NodeGroupDoc] = Field(default_factory=list)


class LinkDoc(Doc):
    """``{a, b, latency, bandwidth}`` or ``{group, b, ...}`` (one link per group member)."""

    a: Id | None = None
    group: Id | None = None
    b: Id
    latency: Duration
    bandwidth: Bandwidth
    egress_price_per_gb: Number = 0.0


class NetworkDoc(Doc):
    """``network: {contention}``."""

    contention: bool = False


class InfrastructureDoc(Doc):
    """``infrastructure: {registry, clusters, links, network}``."""

    registry: Id | None = None
    clusters: list[ClusterDoc]
    links: list[LinkDoc] = Field(default_factory=list)
    network: NetworkDoc = Field(default_factory=NetworkDoc)


class WorkDoc(Doc):
    """``work: {dist, mean, cv, values}`` in core-seconds at speed 1.0."""

    dist: DistName = "constant"
    mean: Duration | None = None
    cv: Number | None = None
    values: list[Duration] = Field(default_factory=list)


class PlacementDoc(Doc):
    """``placement: {tiers, labels, node, cluster}``; empty lists mean no restriction."""

    tiers: list[TierName] = Field(default_factory=list)
    labels: list[Label] = Field(default_factory=list)
    node: Id | None = None
    cluster: Id | None = None


class ReplicasDoc(Doc):
    """``replicas: {min, max}``; ``max`` defaults to ``max(min, 1)``."""

    min: Count = 1
    max: Count | None = None


class SloDoc(Doc):
    """``slo: {p95_latency, p99_latency, mean_latency, throughput}``."""

    p95_latency: PositiveDuration | None = None
    p99_latency: PositiveDuration | None = None
    mean_latency: PositiveDuration | None = None
    throughput: Rate | None = None
    metric: Text | None = None


class ComponentDoc(Doc):
    """One microservice of an application."""

    id: Id
    cpu: Cpu = 0.1
    cpu_limit: Cpu | None = None
    memory: Memory = 0.0
    image_size: Size = 0.0
    startup: Duration = 0.0
    work: WorkDoc = Field(default_factory=WorkDoc)
    accelerator: Id | None = None
    placement: PlacementDoc = Field(default_factory=PlacementDoc)
    replicas: ReplicasDoc = Field(default_factory=ReplicasDoc)
    slo: SloDoc | None = None


class CallDoc(Doc):
    """``{from, to, request_size, response_size}``: an RPC between two components."""

    src: Id = Field(alias="from")
    to: Id
    request_size: Size = 0.0
    response_size: Size = 0.0


class ApplicationDoc(Doc):
    """An application: a DAG of components rooted at ``entry`` (default: the first one)."""

    id: Id
    arrive_at: Duration = 0.0
    depart_at: Duration | None = None
    entry: Id | None = None
    components: list[ComponentDoc]
    calls: list[CallDoc] = Field(default_factory=list)
    slo: SloDoc | None = None


class ArrivalDoc(Doc):
    """``arrival: {type, ...}``; which other keys apply depends on ``type``."""

    type: ArrivalName
    rate: Rate | None = None
    mean_rate: Rate | None = None
    amplitude: Fraction | None = None
    period: PositiveDuration | None = None
    on: PositiveDuration | None = None
    off: Duration | None = None
    path: Text | None = None


ARRIVAL_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required keys, optional keys)
    "poisson": (("rate",), ()),
    "periodic": (("rate",), ()),
    "diurnal": (("mean_rate", "amplitude"), ("period",)),
    "onoff": (("rate", "on", "off"), ()),
    "trace": (("path",), ()),
}


class WorkloadDoc(Doc):
    """Requests to ``app`` from node ``from`` or from every member of node group ``from_group``."""

    app: Id
    src: Id | None = Field(default=None, alias="from")
    from_group: Id | None = None
    arrival: ArrivalDoc
    request_size: Size = 0.0
    response_size: Size = 0.0


class TelemetryDoc(Doc):
    """``telemetry: {interval, collector, loss}``."""

    interval: PositiveDuration = 5.0
    collector: Id | None = None
    loss: Fraction = 0.0


class ControlDoc(Doc):
    """``control: {interval, charge_decision_time, policy_timeout}``; ``interval: null``: never."""

    interval: PositiveDuration | None = 10.0
    charge_decision_time: bool = False
    policy_timeout: PositiveDuration = 5.0


class RandomFailureDoc(Doc):
    """``random: {tier, cluster, mtbf, mttr}``: exponential up-times and repairs."""

    tier: TierName | None = None
    cluster: Id | None = None
    mtbf: PositiveDuration
    mttr: PositiveDuration


class FailureDoc(Doc):
    """``{at, node | link | cluster, for}`` or ``{random: {...}}``."""

    at: Duration | None = None
    node: Id | None = None
    link: LinkEnds | None = None
    cluster: Id | None = None
    duration: Duration | None = Field(default=None, alias="for")
    random: RandomFailureDoc | None = None


class WeightsDoc(Doc):
    """``scoring.weights``; a weight left out keeps its default."""

    cost: Number = DEFAULT_WEIGHTS["cost"]
    p95_latency_s: Number = DEFAULT_WEIGHTS["p95_latency_s"]
    slo_violation_rate: Number = DEFAULT_WEIGHTS["slo_violation_rate"]
    failed_rate: Number = DEFAULT_WEIGHTS["failed_rate"]
    migrations: Number = DEFAULT_WEIGHTS["migrations"]
    energy_kwh: Number = DEFAULT_WEIGHTS["energy_kwh"]


class ScoringDoc(Doc):
    """``scoring: {weights, reference_policy, energy_price_per_kwh}``."""

    weights: WeightsDoc = Field(default_factory=WeightsDoc)
    reference_policy: Id | None = None
    energy_price_per_kwh: Number = 0.0


class ScenarioDoc(Doc):
    """The whole scenario file."""

    version: Any = SCENARIO_VERSION  # checked before everything else, see the loader
    name: Text | None = None
    description: Text | None = None
    seed: Seed = 0
    duration: PositiveDuration
    warmup: Duration = 0.0
    infrastructure: InfrastructureDoc
    applications: list[ApplicationDoc] = Field(default_factory=list)
    workload: list[WorkloadDoc] = Field(default_factory=list)
    telemetry: TelemetryDoc = Field(default_factory=TelemetryDoc)
    control: ControlDoc = Field(default_factory=ControlDoc)
    failures: list[FailureDoc] = Field(default_factory=list)
    scoring: ScoringDoc = Field(default_factory=ScoringDoc)


__all__ = [
    "ARRIVAL_KEYS",
    "ARRIVAL_TYPES",
    "MAX_GROUP_COUNT",
    "MAX_NODE_CORES",
    "SCENARIO_VERSION",
    "ApplicationDoc",
    "ArrivalDoc",
    "CallDoc",
    "ClusterDoc",
    "ComponentDoc",
    "ControlDoc",
    "Doc",
    "FailureDoc",
    "GpuDoc",
    "InfrastructureDoc",
    "LinkDoc",
    "NetworkDoc",
    "NodeDoc",
    "NodeFields",
    "NodeGroupDoc",
    "PlacementDoc",
    "PowerDoc",
    "PriceDoc",
    "RandomFailureDoc",
    "ReplicasDoc",
    "ScenarioDoc",
    "ScoringDoc",
    "SloDoc",
    "TelemetryDoc",
    "WeightsDoc",
    "WorkDoc",
    "WorkloadDoc",
    "parse_id",
]
