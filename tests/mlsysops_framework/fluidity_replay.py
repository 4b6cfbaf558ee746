"""Replay fluidity plan cases through the MLSysOps framework's own fluidity controller.

Run with the Python of an environment where ``mlsysops==0.1.12`` is installed, with the
framework's source tree (for ``agents/cluster/fluidity``, which the package does not ship) in
``$MLSYSOPS_FRAMEWORK_SRC``. Only the Kubernetes API is replaced (an in-memory pod store);
everything else — plan handling, ``validate_host``, ``node_matches_requirements``, the host
lists — is the framework's code, imported, not copied.

stdin: JSON ``{"cluster": id, "nodes": {host: {"desc": MLSysOpsNode, "cpu": "4",
"memory": "16Gi"}}, "cases": [{"name": ..., "app": MLSysOpsApp, "plans": [deployment_plan,
...]}]}``; stdout: JSON ``{case name: [{"reply": "Completed"|"Failed"|null, "hosts": {comp:
[[host, status], ...]}, "pods": [[comp, host], ...]} per plan]}``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import sys
import types

SRC = os.environ["MLSYSOPS_FRAMEWORK_SRC"]
# only the fluidity directory: 'mlsysops' must come from the installed package
sys.path.insert(0, os.path.join(SRC, "agents", "cluster", "fluidity"))
logging.disable(logging.CRITICAL)

import kubernetes  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

SPEC = json.load(sys.stdin)
PODS: dict[str, dict] = {}


def ns(**kw: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**kw)


def k8s_node(name: str) -> types.SimpleNamespace:
    res = SPEC["nodes"][name]
    return ns(
        metadata=ns(name=name),
        status=ns(
            allocatable={"cpu": res["cpu"], "memory": res["memory"]},
            conditions=[ns(type="Ready", status="True")],
        ),
    )


class FakeCoreV1Api:
    """The Kubernetes calls fluidity makes, against an in-memory store."""

    def __init__(self, *a: object, **k: object) -> None:
        pass

    def create_namespaced_pod(self, body: dict, namespace: str) -> None:
        PODS[body["metadata"]["name"]] = copy.deepcopy(body)

    def delete_namespaced_pod(self, name: str, namespace: str, body: object = None) -> None:
        if PODS.pop(name, None) is None:
            raise ApiException(status=404)

    def read_namespaced_pod(self, name: str, namespace: str) -> object:
        if name not in PODS:
            raise ApiException(status=404)
        return ns(status=ns(phase="Running"), spec=ns(node_name=PODS[name]["spec"]["nodeName"]))

    def list_namespaced_pod(self, namespace: str) -> object:
        return ns(items=[])

    def read_node(self, name: str) -> object:
        return k8s_node(name)

    def list_node(self) -> object:
        return ns(items=[k8s_node(n) for n in SPEC["nodes"]])

    def read_namespaced_service(self, name: str, namespace: str) -> object:
        raise ApiException(status=404)

    def create_namespaced_service(self, body: object, namespace: str) -> object:
        return ns(spec=ns(cluster_ip="10.0.0.1"))


kubernetes.client.CoreV1Api = FakeCoreV1Api  # type: ignore[misc]
kubernetes.config.load_kube_config = lambda *a, **k: None  # type: ignore[assignment]
kubernetes.config.load_incluster_config = lambda *a, **k: None  # type: ignore[assignment]

import cluster_config  # noqa: E402
import controller  # noqa: E402
from mlsysops import MessageEvents  # noqa: E402


def node_crs() -> dict[str, list]:
    out: dict[str, list] = {"generic": []}
    for name, res in SPEC["nodes"].items():
        desc = copy.deepcopy(res["desc"])
        desc.pop("name", None)
        cr = {"apiVersion": "mlsysops.eu/v1", "kind": "MLSysOpsNode", "metadata": {"name": name}}
        cr.update(desc)
        out.setdefault(desc.get("continuum_layer", "generic"), []).append(cr)
    return out


def snapshot(ctrl: object, app: str) -> dict:
    comps = ctrl.apps_dict[app]["components"]  # type: ignore[attr-defined]
    hosts = {
        c: [[h.get("host"), h.get("status")] for h in s.get("hosts", [])] for c, s in comps.items()
    }
    labels = "mlsysops.eu/component"
    pods = sorted([p["metadata"]["labels"][labels], p["spec"]["nodeName"]] for p in PODS.values())
    return {"hosts": hosts, "pods": pods}


async def replay(case: dict) -> list:
    PODS.clear()
    cluster_config.NAMESPACE = "mlsysops"
    cluster_config.CLUSTER_ID = SPEC["cluster"]
    out_q: asyncio.Queue = asyncio.Queue()
    ctrl = controller.FluidityAppController(None, out_q)
    ctrl.nodes = {"mlsysops": node_crs(), "kubernetes": FakeCoreV1Api().list_node().items}
    ctrl.constraints = {}

    async def no_monitor(name: str) -> bool:  # the pod watcher talks to Kubernetes
        return True

    ctrl.start_monitor = no_monitor  # type: ignore[method-assign]
    app = case["app"]
    handler = asyncio.create_task(ctrl._app_handler())
    # the application arrives as the CR watcher reports it (an internal ADDED event)
    await ctrl.notification_queue.put(
        {
            "operation": "ADDED",
            "origin": "internal",
            "payload": {
                "name": app["name"],
                "uid": app["name"] + "-uid",
                "spec": copy.deepcopy(app),
                "resource": "mlsysopsapps",
            },
        }
    )
    for _ in range(10):
        await asyncio.sleep(0.005)
    while not out_q.empty():
        out_q.get_nowait()
    results = []
    for i, plan in enumerate(case["plans"]):
        await ctrl.notification_queue.put(
            {
                "operation": MessageEvents.PLAN_SUBMITTED.value,
                "origin": "spade",
                "payload": {
                    "name": app["name"],
                    "plan_uid": f"plan-{i}",
                    "deployment_plan": copy.deepcopy(plan),
                },
            }
        )
        for _ in range(20):
            await asyncio.sleep(0.005)
        reply = None
        while not out_q.empty():
            msg = out_q.get_nowait()
            if msg and msg.get("event") == MessageEvents.PLAN_EXECUTED.value:
                reply = msg["payload"]["status"]
        results.append({"reply": reply, **snapshot(ctrl, app["name"])})
    handler.cancel()
    return results


async def main() -> None:
    out = {}
    for case in SPEC["cases"]:
        out[case["name"]] = await replay(case)
    json.dump(out, sys.stdout)


asyncio.run(main())
