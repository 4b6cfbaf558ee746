"""What a Kubernetes cluster knows about a simcontinuum scenario: nodes and workloads.

From a scenario translated from manifests (its ``source_path`` is the manifest folder) the
nodes, pod templates, HPAs and priority classes are the manifests' own. From any other
scenario they are derived, so ``kube-scheduler`` runs on every scenario:

- a node → allocatable = capacity (``cores`` × 1000 m, ``memory``; undeclared memory is
  unlimited), 110 pods, no taints, labels ``kubernetes.io/hostname``,
  ``simcontinuum.io/tier``, ``simcontinuum.io/cluster`` and its scenario labels
  (``key=value`` → ``key: value``, ``key`` → ``key: ""``);
- a component → a Deployment of ``replicas.min`` pods of one container requesting its cpu and
  memory, image ``<app>/<component>``; its placement becomes ``nodeName`` (a pinned node),
  a node selector (labels, cluster) and a required node affinity on the tier label.

Invariant: a world is a pure function of the scenario (and its manifests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from simcontinuum.k8s.manifests import HPASpec, Manifests, read_manifests
from simcontinuum.k8s.objects import (
    CLUSTER_LABEL,
    HOSTNAME,
    TIER_LABEL,
    Container,
    K8sNode,
    LabelSelector,
    NodeSelectorTerm,
    PodSpec,
    Requirement,
)
from simcontinuum.model import Component, Node

UNLIMITED_MEMORY = 2**62
PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"


@dataclass(frozen=True)
class WorkloadInfo:
    """The pods of one component: their template and who selects them."""

    app: str
    component: str
    kind: str
    namespace: str
    labels: Mapping[str, str]
    spec: PodSpec
    replicas: int
    selected_by: LabelSelector | None  # for system-default spreading (None: a bare pod)
    image_sizes: Mapping[str, int] = field(default_factory=dict)


@dataclass
class World:
    """Nodes and workloads of one scenario, in Kubernetes terms."""

    nodes: dict[str, K8sNode]
    workloads: dict[tuple[str, str], WorkloadInfo]
    hpas: dict[tuple[str, str], HPASpec]
    from_manifests: bool = False
    manifests: Manifests | None = None


def _labels(strings: frozenset[str]) -> dict[str, str]:
    out = {}
    for s in sorted(strings):
        k, _, v = s.partition("=")
        out[k] = v
    return out


def node_of(node: Node) -> K8sNode:
    """The Kubernetes node of a scenario node (see the module docstring)."""
    labels = {HOSTNAME: node.id, TIER_LABEL: node.tier, CLUSTER_LABEL: node.cluster}
    labels.update(_labels(node.labels))
    mem = int(node.memory) if node.memory > 0 else UNLIMITED_MEMORY
    return K8sNode(
        name=node.id,
        labels=labels,
        cpu=node.cores * 1000,
        memory=mem,
        capacity_cpu=node.cores * 1000,
        capacity_memory=mem,
    )


def workload_of(app: str, comp: Component) -> WorkloadInfo:
    """The Deployment of a scenario component (see the module docstring)."""
    p = comp.placement
    selector = dict(_labels(p.labels))
    if p.cluster is not None:
        selector[CLUSTER_LABEL] = p.cluster
    required = None
    if p.tiers and "*" not in p.tiers:
        required = (NodeSelectorTerm((Requirement(TIER_LABEL, "In", tuple(sorted(p.tiers))),)),)
    image = f"{app}/{comp.id}:latest"
    spec = PodSpec(
        containers=(
            Container(
                comp.id,
                image,
                cpu_request=round(comp.cpu * 1000),
                memory_request=int(comp.memory),
                cpu_limit=None if comp.cpu_limit is None else round(comp.cpu_limit * 1000),
            ),
        ),
        node_selector=tuple(sorted(selector.items())),
        node_name=p.node,
        required_node_terms=required,
    )
    labels = {PART_OF: app, NAME: comp.id}
    return WorkloadInfo(
        app,
        comp.id,
        "Deployment",
        "default",
        labels,
        spec,
        comp.replicas_min,
        LabelSelector(tuple(sorted(labels.items()))),
        {image: int(comp.image_size)},
    )


def build_world(
    scenario: object | None, nodes: list[Node], apps: Mapping[str, list[Component]]
) -> World:
    """The world of a scenario: from its manifests when it was translated from some."""
    manifests = None
    root = getattr(scenario, "source_path", None)
    if root and os.path.isdir(root):
        try:
            m = read_manifests(root)
        except Exception:  # not a manifest folder (an MLSysOps one): derive instead
            m = None
        if m is not None and m.nodes and not m.problems:
            manifests = m
    k8s_nodes: dict[str, K8sNode] = {}
    workloads: dict[tuple[str, str], WorkloadInfo] = {}
    hpas: dict[tuple[str, str], HPASpec] = {}
    if manifests is None:
        for n in nodes:
            k8s_nodes[n.id] = node_of(n)
        for aid, comps in apps.items():
            for c in comps:
                workloads[(aid, c.id)] = workload_of(aid, c)
        return World(k8s_nodes, workloads, hpas)
    for e in manifests.nodes:
        k8s_nodes[e.node.name] = e.node
    sizes: dict[str, int] = {}
    for e in manifests.nodes:
        for img, size in e.node.images.items():
            sizes.setdefault(img, size)
    service_selectors = manifests.services
    for w in manifests.workloads:
        selected: LabelSelector | None = None
        if w.kind != "Pod" and w.selector is not None:
            selected = w.selector
        else:
            for ns, sel in service_selectors:
                if ns == w.namespace and all(w.labels.get(k) == v for k, v in sel.items()):
                    selected = LabelSelector(tuple(sorted(sel.items())))
                    break
        workloads[(w.app, w.name)] = WorkloadInfo(
            w.app,
            w.name,
            w.kind,
            w.namespace,
            w.labels,
            w.spec,
            w.replicas,
            selected,
            {i: sizes.get(i, 0) for i in w.spec.images()},
        )
        for h in manifests.hpas:
            if h.target == w.name and h.target_kind == w.kind and h.namespace == w.namespace:
                hpas[(w.app, w.name)] = h
    # components the manifests do not describe (added by an overlay) are derived
    for aid, comps in apps.items():
        for c in comps:
            workloads.setdefault((aid, c.id), workload_of(aid, c))
    return World(k8s_nodes, workloads, hpas, True, manifests)


__all__ = ["WorkloadInfo", "World", "build_world", "node_of", "workload_of"]
