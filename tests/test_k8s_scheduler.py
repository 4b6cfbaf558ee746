"""kube-scheduler: the docs' worked examples, preemption by hand, sampling, and the property
that no placement breaks a hard constraint."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_cases import node, pod

from simcontinuum.k8s.objects import ZONE, K8sNode, Pod, Taint
from simcontinuum.k8s.scheduler import Cycle, Scheduler, Snapshot, num_feasible_nodes_to_find


def _spread_pod(labels: dict, skew: int = 1, when: str = "DoNotSchedule") -> Pod:
    return pod(
        {
            "labels": labels,
            "topologySpreadConstraints": [
                {
                    "maxSkew": skew,
                    "topologyKey": ZONE,
                    "whenUnsatisfiable": when,
                    "labelSelector": {"matchLabels": {"foo": "bar"}},
                }
            ],
        },
        name="mypod",
    )


def _zones() -> Snapshot:
    nodes = [
        node({"name": n, "cpu": "4", "memory": "8Gi", "labels": {ZONE: z}})
        for n, z in (("node1", "zoneA"), ("node2", "zoneA"), ("node3", "zoneB"), ("node4", "zoneB"))
    ]
    snap = Snapshot(nodes)
    for i, n in enumerate(("node1", "node2", "node3")):
        snap.bind(pod({"labels": {"foo": "bar"}}, name=f"p{i}"), n)
    return snap


def test_docs_topology_spread_one_constraint() -> None:
    """kubernetes.io "Pod Topology Spread Constraints", example one: 3 pods foo=bar on
    node1, node2 (zoneA) and node3 (zoneB); with maxSkew 1 on zone the 4th goes to zoneB."""
    snap = _zones()
    cycle = Cycle(snap, _spread_pod({"foo": "bar"}))
    ok = {n for n in snap.order if cycle.filter(snap.infos[n])[1] is None}
    assert ok == {"node3", "node4"}
    d = Scheduler(np.random.default_rng(0)).schedule(snap, _spread_pod({"foo": "bar"}))
    assert d.node in {"node3", "node4"}


def test_docs_topology_spread_max_skew_two_allows_zone_a() -> None:
    snap = _zones()
    cycle = Cycle(snap, _spread_pod({"foo": "bar"}, skew=2))
    assert all(cycle.filter(snap.infos[n])[1] is None for n in snap.order)


def test_docs_taints_dedicated_nodes() -> None:
    """kubernetes.io "Taints and Tolerations": a NoSchedule taint keeps pods off a node
    unless they tolerate it; PreferNoSchedule only lowers its score."""
    a = node(
        {
            "name": "a",
            "cpu": "4",
            "memory": "8Gi",
            "taints": [{"key": "key1", "value": "value1", "effect": "NoSchedule"}],
        }
    )
    b = node(
        {
            "name": "b",
            "cpu": "4",
            "memory": "8Gi",
            "taints": [{"key": "key2", "value": "v", "effect": "PreferNoSchedule"}],
        }
    )
    c = node({"name": "c", "cpu": "4", "memory": "8Gi"})
    plain = pod({"containers": [{"requests": {"cpu": "1"}}]})
    tol = pod(
        {
            "containers": [{"requests": {"cpu": "1"}}],
            "tolerations": [
                {"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"}
            ],
        }
    )
    snap = Snapshot([a, b, c])
    assert Cycle(snap, plain).filter(snap.infos["a"])[1] is not None
    assert Cycle(snap, tol).filter(snap.infos["a"])[1] is None
    d = Scheduler(np.random.default_rng(0)).schedule(snap, plain)
    assert d.node == "c"  # b scores 0 on TaintToleration (weight 3), c scores 100
    assert d.finalscore["b"]["TaintToleration"] == 0 and d.finalscore["c"]["TaintToleration"] == 300


def test_single_feasible_node_is_bound_without_scoring() -> None:
    snap = Snapshot(
        [
            node({"name": "x", "cpu": "1", "memory": "1Gi"}),
            node({"name": "y", "cpu": "8", "memory": "8Gi"}),
        ]
    )
    d = Scheduler(np.random.default_rng(0)).schedule(
        snap, pod({"containers": [{"requests": {"cpu": "2"}}]})
    )
    assert d.node == "y" and d.score == {} and d.feasible == 1


def test_ties_are_broken_by_the_generator() -> None:
    nodes = [node({"name": f"n{i}", "cpu": "4", "memory": "8Gi"}) for i in range(4)]
    got = set()
    for seed in range(20):
        d = Scheduler(np.random.default_rng(seed)).schedule(
            Snapshot(nodes), pod({"containers": [{"requests": {"cpu": "1"}}]})
        )
        got.add(d.node)
    assert len(got) > 1
    again = [
        Scheduler(np.random.default_rng(5)).schedule(Snapshot(nodes), pod({})).node
        for _ in range(3)
    ]
    assert len(set(again)) == 1


def test_sampling_counts() -> None:
    assert num_feasible_nodes_to_find(5000) == 5000 * 10 // 100
    assert num_feasible_nodes_to_find(100) == 100


def test_preemption_picks_the_lowest_priority_victims() -> None:
    """Two full nodes: victims of priority 10 on n1, 5 on n2 -> n2 (lowest top priority)."""
    nodes = [node({"name": n, "cpu": "2", "memory": "8Gi"}) for n in ("n1", "n2")]
    snap = Snapshot(nodes)
    snap.bind(pod({"containers": [{"requests": {"cpu": "2"}}], "priority": 10}, name="v1"), "n1")
    snap.bind(pod({"containers": [{"requests": {"cpu": "2"}}], "priority": 5}, name="v2"), "n2")
    hi = pod({"containers": [{"requests": {"cpu": "1"}}], "priority": 100}, name="hi")
    d = Scheduler(np.random.default_rng(0)).schedule(snap, hi)
    assert d.node is None and d.nominated == "n2" and [v.name for v in d.victims] == ["v2"]
    never = pod(
        {"containers": [{"requests": {"cpu": "1"}}], "priority": 100, "preemptionPolicy": "Never"}
    )
    assert Scheduler(np.random.default_rng(0)).schedule(snap, never).nominated is None


def test_preemption_reprieves_what_still_fits() -> None:
    snap = Snapshot([node({"name": "n", "cpu": "4", "memory": "8Gi"})])
    for prio in (1, 2, 3):
        snap.bind(
            pod({"containers": [{"requests": {"cpu": "1"}}], "priority": prio}, name=f"p{prio}"),
            "n",
        )
    d = Scheduler(np.random.default_rng(0)).schedule(
        snap, pod({"containers": [{"requests": {"cpu": "2"}}], "priority": 9})
    )
    assert sorted(v.name for v in d.victims) == ["p1"]  # 1 free + p1's core: p2, p3 reprieved


# ----------------------------------------------------------------------------- property

ZONES = ("a", "b", "c")


@st.composite
def clusters(draw: st.DrawFn) -> tuple[list[K8sNode], list[tuple[Pod, str]], Pod]:
    n = draw(st.integers(1, 8))
    nodes = []
    for i in range(n):
        taints = (
            [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
            if draw(st.booleans())
            else []
        )
        nodes.append(
            node(
                {
                    "name": f"n{i}",
                    "cpu": f"{draw(st.integers(1, 8))}",
                    "memory": f"{draw(st.integers(1, 16))}Gi",
                    "labels": {
                        ZONE: draw(st.sampled_from(ZONES)),
                        "disk": draw(st.sampled_from(["ssd", "hdd"])),
                    },
                    "taints": taints,
                }
            )
        )
    existing = []
    for j in range(draw(st.integers(0, 10))):
        target = draw(st.sampled_from([x.name for x in nodes]))
        existing.append(
            (
                pod(
                    {
                        "labels": {"app": draw(st.sampled_from(["web", "db"]))},
                        "containers": [{"requests": {"cpu": "500m"}}],
                    },
                    name=f"e{j}",
                ),
                target,
            )
        )
    spec: dict = {
        "labels": {"app": "web"},
        "containers": [{"requests": {"cpu": f"{draw(st.integers(100, 3000))}m", "memory": "1Gi"}}],
    }
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    if draw(st.booleans()):
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
                    ]
                }
            }
        }
    if draw(st.booleans()):
        spec.setdefault("affinity", {})["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
            ]
        }
    if draw(st.booleans()):
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ]
    return nodes, existing, pod(spec, name="incoming")


@settings(max_examples=200, deadline=None)
@given(case=clusters(), seed=st.integers(0, 2**16))
def test_no_placement_breaks_a_hard_constraint(case: tuple, seed: int) -> None:
    nodes, existing, incoming = case
    snap = Snapshot(nodes)
    for p, n in existing:
        snap.bind(p, n)
    d = Scheduler(np.random.default_rng(seed)).schedule(snap, incoming, preempt=False)
    if d.node is None:
        return
    info = snap.infos[d.node]
    spec = incoming.spec
    # capacity
    assert info.cpu + spec.request("cpu") <= info.node.cpu
    assert info.memory + spec.request("memory") <= info.node.memory
    # NoSchedule taints
    for t in info.node.taints:
        if t.effect == "NoSchedule":
            assert any(tol.tolerates(t) for tol in spec.tolerations)
    # required node affinity
    if spec.required_node_terms:
        assert any(
            term.matches(info.node.name, info.node.labels) for term in spec.required_node_terms
        )
    # required anti-affinity: no app=db pod in the chosen zone
    if spec.anti_required:
        zone = info.node.labels[ZONE]
        assert not any(
            p.labels.get("app") == "db"
            for i in snap.infos.values()
            if i.node.labels[ZONE] == zone
            for p in i.pods
        )
    # DoNotSchedule spread: skew after placing <= 1 among eligible zones
    if spec.spread:
        eligible = [
            i
            for i in snap.infos.values()
            if spec.required_node_terms is None
            or any(t.matches(i.node.name, i.node.labels) for t in spec.required_node_terms)
        ]
        counts = {i.node.labels[ZONE]: 0 for i in eligible}
        for i in eligible:
            counts[i.node.labels[ZONE]] += sum(1 for p in i.pods if p.labels.get("app") == "web")
        counts[info.node.labels[ZONE]] += 1
        assert counts[info.node.labels[ZONE]] - min(counts.values()) <= 1


_ = Taint
