# ruff: noqa: E501
"""Manifests in: reading and refusing, the k8s-hackathon scenario equal to hackathon.yaml,
the CLI commands, and runs of the Kubernetes policies."""

from __future__ import annotations

import json
from pathlib import Path

import pandas.testing as pdt
import pytest

from simcontinuum.cli import main
from simcontinuum.engine.simulation import Simulation
from simcontinuum.errors import ScenarioError
from simcontinuum.k8s import load_manifests, read_manifests
from simcontinuum.policy.registry import load_policy
from simcontinuum.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "scenarios" / "k8s-hackathon"
OVERLAY = K8S / "overlay.yaml"
TABLES = ("requests", "telemetry", "replicas", "cost")


def _run(scenario: object, policy: str) -> object:
    return Simulation(scenario, load_policy(policy)).run()


@pytest.mark.parametrize(
    ("yaml_policy", "k8s_policy"),
    [("first-fit", "first-fit"), ("kube-scheduler-hpa", "kube-scheduler")],
)
def test_k8s_hackathon_gives_the_hackathon_run(yaml_policy: str, k8s_policy: str) -> None:
    a = _run(load_scenario(REPO / "scenarios" / "hackathon.yaml"), yaml_policy)
    b = _run(load_manifests(K8S, OVERLAY), k8s_policy)
    for t in TABLES:
        pdt.assert_frame_equal(getattr(a, t), getattr(b, t))
    cols = [c for c in a.actions.columns if c != "reason"]
    pdt.assert_frame_equal(a.actions[cols], b.actions[cols])


def test_kube_scheduler_records_simulator_annotations() -> None:
    r = _run(load_manifests(K8S, OVERLAY), "kube-scheduler")
    rows = r.actions[r.actions.kind == "schedule"]
    assert len(rows) >= 2
    ann = json.loads(rows.iloc[1].reason)
    assert set(ann) >= {"filter-result", "score-result", "finalscore-result", "selected-node"}
    assert ann["selected-node"] == rows.iloc[1].node
    assert ann["filter-result"]["group1-node2"]["NodeResourcesFit"] == "passed"
    hpa = r.actions[r.actions.kind == "hpa"]
    assert len(hpa) >= 1 and "spec.replicas 1 ->" in hpa.iloc[0].reason


def test_same_seed_same_tables_for_every_k8s_policy() -> None:
    sc = load_scenario(REPO / "scenarios" / "smart-city.yaml")
    from dataclasses import replace

    sc = replace(sc, duration=60.0)
    for policy in ("kube-scheduler", "kube-scheduler-hpa", "karmada"):
        a, b = _run(sc, policy), _run(sc, policy)
        for t in (*TABLES, "actions"):
            pdt.assert_frame_equal(getattr(a, t), getattr(b, t))


def _write(tmp: Path, name: str, text: str) -> None:
    (tmp / name).write_text(text)


NODE = """apiVersion: v1
kind: Node
metadata: {name: n1, labels: {simcontinuum.io/tier: cloud}}
status: {capacity: {cpu: "4", memory: 8Gi}}
"""


def test_unknown_field_is_an_error_with_its_place(tmp_path: Path) -> None:
    _write(tmp_path, "nodes.yaml", NODE)
    _write(
        tmp_path,
        "app.yaml",
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelecter: {disk: ssd}
      containers: [{name: web, image: nginx, env: [{name: A, value: b}]}]
""",
    )
    with pytest.raises(ScenarioError) as err:
        load_manifests(tmp_path)
    text = str(err.value)
    assert (
        "app.yaml: Deployment web: spec.template.spec.nodeSelecter: unknown field; did you mean 'nodeSelector'?"
        in text
    )
    m = read_manifests(tmp_path)
    assert "Deployment.spec.template.spec.containers[].env" in m.ignored_fields


def test_multi_document_list_and_kinds(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "all.yaml",
        "apiVersion: v1\nkind: List\nitems:\n"
        + "".join(
            "  - " + line + "\n" if i == 0 else "    " + line + "\n"
            for i, line in enumerate(NODE.strip().splitlines())
        )
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: x/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    m = read_manifests(tmp_path)
    assert [e.node.name for e in m.nodes] == ["n1"]
    assert m.ignored_kinds == ["ConfigMap"]
    assert any("Widget" in u for u in m.unknown_kinds)


def test_cli_translate_schedule_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", "translate", str(K8S), "--overlay", str(OVERLAY)]) == 0
    out = capsys.readouterr().out
    assert "group1-node2" in out and "camera-pipeline" in out
    assert main(["k8s", "schedule", str(K8S), "--overlay", str(OVERLAY), "--json"]) == 0
    decisions = json.loads(capsys.readouterr().out)
    assert {d["component"] for d in decisions} == {"detector", "classifier"}
    assert (
        main(
            [
                "run",
                "--k8s",
                str(K8S),
                "--overlay",
                str(OVERLAY),
                "--policy",
                "kube-scheduler",
                "--json",
                "-q",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["requests"] > 0
    assert main(["run", "--k8s", str(tmp_path / "missing"), "--policy", "kube-scheduler"]) == 2


def test_node_failure_pods_replaced_after_eviction() -> None:
    """A pod lost with its node is replaced only after 40 s + 300 s (unless the node is back)."""
    from dataclasses import replace

    from simcontinuum.model import Failure

    sc = load_manifests(K8S, OVERLAY)
    sc = replace(
        sc, duration=420.0, failures=(Failure(at=30.0, kind="node", target="cloud-node1"),)
    )
    r = _run(sc, "kube-scheduler")
    a = r.actions
    evict = a[a.kind == "evict"]
    assert len(evict) == 1 and 370.0 <= evict.time_s.iloc[0] <= 372.0
    redeploy = a[(a.kind == "deploy") & (a.component == "classifier") & (a.time_s > 30.0)]
    assert redeploy.time_s.min() >= evict.time_s.iloc[0]


def test_cpu_limit_reaches_the_scenario(tmp_path: Path) -> None:
    _write(tmp_path, "nodes.yaml", NODE)
    _write(
        tmp_path,
        "app.yaml",
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, resources: {requests: {cpu: 250m}, limits: {cpu: 500m}}}]
""",
    )
    sc = load_manifests(tmp_path, {"duration": "10s"})
    comp = sc.applications[0].components[0]
    assert (comp.cpu, comp.cpu_limit) == (0.25, 0.5)
