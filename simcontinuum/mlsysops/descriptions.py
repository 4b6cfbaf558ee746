"""MLSysOps description files, read as they are, and made up from a scenario when absent.

A description directory holds YAML files of four kinds, found anywhere below it (the agents'
layout ``descriptions/{continuum,clusters,nodes}/<host>.yaml`` plus application files works,
and so does a flat folder):

- ``MLSysOpsApp`` — top key ``MLSysOpsApp:``, or the CR form ``apiVersion: mlsysops.eu/v1,
  kind: MLSysOpsApp`` with the fields at top level (its name may be ``metadata.name``; the CR
  is kept whole, ``apiVersion``/``kind``/``metadata`` included);
- ``MLSysOpsNode``, ``MLSysOpsCluster``, ``MLSysOpsContinuum`` — top key, or the CR form.

Other YAML files (an overlay, say) are skipped. The dicts are kept exactly as read: they are
what policies receive. :func:`synthesize` builds the same four kinds from a
:class:`~simcontinuum.model.Scenario` for scenarios written in simcontinuum's own format, so
MLSysOps policies run on those too.

Invariant: :class:`Descriptions` maps names to the dicts as read (the inner dict, without the
``MLSysOpsApp:`` key); it never holds simulator units.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simcontinuum.errors import ScenarioError
from simcontinuum.mlsysops.requirements import node_name, quantity_cpu, quantity_memory
from simcontinuum.mlsysops.spec import as_list

KINDS = ("MLSysOpsApp", "MLSysOpsNode", "MLSysOpsCluster", "MLSysOpsContinuum")
IGNORED_KINDS = ("MLSysOpsDatacenter",)
GIB = 2.0**30


@dataclass
class Descriptions:
    """The descriptions of one continuum, by name, as read (or synthesized).

    Attributes:
        apps: application name -> the MLSysOpsApp dict (fields at top level).
        nodes: host name -> the MLSysOpsNode dict.
        clusters: cluster id -> the MLSysOpsCluster dict.
        continuum: the MLSysOpsContinuum dict, if any.
        files: kind/name -> the file it came from (for messages).
        root: the directory read, if any.
    """

    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    continuum: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    root: str | None = None

    def cluster_of_node(self, host: str) -> str | None:
        """The cluster id a host belongs to: its ``cluster_id``, else a cluster listing it."""
        desc = self.nodes.get(host)
        if desc is not None and desc.get("cluster_id"):
            return str(desc["cluster_id"])
        for cid, cl in self.clusters.items():
            if host in [str(n) for n in as_list(cl.get("nodes"))]:
                return cid
        return None


def app_uid(name: str) -> str:
    """A stable uid for an application (the agent passes the CR's uid as ``app_uid``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"simcontinuum:mlsysops-app:{name}"))


def classify(doc: object) -> tuple[str, dict[str, Any]] | None:
    """``(kind, inner dict)`` of one YAML document, or None when it is no MLSysOps description.

    >>> classify({"MLSysOpsNode": {"name": "n1"}})
    ('MLSysOpsNode', {'name': 'n1'})
    >>> cr = {"apiVersion": "mlsysops.eu/v1", "kind": "MLSysOpsApp", "metadata": {"name": "a"}}
    >>> classify(cr)[0]
    'MLSysOpsApp'
    """
    if not isinstance(doc, Mapping):
        return None
    for kind in (*KINDS, *IGNORED_KINDS):
        if kind in doc and isinstance(doc[kind], Mapping):
            return kind, dict(doc[kind])
    cr_kind = doc.get("kind")
    if isinstance(cr_kind, str) and cr_kind in (*KINDS, *IGNORED_KINDS):
        return cr_kind, dict(doc)  # the CR as it is: apiVersion, kind, metadata and the fields
    return None


def _name_of(kind: str, inner: Mapping[str, Any]) -> str | None:
    if kind == "MLSysOpsCluster":
        return str(inner.get("cluster_id") or inner.get("name") or "") or None
    if kind == "MLSysOpsContinuum":
        return str(inner.get("continuum_id") or inner.get("name") or "") or None
    return node_name(inner)


def read_descriptions(root: str | os.PathLike[str]) -> Descriptions:
    """Read every MLSysOps description below ``root`` (files ``*.yaml`` / ``*.yml``).

    Raises:
        ScenarioError: the directory is missing, a file is no valid YAML, a description has no
            name, two descriptions share a name, or no description was found at all.
    """
    import yaml

    base = Path(root)
    if not base.is_dir():
        raise ScenarioError([f"{root}: not a directory of MLSysOps descriptions"])
    out = Descriptions(root=str(base.resolve()))
    problems: list[str] = []
    paths = sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in paths:
        rel = str(path.relative_to(base))
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{rel}: not valid YAML ({type(exc).__name__}: {exc})")
            continue
        for doc in docs:
            found = classify(doc)
            if found is None or found[0] in IGNORED_KINDS:
                continue
            kind, inner = found
            name = _name_of(kind, inner)
            if not name:
                what = "cluster_id" if kind == "MLSysOpsCluster" else "name"
                problems.append(f"{rel}: {kind}.{what}: required")
                continue
            key = f"{kind}/{name}"
            if key in out.files:
                problems.append(f"{rel}: {kind} {name!r} is also described in {out.files[key]}")
                continue
            out.files[key] = rel
            if kind == "MLSysOpsApp":
                out.apps[name] = inner
            elif kind == "MLSysOpsNode":
                out.nodes[name] = inner
            elif kind == "MLSysOpsCluster":
                out.clusters[name] = inner
            elif out.continuum is None:
                out.continuum = inner
            else:
                problems.append(f"{rel}: a second MLSysOpsContinuum ({name!r}); keep one")
    if not problems and not (out.apps or out.nodes or out.clusters):
        problems.append(
            f"{root}: no MLSysOps descriptions found (YAML files with MLSysOpsApp, "
            "MLSysOpsNode, MLSysOpsCluster or MLSysOpsContinuum)"
        )
    if problems:
        raise ScenarioError(problems, source=str(root))
    return out


# ----------------------------------------------------------------------------- synthesis


def synthesize(
    nodes: Iterable[Any],
    clusters: Mapping[str, Iterable[str]],
    apps: Iterable[Any],
    name: str,
    base: Descriptions | None = None,
) -> Descriptions:
    """Descriptions for the given model nodes (or node views), clusters and applications,
    wherever ``base`` (descriptions as read) has none: ``base`` wins.

    Made-up fields: nodes are ``virtualized`` ``ubuntu`` hosts with ``containerd`` and an
    ``amd64`` cpu of the node's cores; a component's container requests its cpu and memory,
    its image is ``<app>/<component>``; calls become ``egress`` interactions; a latency SLO
    with a ``metric`` becomes a ``lower_or_equal`` ``qos_metrics`` entry (target in ms) on the
    entry component.
    """
    out = Descriptions()
    if base is not None:
        out = Descriptions(
            apps=dict(base.apps),
            nodes=dict(base.nodes),
            clusters=dict(base.clusters),
            continuum=base.continuum,
            files=dict(base.files),
            root=base.root,
        )
    for node in nodes:
        out.nodes.setdefault(node.id, node_description(node))
    for cid, members in clusters.items():
        out.clusters.setdefault(
            cid, {"name": cid, "cluster_id": cid, "nodes": [str(n) for n in members]}
        )
    for app in apps:
        out.apps.setdefault(app.id, app_description(app))
    if out.continuum is None:
        out.continuum = {"name": name, "continuum_id": name, "clusters": list(clusters)}
    return out


def node_description(node: Any) -> dict[str, Any]:
    """An MLSysOpsNode dict for a model :class:`~simcontinuum.model.Node`."""
    hardware: dict[str, Any] = {"cpu": {"architecture": "amd64", "cores": node.cores}}
    if node.memory > 0:
        hardware["memory"] = round(node.memory / GIB, 3)
    if node.gpu is not None:
        hardware["gpu"] = {"model": node.gpu.model}
        if node.gpu.memory > 0:
            hardware["gpu"]["memory"] = round(node.gpu.memory / GIB, 3)
    desc: dict[str, Any] = {
        "name": node.id,
        "cluster_id": node.cluster,
        "continuum_layer": node.tier,
        "mobile": False,
        "labels": sorted(node.labels),
        "environment": {
            "node_type": "virtualized",
            "os": "ubuntu",
            "container_runtime": ["containerd"],
        },
        "hardware": hardware,
    }
    if node.location is not None:
        desc["location"] = list(node.location)
    return desc


def app_description(app: Any) -> dict[str, Any]:
    """An MLSysOpsApp dict for a model :class:`~simcontinuum.model.Application`."""
    comps = []
    clusters = {c.placement.cluster for c in app.components if c.placement.cluster}
    for c in app.components:
        placement: dict[str, Any] = {}
        if c.placement.node:
            placement["node"] = c.placement.node
        if c.placement.tiers:
            placement["continuum_layer"] = sorted(c.placement.tiers)
        if c.placement.labels:
            placement["labels"] = sorted(c.placement.labels)
        # architecture named: 0.1.12 raises when cpu requirements omit it (see fluidity)
        req: dict[str, Any] = {"cpu": {"requests": quantity_cpu(c.cpu), "architecture": ["amd64"]}}
        if c.memory > 0:
            req["memory"] = {"requests": quantity_memory(c.memory)}
        comp: dict[str, Any] = {
            "metadata": {"name": c.id, "uid": f"{c.id}-v1"},
            "containers": [{"image": f"{app.id}/{c.id}", "platform_requirements": req}],
        }
        if placement:
            comp["node_placement"] = placement
        slo = app.slo if c.id == app.entry else None
        if slo is not None and slo.metric and slo.latency_target is not None:
            comp["qos_metrics"] = [
                {
                    "application_metric_id": slo.metric,
                    "target": round(slo.latency_target * 1000.0, 6),
                    "relation": "lower_or_equal",
                }
            ]
        comps.append(comp)
    desc: dict[str, Any] = {"name": app.id, "components": comps}
    if len(clusters) == 1:
        desc["cluster_placement"] = {"cluster_id": sorted(clusters)}
    if app.calls:
        desc["component_interactions"] = [
            {"component_name1": call.src, "type": "egress", "component_name2": call.dst}
            for call in app.calls
        ]
    return desc


__all__ = [
    "KINDS",
    "Descriptions",
    "app_description",
    "app_uid",
    "classify",
    "node_description",
    "read_descriptions",
    "synthesize",
]
