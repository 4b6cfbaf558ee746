"""From MLSysOps descriptions (+ an overlay) to a simcontinuum scenario.

:func:`load_descriptions` reads a description directory (see
:mod:`simcontinuum.mlsysops.descriptions`), translates it into a document of the public scenario
format, merges the overlay into it and loads the result with
:func:`~simcontinuum.scenario.load_scenario`, so every check of the scenario format applies.

Translation (description field → scenario key):

- ``MLSysOpsCluster`` → a cluster (id ``cluster_id``) with its ``nodes`` in order; a node's
  ``cluster_id`` adds it to that cluster;
- ``MLSysOpsNode`` → a node: ``continuum_layer`` → ``tier``; ``hardware.cpu.cores`` → ``cores``
  (default 1); ``hardware.memory`` → ``memory`` (a bare number is GiB); ``labels``,
  ``location``; ``hardware.gpu`` → ``gpu`` (``memory`` in GiB, ``speedup`` 1);
- ``MLSysOpsApp`` → an application (id ``name``): each component (id ``metadata.name``) asks
  for ``containers[0].platform_requirements.cpu.requests`` (default 100m) and
  ``memory.requests`` (default 0); ``node_placement.node`` / ``continuum_layer`` / ``labels`` →
  ``placement.node`` / ``tiers`` / ``labels``; a single ``cluster_placement.cluster_id`` →
  ``placement.cluster``; ``replicas: {min: 1, max: <nodes it may use>}`` (fluidity runs at most
  one replica per node); a gpu requirement → ``accelerator: gpu``;
  ``component_interactions`` → ``calls`` (``egress``: name1 calls name2; ``ingress``: name2
  calls name1); the entry is the first component nobody calls; the first ``qos_metrics`` entry
  with relation ``lower_or_equal``/``lower_than`` becomes ``slo: {p95_latency: <target>ms,
  metric: <application_metric_id>}`` — the simulator reports that metric in ms as the p95
  end-to-end latency of the window.
- ``MLSysOpsContinuum`` → the scenario ``name`` (``name``), nothing else.

The overlay is a (partial) scenario document in the public format, for what descriptions lack.
Merge rules: top-level keys replace the translated ones (``telemetry``, ``control`` and
``scoring`` are merged key by key); ``infrastructure.clusters[].nodes`` entries whose ``id``
is a described node are merged into it key by key (``speed``, ``price``, ``power``, ...),
others are added to that cluster (created when new); ``applications`` entries whose ``id`` is a
described application are merged into it — ``components`` by ``id`` key by key, ``calls`` by
``(from, to)`` — others are added. Without ``infrastructure.links`` in the overlay, every
cluster becomes a star around its first node (1 ms, 1 Gbps) and the first nodes of the other
clusters link to the first cluster's (20 ms, 1 Gbps).

Defaults when the overlay does not say: ``duration: 300s``, ``seed: 0``, ``warmup: 0s``,
``control: {interval: 1s}`` (the agent's plan-scheduler period), no workload, zero prices,
zero power, ``speed: 1.0``, no work per request, zero image sizes and start-up times.

Invariant: the scenario's ``source_path`` is the description directory, which is how the
MLSysOps policy adapter finds the descriptions as read when it runs on that scenario.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from simcontinuum.errors import ScenarioError
from simcontinuum.mlsysops.descriptions import Descriptions, read_descriptions
from simcontinuum.mlsysops.spec import as_list
from simcontinuum.model import TIERS, Scenario

DEFAULTS: dict[str, Any] = {
    "version": 1,
    "seed": 0,
    "duration": "300s",
    "control": {"interval": "1s"},
}
LINK_IN_CLUSTER = {"latency": "1ms", "bandwidth": "1Gbps"}
LINK_BETWEEN_CLUSTERS = {"latency": "20ms", "bandwidth": "1Gbps"}
MERGED_KEYS = ("telemetry", "control", "scoring")
SLO_RELATIONS = ("lower_or_equal", "lower_than")


class TranslationWarning(UserWarning):
    """Something of the descriptions that the simulator does not model (it still runs)."""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _gib(value: object) -> object:
    """A description's memory figure: a bare number is GiB, a quantity string stays."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return f"{value}Gi"
    if isinstance(value, str):
        try:
            float(value.strip())
        except ValueError:
            return value
        return f"{value.strip()}Gi"
    return value


# ----------------------------------------------------------------------------- nodes


def _node_doc(name: str, d: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    tier = d.get("continuum_layer")
    if tier not in TIERS:
        problems.append(
            f"{where}: MLSysOpsNode.continuum_layer: expected one of {', '.join(TIERS)}, "
            f"got {tier!r}"
        )
    hw = _mapping(d.get("hardware"))
    node: dict[str, Any] = {"id": name, "tier": tier}
    cores = _mapping(hw.get("cpu")).get("cores")
    node["cores"] = cores if cores is not None else 1
    if hw.get("memory") is not None:
        node["memory"] = _gib(hw.get("memory"))
    labels = as_list(d.get("labels"))
    if labels:
        node["labels"] = [str(x) for x in labels]
    if d.get("location") is not None:
        node["location"] = d.get("location")
    gpu = hw.get("gpu")
    if isinstance(gpu, Mapping):
        g: dict[str, Any] = {"model": str(gpu.get("model") or "generic")}
        if gpu.get("memory") is not None:
            g["memory"] = _gib(gpu.get("memory"))
        node["gpu"] = g
    return node


def _clusters(desc: Descriptions, problems: list[str]) -> list[dict[str, Any]]:
    """Scenario clusters with their translated nodes, in description order."""
    members: dict[str, list[str]] = {}
    for cid, cl in desc.clusters.items():
        members[cid] = [str(n) for n in as_list(cl.get("nodes"))]
    for host in desc.nodes:
        found = desc.cluster_of_node(host)
        if found is None:
            problems.append(
                f"{desc.files.get('MLSysOpsNode/' + host, host)}: MLSysOpsNode.cluster_id: "
                "required (or list the node in an MLSysOpsCluster)"
            )
            continue
        cid = found
        for other, hosts in members.items():
            if other != cid and host in hosts:
                problems.append(
                    f"{desc.files.get('MLSysOpsNode/' + host, host)}: node {host!r} has "
                    f"cluster_id {cid!r} but MLSysOpsCluster {other!r} lists it"
                )
        listing = members.setdefault(cid, [])
        if host not in listing:
            listing.append(host)
    out = []
    for cid, hosts in members.items():
        nodes = []
        for host in hosts:
            d = desc.nodes.get(host)
            if d is None:
                nodes.append({"id": host, "_undescribed": True})
                continue
            where = desc.files.get(f"MLSysOpsNode/{host}", host)
            nodes.append(_node_doc(host, d, where, problems))
        out.append({"id": cid, "nodes": nodes})
    return out


# ----------------------------------------------------------------------------- apps


def _component_doc(
    c: Mapping[str, Any], where: str, cluster: str | None, max_replicas: int, problems: list[str]
) -> dict[str, Any]:
    name = _mapping(c.get("metadata")).get("name")
    containers = as_list(c.get("containers"))
    if not containers or not isinstance(containers[0], Mapping):
        problems.append(f"{where}.containers: required, a list with at least one container")
    req = _mapping(_mapping(containers[0] if containers else {}).get("platform_requirements"))
    comp: dict[str, Any] = {"id": name}
    cpu = _mapping(req.get("cpu")).get("requests")
    if cpu is not None:
        comp["cpu"] = cpu
    mem = _mapping(req.get("memory")).get("requests")
    if mem is not None:
        comp["memory"] = mem
    if req.get("gpu") is not None:
        comp["accelerator"] = "gpu"
    np_ = _mapping(c.get("node_placement"))
    placement: dict[str, Any] = {}
    if np_.get("node"):
        placement["node"] = str(np_["node"])
    layers = [str(x) for x in as_list(np_.get("continuum_layer"))]
    if layers and "*" not in layers:
        placement["tiers"] = layers
    if np_.get("labels"):
        placement["labels"] = [str(x) for x in as_list(np_.get("labels"))]
    if cluster is not None:
        placement["cluster"] = cluster
    if placement:
        comp["placement"] = placement
    comp["replicas"] = {"min": 1, "max": max(1, max_replicas)}
    return comp


def _app_doc(
    name: str, d: Mapping[str, Any], where: str, clusters: dict[str, int], problems: list[str]
) -> dict[str, Any]:
    comps_in = as_list(d.get("components"))
    if not comps_in:
        problems.append(f"{where}: MLSysOpsApp.components: required, a non-empty list")
        return {"id": name, "components": []}
    wanted = [str(x) for x in as_list(_mapping(d.get("cluster_placement")).get("cluster_id"))]
    known = [c for c in wanted if c in clusters]
    for c in wanted:
        if c not in clusters:
            problems.append(
                f"{where}: MLSysOpsApp.cluster_placement.cluster_id: unknown cluster {c!r}; "
                f"known: {', '.join(clusters) or '(none)'}"
            )
    cluster = known[0] if len(known) == 1 else None
    pool = sum(clusters[c] for c in known) if known else sum(clusters.values())
    comps = []
    for i, c in enumerate(comps_in):
        cwhere = f"{where}: MLSysOpsApp.components[{i}]"
        if not isinstance(c, Mapping) or not _mapping(c.get("metadata")).get("name"):
            problems.append(f"{cwhere}.metadata.name: required")
            continue
        comps.append(_component_doc(c, cwhere, cluster, pool, problems))
    ids = [c["id"] for c in comps]
    calls: list[dict[str, Any]] = []
    for i, inter in enumerate(as_list(d.get("component_interactions"))):
        inter = _mapping(inter)
        a, b = inter.get("component_name1"), inter.get("component_name2")
        kind = inter.get("type", "egress")
        iw = f"{where}: MLSysOpsApp.component_interactions[{i}]"
        if a not in ids or b not in ids:
            problems.append(f"{iw}: unknown component {a if a not in ids else b!r}")
            continue
        if kind not in ("egress", "ingress"):
            problems.append(f"{iw}.type: expected egress or ingress, got {kind!r}")
            continue
        src, dst = (a, b) if kind == "egress" else (b, a)
        if not any(x["from"] == src and x["to"] == dst for x in calls):
            calls.append({"from": src, "to": dst})
    app: dict[str, Any] = {"id": name, "components": comps}
    if calls:
        app["calls"] = calls
        callees = {x["to"] for x in calls}
        app["entry"] = next((cid for cid in ids if cid not in callees), ids[0] if ids else None)
    slo = _slo(comps_in)
    if slo is not None:
        app["slo"] = slo
    return app


def _slo(comps: list[Any]) -> dict[str, Any] | None:
    for c in comps:
        for q in as_list(_mapping(c).get("qos_metrics")):
            q = _mapping(q)
            target = q.get("target")
            if (
                q.get("relation") in SLO_RELATIONS
                and q.get("application_metric_id")
                and isinstance(target, int | float)
                and not isinstance(target, bool)
                and target > 0
            ):
                return {"p95_latency": f"{target}ms", "metric": str(q["application_metric_id"])}
    return None


def unsimulated_metrics(desc: Descriptions) -> list[str]:
    """qos metric ids of the descriptions that the simulator does not produce (not the SLO)."""
    out = []
    for d in desc.apps.values():
        slo = _slo(as_list(d.get("components")))
        for c in as_list(d.get("components")):
            for q in as_list(_mapping(c).get("qos_metrics")):
                mid = _mapping(q).get("application_metric_id")
                if mid and (slo is None or mid != slo["metric"]) and mid not in out:
                    out.append(str(mid))
    return out


# ----------------------------------------------------------------------------- document


def translate(desc: Descriptions) -> dict[str, Any]:
    """The scenario document of ``desc`` before any overlay (defaults applied).

    Raises:
        ScenarioError: with every problem of the descriptions (file: field: message).
    """
    problems: list[str] = []
    clusters = _clusters(desc, problems)
    sizes = {c["id"]: len(c["nodes"]) for c in clusters}
    apps = []
    for name, d in desc.apps.items():
        where = desc.files.get(f"MLSysOpsApp/{name}", name)
        apps.append(_app_doc(name, d, where, sizes, problems))
    if problems:
        raise ScenarioError(problems, source=desc.root)
    doc = copy.deepcopy(DEFAULTS)
    if desc.continuum is not None and desc.continuum.get("name"):
        doc["name"] = str(desc.continuum["name"])
    doc["infrastructure"] = {"clusters": clusters}
    doc["applications"] = apps
    return doc


def _merge(base: Any, over: Any) -> Any:
    """``over`` merged into ``base`` key by key (mappings); anything else is replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(out[k], v) if k in out else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _merge_by(items: list[Any], extra: list[Any], key: Any) -> list[Any]:
    out = list(items)
    index = {key(x): i for i, x in enumerate(out) if isinstance(x, Mapping)}
    for x in extra:
        k = key(x) if isinstance(x, Mapping) else None
        if k is not None and k in index:
            out[index[k]] = _merge(out[index[k]], x)
        else:
            out.append(copy.deepcopy(x))
    return out


def _merge_apps(apps: list[Any], extra: list[Any]) -> list[Any]:
    out = list(apps)
    index = {a.get("id"): i for i, a in enumerate(out)}
    for x in extra:
        if not isinstance(x, Mapping) or x.get("id") not in index:
            out.append(copy.deepcopy(x))
            continue
        app = dict(out[index[x["id"]]])
        for k, v in x.items():
            if k == "components" and isinstance(v, list):
                app[k] = _merge_by(app.get(k, []), v, lambda c: c.get("id"))
            elif k == "calls" and isinstance(v, list):
                app[k] = _merge_by(app.get(k, []), v, lambda c: (c.get("from"), c.get("to")))
            else:
                app[k] = _merge(app[k], v) if k in app else copy.deepcopy(v)
        out[index[x["id"]]] = app
    return out


def _merge_clusters(clusters: list[dict[str, Any]], extra: list[Any]) -> list[str]:
    """Merge overlay clusters into ``clusters`` in place; problems returned."""
    problems: list[str] = []
    by_id = {c["id"]: c for c in clusters}
    where = {n["id"]: c["id"] for c in clusters for n in c["nodes"]}
    for i, oc in enumerate(extra):
        if not isinstance(oc, Mapping) or "id" not in oc:
            problems.append(f"overlay infrastructure.clusters[{i}]: expected {{id, nodes: [...]}}")
            continue
        target = by_id.get(oc["id"])
        if target is None:
            target = {"id": oc["id"], "nodes": []}
            clusters.append(target)
            by_id[oc["id"]] = target
        for k, v in oc.items():
            if k not in ("id", "nodes"):
                target[k] = copy.deepcopy(v)
        for j, on in enumerate(as_list(oc.get("nodes"))):
            nid = on.get("id") if isinstance(on, Mapping) else None
            if nid in where and where[nid] != oc["id"]:
                problems.append(
                    f"overlay infrastructure.clusters[{i}].nodes[{j}]: node {nid!r} is in "
                    f"cluster {where[nid]!r} by its description, not {oc['id']!r}"
                )
                continue
            if nid in where:
                host = by_id[where[nid]]
                k = next(n for n, x in enumerate(host["nodes"]) if x["id"] == nid)
                merged = _merge(host["nodes"][k], on)
                merged.pop("_undescribed", None)
                host["nodes"][k] = merged
            else:
                target["nodes"].append(copy.deepcopy(on))
                if nid is not None:
                    where[nid] = oc["id"]
    return problems


def _default_links(clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    heads = []
    for c in clusters:
        ids = [n["id"] for n in c["nodes"] if isinstance(n, Mapping) and "id" in n]
        if not ids:
            continue
        heads.append(ids[0])
        links += [{"a": ids[0], "b": nid, **LINK_IN_CLUSTER} for nid in ids[1:]]
    links += [{"a": heads[0], "b": h, **LINK_BETWEEN_CLUSTERS} for h in heads[1:]]
    return links


def apply_overlay(doc: dict[str, Any], overlay: Mapping[str, Any] | None) -> dict[str, Any]:
    """The scenario document ``doc`` with ``overlay`` merged in (see the module docstring)."""
    out = copy.deepcopy(doc)
    overlay = overlay or {}
    problems: list[str] = []
    infra = dict(out["infrastructure"])
    over_infra = overlay.get("infrastructure")
    if over_infra is not None and not isinstance(over_infra, Mapping):
        problems.append("overlay infrastructure: expected a mapping of keys")
        over_infra = {}
    over_infra = over_infra or {}
    for k, v in over_infra.items():
        if k == "clusters":
            problems += _merge_clusters(infra["clusters"], as_list(v))
        else:
            infra[k] = copy.deepcopy(v)
    for c in infra["clusters"]:
        for n in c["nodes"]:
            if isinstance(n, Mapping) and n.get("_undescribed"):
                problems.append(
                    f"cluster {c['id']!r} lists node {n['id']!r}, which has no MLSysOpsNode "
                    "description and is not given in the overlay"
                )
    if "links" not in over_infra:
        infra["links"] = _default_links(infra["clusters"])
    out["infrastructure"] = infra
    for k, v in overlay.items():
        if k == "infrastructure":
            continue
        if k == "applications":
            out[k] = _merge_apps(out.get(k, []), as_list(v))
        elif k in MERGED_KEYS and k in out:
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    if problems:
        raise ScenarioError(problems)
    return out


def read_overlay(path: str | os.PathLike[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """The overlay document (a dict, a YAML file path, or None for none)."""
    if path is None:
        return {}
    if isinstance(path, Mapping):
        return dict(path)
    from simcontinuum.scenario.reading import read_yaml_file

    doc = read_yaml_file(os.fspath(path))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ScenarioError(
            ["(top level): an overlay is a mapping of scenario keys"], source=os.fspath(path)
        )
    return doc


def scenario_document(
    mlsysops_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The scenario document translated from ``mlsysops_dir`` with ``overlay`` merged in."""
    desc = read_descriptions(mlsysops_dir)
    return apply_overlay(translate(desc), read_overlay(overlay))


def load_descriptions(
    mlsysops_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
) -> Scenario:
    """A :class:`~simcontinuum.model.Scenario` from MLSysOps description files.

    Args:
        mlsysops_dir: the directory with ``MLSysOpsApp`` / ``Node`` / ``Cluster`` /
            ``Continuum`` YAML files (searched recursively).
        overlay: what the descriptions lack, in the scenario format (a YAML path or a dict):
            prices, links, load, work per request, durations... (see the module docstring).
        seed: overrides the seed.

    Raises:
        ScenarioError: every problem, naming the description file or the translated
            scenario's path (``simcontinuum mlsysops translate DIR`` prints that scenario).
    """
    from simcontinuum.scenario import load_scenario

    desc = read_descriptions(mlsysops_dir)
    doc = apply_overlay(translate(desc), read_overlay(overlay))
    doc.setdefault("name", Path(mlsysops_dir).resolve().name or "mlsysops")
    try:
        sc = load_scenario(doc, seed=seed)
    except ScenarioError as err:
        hint = (
            f"(paths are those of the scenario translated from {mlsysops_dir}; "
            f"see it with: simcontinuum mlsysops translate {mlsysops_dir}"
            + (f" --overlay {overlay}" if isinstance(overlay, str | os.PathLike) else "")
            + ")"
        )
        raise ScenarioError([*err.problems, hint], source=os.fspath(mlsysops_dir)) from None
    for mid in unsimulated_metrics(desc):
        warnings.warn(
            f"qos metric {mid!r} is not simulated (only each application's first latency "
            "metric is, as its SLO); the telemetry store never gets that column (df[m] "
            "raises KeyError, as on the framework when nothing emits it)",
            TranslationWarning,
            stacklevel=2,
        )
    return replace(sc, source_path=desc.root)


def scenario_from_args(
    mlsysops_dir: str | os.PathLike[str],
    overlay: str | os.PathLike[str] | None = None,
    *,
    seed: int | None = None,
) -> Scenario:
    """The scenario of ``simcontinuum run --mlsysops DIR [--overlay FILE]`` (for the CLI)."""
    return load_descriptions(mlsysops_dir, overlay, seed=seed)


__all__ = [
    "DEFAULTS",
    "TranslationWarning",
    "apply_overlay",
    "load_descriptions",
    "read_overlay",
    "scenario_document",
    "scenario_from_args",
    "translate",
    "unsimulated_metrics",
]
