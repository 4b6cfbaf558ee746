"""The Kubernetes objects kube-scheduler and the HPA read, as frozen Python values.

Only what scheduling, autoscaling and CPU limits depend on is kept: a node's allocatable
resources, labels, taints, images and ``unschedulable``; a pod's requests and limits, node
selector, node and pod (anti-)affinity, tolerations, topology spread constraints, priority,
images and host ports. cpu is in millicores and memory in bytes, as ``int`` (kube-scheduler's
formulas divide integers). Matching rules (label selectors, node selector requirements,
tolerations) follow ``k8s.io/apimachinery`` and ``k8s.io/component-helpers`` (v1.31).

>>> t = Toleration(key="gpu", operator="Exists", effect="NoSchedule")
>>> t.tolerates(Taint("gpu", "true", "NoSchedule")), t.tolerates(Taint("gpu", "", "NoExecute"))
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CPU_MILLI = 100
"""kube-scheduler's non-zero cpu request of a container without one (scoring only)."""
DEFAULT_MEMORY = 200 * 2**20
"""kube-scheduler's non-zero memory request of a container without one (scoring only)."""
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
TIER_LABEL = "simcontinuum.io/tier"
CLUSTER_LABEL = "simcontinuum.io/cluster"


@dataclass(frozen=True, slots=True)
class Requirement:
    """A node selector requirement or label selector expression: ``key operator values``."""

    key: str
    operator: str  # In NotIn Exists DoesNotExist Gt Lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement."""
        op, has = self.operator, self.key in labels
        if op == "In":
            return has and labels[self.key] in self.values
        if op == "NotIn":
            return not has or labels[self.key] not in self.values
        if op == "Exists":
            return has
        if op == "DoesNotExist":
            return not has
        if op in ("Gt", "Lt"):
            if not has or len(self.values) != 1:
                return False
            try:
                left, right = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return left > right if op == "Gt" else left < right
        return False


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """ANDed requirements on labels (``matchExpressions``) and fields (``matchFields``,
    only ``metadata.name``). A term with neither matches no node."""

    expressions: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if not self.expressions and not self.fields:
            return False
        return all(r.matches(labels) for r in self.expressions) and all(
            r.matches({"metadata.name": name}) for r in self.fields
        )


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """``matchLabels`` and ``matchExpressions``; the empty selector matches everything, a
    missing one (``None`` where it is used) matches nothing."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.expressions
        )


@dataclass(frozen=True, slots=True)
class Taint:
    """A node taint. ``effect``: NoSchedule | PreferNoSchedule | NoExecute."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True, slots=True)
class Toleration:
    """A pod toleration (``operator`` Equal | Exists; empty ``effect`` matches every effect;
    an empty ``key`` with Exists tolerates every taint)."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    seconds: float | None = None  # tolerationSeconds (NoExecute only)

    def tolerates(self, taint: Taint) -> bool:
        """``ToleratesTaint`` of k8s.io/api/core/v1."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.value == taint.value  # Equal (and the empty operator)


def tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    """Whether any toleration tolerates ``taint``."""
    return any(t.tolerates(taint) for t in tolerations)


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    """Pods matching ``selector`` in ``namespaces`` (empty: the pod's own) form a group; the
    term is about the nodes sharing a ``topology_key`` value with a member of the group."""

    selector: LabelSelector | None
    topology_key: str
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False  # an empty namespaceSelector ({}) selects every namespace

    def selects(self, pod: Pod, owner_namespace: str) -> bool:
        """Whether ``pod`` is in this term's group (for a term of a pod in
        ``owner_namespace``)."""
        if self.selector is None:
            return False
        if not self.all_namespaces:
            allowed = self.namespaces or (owner_namespace,)
            if pod.namespace not in allowed:
                return False
        return self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    """A preferred term with its weight (1-100)."""

    weight: int
    term: PodAffinityTerm


@dataclass(frozen=True, slots=True)
class PreferredNodeTerm:
    """``preferredDuringSchedulingIgnoredDuringExecution`` of node affinity."""

    weight: int
    term: NodeSelectorTerm


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    """A ``topologySpreadConstraints`` entry (``whenUnsatisfiable`` DoNotSchedule |
    ScheduleAnyway; ``nodeAffinityPolicy`` Honor | Ignore, ``nodeTaintsPolicy`` Ignore |
    Honor, the upstream defaults)."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    selector: LabelSelector | None
    min_domains: int | None = None
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"


@dataclass(frozen=True, slots=True)
class Container:
    """A container: requests and limits (millicores / bytes; ``None``: not set)."""

    name: str
    image: str = ""
    cpu_request: int | None = None
    memory_request: int | None = None
    cpu_limit: int | None = None
    memory_limit: int | None = None
    host_ports: tuple[tuple[str, str, int], ...] = ()  # (hostIP, protocol, port)


@dataclass(frozen=True, slots=True)
class PodSpec:
    """What kube-scheduler reads of a pod (its template, for a workload's pods)."""

    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    node_name: str | None = None
    required_node_terms: tuple[NodeSelectorTerm, ...] | None = None  # None: no requirement
    preferred_node_terms: tuple[PreferredNodeTerm, ...] = ()
    affinity_required: tuple[PodAffinityTerm, ...] = ()
    affinity_preferred: tuple[WeightedTerm, ...] = ()
    anti_required: tuple[PodAffinityTerm, ...] = ()
    anti_preferred: tuple[WeightedTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    spread: tuple[SpreadConstraint, ...] = ()
    priority: int = 0
    priority_class: str | None = None
    preemption_policy: str = "PreemptLowerPriority"
    overhead_cpu: int = 0
    overhead_memory: int = 0

    # ------------------------------------------------------------ requests
    def request(self, resource: str) -> int:
        """The pod's effective request (``max(Σ containers, max init container)`` plus the
        overhead): what NodeResourcesFit filters on."""
        key = "cpu_request" if resource == "cpu" else "memory_request"
        total = sum(getattr(c, key) or 0 for c in self.containers)
        init = max((getattr(c, key) or 0 for c in self.init_containers), default=0)
        over = self.overhead_cpu if resource == "cpu" else self.overhead_memory
        return max(total, init) + over

    def nonzero_request(self, resource: str) -> int:
        """The request scoring uses: a container without one counts 100m cpu / 200 MiB."""
        if resource == "cpu":
            key, default, over = "cpu_request", DEFAULT_CPU_MILLI, self.overhead_cpu
        else:
            key, default, over = "memory_request", DEFAULT_MEMORY, self.overhead_memory
        total = sum(
            (getattr(c, key) if getattr(c, key) is not None else default) for c in self.containers
        )
        init = max(
            (
                (getattr(c, key) if getattr(c, key) is not None else default)
                for c in self.init_containers
            ),
            default=0,
        )
        return max(total, init) + over

    def best_effort(self) -> bool:
        """No container requests or limits anything (BalancedAllocation skips such pods)."""
        return all(
            c.cpu_request is None
            and c.memory_request is None
            and c.cpu_limit is None
            and c.memory_limit is None
            for c in (*self.containers, *self.init_containers)
        )

    def cpu_limit(self) -> int | None:
        """The pod's cpu limit (Σ containers' limits), ``None`` when a container has none."""
        limits = [c.cpu_limit for c in self.containers]
        if not limits or any(x is None for x in limits):
            return None
        return sum(x for x in limits if x is not None)

    def images(self) -> tuple[str, ...]:
        """Images of init and regular containers, normalised (``:latest`` when untagged)."""
        return tuple(
            normalise_image(c.image) for c in (*self.init_containers, *self.containers) if c.image
        )

    def host_ports(self) -> tuple[tuple[str, str, int], ...]:
        return tuple(p for c in (*self.init_containers, *self.containers) for p in c.host_ports)

    def has_pod_affinity(self) -> bool:
        return bool(
            self.affinity_required
            or self.affinity_preferred
            or self.anti_required
            or self.anti_preferred
        )


def normalise_image(image: str) -> str:
    """``nginx`` -> ``nginx:latest`` (ImageLocality's normalisation; digests kept).

    >>> normalise_image("nginx"), normalise_image("reg:5000/a/b"), normalise_image("x:1.2")
    ('nginx:latest', 'reg:5000/a/b:latest', 'x:1.2')
    """
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else image + ":latest"


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod placed (or being placed): its spec, labels, namespace and owner."""

    name: str
    spec: PodSpec
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str = "default"
    owner: str | None = None  # workload key "app/component"
    start: float = 0.0  # when it was bound (preemption's last tie-break)

    @property
    def priority(self) -> int:
        return self.spec.priority


@dataclass(frozen=True, slots=True)
class K8sNode:
    """A node as ``kubectl get node -o yaml`` shows it (what the scheduler reads)."""

    name: str
    labels: Mapping[str, str]
    cpu: int  # allocatable millicores
    memory: int  # allocatable bytes
    pods: int = 110  # allocatable pods
    taints: tuple[Taint, ...] = ()
    images: Mapping[str, int] = field(default_factory=dict)  # normalised name -> bytes
    unschedulable: bool = False
    capacity_cpu: int = 0
    capacity_memory: int = 0


__all__ = [
    "CLUSTER_LABEL",
    "DEFAULT_CPU_MILLI",
    "DEFAULT_MEMORY",
    "HOSTNAME",
    "REGION",
    "TIER_LABEL",
    "ZONE",
    "Container",
    "K8sNode",
    "LabelSelector",
    "NodeSelectorTerm",
    "Pod",
    "PodAffinityTerm",
    "PodSpec",
    "PreferredNodeTerm",
    "Requirement",
    "SpreadConstraint",
    "Taint",
    "Toleration",
    "WeightedTerm",
    "normalise_image",
    "tolerated",
]
