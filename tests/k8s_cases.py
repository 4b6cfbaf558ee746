"""Build scheduler inputs from the golden-case files of tests/data/k8s (shorthand nodes,
pods in Kubernetes pod-spec shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simcontinuum.k8s import quantity
from simcontinuum.k8s.manifests import Manifests, _Reader, read_pod_spec
from simcontinuum.k8s.objects import HOSTNAME, K8sNode, Pod, Taint, normalise_image
from simcontinuum.k8s.scheduler import Snapshot

DATA = Path(__file__).parent / "data" / "k8s"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / name).read_text())


def node(d: dict[str, Any], images: dict[str, dict[str, int]] | None = None) -> K8sNode:
    labels = {HOSTNAME: d["name"]} if d.get("hostname", True) else {}
    labels.update({str(k): str(v) for k, v in (d.get("labels") or {}).items()})
    imgs = d.get("images") or {}
    if isinstance(imgs, str):
        imgs = (images or {})[imgs]
    return K8sNode(
        name=d["name"],
        labels=labels,
        cpu=quantity.milli(d.get("cpu", "0")),
        memory=quantity.value(d.get("memory", "0")),
        pods=int(d.get("pods", 110)),
        taints=tuple(
            Taint(t["key"], str(t.get("value", "")), t["effect"]) for t in d.get("taints") or []
        ),
        images={normalise_image(k): v * 2**20 for k, v in imgs.items()},
    )


def _containers(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(items):
        res = {}
        if "requests" in c:
            res["requests"] = c["requests"]
        if "limits" in c:
            res["limits"] = c["limits"]
        out.append({"name": f"c{i}", "image": c.get("image", ""), "resources": res})
    return out


def pod(
    d: dict[str, Any] | str | None, named: dict[str, Any] | None = None, name: str = "p"
) -> Pod:
    if isinstance(d, str):
        d = (named or {})[d]
    d = dict(d or {})
    labels = {str(k): str(v) for k, v in (d.pop("labels", None) or {}).items()}
    ns = d.pop("namespace", "default")
    d.pop("node", None)
    inner = d.pop("pod", None)
    if inner is not None:
        return pod(inner, named, name)
    spec = dict(d)
    spec["containers"] = _containers(spec.get("containers", []))
    if "initContainers" in spec:
        spec["initContainers"] = _containers(spec["initContainers"])
    m = Manifests(root="")
    r = _Reader(m, "case", "Pod")
    ps = read_pod_spec(r, spec, "spec", labels, {})
    problems = [p for p in m.problems if "containers: required" not in p]
    assert not problems, problems
    return Pod(name, ps, labels, ns)


def snapshot(case: dict[str, Any], data: dict[str, Any]) -> Snapshot:
    snap = Snapshot(node(n, data.get("images")) for n in case["nodes"])
    for i, e in enumerate(case.get("existing") or []):
        snap.bind(pod(e, data.get("pods"), f"existing-{i}"), e["node"])
    return snap
