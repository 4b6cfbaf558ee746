"""Differential tests: fluidity plans replayed through the MLSysOps framework's own
controller (0.1.12, Kubernetes calls stubbed) and through simcontinuum's
:class:`~simcontinuum.mlsysops.fluidity.Fluidity`; outcomes, host lists and pods must agree.

The framework runs in its own environment (it needs Python 3.10): ``make mlsysops-venv``
creates ``.venv-mlsysops`` with ``mlsysops==0.1.12`` from the registry (or set
``MLSYSOPS_FRAMEWORK_PYTHON``). Its fluidity controller is not in the registry package; point
``MLSYSOPS_FRAMEWORK_SRC`` at a checkout of the framework's repository. Without either the
tests skip and say which is missing. ``pytest tests/test_mlsysops_differential.py -s`` prints
the table.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest

from simcontinuum.mlsysops.fluidity import Fluidity

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "tests" / "mlsysops_framework" / "fluidity_replay.py"
LOADER = ROOT / "tests" / "mlsysops_framework" / "load_policies.py"
HACK = ROOT / "scenarios" / "mlsysops-hackathon"
ENV = {"node_type": "virtualized", "os": "ubuntu", "container_runtime": ["containerd"]}


def framework_python() -> str | None:
    """The Python of an environment with mlsysops 0.1.12, or None."""
    env = os.environ.get("MLSYSOPS_FRAMEWORK_PYTHON")
    local = ROOT / ".venv-mlsysops" / "bin" / "python"
    for cand in [env, str(local)]:
        if cand and Path(cand).exists():
            return cand
    return None


def node_desc(name: str, layer: str, cores: int) -> dict[str, Any]:
    return {
        "name": name,
        "cluster_id": "c1",
        "continuum_layer": layer,
        "environment": ENV,
        "hardware": {"cpu": {"architecture": "amd64", "cores": cores}, "memory": 16},
    }


NODES = {
    "n1": {"desc": node_desc("n1", "edge", 4), "cpu": "4", "memory": "16Gi"},
    "n2": {"desc": node_desc("n2", "edge", 4), "cpu": "4", "memory": "16Gi"},
    "n3": {"desc": node_desc("n3", "cloud", 8), "cpu": "8", "memory": "16Gi"},
}


def component(
    name: str, layers: list[str], cpu: str, image: str, arch: bool = True
) -> dict[str, Any]:
    cpu_req: dict[str, Any] = {"requests": cpu}
    if arch:
        cpu_req["architecture"] = ["amd64"]
    return {
        "metadata": {"name": name, "uid": f"{name}-1"},
        "node_placement": {"continuum_layer": layers},
        "containers": [
            {
                "image": image,
                "platform_requirements": {"cpu": cpu_req, "memory": {"requests": "512Mi"}},
            }
        ],
    }


APP = {
    "name": "app",
    "cluster_placement": {"cluster_id": ["c1"]},
    "components": [
        component("det", ["edge"], "1", "reg/det:1"),
        {
            **component("cls", ["edge", "cloud"], "500m", "reg/cls:1"),
            "qos_metrics": [
                {"application_metric_id": "lat", "target": 50, "relation": "lower_or_equal"}
            ],
        },
    ],
}
NEW_CLS = component("cls", ["edge", "cloud"], "1", "reg/cls:2")
NO_ARCH = {**APP, "components": [component("det", ["edge"], "1", "reg/det:1", arch=False)]}


def d(host: str) -> dict[str, str]:
    return {"action": "deploy", "host": host}


def mv(src: str, dst: str) -> dict[str, str]:
    return {"action": "move", "src_host": src, "target_host": dst}


def rm(host: str) -> dict[str, str]:
    return {"action": "remove", "host": host}


def cs(host: str) -> dict[str, Any]:
    return {"action": "change_spec", "new_spec": NEW_CLS, "host": host}


INIT = {"initial_plan": True, "det": [d("n1")], "cls": [d("n2")]}


def adapt(**steps: Any) -> dict[str, Any]:
    return {"initial_plan": False, **steps}


CASES: dict[str, list[dict[str, Any]]] = {
    "initial plan deploys": [INIT],
    "initial plan, ineligible host": [{"initial_plan": True, "det": [d("n3")]}],
    "plan without initial_plan": [{"det": [d("n1")], "cls": [d("n2")]}],
    "adaptation before initial deployment": [adapt(det=[d("n1")])],
    "move": [INIT, adapt(cls=[mv("n2", "n3")])],
    "move from a host not listed": [INIT, adapt(cls=[mv("n1", "n3")])],
    "deploy on a new host (scale-out)": [INIT, adapt(cls=[d("n3")])],
    "pending entry of a failed deploy persists": [
        INIT,
        adapt(cls=[d("n3")]),
        adapt(det=[mv("n1", "n2")]),
    ],
    "deploy on a listed host (duplicate pod)": [INIT, adapt(cls=[d("n2")])],
    "remove": [INIT, adapt(cls=[rm("n2")])],
    "remove a host not listed": [INIT, adapt(cls=[rm("n1")])],
    "invalid action": [INIT, adapt(cls=[{"action": "scale", "host": "n2"}])],
    "initial-plan redeploy": [INIT, {"initial_plan": True, "cls": [d("n3")]}],
    "duplicate deploys in an initial plan": [
        {"initial_plan": True, "det": [d("n1"), d("n1")], "cls": [d("n2")]}
    ],
    "change_spec on the same host": [INIT, adapt(cls=[cs("n2")])],
    "change_spec on another host": [INIT, adapt(cls=[cs("n3")])],
    "partial changes of a failed plan persist": [
        INIT,
        adapt(cls=[rm("n2"), d("n9")]),
        adapt(det=[mv("n1", "n2")]),
    ],
    "non-deploy action in an initial plan": [
        {"initial_plan": True, "det": [d("n1"), rm("n1")], "cls": [d("n2")]}
    ],
    "cpu requests without architecture (0.1.12 raises)": [{"initial_plan": True, "det": [d("n1")]}],
    "adaptation after the last pod was removed": [
        INIT,
        adapt(cls=[rm("n2")]),
        adapt(det=[mv("n1", "n2")]),
    ],
}


# --- simcontinuum's side ---------------------------------------------------------------------


def _view() -> Any:
    nodes = {
        n: types.SimpleNamespace(id=n, cores=float(r["cpu"]), memory=16 * 2**30, up=True)
        for n, r in NODES.items()
    }
    return types.SimpleNamespace(nodes=nodes, placements={})


def app_of(case: str) -> dict[str, Any]:
    return NO_ARCH if "architecture" in case else APP


def simulate(plans: list[dict[str, Any]], app: dict[str, Any]) -> list[dict[str, Any]]:
    """Each plan through simcontinuum's fluidity: reply, host lists, pods."""
    fl = Fluidity("c1", list(NODES), {n: r["desc"] for n, r in NODES.items()}, {"name": "c1"})
    fl.register("app", copy.deepcopy(app))
    view = _view()
    out = []
    for plan in plans:
        _, notes = fl.execute({"name": "app", "deployment_plan": copy.deepcopy(plan)}, view)
        outcomes = {n.outcome for n in notes}
        reply = (
            None
            if outcomes & {"ignored", "error"}
            else ("Failed" if "rejected" in outcomes else "Completed")
        )
        st = fl.apps["app"]
        hosts = {
            c: [[e["host"], e["status"]] for e in st.hosts.get(c, [])] for c in st.component_names()
        }
        out.append({"reply": reply, "hosts": hosts, "pods": sorted([c, h] for c, h in st.pods)})
    return out


def need_framework() -> str:
    py = framework_python()
    if py is None:
        pytest.skip(
            "no environment with mlsysops==0.1.12 (needs Python 3.10): run "
            "'make mlsysops-venv' or set MLSYSOPS_FRAMEWORK_PYTHON"
        )
    return py


def in_framework(code: str) -> Any:
    """Run ``code`` (which prints JSON) with the framework's Python."""
    proc = subprocess.run(
        [need_framework(), "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def framework(cases: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    py, src = need_framework(), os.environ.get("MLSYSOPS_FRAMEWORK_SRC")
    if not src or not (Path(src) / "agents" / "cluster" / "fluidity" / "controller.py").exists():
        pytest.skip(
            "the framework's fluidity controller is not in the registry package: set "
            "MLSYSOPS_FRAMEWORK_SRC to a checkout of the MLSysOps framework repository"
        )
    spec = {
        "cluster": "c1",
        "nodes": NODES,
        "cases": [{"name": k, "app": app_of(k), "plans": v} for k, v in cases.items()],
    }
    proc = subprocess.run(
        [py, str(REPLAY)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env={**os.environ, "MLSYSOPS_FRAMEWORK_SRC": src},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, list[dict[str, Any]]] = json.loads(proc.stdout)
    return result


def _cell(step: dict[str, Any]) -> str:
    hosts = ";".join(
        f"{c}=" + ",".join(f"{h}:{(s or '-')[0]}" for h, s in entries)
        for c, entries in step["hosts"].items()
    )
    return f"{step['reply'] or 'no reply'} | {hosts} | pods {len(step['pods'])}"


def test_fluidity_plans_agree_with_the_framework() -> None:
    theirs = framework(CASES)
    rows, disagree = [], []
    for name, plans in CASES.items():
        ours = simulate(plans, app_of(name))
        agree = ours == theirs[name]
        rows.append(f"| {name} | {'agree' if agree else 'DISAGREE'} | {_cell(theirs[name][-1])} |")
        if not agree:
            disagree.append(f"{name}:\n  framework {theirs[name]}\n  simulator {ours}")
    table = "\n".join(["| case | result | framework 0.1.12 (last plan) |", "|---|---|---|", *rows])
    print("\n" + table)
    assert not disagree, "\n".join(disagree)


# --- the registry package alone (no source checkout needed) -------------------------------


def test_shim_offers_only_names_of_the_framework() -> None:
    import simcontinuum.mlsysops.shim.mlsysops as top
    from simcontinuum.mlsysops.shim.mlsysops import logger_util, utilities

    theirs = in_framework(
        "import json, logging; logging.disable(50)\n"
        "import mlsysops, mlsysops.utilities as u, mlsysops.logger_util as l\n"
        "pub = lambda m: sorted(n for n in dir(m) if not n.startswith('_'))\n"
        "print(json.dumps({'top': pub(mlsysops), 'utilities': pub(u), 'logger_util': pub(l)}))"
    )
    for key, mod in (("top", top), ("utilities", utilities), ("logger_util", logger_util)):
        ours = set(mod.__all__)
        assert ours <= set(theirs[key]), (key, sorted(ours - set(theirs[key])))
    assert "parse_analyze_interval" not in theirs["utilities"]  # why the shim dropped it
    assert set(theirs["top"]) >= top.FRAMEWORK_ONLY


def framework_policies() -> list[Path]:
    where = in_framework(
        "import json, os, logging; logging.disable(50); import mlsysops; "
        "print(json.dumps(os.path.join(os.path.dirname(mlsysops.__file__), 'policies')))"
    )
    return sorted(Path(where).glob("policy-*.py"))


def test_framework_loader_and_ours_agree() -> None:
    from simcontinuum.mlsysops import load_policy_file

    files = [*framework_policies(), HACK / "policy-latencyMover.py"]
    proc = subprocess.run(
        [need_framework(), str(LOADER), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout)
    for f in files:
        pol = load_policy_file(f, builtin=False)
        ctx = pol.files[0].function("initialize")()
        assert theirs[str(f)]["loaded"] and theirs[str(f)]["scope"] == ctx["scope"], f


def test_framework_dynamic_placement_same_seed_same_score(tmp_path: Path) -> None:
    """The framework's own core dynamicPlacement (it draws with random.choice), run as the user
    policy that replaces the built-in one: three runs, one seed, one score."""
    import warnings

    import yaml

    import simcontinuum
    from simcontinuum.mlsysops import load_descriptions, load_policy_file

    (src,) = [p for p in framework_policies() if "dynamicPlacement" in p.name]
    user = tmp_path / "policy-dynamicPlacement.py"
    user.write_bytes(src.read_bytes())  # the installed file, under a user policy's name
    overlay = yaml.safe_load((HACK / "overlay.yaml").read_text())
    scn = load_descriptions(HACK / "descriptions", {**overlay, "duration": "60s"})
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            res = simcontinuum.run(scn, policy=load_policy_file(user))
            scores.append(res.summary()["score"])
    assert scores[0] == scores[1] == scores[2]
