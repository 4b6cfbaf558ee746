"""From a folder of Kubernetes manifests (+ an overlay) to a simcontinuum scenario.

Translation (manifest field → scenario key):

- ``Node`` → a node (id ``metadata.name``) of the cluster named by its label
  ``simcontinuum.io/cluster``, else by the sub-folder of DIR its file is in, else
  ``default``; ``tier`` from the label ``simcontinuum.io/tier`` (default ``edge``);
  ``cores`` = ``status.capacity.cpu`` rounded up; ``memory`` = ``status.capacity.memory``;
  ``labels`` = its labels as ``key=value`` (``key`` alone when the value is empty);
  ``status.capacity["nvidia.com/gpu"]`` → ``gpu: {count}``. Allocatable, taints and images
  stay with the manifests: the ``kube-scheduler`` policy reads them (the engine admits by
  capacity, which allocatable never exceeds).
- ``Deployment`` / ``StatefulSet`` / ``ReplicaSet`` / ``Pod`` → a component (id
  ``metadata.name``) of the application named by the label ``app.kubernetes.io/part-of``
  (else its own name): ``cpu`` / ``memory`` = the pod's effective requests; ``image_size`` =
  the sizes of its images as nodes report them (``status.images``); ``replicas`` =
  ``{min, max}`` of the HPA targeting it, else ``spec.replicas`` for both; ``placement`` from
  what the engine can check as well: ``nodeName`` or a ``kubernetes.io/hostname``
  node selector → ``node``; a required node-affinity ``simcontinuum.io/tier In [...]``
  (one term) → ``tiers``; other ``nodeSelector`` entries → ``labels`` (``key=value``). The
  pod's cpu limit (Σ containers', when every container has one) → ``cpu_limit``, which
  throttles the replica.
  The entry of an application is its first component in file order.

The overlay is a partial scenario document merged as the MLSysOps importer merges one
(:func:`simcontinuum.mlsysops.translate.apply_overlay`): nodes by id key by key (``speed``,
``price``, ``power``, ``gpu.speedup``...), nodes it adds are devices and sources that are not
Kubernetes nodes (never scheduled on), applications by id with components by id and calls by
``(from, to)``; ``workload``, ``duration``, ``telemetry``... as given. Without links in the
overlay each cluster is a star around its first node.

Invariant: the scenario's ``source_path`` is the manifest folder; that is how the
``kube-scheduler`` and ``karmada`` policies find the manifests of the scenario they run on.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from simcontinuum.errors import ScenarioError
from simcontinuum.k8s.manifests import Manifests, Workload, read_manifests
from simcontinuum.k8s.objects import HOSTNAME, TIER_LABEL
from simcontinuum.model import Scenario

DEFAULTS: dict[str, Any] = {"version": 1, "seed": 0, "duration": "300s"}


def label_strings(labels: Mapping[str, str]) -> list[str]:
    """Kubernetes labels as scenario labels: ``key=value``, or ``key`` for an empty value.

    >>> label_strings({"gpu": "", "zone": "a"})
    ['gpu', 'zone=a']
    """
    return [k if v == "" else f"{k}={v}" for k, v in labels.items()]


def _cores(milli: int) -> int:
    return max(1, math.ceil(milli / 1000))


def _quantity_cpu(milli: int) -> str:
    return f"{milli}m"


def _placement(w: Workload) -> dict[str, Any]:
    spec = w.spec
    p: dict[str, Any] = {}
    selector = dict(spec.node_selector)
    host = spec.node_name or selector.pop(HOSTNAME, None)
    if host:
        p["node"] = host
    tier = selector.pop(TIER_LABEL, None)
    if tier:
        p["tiers"] = [tier]
    terms = spec.required_node_terms
    if terms is not None and len(terms) == 1 and not terms[0].fields:
        for r in terms[0].expressions:
            if r.key == TIER_LABEL and r.operator == "In" and "tiers" not in p:
                p["tiers"] = list(r.values)
    if selector:
        p["labels"] = label_strings(selector)
    return p


def replica_range(m: Manifests, w: Workload) -> tuple[int, int]:
    """``(min, max)`` replicas of a workload: its HPA's range, else ``spec.replicas``."""
    for h in m.hpas:
        if h.target == w.name and h.namespace == w.namespace and h.target_kind == w.kind:
            return h.min_replicas, h.max_replicas
    return w.replicas, w.replicas


def translate(m: Manifests) -> dict[str, Any]:
    """The scenario document of the manifests before any overlay.

    Raises:
        ScenarioError: with every problem of the manifests (file#doc: Kind name: field: why).
    """
    problems = list(m.problems)
    for h in m.hpas:
        if not any(w.name == h.target and w.kind == h.target_kind for w in m.workloads):
            problems.append(
                f"{h.where}: spec.scaleTargetRef: no {h.target_kind} {h.target!r} in the manifests"
            )
    if problems:
        raise ScenarioError(problems, source=m.root)
    clusters: dict[str, list[dict[str, Any]]] = {}
    for e in m.nodes:
        n = e.node
        doc: dict[str, Any] = {
            "id": n.name,
            "tier": e.tier,
            "cores": _cores(n.capacity_cpu or n.cpu),
            "memory": n.capacity_memory or n.memory,
        }
        labels = label_strings(n.labels)
        if labels:
            doc["labels"] = labels
        if e.gpus > 0:
            doc["gpu"] = {"count": e.gpus}
        clusters.setdefault(e.cluster, []).append(doc)
    images: dict[str, int] = {}
    for e in m.nodes:
        for img, size in e.node.images.items():
            images.setdefault(img, size)
    apps: dict[str, dict[str, Any]] = {}
    for w in m.workloads:
        lo, hi = replica_range(m, w)
        comp: dict[str, Any] = {
            "id": w.name,
            "cpu": _quantity_cpu(w.spec.request("cpu")) if w.spec.request("cpu") else "0.001",
            "memory": w.spec.request("memory"),
            "image_size": sum(images.get(i, 0) for i in w.spec.images()),
            "replicas": {"min": min(lo, hi), "max": max(lo, hi, 1)},
        }
        limit = w.spec.cpu_limit()
        if limit is not None:
            comp["cpu_limit"] = _quantity_cpu(max(limit, w.spec.request("cpu")))
        placement = _placement(w)
        if placement:
            comp["placement"] = placement
        app = apps.setdefault(w.app, {"id": w.app, "components": []})
        app["components"].append(comp)
    doc = copy.deepcopy(DEFAULTS)
    doc["name"] = Path(m.root).name or "kubernetes"
    doc["infrastructure"] = {"clusters": [{"id": c, "nodes": ns} for c, ns in clusters.items()]}
    doc["applications"] = list(apps.values())
    return doc


def _entries(doc: dict[str, Any]) -> None:
    for app in doc.get("applications", []):
        if isinstance(app, dict) and "entry" not in app and app.get("components"):
            callees = {c.get("to") for c in app.get("calls", []) if isinstance(c, Mapping)}
            ids = [c.get("id") for c in app["components"] if isinstance(c, Mapping)]
            app["entry"] = next((i for i in ids if i not in callees), ids[0])


def scenario_document(
    k8s_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The scenario document of ``k8s_dir`` with ``overlay`` merged in."""
    from simcontinuum.mlsysops.translate import apply_overlay, read_overlay

    m = read_manifests(k8s_dir)
    doc = apply_overlay(translate(m), read_overlay(overlay))
    _entries(doc)
    return doc


def load_manifests(
    k8s_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
) -> Scenario:
    """A :class:`~simcontinuum.model.Scenario` from a folder of Kubernetes manifests.

    Raises:
        ScenarioError: every problem, naming the manifest (file#document: Kind name: field)
            or the translated scenario's path (``simcontinuum k8s translate DIR`` prints it).
    """
    from simcontinuum.scenario import load_scenario

    doc = scenario_document(k8s_dir, overlay)
    try:
        sc = load_scenario(doc, seed=seed)
    except ScenarioError as err:
        hint = (
            f"(paths are those of the scenario translated from {k8s_dir}; see it with: "
            f"simcontinuum k8s translate {k8s_dir}"
            + (f" --overlay {overlay}" if isinstance(overlay, str | os.PathLike) else "")
            + ")"
        )
        raise ScenarioError([*err.problems, hint], source=os.fspath(k8s_dir)) from None
    return replace(sc, source_path=os.fspath(Path(k8s_dir).resolve()))


def scenario_from_args(
    k8s_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | None = None,
    *,
    seed: int | None = None,
) -> Scenario:
    """The scenario of ``simcontinuum run --k8s DIR [--overlay FILE]`` (for the CLI)."""
    return load_manifests(k8s_dir, overlay, seed=seed)


__all__ = [
    "label_strings",
    "load_manifests",
    "replica_range",
    "scenario_document",
    "scenario_from_args",
    "translate",
]
