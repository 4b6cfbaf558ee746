"""Golden cases ported as data from the upstream kube-scheduler plugin tests
(tests/data/k8s/*.yaml name the file, commit and test each table comes from)."""

from __future__ import annotations

import pytest
from k8s_cases import load, pod, snapshot

from simcontinuum.k8s.objects import LabelSelector
from simcontinuum.k8s.scheduler import Cycle

SCORE_FILES = {
    "least_allocated.yaml": "_s_least_allocated",
    "balanced_allocation.yaml": "_s_balanced",
    "image_locality.yaml": "_s_image",
    "taint_toleration.yaml": "_s_taints",
    "node_affinity.yaml": "_s_node_affinity",
    "pod_topology_spread.yaml": "_s_spread",
    "inter_pod_affinity.yaml": "_s_interpod",
}


def _score_cases() -> list[tuple[str, dict, dict, str]]:
    out = []
    for fname, method in SCORE_FILES.items():
        data = load(fname)
        for case in data.get("cases", []):
            out.append(pytest.param(data, case, method, id=f"{fname[:-5]}: {case['name']}"))
    return out


def _filter_cases() -> list[object]:
    out = []
    for fname in SCORE_FILES:
        data = load(fname)
        for case in data.get("filter_cases", []):
            out.append(pytest.param(data, case, id=f"{fname[:-5]}: {case['name']}"))
    return out


@pytest.mark.parametrize(("data", "case", "method"), _score_cases())
def test_score(data: dict, case: dict, method: str) -> None:
    snap = snapshot(case, data)
    p = pod(case.get("pod"), data.get("pods"), "incoming")
    default = case.get("default_selector")
    selector = None if default is None else LabelSelector(tuple(sorted(default.items())))
    cycle = Cycle(snap, p, default_spread_selector=selector)
    nodes = [snap.infos[n["name"]] for n in case["nodes"]]
    if "feasible" in case:
        nodes = [snap.infos[n] for n in case["feasible"]]
    out = getattr(cycle, method)(nodes)
    if case.get("skip"):
        assert out is None
        return
    if out is None:  # PreScore returned Skip: the plugin adds 0 to every node
        assert set(case["expected"].values()) == {0}
        return
    assert out is not None
    _raw, normalised = out
    assert normalised == case["expected"]


@pytest.mark.parametrize(("data", "case"), _filter_cases())
def test_filter(data: dict, case: dict) -> None:
    nodes = [case["node"]] if "node" in case else case["nodes"]
    snap = snapshot({"nodes": nodes, "existing": case.get("existing")}, data)
    p = pod(case.get("pod"), data.get("pods"), "incoming")
    cycle = Cycle(snap, p)
    target = case.get("on", nodes[0]["name"])
    result, status = cycle.filter(snap.infos[target])
    got = "passed" if status is None else status.code
    assert got == case["want"], result
