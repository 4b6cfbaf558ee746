"""Reading a folder of Kubernetes (and Karmada) manifests as ``kubectl apply -f DIR`` takes it.

Every ``*.yaml``/``*.yml``/``*.json`` file under DIR (recursively, in sorted order) may hold
several documents; a ``List`` (``kubectl get nodes -o yaml``) is unpacked. Kinds read:
``Node``, ``Deployment``, ``StatefulSet``, ``ReplicaSet``, ``Pod``, ``HorizontalPodAutoscaler``
(``autoscaling/v2`` and ``v1``), ``PriorityClass``, ``Service`` (its selector: system-default
spreading), and Karmada's ``Cluster``, ``PropagationPolicy``, ``ClusterPropagationPolicy`` and
``OverridePolicy``. Kinds that do not change a scheduling decision (``ConfigMap``, ``Secret``,
``Namespace``...) are listed as ignored; any other kind is reported with its place and skipped.

Inside a read kind, every field is either read, known and ignored (listed once per path, e.g.
``Deployment.spec.template.spec.containers[].env``), or unknown: an unknown field is an error
naming its place (``deploy.yaml#2: Deployment web: spec.template.spec.nodeSelecter: unknown
field; did you mean 'nodeSelector'?``), as ``kubectl apply --validate=strict`` refuses it.

Invariants: reading is deterministic (file order, document order); nothing is evaluated; the
:class:`Manifests` lists every problem found, never just the first.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simcontinuum.errors import ScenarioError
from simcontinuum.k8s import quantity
from simcontinuum.k8s.objects import (
    CLUSTER_LABEL,
    HOSTNAME,
    TIER_LABEL,
    Container,
    K8sNode,
    LabelSelector,
    NodeSelectorTerm,
    PodAffinityTerm,
    PodSpec,
    PreferredNodeTerm,
    Requirement,
    SpreadConstraint,
    Taint,
    Toleration,
    WeightedTerm,
    normalise_image,
)

IGNORED_KINDS = frozenset(
    {
        "ConfigMap",
        "Secret",
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Ingress",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "StorageClass",
        "PodDisruptionBudget",
        "LimitRange",
        "ResourceQuota",
        "Endpoints",
        "EndpointSlice",
        "Event",
        "Lease",
        "CustomResourceDefinition",
        "ResourceBinding",
        "ClusterResourceBinding",
        "Work",
    }
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "Pod")
PART_OF = "app.kubernetes.io/part-of"
DEFAULT_CLUSTER = "default"
DEFAULT_TIER = "edge"
MAX_FILES = 10_000

_META = {"name", "namespace", "labels"}
_META_IGNORED = {
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "generation",
    "selfLink",
}
_CONTAINER = {"name", "image", "resources", "ports"}
_CONTAINER_IGNORED = {
    "command",
    "args",
    "env",
    "envFrom",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "securityContext",
    "imagePullPolicy",
    "workingDir",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "stdin",
    "stdinOnce",
    "tty",
    "resizePolicy",
    "restartPolicy",
}
_POD_SPEC = {
    "containers",
    "initContainers",
    "nodeSelector",
    "nodeName",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
    "priority",
    "preemptionPolicy",
    "overhead",
    "schedulerName",
}
_POD_SPEC_IGNORED = {
    "volumes",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "dnsConfig",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "setHostnameAsFQDN",
    "enableServiceLinks",
    "runtimeClassName",
    "readinessGates",
    "shareProcessNamespace",
    "hostAliases",
    "os",
    "ephemeralContainers",
    "resourceClaims",
    "schedulingGates",
    "hostUsers",
    "resources",
}
_WORKLOAD_SPEC = {"replicas", "selector", "template"}
_WORKLOAD_SPEC_IGNORED = {
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "paused",
    "serviceName",
    "volumeClaimTemplates",
    "podManagementPolicy",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "ordinals",
}


@dataclass
class NodeEntry:
    """A node manifest with where it goes in the scenario."""

    node: K8sNode
    cluster: str
    tier: str
    where: str
    gpus: int = 0


@dataclass
class Workload:
    """A Deployment, StatefulSet, ReplicaSet or bare Pod: the pods it makes."""

    kind: str
    name: str
    namespace: str
    replicas: int
    selector: LabelSelector | None
    labels: dict[str, str]  # the pod template's labels
    spec: PodSpec
    app: str  # the simcontinuum application it belongs to
    where: str
    raw_template: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScalingRules:
    """One direction of an HPA ``behavior``."""

    window: float | None  # stabilizationWindowSeconds (None: the default for the direction)
    select: str  # Max | Min | Disabled
    policies: tuple[tuple[str, int, float], ...]  # (Pods|Percent, value, periodSeconds)
    tolerance: float | None = None


@dataclass
class HPASpec:
    """An HPA scaling a workload on cpu (Utilization or AverageValue)."""

    name: str
    namespace: str
    target_kind: str
    target: str
    min_replicas: int
    max_replicas: int
    target_utilization: int | None  # percent of requests
    target_average_milli: int | None  # millicores per pod
    scale_up: ScalingRules | None
    scale_down: ScalingRules | None
    where: str


@dataclass
class Manifests:
    """Everything read from a manifest folder."""

    root: str
    nodes: list[NodeEntry] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    hpas: list[HPASpec] = field(default_factory=list)
    priority_classes: dict[str, tuple[int, bool, str]] = field(default_factory=dict)
    services: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # ns, selector
    karmada: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)
    ignored_kinds: list[str] = field(default_factory=list)
    unknown_kinds: list[str] = field(default_factory=list)

    def workload(self, app: str, component: str) -> Workload | None:
        for w in self.workloads:
            if w.app == app and w.name == component:
                return w
        return None


# ----------------------------------------------------------------------------- reading


def _documents(path: Path, rel: str, problems: list[str]) -> list[tuple[str, Any]]:
    from simcontinuum.scenario.reading import MAX_FILE_BYTES, _Loader

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(f"{rel}: larger than {MAX_FILE_BYTES // 2**20} MiB; split it")
            return []
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{rel}: cannot read: {exc}")
        return []
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        problems.append(f"{rel}: not valid YAML: {exc}".replace("\n", " "))
        return []
    out: list[tuple[str, Any]] = []
    for i, d in enumerate(docs):
        if d is None:
            continue
        where = f"{rel}#{i + 1}" if len(docs) > 1 else rel
        if (isinstance(d, Mapping) and d.get("kind") == "List") or (
            isinstance(d, Mapping) and str(d.get("kind", "")).endswith("List") and "items" in d
        ):
            for j, item in enumerate(d.get("items") or []):
                out.append((f"{where}: items[{j}]", item))
        else:
            out.append((where, d))
    return out


def read_manifests(root: str | os.PathLike[str]) -> Manifests:
    """Read every manifest under ``root`` (a folder or one file).

    Raises:
        ScenarioError: the folder does not exist or holds no manifest file.
    """
    base = Path(root)
    if not base.exists():
        raise ScenarioError([f"{root}: no such folder; give a folder of Kubernetes manifests"])
    files = (
        [base]
        if base.is_file()
        else sorted(
            p for p in base.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
        )
    )
    if base.is_dir():
        # the overlay and scenario files beside the manifests are not manifests
        files = [p for p in files if not p.name.startswith(("overlay", "scenario"))]
    if not files:
        raise ScenarioError([f"{root}: no .yaml, .yml or .json manifest files found"])
    if len(files) > MAX_FILES:
        raise ScenarioError([f"{root}: more than {MAX_FILES} files; give a smaller folder"])
    m = Manifests(root=os.fspath(base.resolve()))
    for p in files:
        rel = os.fspath(p.relative_to(base)) if base.is_dir() else p.name
        sub = (
            p.relative_to(base).parts[0]
            if base.is_dir() and len(p.relative_to(base).parts) > 1
            else None
        )
        for where, doc in _documents(p, rel, m.problems):
            _read_object(m, doc, where, sub)
    return m


def _read_object(m: Manifests, doc: Any, where: str, subdir: str | None) -> None:
    if not isinstance(doc, Mapping):
        m.problems.append(
            f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}"
        )
        return
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        m.problems.append(f"{where}: kind: required (e.g. Deployment, Node)")
        return
    name = _mapping(doc.get("metadata")).get("name", "")
    r = _Reader(m, f"{where}: {kind} {name}".rstrip(), kind)
    if kind == "Node":
        _read_node(r, doc, subdir)
    elif kind in WORKLOAD_KINDS:
        _read_workload(r, doc)
    elif kind == "HorizontalPodAutoscaler":
        _read_hpa(r, doc)
    elif kind == "PriorityClass":
        r.fields(
            doc,
            "",
            {"apiVersion", "kind", "metadata", "value", "globalDefault", "preemptionPolicy"},
            {"description"},
        )
        r.meta(doc.get("metadata"))
        value = r.integer(doc.get("value"), "value", required=True)
        m.priority_classes[str(name)] = (
            value or 0,
            bool(doc.get("globalDefault", False)),
            str(doc.get("preemptionPolicy", "PreemptLowerPriority")),
        )
    elif kind == "Service":
        r.fields(doc, "", {"apiVersion", "kind", "metadata", "spec"}, {"status"})
        meta = r.meta(doc.get("metadata"))
        spec = _mapping(doc.get("spec"))
        r.fields(
            spec,
            "spec",
            {"selector"},
            {
                "type",
                "ports",
                "clusterIP",
                "clusterIPs",
                "sessionAffinity",
                "externalTrafficPolicy",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "loadBalancerIP",
                "externalName",
                "publishNotReadyAddresses",
                "allocateLoadBalancerNodePorts",
                "healthCheckNodePort",
                "sessionAffinityConfig",
                "trafficDistribution",
                "externalIPs",
                "loadBalancerClass",
                "loadBalancerSourceRanges",
            },
        )
        sel = spec.get("selector")
        if isinstance(sel, Mapping) and sel:
            m.services.append((meta[1], {str(k): str(v) for k, v in sel.items()}))
    elif kind in (
        "Cluster",
        "PropagationPolicy",
        "ClusterPropagationPolicy",
        "OverridePolicy",
        "ClusterOverridePolicy",
    ):
        m.karmada.append((kind, dict(doc), where))
    elif kind in IGNORED_KINDS:
        if kind not in m.ignored_kinds:
            m.ignored_kinds.append(kind)
    else:
        m.unknown_kinds.append(f"{where}: kind {kind!r} is not read (skipped)")


def _mapping(v: object) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


class _Reader:
    """Field checks for one object: unknown fields are problems, ignored ones are listed."""

    def __init__(self, m: Manifests, where: str, kind: str) -> None:
        self.m = m
        self.where = where
        self.kind = kind

    def problem(self, path: str, msg: str) -> None:
        self.m.problems.append(f"{self.where}: {path}: {msg}" if path else f"{self.where}: {msg}")

    def fields(
        self, d: Any, path: str, known: set[str], ignored: frozenset[str] | set[str] = frozenset()
    ) -> Mapping[str, Any]:
        if d is None:
            return {}
        if not isinstance(d, Mapping):
            self.problem(path, f"expected a mapping, got {type(d).__name__}")
            return {}
        for k in d:
            if k in known:
                continue
            p = f"{path}.{k}" if path else str(k)
            if k in ignored:
                generic = f"{self.kind}.{_generic(p)}"
                if generic not in self.m.ignored_fields:
                    self.m.ignored_fields.append(generic)
                continue
            close = difflib.get_close_matches(str(k), sorted(known | set(ignored)), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.problem(p, f"unknown field{hint}")
        return d

    def meta(self, d: Any) -> tuple[str, str, dict[str, str]]:
        md = self.fields(d, "metadata", _META, _META_IGNORED)
        labels = self.labels(md.get("labels"), "metadata.labels")
        ns = md.get("namespace") or "default"
        return str(md.get("name", "")), str(ns), labels

    def labels(self, d: Any, path: str) -> dict[str, str]:
        if d is None:
            return {}
        if not isinstance(d, Mapping):
            self.problem(path, "expected a mapping of label keys to string values")
            return {}
        out = {}
        for k, v in d.items():
            if not isinstance(v, str | int | float) or isinstance(v, bool):
                self.problem(f"{path}.{k}", f"label values are strings, got {v!r}; quote it")
                continue
            out[str(k)] = "" if v is None else str(v)
        return out

    def integer(
        self, v: Any, path: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        if v is None:
            if required:
                self.problem(path, "required")
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.problem(path, f"expected an integer, got {v!r}")
            return None
        if minimum is not None and v < minimum:
            self.problem(path, f"expected an integer >= {minimum}, got {v}")
            return None
        return v

    def quantity(self, v: Any, path: str, milli: bool) -> int | None:
        try:
            return quantity.milli(v) if milli else quantity.value(v)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def listing(self, v: Any, path: str) -> list[Any]:
        if v is None:
            return []
        if not isinstance(v, list):
            self.problem(path, f"expected a list, got {type(v).__name__}")
            return []
        return v


def _generic(path: str) -> str:
    import re

    return re.sub(r"\[\d+\]", "[]", path)


# ----------------------------------------------------------------------------- nodes


def _read_node(r: _Reader, doc: Mapping[str, Any], subdir: str | None) -> None:
    r.fields(doc, "", {"apiVersion", "kind", "metadata", "spec", "status"})
    name, _ns, labels = r.meta(doc.get("metadata"))
    if not name:
        r.problem("metadata.name", "required")
        return
    spec = r.fields(
        doc.get("spec"),
        "spec",
        {"taints", "unschedulable"},
        {"podCIDR", "podCIDRs", "providerID", "configSource", "externalID"},
    )
    status = r.fields(
        doc.get("status"),
        "status",
        {"capacity", "allocatable", "images"},
        {
            "conditions",
            "addresses",
            "daemonEndpoints",
            "nodeInfo",
            "volumesInUse",
            "volumesAttached",
            "config",
            "runtimeHandlers",
            "features",
            "phase",
        },
    )
    taints = []
    for i, t in enumerate(r.listing(spec.get("taints"), "spec.taints")):
        t = r.fields(t, f"spec.taints[{i}]", {"key", "value", "effect"}, {"timeAdded"})
        effect = t.get("effect")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            r.problem(
                f"spec.taints[{i}].effect",
                f"expected NoSchedule, PreferNoSchedule or NoExecute, got {effect!r}",
            )
            continue
        if not t.get("key"):
            r.problem(f"spec.taints[{i}].key", "required")
            continue
        taints.append(Taint(str(t["key"]), str(t.get("value") or ""), str(effect)))
    capacity = _mapping(status.get("capacity"))
    alloc = _mapping(status.get("allocatable")) or capacity
    if "cpu" not in alloc:
        r.problem(
            "status.allocatable.cpu", "required (or status.capacity.cpu), e.g. '8' or '7500m'"
        )
        return
    cpu = r.quantity(alloc.get("cpu"), "status.allocatable.cpu", True) or 0
    mem = r.quantity(alloc.get("memory", 0), "status.allocatable.memory", False) or 0
    pods = r.quantity(alloc.get("pods", 110), "status.allocatable.pods", False)
    cap_cpu = r.quantity(capacity.get("cpu", alloc.get("cpu")), "status.capacity.cpu", True) or cpu
    cap_mem = (
        r.quantity(capacity.get("memory", alloc.get("memory", 0)), "status.capacity.memory", False)
        or mem
    )
    gpus = (
        r.quantity(capacity.get("nvidia.com/gpu", 0), "status.capacity.nvidia.com/gpu", False) or 0
    )
    images: dict[str, int] = {}
    for i, img in enumerate(r.listing(status.get("images"), "status.images")):
        img = r.fields(img, f"status.images[{i}]", {"names", "sizeBytes"})
        size = r.integer(img.get("sizeBytes", 0), f"status.images[{i}].sizeBytes", minimum=0) or 0
        for n in r.listing(img.get("names"), f"status.images[{i}].names"):
            images[normalise_image(str(n))] = size
    labels.setdefault(HOSTNAME, name)
    cluster = labels.get(CLUSTER_LABEL) or subdir or DEFAULT_CLUSTER
    tier = labels.get(TIER_LABEL) or DEFAULT_TIER
    node = K8sNode(
        name=name,
        labels=labels,
        cpu=cpu,
        memory=mem,
        pods=pods if pods is not None else 110,
        taints=tuple(taints),
        images=images,
        unschedulable=bool(spec.get("unschedulable", False)),
        capacity_cpu=cap_cpu,
        capacity_memory=cap_mem,
    )
    r.m.nodes.append(NodeEntry(node, cluster, tier, r.where, gpus))


# ----------------------------------------------------------------------------- pods


def _requirements(r: _Reader, items: Any, path: str, node: bool) -> tuple[Requirement, ...]:
    out = []
    ops = (
        ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
        if node
        else ("In", "NotIn", "Exists", "DoesNotExist")
    )
    for i, e in enumerate(r.listing(items, path)):
        e = r.fields(e, f"{path}[{i}]", {"key", "operator", "values"})
        op = e.get("operator")
        if op not in ops:
            r.problem(f"{path}[{i}].operator", f"expected one of {', '.join(ops)}, got {op!r}")
            continue
        values = tuple(str(v) for v in r.listing(e.get("values"), f"{path}[{i}].values"))
        if op in ("In", "NotIn") and not values:
            r.problem(f"{path}[{i}].values", f"required (non-empty) for operator {op}")
        if op in ("Exists", "DoesNotExist") and values:
            r.problem(f"{path}[{i}].values", f"must be empty for operator {op}")
        out.append(Requirement(str(e.get("key", "")), str(op), values))
    return tuple(out)


def _node_term(r: _Reader, d: Any, path: str) -> NodeSelectorTerm:
    d = r.fields(d, path, {"matchExpressions", "matchFields"})
    return NodeSelectorTerm(
        _requirements(r, d.get("matchExpressions"), f"{path}.matchExpressions", True),
        _requirements(r, d.get("matchFields"), f"{path}.matchFields", True),
    )


def label_selector(r: _Reader, d: Any, path: str) -> LabelSelector | None:
    if d is None:
        return None
    d = r.fields(d, path, {"matchLabels", "matchExpressions"})
    return LabelSelector(
        tuple(sorted(r.labels(d.get("matchLabels"), f"{path}.matchLabels").items())),
        _requirements(r, d.get("matchExpressions"), f"{path}.matchExpressions", False),
    )


def _pod_term(r: _Reader, d: Any, path: str, labels: dict[str, str]) -> PodAffinityTerm:
    d = r.fields(
        d,
        path,
        {
            "labelSelector",
            "topologyKey",
            "namespaces",
            "namespaceSelector",
            "matchLabelKeys",
            "mismatchLabelKeys",
        },
    )
    if not d.get("topologyKey"):
        r.problem(f"{path}.topologyKey", "required, e.g. kubernetes.io/hostname")
    sel = label_selector(r, d.get("labelSelector"), f"{path}.labelSelector")
    extra = [
        Requirement(k, "In", (labels[k],))
        for k in r.listing(d.get("matchLabelKeys"), f"{path}.matchLabelKeys")
        if k in labels
    ]
    extra += [
        Requirement(k, "NotIn", (labels[k],))
        for k in r.listing(d.get("mismatchLabelKeys"), f"{path}.mismatchLabelKeys")
        if k in labels
    ]
    if sel is not None and extra:
        sel = LabelSelector(sel.match_labels, (*sel.expressions, *extra))
    ns_sel = d.get("namespaceSelector")
    if ns_sel not in (None, {}):
        r.problem(
            f"{path}.namespaceSelector",
            "only {} (every namespace) is supported; list namespaces instead",
        )
    return PodAffinityTerm(
        sel,
        str(d.get("topologyKey", "")),
        tuple(str(x) for x in r.listing(d.get("namespaces"), f"{path}.namespaces")),
        all_namespaces=ns_sel == {},
    )


def _weighted(
    r: _Reader, items: Any, path: str, labels: dict[str, str]
) -> tuple[WeightedTerm, ...]:
    out = []
    for i, w in enumerate(r.listing(items, path)):
        w = r.fields(w, f"{path}[{i}]", {"weight", "podAffinityTerm"})
        weight = r.integer(w.get("weight"), f"{path}[{i}].weight", required=True, minimum=1)
        out.append(
            WeightedTerm(
                weight or 1,
                _pod_term(r, w.get("podAffinityTerm"), f"{path}[{i}].podAffinityTerm", labels),
            )
        )
    return tuple(out)


def _container(r: _Reader, d: Any, path: str) -> Container:
    d = r.fields(d, path, _CONTAINER, _CONTAINER_IGNORED)
    res = r.fields(d.get("resources"), f"{path}.resources", {"requests", "limits"}, {"claims"})
    req = _mapping(res.get("requests"))
    lim = _mapping(res.get("limits"))

    def q(src: Mapping[str, Any], key: str, what: str, milli: bool) -> int | None:
        return r.quantity(src[key], f"{path}.resources.{what}.{key}", milli) if key in src else None

    cpu_req, mem_req = q(req, "cpu", "requests", True), q(req, "memory", "requests", False)
    cpu_lim, mem_lim = q(lim, "cpu", "limits", True), q(lim, "memory", "limits", False)
    # Kubernetes defaults a missing request to the limit, and refuses a request above it
    cpu_req = cpu_lim if cpu_req is None else cpu_req
    if cpu_req is not None and cpu_lim is not None and cpu_req > cpu_lim:
        r.problem(f"{path}.resources.requests.cpu", "must be less than or equal to the cpu limit")
    mem_req = mem_lim if mem_req is None else mem_req
    ports = []
    for i, p in enumerate(r.listing(d.get("ports"), f"{path}.ports")):
        p = r.fields(
            p, f"{path}.ports[{i}]", {"containerPort", "hostPort", "protocol", "name", "hostIP"}
        )
        hp = p.get("hostPort")
        if isinstance(hp, int) and hp > 0:
            ports.append((str(p.get("hostIP") or "0.0.0.0"), str(p.get("protocol") or "TCP"), hp))
    return Container(
        str(d.get("name", "")),
        str(d.get("image", "")),
        cpu_req,
        mem_req,
        cpu_lim,
        mem_lim,
        tuple(ports),
    )


def read_pod_spec(
    r: _Reader,
    d: Any,
    path: str,
    labels: dict[str, str],
    priorities: Mapping[str, tuple[int, bool, str]] | None = None,
) -> PodSpec:
    """A ``PodSpec`` from its manifest mapping (problems go to ``r``)."""
    d = r.fields(d, path, _POD_SPEC, _POD_SPEC_IGNORED)
    containers = tuple(
        _container(r, c, f"{path}.containers[{i}]")
        for i, c in enumerate(r.listing(d.get("containers"), f"{path}.containers"))
    )
    if not containers:
        r.problem(f"{path}.containers", "required: at least one container")
    inits = tuple(
        _container(r, c, f"{path}.initContainers[{i}]")
        for i, c in enumerate(r.listing(d.get("initContainers"), f"{path}.initContainers"))
    )
    aff = r.fields(
        d.get("affinity"), f"{path}.affinity", {"nodeAffinity", "podAffinity", "podAntiAffinity"}
    )
    na = r.fields(
        aff.get("nodeAffinity"),
        f"{path}.affinity.nodeAffinity",
        {
            "requiredDuringSchedulingIgnoredDuringExecution",
            "preferredDuringSchedulingIgnoredDuringExecution",
        },
    )
    required = None
    if "requiredDuringSchedulingIgnoredDuringExecution" in na:
        p = f"{path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        req = r.fields(
            na["requiredDuringSchedulingIgnoredDuringExecution"], p, {"nodeSelectorTerms"}
        )
        required = tuple(
            _node_term(r, t, f"{p}.nodeSelectorTerms[{i}]")
            for i, t in enumerate(r.listing(req.get("nodeSelectorTerms"), f"{p}.nodeSelectorTerms"))
        )
    preferred = []
    p = f"{path}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
    for i, w in enumerate(r.listing(na.get("preferredDuringSchedulingIgnoredDuringExecution"), p)):
        w = r.fields(w, f"{p}[{i}]", {"weight", "preference"})
        weight = r.integer(w.get("weight"), f"{p}[{i}].weight", required=True, minimum=1)
        preferred.append(
            PreferredNodeTerm(
                weight or 1, _node_term(r, w.get("preference"), f"{p}[{i}].preference")
            )
        )
    req_keys = {
        "requiredDuringSchedulingIgnoredDuringExecution",
        "preferredDuringSchedulingIgnoredDuringExecution",
    }
    pa = r.fields(aff.get("podAffinity"), f"{path}.affinity.podAffinity", req_keys)
    paa = r.fields(aff.get("podAntiAffinity"), f"{path}.affinity.podAntiAffinity", req_keys)

    def hard(block: Mapping[str, Any], what: str) -> tuple[PodAffinityTerm, ...]:
        q = f"{path}.affinity.{what}.requiredDuringSchedulingIgnoredDuringExecution"
        return tuple(
            _pod_term(r, t, f"{q}[{i}]", labels)
            for i, t in enumerate(
                r.listing(block.get("requiredDuringSchedulingIgnoredDuringExecution"), q)
            )
        )

    tols = []
    for i, t in enumerate(r.listing(d.get("tolerations"), f"{path}.tolerations")):
        t = r.fields(
            t,
            f"{path}.tolerations[{i}]",
            {"key", "operator", "value", "effect", "tolerationSeconds"},
        )
        op = t.get("operator") or "Equal"
        if op not in ("Equal", "Exists"):
            r.problem(f"{path}.tolerations[{i}].operator", f"expected Equal or Exists, got {op!r}")
        eff = t.get("effect") or ""
        if eff not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            r.problem(
                f"{path}.tolerations[{i}].effect",
                f"expected NoSchedule, PreferNoSchedule or NoExecute, got {eff!r}",
            )
        secs = t.get("tolerationSeconds")
        tols.append(
            Toleration(
                str(t.get("key") or ""),
                str(op),
                str(t.get("value") or ""),
                str(eff),
                float(secs)
                if isinstance(secs, int | float) and not isinstance(secs, bool)
                else None,
            )
        )
    spread = []
    for i, c in enumerate(
        r.listing(d.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints")
    ):
        q = f"{path}.topologySpreadConstraints[{i}]"
        c = r.fields(
            c,
            q,
            {
                "maxSkew",
                "topologyKey",
                "whenUnsatisfiable",
                "labelSelector",
                "minDomains",
                "nodeAffinityPolicy",
                "nodeTaintsPolicy",
                "matchLabelKeys",
            },
        )
        skew = r.integer(c.get("maxSkew"), f"{q}.maxSkew", required=True, minimum=1)
        when = c.get("whenUnsatisfiable")
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            r.problem(
                f"{q}.whenUnsatisfiable", f"expected DoNotSchedule or ScheduleAnyway, got {when!r}"
            )
        if not c.get("topologyKey"):
            r.problem(f"{q}.topologyKey", "required, e.g. topology.kubernetes.io/zone")
        sel = label_selector(r, c.get("labelSelector"), f"{q}.labelSelector")
        keys = [k for k in r.listing(c.get("matchLabelKeys"), f"{q}.matchLabelKeys") if k in labels]
        if sel is not None and keys:
            sel = LabelSelector(
                sel.match_labels,
                (*sel.expressions, *(Requirement(k, "In", (labels[k],)) for k in keys)),
            )
        spread.append(
            SpreadConstraint(
                skew or 1,
                str(c.get("topologyKey", "")),
                str(when),
                sel,
                r.integer(c.get("minDomains"), f"{q}.minDomains", minimum=1),
                str(c.get("nodeAffinityPolicy") or "Honor"),
                str(c.get("nodeTaintsPolicy") or "Ignore"),
            )
        )
    ns = r.labels(d.get("nodeSelector"), f"{path}.nodeSelector")
    pclass = d.get("priorityClassName")
    priority = r.integer(d.get("priority"), f"{path}.priority")
    preemption = str(d.get("preemptionPolicy") or "")
    table = priorities or {}
    if pclass:
        if pclass not in table and pclass not in (
            "system-cluster-critical",
            "system-node-critical",
        ):
            r.problem(
                f"{path}.priorityClassName",
                f"no PriorityClass {pclass!r} in the manifests; known: "
                f"{', '.join(table) or '(none)'}",
            )
        value, _g, pol = table.get(
            str(pclass),
            (
                2000000000 if pclass == "system-cluster-critical" else 2000001000,
                False,
                "PreemptLowerPriority",
            ),
        )
        priority = value if priority is None else priority
        preemption = preemption or pol
    elif priority is None:
        default = next(((v, pol) for v, g, pol in table.values() if g), None)
        if default is not None:
            priority, preemption = default[0], preemption or default[1]
    if preemption not in ("", "PreemptLowerPriority", "Never"):
        r.problem(
            f"{path}.preemptionPolicy",
            f"expected PreemptLowerPriority or Never, got {preemption!r}",
        )
    sched = d.get("schedulerName")
    if sched not in (None, "default-scheduler"):
        r.problem(
            f"{path}.schedulerName", f"only the default-scheduler is simulated, got {sched!r}"
        )
    over = _mapping(d.get("overhead"))
    return PodSpec(
        containers=containers,
        init_containers=inits,
        node_selector=tuple(sorted(ns.items())),
        node_name=str(d["nodeName"]) if d.get("nodeName") else None,
        required_node_terms=required,
        preferred_node_terms=tuple(preferred),
        affinity_required=hard(pa, "podAffinity"),
        affinity_preferred=_weighted(
            r,
            pa.get("preferredDuringSchedulingIgnoredDuringExecution"),
            f"{path}.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            labels,
        ),
        anti_required=hard(paa, "podAntiAffinity"),
        anti_preferred=_weighted(
            r,
            paa.get("preferredDuringSchedulingIgnoredDuringExecution"),
            f"{path}.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            labels,
        ),
        tolerations=tuple(tols),
        spread=tuple(spread),
        priority=priority or 0,
        priority_class=str(pclass) if pclass else None,
        preemption_policy=preemption or "PreemptLowerPriority",
        overhead_cpu=r.quantity(over["cpu"], f"{path}.overhead.cpu", True) or 0
        if "cpu" in over
        else 0,
        overhead_memory=r.quantity(over["memory"], f"{path}.overhead.memory", False) or 0
        if "memory" in over
        else 0,
    )


def _read_workload(r: _Reader, doc: Mapping[str, Any]) -> None:
    kind = r.kind
    r.fields(doc, "", {"apiVersion", "kind", "metadata", "spec"}, {"status"})
    name, ns, wl_labels = r.meta(doc.get("metadata"))
    if not name:
        r.problem("metadata.name", "required")
        return
    m = r.m
    if kind == "Pod":
        pspec = read_pod_spec(r, doc.get("spec"), "spec", wl_labels, m.priority_classes)
        app = wl_labels.get(PART_OF) or name
        m.workloads.append(Workload(kind, name, ns, 1, None, wl_labels, pspec, app, r.where))
        return
    spec = r.fields(doc.get("spec"), "spec", _WORKLOAD_SPEC, _WORKLOAD_SPEC_IGNORED)
    replicas = r.integer(spec.get("replicas", 1), "spec.replicas", minimum=0)
    selector = label_selector(r, spec.get("selector"), "spec.selector")
    if selector is None:
        r.problem("spec.selector", "required (matchLabels of the pod template)")
    tpl = r.fields(spec.get("template"), "spec.template", {"metadata", "spec"})
    tmeta = r.fields(tpl.get("metadata"), "spec.template.metadata", _META, _META_IGNORED)
    labels = r.labels(tmeta.get("labels"), "spec.template.metadata.labels")
    if selector is not None and not selector.matches(labels):
        r.problem(
            "spec.selector", "does not match spec.template.metadata.labels (kubectl refuses this)"
        )
    pod_spec = read_pod_spec(r, tpl.get("spec"), "spec.template.spec", labels, m.priority_classes)
    app = wl_labels.get(PART_OF) or labels.get(PART_OF) or name
    m.workloads.append(
        Workload(
            kind,
            name,
            ns,
            1 if replicas is None else replicas,
            selector,
            labels,
            pod_spec,
            app,
            r.where,
            dict(tpl),
        )
    )


# ----------------------------------------------------------------------------- HPA


def _rules(r: _Reader, d: Any, path: str) -> ScalingRules | None:
    if d is None:
        return None
    d = r.fields(d, path, {"stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"})
    window = r.integer(
        d.get("stabilizationWindowSeconds"), f"{path}.stabilizationWindowSeconds", minimum=0
    )
    select = d.get("selectPolicy") or "Max"
    if select not in ("Max", "Min", "Disabled"):
        r.problem(f"{path}.selectPolicy", f"expected Max, Min or Disabled, got {select!r}")
    pols = []
    for i, p in enumerate(r.listing(d.get("policies"), f"{path}.policies")):
        p = r.fields(p, f"{path}.policies[{i}]", {"type", "value", "periodSeconds"})
        typ = p.get("type")
        if typ not in ("Pods", "Percent"):
            r.problem(f"{path}.policies[{i}].type", f"expected Pods or Percent, got {typ!r}")
            continue
        value = r.integer(p.get("value"), f"{path}.policies[{i}].value", required=True, minimum=1)
        period = r.integer(
            p.get("periodSeconds"), f"{path}.policies[{i}].periodSeconds", required=True, minimum=1
        )
        if value is not None and period is not None:
            pols.append((str(typ), value, float(period)))
    tol = d.get("tolerance")
    tolerance = None
    if tol is not None:
        try:
            tolerance = float(quantity.parse(tol))
        except ValueError as exc:
            r.problem(f"{path}.tolerance", str(exc))
    return ScalingRules(
        None if window is None else float(window), str(select), tuple(pols), tolerance
    )


def _read_hpa(r: _Reader, doc: Mapping[str, Any]) -> None:
    r.fields(doc, "", {"apiVersion", "kind", "metadata", "spec"}, {"status"})
    name, ns, _labels = r.meta(doc.get("metadata"))
    v1 = str(doc.get("apiVersion", "")).endswith("/v1")
    known = {"scaleTargetRef", "minReplicas", "maxReplicas"} | (
        {"targetCPUUtilizationPercentage"} if v1 else {"metrics", "behavior"}
    )
    spec = r.fields(doc.get("spec"), "spec", known)
    ref = r.fields(
        spec.get("scaleTargetRef"), "spec.scaleTargetRef", {"apiVersion", "kind", "name"}
    )
    if not ref.get("name") or not ref.get("kind"):
        r.problem("spec.scaleTargetRef", "required: kind and name of the scaled workload")
        return
    lo = r.integer(spec.get("minReplicas", 1), "spec.minReplicas", minimum=1) or 1
    hi = r.integer(spec.get("maxReplicas"), "spec.maxReplicas", required=True, minimum=1) or lo
    if hi < lo:
        r.problem("spec.maxReplicas", f"must be >= minReplicas ({lo}), got {hi}")
    util: int | None = None
    avg: int | None = None
    if v1:
        util = r.integer(
            spec.get("targetCPUUtilizationPercentage", 80),
            "spec.targetCPUUtilizationPercentage",
            minimum=1,
        )
    else:
        metrics = r.listing(spec.get("metrics"), "spec.metrics")
        if not metrics:
            util = 80  # the v2 default: 80 % cpu utilisation
        for i, mt in enumerate(metrics):
            mt = r.fields(mt, f"spec.metrics[{i}]", {"type", "resource"}, set())
            if mt.get("type") != "Resource":
                r.problem(
                    f"spec.metrics[{i}].type",
                    f"only Resource (cpu) metrics are simulated, got {mt.get('type')!r}",
                )
                continue
            res = r.fields(mt.get("resource"), f"spec.metrics[{i}].resource", {"name", "target"})
            if res.get("name") != "cpu":
                r.problem(
                    f"spec.metrics[{i}].resource.name",
                    f"only cpu is simulated, got {res.get('name')!r}",
                )
                continue
            tgt = r.fields(
                res.get("target"),
                f"spec.metrics[{i}].resource.target",
                {"type", "averageUtilization", "averageValue"},
            )
            if tgt.get("type") == "Utilization":
                util = r.integer(
                    tgt.get("averageUtilization"),
                    f"spec.metrics[{i}].resource.target.averageUtilization",
                    required=True,
                    minimum=1,
                )
            elif tgt.get("type") == "AverageValue":
                avg = r.quantity(
                    tgt.get("averageValue"), f"spec.metrics[{i}].resource.target.averageValue", True
                )
            else:
                r.problem(
                    f"spec.metrics[{i}].resource.target.type",
                    f"expected Utilization or AverageValue, got {tgt.get('type')!r}",
                )
        if sum(1 for _ in metrics) > 1:
            r.problem("spec.metrics", "one cpu metric per HPA is simulated")
    beh = r.fields(spec.get("behavior"), "spec.behavior", {"scaleUp", "scaleDown"})
    r.m.hpas.append(
        HPASpec(
            name,
            ns,
            str(ref["kind"]),
            str(ref["name"]),
            lo,
            hi,
            util,
            avg,
            _rules(r, beh.get("scaleUp"), "spec.behavior.scaleUp"),
            _rules(r, beh.get("scaleDown"), "spec.behavior.scaleDown"),
            r.where,
        )
    )


__all__ = [
    "DEFAULT_CLUSTER",
    "DEFAULT_TIER",
    "HPASpec",
    "Manifests",
    "NodeEntry",
    "ScalingRules",
    "Workload",
    "read_manifests",
    "read_pod_spec",
]
