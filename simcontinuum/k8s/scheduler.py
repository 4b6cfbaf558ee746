"""kube-scheduler's default profile: one scheduling cycle of one pod, as upstream decides it.

Followed: kubernetes/kubernetes v1.31 ``pkg/scheduler`` (``schedule_one.go``,
``framework/plugins/*``, ``apis/config/v1/default_plugins.go``). A cycle:

1. **Filter** the nodes, starting where the previous cycle stopped (``nextStartNodeIndex``),
   until ``numFeasibleNodesToFind`` feasible nodes are found: all nodes below 100, else
   ``max(5, 50 - N/125)`` % of them but at least 100 (``percentageOfNodesToScore`` = 0, the
   adaptive default). Filters, in order, stop at a node's first failure: NodeUnschedulable,
   NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
   InterPodAffinity. A nominated node (after preemption) is tried first.
2. One feasible node is bound without scoring.
3. **Score** each feasible node with each plugin, normalise 0-100 the upstream way, and sum
   with the default weights: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
   InterPodAffinity 2, NodeResourcesFit (LeastAllocated, cpu and memory weight 1) 1,
   NodeResourcesBalancedAllocation 1, ImageLocality 1.
4. **Select** the highest total; ties by reservoir sampling (``selectHost``) on the given
   generator.
5. No feasible node: **preemption** (DefaultPreemption): on nodes where only resolvable
   filters failed, remove lower-priority pods, reprieve the most important that still fit,
   and pick a node by fewest PDB violations (none are modelled), lowest highest-victim
   priority, lowest priority sum, fewest victims, latest start of the highest-priority
   victims, then the first.

Every cycle returns a :class:`Decision` with the per-plugin results in the shape
kube-scheduler-simulator annotates a pod with (``filter-result``, ``score-result``,
``finalscore-result``, ``postfilter-result``, ``selected-node``).

Invariants: the scheduler never returns a node that fails a filter; integer arithmetic
where upstream uses ``int64``; every random draw comes from the generator passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simcontinuum.k8s.objects import (
    HOSTNAME,
    ZONE,
    K8sNode,
    LabelSelector,
    Pod,
    PodAffinityTerm,
    SpreadConstraint,
    Taint,
    Toleration,
    tolerated,
)

MAX_SCORE = 100
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5
MIN_IMAGE_THRESHOLD = 23 * 2**20
MAX_CONTAINER_IMAGE_THRESHOLD = 1000 * 2**20
HARD_POD_AFFINITY_WEIGHT = 1
MIN_CANDIDATES_PERCENT = 10
MIN_CANDIDATES_ABSOLUTE = 100
MAX_INT32 = 2**31 - 1

FILTERS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "PodTopologySpread",
    "InterPodAffinity",
)
WEIGHTS: dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesFit": 1,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}
"""Score plugins of the default profile and their weights (default_plugins.go)."""

UNRESOLVABLE = "UnschedulableAndUnresolvable"
UNSCHEDULABLE = "Unschedulable"
SYSTEM_DEFAULT_SPREAD = ((HOSTNAME, 3), (ZONE, 5))
"""System-default topology spreading (maxSkew per key, ScheduleAnyway)."""


# ----------------------------------------------------------------------------- snapshot


@dataclass
class NodeInfo:
    """A node with the pods bound to it and their summed requests."""

    node: K8sNode
    pods: list[Pod] = field(default_factory=list)
    cpu: int = 0  # Σ requests (millicores)
    memory: int = 0
    nonzero_cpu: int = 0  # Σ non-zero requests (scoring)
    nonzero_memory: int = 0

    def add(self, pod: Pod) -> None:
        self.pods.append(pod)
        self.cpu += pod.spec.request("cpu")
        self.memory += pod.spec.request("memory")
        self.nonzero_cpu += pod.spec.nonzero_request("cpu")
        self.nonzero_memory += pod.spec.nonzero_request("memory")

    def remove(self, pod: Pod) -> None:
        self.pods.remove(pod)
        self.cpu -= pod.spec.request("cpu")
        self.memory -= pod.spec.request("memory")
        self.nonzero_cpu -= pod.spec.nonzero_request("cpu")
        self.nonzero_memory -= pod.spec.nonzero_request("memory")

    def copy(self) -> NodeInfo:
        return NodeInfo(
            self.node,
            list(self.pods),
            self.cpu,
            self.memory,
            self.nonzero_cpu,
            self.nonzero_memory,
        )


class Snapshot:
    """Every node (in list order) with its pods: what one cycle sees."""

    def __init__(self, nodes: Iterable[K8sNode]) -> None:
        self.infos: dict[str, NodeInfo] = {n.name: NodeInfo(n) for n in nodes}
        self.order: list[str] = list(self.infos)

    def bind(self, pod: Pod, node: str) -> None:
        """Account ``pod`` on ``node`` (the scheduler's assume)."""
        self.infos[node].add(pod)

    def unbind(self, pod: Pod, node: str) -> None:
        self.infos[node].remove(pod)

    def image_nodes(self, image: str) -> int:
        """How many nodes hold ``image``."""
        return sum(1 for i in self.infos.values() if image in i.node.images)


@dataclass(frozen=True)
class Status:
    """A filter's verdict: ``code`` ``Unschedulable`` | ``UnschedulableAndUnresolvable``."""

    code: str
    reason: str


@dataclass
class Decision:
    """The outcome of one cycle with its per-plugin detail (simulator annotation shape)."""

    pod: str
    node: str | None
    filter: dict[str, dict[str, str]] = field(default_factory=dict)
    score: dict[str, dict[str, int]] = field(default_factory=dict)
    finalscore: dict[str, dict[str, int]] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    evaluated: int = 0
    feasible: int = 0
    nominated: str | None = None  # set by preemption
    victims: list[Pod] = field(default_factory=list)
    postfilter: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def annotations(self) -> dict[str, Any]:
        """The decision as kube-scheduler-simulator's annotations (keys shortened)."""
        out: dict[str, Any] = {
            "filter-result": self.filter,
            "score-result": self.score,
            "finalscore-result": self.finalscore,
            "selected-node": self.node or "",
        }
        if self.postfilter:
            out["postfilter-result"] = self.postfilter
        return out


# ----------------------------------------------------------------------------- helpers


def node_matches_affinity(pod: Pod, node: K8sNode) -> bool:
    """``nodeSelector`` and required node affinity (NodeAffinity's filter)."""
    spec = pod.spec
    if any(node.labels.get(k) != v for k, v in spec.node_selector):
        return False
    terms = spec.required_node_terms
    if terms is None:
        return True
    return any(t.matches(node.name, node.labels) for t in terms)


def untolerated(
    taints: Iterable[Taint], tols: tuple[Toleration, ...], effects: set[str]
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not tolerated(taint, tols):
            return taint
    return None


def count_matching(pods: Iterable[Pod], selector: LabelSelector | None, namespace: str) -> int:
    """Pods of ``namespace`` that ``selector`` selects (a missing selector selects none)."""
    if selector is None:
        return 0
    return sum(1 for p in pods if p.namespace == namespace and selector.matches(p.labels))


def num_feasible_nodes_to_find(n: int, percentage: int = 0) -> int:
    """How many feasible nodes a cycle looks for among ``n`` (``numFeasibleNodesToFind``).

    >>> num_feasible_nodes_to_find(99), num_feasible_nodes_to_find(1000)
    (99, 420)
    >>> num_feasible_nodes_to_find(6000), num_feasible_nodes_to_find(150)
    (300, 100)
    """
    if n < MIN_FEASIBLE_NODES:
        return n
    pct = percentage
    if pct <= 0:
        pct = 50 - n // 125
        if pct < MIN_FEASIBLE_PERCENTAGE:
            pct = MIN_FEASIBLE_PERCENTAGE
    num = n * pct // 100
    return max(num, MIN_FEASIBLE_NODES)


def default_normalize(scores: dict[str, int], reverse: bool) -> dict[str, int]:
    """``helper.DefaultNormalizeScore``: scale to 0-100 by the maximum (reversed: 100 - x)."""
    top = max(scores.values(), default=0)
    if top == 0:
        return {k: (MAX_SCORE if reverse else 0) for k in scores}
    out = {}
    for k, s in scores.items():
        v = MAX_SCORE * s // top
        out[k] = MAX_SCORE - v if reverse else v
    return out


# ----------------------------------------------------------------------------- cycle state


@dataclass
class _SpreadState:
    constraints: list[SpreadConstraint]
    pair_counts: dict[tuple[str, str], int]
    domains: dict[str, set[str]]  # topology key -> values seen among eligible nodes


class Cycle:
    """One pod's scheduling cycle over one snapshot (PreFilter state kept here)."""

    def __init__(
        self, snap: Snapshot, pod: Pod, *, default_spread_selector: LabelSelector | None = None
    ) -> None:
        self.snap = snap
        self.pod = pod
        self.default_spread_selector = default_spread_selector
        self._spread_filter = self._prefilter_spread()
        self._affinity = self._prefilter_interpod()

    # ------------------------------------------------------------------ filter plugins
    def filter(self, info: NodeInfo) -> tuple[dict[str, str], Status | None]:
        """Run the filters on ``info`` in order; stop at the first failure."""
        result: dict[str, str] = {}
        for name in FILTERS:
            status = getattr(self, "_f_" + name)(info)
            if status is not None:
                result[name] = status.reason
                return result, status
            result[name] = "passed"
        return result, None

    def _f_NodeUnschedulable(self, info: NodeInfo) -> Status | None:
        if info.node.unschedulable and not tolerated(
            Taint("node.kubernetes.io/unschedulable", "", "NoSchedule"), self.pod.spec.tolerations
        ):
            return Status(UNRESOLVABLE, "node(s) were unschedulable")
        return None

    def _f_NodeName(self, info: NodeInfo) -> Status | None:
        want = self.pod.spec.node_name
        if want and want != info.node.name:
            return Status(UNRESOLVABLE, "node(s) didn't match the requested node name")
        return None

    def _f_TaintToleration(self, info: NodeInfo) -> Status | None:
        t = untolerated(info.node.taints, self.pod.spec.tolerations, {"NoSchedule", "NoExecute"})
        if t is not None:
            return Status(UNRESOLVABLE, f"node(s) had untolerated taint {{{t.key}: {t.value}}}")
        return None

    def _f_NodeAffinity(self, info: NodeInfo) -> Status | None:
        if not node_matches_affinity(self.pod, info.node):
            return Status(UNRESOLVABLE, "node(s) didn't match Pod's node affinity/selector")
        return None

    def _f_NodePorts(self, info: NodeInfo) -> Status | None:
        want = self.pod.spec.host_ports()
        if not want:
            return None
        used = [p for other in info.pods for p in other.spec.host_ports()]
        for ip, proto, port in want:
            for uip, uproto, uport in used:
                if port == uport and proto == uproto and (ip == uip or "0.0.0.0" in (ip, uip)):
                    return Status(
                        UNSCHEDULABLE, "node(s) didn't have free ports for the requested pod ports"
                    )
        return None

    def _f_NodeResourcesFit(self, info: NodeInfo) -> Status | None:
        reasons = []
        if len(info.pods) + 1 > info.node.pods:
            reasons.append("Too many pods")
        cpu, mem = self.pod.spec.request("cpu"), self.pod.spec.request("memory")
        if cpu > 0 and cpu > info.node.cpu - info.cpu:
            reasons.append("Insufficient cpu")
        if mem > 0 and mem > info.node.memory - info.memory:
            reasons.append("Insufficient memory")
        if reasons:
            return Status(UNSCHEDULABLE, ", ".join(reasons))
        return None

    # PodTopologySpread ------------------------------------------------
    def _eligible_for_spread(self, c: SpreadConstraint, node: K8sNode) -> bool:
        if c.node_affinity_policy != "Ignore" and not node_matches_affinity(self.pod, node):
            return False
        return not (
            c.node_taints_policy == "Honor"
            and untolerated(node.taints, self.pod.spec.tolerations, {"NoSchedule", "NoExecute"})
        )

    def _selector(self, c: SpreadConstraint) -> LabelSelector | None:
        return c.selector

    def _prefilter_spread(self) -> _SpreadState:
        cons = [c for c in self.pod.spec.spread if c.when_unsatisfiable == "DoNotSchedule"]
        counts: dict[tuple[str, str], int] = {}
        domains: dict[str, set[str]] = {c.topology_key: set() for c in cons}
        if not cons:
            return _SpreadState(cons, counts, domains)
        keys = {c.topology_key for c in cons}
        for info in self.snap.infos.values():
            node = info.node
            if not keys <= set(node.labels):
                continue
            for c in cons:
                if not self._eligible_for_spread(c, node):
                    continue
                pair = (c.topology_key, node.labels[c.topology_key])
                domains[c.topology_key].add(pair[1])
                counts[pair] = counts.get(pair, 0) + count_matching(
                    info.pods, self._selector(c), self.pod.namespace
                )
        return _SpreadState(cons, counts, domains)

    def _f_PodTopologySpread(self, info: NodeInfo) -> Status | None:
        st = self._spread_filter
        if not st.constraints:
            return None
        labels = info.node.labels
        for c in st.constraints:
            if c.topology_key not in labels:
                return Status(
                    UNRESOLVABLE,
                    "node(s) didn't match pod topology spread constraints (missing required label)",
                )
        for c in st.constraints:
            sel = self._selector(c)
            self_match = 1 if sel is not None and sel.matches(self.pod.labels) else 0
            key = c.topology_key
            values = st.domains.get(key, set())
            counts = [st.pair_counts.get((key, v), 0) for v in values]
            min_match = min(counts) if counts else 0
            if c.min_domains is not None and len(values) < c.min_domains:
                min_match = 0
            match = st.pair_counts.get((key, labels[key]), 0)
            if match + self_match - min_match > c.max_skew:
                return Status(UNSCHEDULABLE, "node(s) didn't match pod topology spread constraints")
        return None

    # InterPodAffinity -------------------------------------------------
    def _prefilter_interpod(self) -> dict[str, Counter]:
        pod = self.pod
        spec = pod.spec
        existing_anti: Counter = {}
        affinity: Counter = {}
        anti: Counter = {}
        for info in self.snap.infos.values():
            labels = info.node.labels
            for other in info.pods:
                for term in other.spec.anti_required:
                    if term.selects(pod, other.namespace):
                        _bump(existing_anti, labels, term.topology_key, 1)
                if spec.affinity_required and all(
                    t.selects(other, pod.namespace) for t in spec.affinity_required
                ):
                    for t in spec.affinity_required:
                        _bump(affinity, labels, t.topology_key, 1)
                for t in spec.anti_required:
                    if t.selects(other, pod.namespace):
                        _bump(anti, labels, t.topology_key, 1)
        return {"existing_anti": existing_anti, "affinity": affinity, "anti": anti}

    def _f_InterPodAffinity(self, info: NodeInfo) -> Status | None:
        labels = info.node.labels
        st = self._affinity
        spec = self.pod.spec
        if spec.affinity_required:
            exist = True
            for t in spec.affinity_required:
                if t.topology_key not in labels:
                    return Status(UNRESOLVABLE, "node(s) didn't match pod affinity rules")
                if st["affinity"].get((t.topology_key, labels[t.topology_key]), 0) <= 0:
                    exist = False
            if not exist and not (
                not st["affinity"]
                and all(t.selects(self.pod, self.pod.namespace) for t in spec.affinity_required)
            ):
                return Status(UNRESOLVABLE, "node(s) didn't match pod affinity rules")
        for t in spec.anti_required:
            v = labels.get(t.topology_key)
            if v is not None and st["anti"].get((t.topology_key, v), 0) > 0:
                return Status(UNSCHEDULABLE, "node(s) didn't match pod anti-affinity rules")
        for k, v in labels.items():
            if st["existing_anti"].get((k, v), 0) > 0:
                return Status(
                    UNSCHEDULABLE, "node(s) didn't satisfy existing pods anti-affinity rules"
                )
        return None

    # ------------------------------------------------------------------ score plugins
    def score(
        self, feasible: Sequence[NodeInfo]
    ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        """Raw and weighted-normalised scores: ``{plugin: {node: score}}`` each."""
        raw: dict[str, dict[str, int]] = {}
        final: dict[str, dict[str, int]] = {}
        for plugin, fn in (
            ("TaintToleration", self._s_taints),
            ("NodeAffinity", self._s_node_affinity),
            ("PodTopologySpread", self._s_spread),
            ("InterPodAffinity", self._s_interpod),
            ("NodeResourcesFit", self._s_least_allocated),
            ("NodeResourcesBalancedAllocation", self._s_balanced),
            ("ImageLocality", self._s_image),
        ):
            out = fn(feasible)
            if out is None:  # PreScore returned Skip: the plugin adds nothing
                continue
            scores, normalised = out
            raw[plugin] = scores
            final[plugin] = {k: v * WEIGHTS[plugin] for k, v in normalised.items()}
        return raw, final

    def _s_taints(self, nodes: Sequence[NodeInfo]) -> tuple[dict[str, int], dict[str, int]]:
        tols = tuple(t for t in self.pod.spec.tolerations if t.effect in ("", "PreferNoSchedule"))
        scores = {
            i.node.name: sum(
                1
                for t in i.node.taints
                if t.effect == "PreferNoSchedule" and not tolerated(t, tols)
            )
            for i in nodes
        }
        return scores, default_normalize(scores, reverse=True)

    def _s_node_affinity(
        self, nodes: Sequence[NodeInfo]
    ) -> tuple[dict[str, int], dict[str, int]] | None:
        prefs = self.pod.spec.preferred_node_terms
        if not prefs:
            return None
        scores = {
            i.node.name: sum(p.weight for p in prefs if p.term.matches(i.node.name, i.node.labels))
            for i in nodes
        }
        return scores, default_normalize(scores, reverse=False)

    def spread_constraints(self) -> tuple[list[SpreadConstraint], bool]:
        """The ScheduleAnyway constraints scored, and whether they are the system defaults."""
        own = self.pod.spec.spread
        if own:
            return [c for c in own if c.when_unsatisfiable == "ScheduleAnyway"], False
        if self.default_spread_selector is None:
            return [], False
        return [
            SpreadConstraint(skew, key, "ScheduleAnyway", self.default_spread_selector)
            for key, skew in SYSTEM_DEFAULT_SPREAD
        ], True

    def _s_spread(self, nodes: Sequence[NodeInfo]) -> tuple[dict[str, int], dict[str, int]] | None:
        cons, defaulted = self.spread_constraints()
        if not cons or not nodes:
            return None
        require_all = not defaulted
        keys = {c.topology_key for c in cons}
        ignored: set[str] = set()
        pair_counts: dict[tuple[str, str], int] = {}
        size = [0] * len(cons)
        for i in nodes:
            labels = i.node.labels
            if require_all and not keys <= set(labels):
                ignored.add(i.node.name)
                continue
            for k, c in enumerate(cons):
                if c.topology_key == HOSTNAME:
                    continue
                pair = (c.topology_key, labels.get(c.topology_key, ""))
                if pair not in pair_counts:
                    pair_counts[pair] = 0
                    size[k] += 1
        weight = []
        for k, c in enumerate(cons):
            sz = len(nodes) - len(ignored) if c.topology_key == HOSTNAME else size[k]
            weight.append(math.log(sz + 2))
        for info in self.snap.infos.values():
            labels = info.node.labels
            if require_all and not keys <= set(labels):
                continue
            for c in cons:
                if not self._eligible_for_spread(c, info.node):
                    continue
                pair = (c.topology_key, labels.get(c.topology_key, ""))
                if pair not in pair_counts:
                    continue
                pair_counts[pair] += count_matching(info.pods, c.selector, self.pod.namespace)
        scores: dict[str, int] = {}
        for i in nodes:
            name = i.node.name
            if name in ignored:
                scores[name] = 0
                continue
            s = 0.0
            for k, c in enumerate(cons):
                value = i.node.labels.get(c.topology_key)
                if value is None:
                    continue
                if c.topology_key == HOSTNAME:
                    cnt = count_matching(i.pods, c.selector, self.pod.namespace)
                else:
                    cnt = pair_counts[(c.topology_key, value)]
                s += cnt * weight[k] + (c.max_skew - 1)
            scores[name] = _round_half_away(s)
        live = [v for k, v in scores.items() if k not in ignored]
        lo = min(live, default=0)
        hi = max(live, default=0)
        normalised = {}
        for name, s in scores.items():
            if name in ignored:
                normalised[name] = 0
            elif hi == 0:
                normalised[name] = MAX_SCORE
            else:
                normalised[name] = MAX_SCORE * (hi + lo - s) // hi
        return scores, normalised

    def _s_interpod(
        self, nodes: Sequence[NodeInfo]
    ) -> tuple[dict[str, int], dict[str, int]] | None:
        pod, spec = self.pod, self.pod.spec
        topo: dict[str, dict[str, int]] = {}

        def add(
            term: PodAffinityTerm, weight: int, target: Pod, ns: str, labels: Any, sign: int
        ) -> None:
            if term.selects(target, ns):
                v = labels.get(term.topology_key)
                if v is not None:
                    d = topo.setdefault(term.topology_key, {})
                    d[v] = d.get(v, 0) + weight * sign

        has_own = bool(spec.affinity_preferred or spec.anti_preferred)
        if not has_own and not any(
            p.spec.has_pod_affinity() for i in self.snap.infos.values() for p in i.pods
        ):
            return None  # PreScore: Skip (nothing can add or subtract)
        for info in self.snap.infos.values():
            labels = info.node.labels
            if not labels:
                continue
            for other in info.pods:
                if not has_own and not other.spec.has_pod_affinity():
                    continue
                for w in spec.affinity_preferred:
                    add(w.term, w.weight, other, pod.namespace, labels, 1)
                for w in spec.anti_preferred:
                    add(w.term, w.weight, other, pod.namespace, labels, -1)
                for t in other.spec.affinity_required:
                    add(t, HARD_POD_AFFINITY_WEIGHT, pod, other.namespace, labels, 1)
                for w in other.spec.affinity_preferred:
                    add(w.term, w.weight, pod, other.namespace, labels, 1)
                for w in other.spec.anti_preferred:
                    add(w.term, w.weight, pod, other.namespace, labels, -1)
        scores = {}
        for i in nodes:
            s = 0
            for key, values in topo.items():
                v = i.node.labels.get(key)
                if v is not None:
                    s += values.get(v, 0)
            scores[i.node.name] = s
        if not topo:
            return scores, {k: 0 for k in scores}
        lo, hi = min(scores.values()), max(scores.values())
        diff = hi - lo
        normalised = {
            k: int(MAX_SCORE * ((s - lo) / diff)) if diff > 0 else 0 for k, s in scores.items()
        }
        return scores, normalised

    def _s_least_allocated(
        self, nodes: Sequence[NodeInfo]
    ) -> tuple[dict[str, int], dict[str, int]]:
        scores = {i.node.name: least_allocated(self.pod, i) for i in nodes}
        return scores, scores

    def _s_balanced(
        self, nodes: Sequence[NodeInfo]
    ) -> tuple[dict[str, int], dict[str, int]] | None:
        if self.pod.spec.best_effort():
            return None
        scores = {i.node.name: balanced_allocation(self.pod, i) for i in nodes}
        return scores, scores

    def _s_image(self, nodes: Sequence[NodeInfo]) -> tuple[dict[str, int], dict[str, int]]:
        total = len(self.snap.infos)
        spread = {img: self.snap.image_nodes(img) for img in set(self.pod.spec.images())}
        n_containers = len(self.pod.spec.containers) + len(self.pod.spec.init_containers)
        scores = {}
        for i in nodes:
            s = 0
            for img in self.pod.spec.images():
                size = i.node.images.get(img)
                if size is not None:
                    s += int(size * spread[img] / total)
            scores[i.node.name] = image_priority(s, n_containers)
        return scores, scores


Counter = dict[tuple[str, str], int]


def _bump(counts: Counter, labels: Any, key: str, by: int) -> None:
    v = labels.get(key)
    if v is not None:
        counts[(key, v)] = counts.get((key, v), 0) + by


def _round_half_away(x: float) -> int:
    """``math.Round`` of Go (half away from zero)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def least_allocated(pod: Pod, info: NodeInfo) -> int:
    """NodeResourcesFit LeastAllocated: Σ w·(alloc − req)·100/alloc / Σ w over cpu and
    memory (weights 1), integer division; non-zero requests; 0-allocatable skipped."""
    total = weights = 0
    for alloc, req in (
        (info.node.cpu, info.nonzero_cpu + pod.spec.nonzero_request("cpu")),
        (info.node.memory, info.nonzero_memory + pod.spec.nonzero_request("memory")),
    ):
        if alloc == 0:
            continue
        score = 0 if req > alloc else (alloc - req) * MAX_SCORE // alloc
        total += score
        weights += 1
    return total // weights if weights else 0


def balanced_allocation(pod: Pod, info: NodeInfo) -> int:
    """BalancedAllocation: ``(1 − std of requested/allocatable fractions) × 100`` over cpu
    and memory (actual requests, each fraction capped at 1)."""
    fractions = []
    for alloc, req in (
        (info.node.cpu, info.cpu + pod.spec.request("cpu")),
        (info.node.memory, info.memory + pod.spec.request("memory")),
    ):
        if alloc == 0:
            continue
        fractions.append(min(1.0, req / alloc))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_SCORE)


def image_priority(total: int, containers: int) -> int:
    """ImageLocality's ``calculatePriority``: clamp to [23 MiB, 1000 MiB × containers] and
    rescale to 0-100."""
    hi = MAX_CONTAINER_IMAGE_THRESHOLD * containers
    if total < MIN_IMAGE_THRESHOLD:
        total = MIN_IMAGE_THRESHOLD
    elif total > hi:
        total = hi
    if hi == MIN_IMAGE_THRESHOLD:
        return 0
    return MAX_SCORE * (total - MIN_IMAGE_THRESHOLD) // (hi - MIN_IMAGE_THRESHOLD)


# ----------------------------------------------------------------------------- scheduler


class Scheduler:
    """kube-scheduler's scheduling cycle over a :class:`Snapshot` (keeps
    ``nextStartNodeIndex`` between cycles, as the real one does)."""

    def __init__(self, rng: np.random.Generator, *, percentage: int = 0) -> None:
        self.rng = rng
        self.percentage = percentage
        self.next_start = 0

    def schedule(
        self,
        snap: Snapshot,
        pod: Pod,
        *,
        nominated: str | None = None,
        default_spread_selector: LabelSelector | None = None,
        preempt: bool = True,
    ) -> Decision:
        """One cycle for ``pod``; the pod is not bound (the caller binds ``decision.node``)."""
        cycle = Cycle(snap, pod, default_spread_selector=default_spread_selector)
        d = Decision(pod=pod.name, node=None)
        statuses: dict[str, Status] = {}
        feasible: list[NodeInfo] = []
        if nominated is not None and nominated in snap.infos:
            res, st = cycle.filter(snap.infos[nominated])
            d.filter[nominated] = res
            d.evaluated += 1
            if st is None:
                feasible = [snap.infos[nominated]]
        if not feasible:
            feasible = self._find_feasible(snap, cycle, d, statuses)
        d.feasible = len(feasible)
        if len(feasible) == 1:
            d.node = feasible[0].node.name
            return d
        if feasible:
            raw, final = cycle.score(feasible)
            for plugin, per_node in raw.items():
                for node, s in per_node.items():
                    d.score.setdefault(node, {})[plugin] = s
            for plugin, per_node in final.items():
                for node, s in per_node.items():
                    d.finalscore.setdefault(node, {})[plugin] = s
            d.total = {
                i.node.name: sum(d.finalscore.get(i.node.name, {}).values()) for i in feasible
            }
            d.node = self.select_host([(i.node.name, d.total[i.node.name]) for i in feasible])
            return d
        d.message = _fit_error(len(snap.infos), statuses)
        if preempt:
            preemption(
                snap,
                pod,
                statuses,
                d,
                lambda s: Cycle(s, pod, default_spread_selector=default_spread_selector),
                self.rng,
            )
        return d

    def _find_feasible(
        self, snap: Snapshot, cycle: Cycle, d: Decision, statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        n = len(snap.order)
        if n == 0:
            return []
        want = num_feasible_nodes_to_find(n, self.percentage)
        feasible: list[NodeInfo] = []
        processed = 0
        start = self.next_start % n
        for k in range(n):
            name = snap.order[(start + k) % n]
            processed += 1
            res, st = cycle.filter(snap.infos[name])
            d.filter[name] = res
            d.evaluated += 1
            if st is None:
                feasible.append(snap.infos[name])
                if len(feasible) >= want:
                    break
            else:
                statuses[name] = st
        self.next_start = (start + processed) % n
        return feasible

    def select_host(self, scored: list[tuple[str, int]]) -> str:
        """The highest total; ties by reservoir sampling (``selectHost``)."""
        best, top = scored[0]
        count = 1
        for name, s in scored[1:]:
            if s > top:
                best, top, count = name, s, 1
            elif s == top:
                count += 1
                if int(self.rng.integers(count)) == 0:
                    best = name
        return best


def _fit_error(n: int, statuses: dict[str, Status]) -> str:
    reasons: dict[str, int] = {}
    for st in statuses.values():
        for r in st.reason.split(", "):
            reasons[r] = reasons.get(r, 0) + 1
    parts = ", ".join(f"{c} {r}" for r, c in sorted(reasons.items()))
    return f"0/{n} nodes are available: {parts}."


# ----------------------------------------------------------------------------- preemption


def more_important(a: Pod, b: Pod) -> bool:
    """``MoreImportantPod``: higher priority, then earlier start."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return a.start < b.start


def _compare_importance(a: Pod, b: Pod) -> int:
    return -1 if more_important(a, b) else (1 if more_important(b, a) else 0)


def select_victims(
    snap: Snapshot, info: NodeInfo, pod: Pod, make_cycle: Callable[[Snapshot], Cycle]
) -> list[Pod] | None:
    """Victims on ``info`` so that ``pod`` fits (``selectVictimsOnNode``), or ``None``."""
    lower = [p for p in info.pods if p.priority < pod.priority]
    trial = info.copy()
    for p in lower:
        trial.remove(p)
    saved = snap.infos[info.node.name]
    snap.infos[info.node.name] = trial
    try:
        if make_cycle(snap).filter(trial)[1] is not None:
            return None
        import functools

        ordered = sorted(
            lower,
            key=functools.cmp_to_key(_compare_importance),
        )
        victims = []
        for p in ordered:  # reprieve the most important first
            trial.add(p)
            if make_cycle(snap).filter(trial)[1] is not None:
                trial.remove(p)
                victims.append(p)
        return victims
    finally:
        snap.infos[info.node.name] = saved


def pick_node_for_preemption(candidates: dict[str, list[Pod]]) -> str | None:
    """``pickOneNodeForPreemption``: the upstream tie-break order (no PDBs modelled)."""
    if not candidates:
        return None
    for name, victims in candidates.items():
        if not victims:
            return name
    names = list(candidates)

    def keep(fn: Callable[[list[Pod]], float], lowest: bool = True) -> None:
        nonlocal names
        vals = {n: fn(candidates[n]) for n in names}
        best = min(vals.values()) if lowest else max(vals.values())
        names = [n for n in names if vals[n] == best]

    keep(lambda v: 0)  # 1. fewest PDB violations: none are modelled
    keep(lambda v: max(p.priority for p in v))  # 2. lowest highest-victim priority
    keep(lambda v: sum(p.priority + MAX_INT32 + 1 for p in v))  # 3. lowest priority sum
    keep(lambda v: len(v))  # 4. fewest victims

    def earliest_top(v: list[Pod]) -> float:
        top = max(p.priority for p in v)
        return min(p.start for p in v if p.priority == top)

    keep(earliest_top, lowest=False)  # 5. latest start of the highest-priority victims
    return names[0]  # 6. the first


def preemption(
    snap: Snapshot,
    pod: Pod,
    statuses: dict[str, Status],
    d: Decision,
    make_cycle: Callable[[Snapshot], Cycle],
    rng: np.random.Generator,
) -> None:
    """DefaultPreemption's PostFilter: nominate a node and name the victims in ``d``."""
    if pod.spec.preemption_policy == "Never":
        d.postfilter = {"DefaultPreemption": "preemptionPolicy is Never"}
        return
    potential = [n for n in snap.order if n in statuses and statuses[n].code == UNSCHEDULABLE]
    if not potential:
        d.postfilter = {"DefaultPreemption": "preemption is not helpful for scheduling"}
        return
    n = len(potential)
    num = min(n, max(n * MIN_CANDIDATES_PERCENT // 100, MIN_CANDIDATES_ABSOLUTE))
    offset = int(rng.integers(n)) if n > num else 0
    candidates: dict[str, list[Pod]] = {}
    for k in range(n):
        name = potential[(offset + k) % n]
        victims = select_victims(snap, snap.infos[name], pod, make_cycle)
        if victims is not None:
            candidates[name] = victims
            if len(candidates) >= num:
                break
    chosen = pick_node_for_preemption(candidates)
    if chosen is None:
        d.postfilter = {"DefaultPreemption": "no preemption victims found"}
        return
    d.nominated = chosen
    d.victims = candidates[chosen]
    d.postfilter = {
        "DefaultPreemption": {
            "nominated": chosen,
            "victims": [v.name for v in d.victims],
            "candidates": {k: [v.name for v in vs] for k, vs in candidates.items()},
        }
    }


__all__ = [
    "FILTERS",
    "WEIGHTS",
    "Cycle",
    "Decision",
    "NodeInfo",
    "Scheduler",
    "Snapshot",
    "balanced_allocation",
    "default_normalize",
    "image_priority",
    "least_allocated",
    "num_feasible_nodes_to_find",
    "pick_node_for_preemption",
]


def subset(snap: Snapshot, names: Iterable[str]) -> Snapshot:
    """A snapshot of some nodes of ``snap`` sharing their :class:`NodeInfo` (binds show in
    both): one member cluster of a Karmada federation."""
    out = Snapshot(())
    wanted = set(names)
    out.order = [n for n in snap.order if n in wanted]
    out.infos = {n: snap.infos[n] for n in out.order}
    return out
