# ruff: noqa: E501
"""Karmada: upstream division and Webster cases (data), the docs' worked example, the
v1.15 -> v1.16 change, scale rules, cluster selection and a run."""

from __future__ import annotations

import pytest
from k8s_cases import load

from simcontinuum.k8s.karmada import (
    Affinity,
    ClusterInfo,
    Placement,
    assign,
    available_replicas,
    dynamic_divide,
    select_clusters,
    tie_breaker_by_uid,
    webster,
)
from simcontinuum.k8s.objects import Taint, Toleration

DATA = load("karmada_division.yaml")


@pytest.mark.parametrize("case", DATA["dynamic_divide"], ids=lambda c: c["name"])
def test_dynamic_divide(case: dict) -> None:
    got = dynamic_divide(
        case["target"],
        [tuple(x) for x in case["available"]],
        aggregated=case["strategy"] == "Aggregated",
    )
    assert got == case["want"]


@pytest.mark.parametrize("case", DATA["webster"], ids=lambda c: c["name"])
def test_webster(case: dict) -> None:
    assert webster(case["seats"], case["votes"], case.get("initial")) == case["want"]


def test_docs_weighted_division_12_over_6_12_18() -> None:
    got = assign("DynamicWeight", 12, [("m3", 18), ("m2", 12), ("m1", 6)])
    assert got == {"m1": 2, "m2": 4, "m3": 6}


def test_webster_not_floor_plus_remainder() -> None:
    # v1.15's "floor, then the remainder by weight" gave 5:2:0; v1.16's Webster gives 4:2:1
    assert assign(
        "StaticWeight", 7, [("a", 0), ("b", 0), ("c", 0)], weights={"a": 6, "b": 2, "c": 1}
    ) == {"a": 4, "b": 2, "c": 1}


def test_tie_breaker_by_uid_hash_parity() -> None:
    # an even FNV-32a hash (or no UID) breaks ties by name ascending, an odd one descending
    asc, desc = tie_breaker_by_uid(""), tie_breaker_by_uid("b")  # fnv32a(b"b") is odd
    assert asc(("a", 0), ("b", 0)) and not desc(("a", 0), ("b", 0))
    assert webster(1, {"a": 1, "b": 1}, None, desc) == {"a": 0, "b": 1}


def test_dynamic_scale_up_divides_only_the_added_replicas() -> None:
    got = assign("DynamicWeight", 6, [("a", 10), ("b", 0)], previous={"a": 1, "b": 3})
    assert got == {"a": 3, "b": 3}  # 2 added replicas, all where there is room


def test_dynamic_scale_down_follows_the_current_assignment() -> None:
    assert assign("DynamicWeight", 4, [("a", 100), ("b", 100)], previous={"a": 6, "b": 2}) == {
        "a": 3,
        "b": 1,
    }


def test_not_enough_available_replicas() -> None:
    with pytest.raises(ValueError, match="not enough"):
        assign("DynamicWeight", 10, [("a", 3), ("b", 3)])


def test_duplicated() -> None:
    assert assign("Duplicated", 3, [("a", 0), ("b", 9)]) == {"a": 3, "b": 3}


def test_estimator_min_over_resources_and_pods() -> None:
    assert available_replicas(10_000, 2**30, 100, 1000, 2**28) == 4
    assert available_replicas(0, 2**30, 100, 1000, 0) == 0


def test_cluster_affinities_fall_back_in_order() -> None:
    clusters = [ClusterInfo("edge", {"tier": "edge"}), ClusterInfo("cloud", {"tier": "cloud"})]
    placement = Placement(affinities=(Affinity(names=("edge",)), Affinity(names=("cloud",))))
    names, term = select_clusters(clusters, placement, {"edge": 2, "cloud": 50}, 5)
    assert (names, term) == (["cloud"], "clusterAffinities[1]")
    names, term = select_clusters(clusters, placement, {"edge": 9, "cloud": 50}, 5)
    assert (names, term) == (["edge"], "clusterAffinities[0]")


def test_cluster_taints_need_tolerations() -> None:
    tainted = ClusterInfo("gpu", taints=(Taint("dedicated", "ml", "NoSchedule"),))
    plain = ClusterInfo("cpu")
    names, _ = select_clusters([tainted, plain], Placement(), {"gpu": 9, "cpu": 9}, 1)
    assert names == ["cpu"]
    tol = Placement(tolerations=(Toleration("dedicated", "Equal", "ml", "NoSchedule"),))
    names, _ = select_clusters([tainted, plain], tol, {"gpu": 9, "cpu": 9}, 1)
    assert names == ["cpu", "gpu"]


def test_spread_by_region_max_and_min_groups() -> None:
    cs = [
        ClusterInfo("a", region="eu"),
        ClusterInfo("b", region="eu"),
        ClusterInfo("c", region="us"),
    ]
    avail = {"a": 5, "b": 5, "c": 4}
    one = Placement(spread=(("region", 1, 1),))
    assert select_clusters(cs, one, avail, 2)[0] == ["a", "b"]
    three = Placement(spread=(("region", 3, 3),))
    assert select_clusters(cs, three, avail, 2)[0] == []


KARMADA_DIR = {
    "nodes.yaml": """apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Node, metadata: {name: g-ssd, labels: {simcontinuum.io/cluster: group1, disk: ssd}}, status: {capacity: {cpu: "4", memory: 8Gi}}}
  - {apiVersion: v1, kind: Node, metadata: {name: g-hdd, labels: {simcontinuum.io/cluster: group1, disk: hdd}}, status: {capacity: {cpu: "8", memory: 8Gi}}}
  - {apiVersion: v1, kind: Node, metadata: {name: c-1, labels: {simcontinuum.io/cluster: cloud, simcontinuum.io/tier: cloud}}, status: {capacity: {cpu: "16", memory: 32Gi}}}
""",
    "karmada.yaml": """apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: group1, labels: {site: edge}}
spec: {region: eu}
---
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: cloud}
spec: {region: eu}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  placement:
    clusterAffinity: {clusterNames: [group1, cloud]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - {targetCluster: {clusterNames: [group1]}, weight: 2}
          - {targetCluster: {clusterNames: [cloud]}, weight: 1}
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: web-edge}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  overrideRules:
    - targetCluster: {labelSelector: {matchLabels: {site: edge}}}
      overriders:
        plaintext: [{path: /spec/template/spec/nodeSelector, operator: add, value: {disk: ssd}}]
        imageOverrider: [{component: Registry, operator: addIfAbsent, value: edge.registry.local}]
""",
    "web.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27, resources: {requests: {cpu: 500m, memory: 256Mi}}}]
""",
}


def test_karmada_manifests_static_weights_and_override(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.k8s import load_manifests
    from simcontinuum.policy.registry import load_policy

    for name, text in KARMADA_DIR.items():
        (tmp_path / name).write_text(text)
    sc = load_manifests(tmp_path, {"duration": "30s"})
    r = Simulation(sc, load_policy("karmada")).run()
    a = r.actions
    karmada = a[a.kind == "karmada"]
    assert json.loads(karmada.iloc[0].reason)["assignment"] == {"group1": 2, "cloud": 1}
    deployed = a[(a.kind == "deploy") & (a.outcome == "applied")].node.tolist()
    assert sorted(deployed) == ["c-1", "g-ssd", "g-ssd"]  # the override pins group1 to ssd
    override = a[a.kind == "override"]
    assert len(override) == 1 and json.loads(override.iloc[0].reason)["cluster"] == "group1"
