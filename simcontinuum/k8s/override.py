"""Karmada ``OverridePolicy`` / ``ClusterOverridePolicy``: the pod template each member
cluster receives (karmada v1.16.0 ``pkg/util/overridemanager``).

Applied per member cluster, rules in order, to the workload's manifest (``/spec/template/...``):
``plaintext`` (JSON-patch ``add``/``replace``/``remove`` at a JSON pointer),
``imageOverrider`` (``Registry``/``Repository``/``Tag`` with ``addIfAbsent``/``overwrite``/
``delete``, on every container or the one ``predicate.path`` names), ``labelsOverrider`` and
``annotationsOverrider`` (the workload's metadata; they change no scheduling decision),
``commandOverrider``/``argsOverrider`` (no effect on the simulation). The member's
kube-scheduler then schedules the overridden pod template: images (ImageLocality), node
selectors, affinity, tolerations and spreading per cluster. An override of cpu or memory
requests is refused (the engine reserves one request per component) and reported.

Invariants: a pure function of the manifests and the cluster; the input is never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from simcontinuum.k8s.karmada import ClusterInfo, parse_placement


def _tokens(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/', got {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def json_patch(doc: Any, op: str, path: str, value: Any = None) -> Any:
    """One RFC 6902 ``add``/``replace``/``remove`` on a copy of ``doc``.

    >>> json_patch({"a": [1, 2]}, "add", "/a/-", 3)
    {'a': [1, 2, 3]}
    >>> json_patch({"a": {"b": 1}}, "remove", "/a/b")
    {'a': {}}
    """
    out = copy.deepcopy(doc)
    tokens = _tokens(path)
    parent = out
    for t in tokens[:-1]:
        parent = parent[int(t)] if isinstance(parent, list) else parent.setdefault(t, {})
    last = tokens[-1]
    if isinstance(parent, list):
        if op == "add":
            parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(value))
        elif op == "replace":
            parent[int(last)] = copy.deepcopy(value)
        else:
            del parent[int(last)]
    elif op in ("add", "replace"):
        parent[last] = copy.deepcopy(value)
    else:
        parent.pop(last, None)
    return out


def _split_image(image: str) -> tuple[str, str, str]:
    """``(registry, repository, tag)`` of an image reference (digests stay in the tag)."""
    first, _, rest = image.partition("/")
    registry = ""
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, image = first, rest
    sep = "@" if "@" in image else ":"
    repo, _, tag = image.partition(sep) if sep in image.rsplit("/", 1)[-1] else (image, "", "")
    return registry, repo, (sep + tag if tag else "")


def override_image(image: str, component: str, operator: str, value: str) -> str:
    """One ``imageOverrider`` entry.

    >>> override_image("nginx:1.0", "Registry", "addIfAbsent", "reg.io")
    'reg.io/nginx:1.0'
    >>> override_image("reg.io/nginx:1.0", "Tag", "overwrite", "2.0")
    'reg.io/nginx:2.0'
    """
    registry, repo, tag = _split_image(image)
    parts = {"Registry": registry, "Repository": repo, "Tag": tag[1:] if tag else ""}
    current = parts[component]
    if (operator == "addIfAbsent" and not current) or operator == "overwrite":
        parts[component] = value
    elif operator == "delete":
        parts[component] = ""
    sep = tag[:1] or ":"
    out = parts["Repository"]
    if parts["Registry"]:
        out = f"{parts['Registry']}/{out}"
    if parts["Tag"]:
        out = f"{out}{sep}{parts['Tag']}"
    return out


def rules_for(
    policies: Sequence[tuple[str, Mapping[str, Any]]],
    kind: str,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    cluster: ClusterInfo,
) -> list[Mapping[str, Any]]:
    """The overriders that apply to this workload in ``cluster``, in application order
    (ClusterOverridePolicies first, then OverridePolicies, each in file order)."""
    ordered = sorted(policies, key=lambda p: 0 if p[0] == "ClusterOverridePolicy" else 1)
    out: list[Mapping[str, Any]] = []
    for pkind, doc in ordered:
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        if pkind == "OverridePolicy" and (meta.get("namespace") or "default") != namespace:
            continue
        if not any(
            _selects(s, kind, name, namespace, labels) for s in spec.get("resourceSelectors") or ()
        ):
            continue
        for rule in spec.get("overrideRules") or ():
            target = rule.get("targetCluster")
            if target:
                affinity = parse_placement({"clusterAffinity": target}).affinities[0]
                if not affinity.matches(cluster):
                    continue
            out.append(rule.get("overriders") or {})
    return out


def _selects(
    sel: Mapping[str, Any], kind: str, name: str, ns: str, labels: Mapping[str, str]
) -> bool:
    if sel.get("kind") and sel["kind"] != kind:
        return False
    if sel.get("name") and sel["name"] != name:
        return False
    if sel.get("namespace") and sel["namespace"] != ns:
        return False
    ml = (sel.get("labelSelector") or {}).get("matchLabels") or {}
    return all(labels.get(str(k)) == str(v) for k, v in ml.items())


def apply_overriders(
    manifest: Mapping[str, Any], overriders: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """The manifest after the overriders, and the overrides refused (with why)."""
    doc: Any = copy.deepcopy(dict(manifest))
    refused: list[str] = []
    for ov in overriders:
        for p in ov.get("plaintext") or ():
            path, op = str(p.get("path", "")), str(p.get("operator", "replace"))
            if "/resources/" in path:
                refused.append(f"plaintext {op} {path}: resource overrides are not simulated")
                continue
            try:
                doc = json_patch(doc, op, path, p.get("value"))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                refused.append(f"plaintext {op} {path}: {exc}")
        for io in ov.get("imageOverrider") or ():
            containers = (((doc.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                "containers"
            ) or []
            pred = (io.get("predicate") or {}).get("path")
            for i, c in enumerate(containers):
                if pred and pred != f"/spec/template/spec/containers/{i}/image":
                    continue
                c["image"] = override_image(
                    str(c.get("image", "")),
                    str(io.get("component")),
                    str(io.get("operator")),
                    str(io.get("value", "")),
                )
        for lo in ov.get("labelsOverrider") or ():
            meta = doc.setdefault("metadata", {})
            labels = dict(meta.get("labels") or {})
            op = lo.get("operator")
            for k, v in (lo.get("value") or {}).items():
                if op == "delete":
                    labels.pop(k, None)
                else:
                    labels[k] = v
            meta["labels"] = labels
    return doc, refused


__all__ = ["apply_overriders", "json_patch", "override_image", "rules_for"]
