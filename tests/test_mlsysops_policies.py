"""MLSysOps policy files, written in the framework's format, run through simcontinuum.run:
placements and outcomes in the results, the agent's rules (scopes, intervals, the plan
scheduler, fluidity's plan rules), failures recorded, and the shim left behind nowhere."""

from __future__ import annotations

import pickle
import sys
import textwrap
import types
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import simcontinuum
from simcontinuum.errors import PolicyError
from simcontinuum.mlsysops import (
    MLSysOpsPolicy,
    MLSysOpsWarning,
    load_descriptions,
    load_policy_file,
)
from simcontinuum.model import Scenario
from simcontinuum.policy.registry import load_policy

ROOT = Path(__file__).resolve().parents[1]
HACK = ROOT / "scenarios" / "mlsysops-hackathon"

ENV = {"node_type": "virtualized", "os": "ubuntu", "container_runtime": ["containerd"]}


def seen_by(pol: MLSysOpsPolicy) -> list[Any]:
    """``SEEN`` of every instance module of the last run (each instance imports the file)."""
    return [x for m in pol.instance_modules() for x in m.SEEN]


def node(name: str, cluster: str, layer: str = "edge", cores: int = 4) -> dict[str, Any]:
    return {
        "MLSysOpsNode": {
            "name": name,
            "cluster_id": cluster,
            "continuum_layer": layer,
            "environment": ENV,
            "hardware": {"cpu": {"architecture": "amd64", "cores": cores}, "memory": 16},
        }
    }


def app_doc(name: str, pinned: str | None, cluster: str | None = "c1") -> dict[str, Any]:
    det: dict[str, Any] = {
        "metadata": {"name": "det", "uid": "det-1"},
        "containers": [
            {
                "image": "reg/det:1",
                "platform_requirements": {
                    "cpu": {"requests": "1", "architecture": ["amd64"]},
                    "memory": {"requests": "1Gi"},
                },
            }
        ],
    }
    if pinned:
        det["node_placement"] = {"node": pinned}
    cls = {
        "metadata": {"name": "cls", "uid": "cls-1"},
        "node_placement": {"continuum_layer": ["edge", "cloud"]},
        "containers": [
            {
                "image": "reg/cls:1",
                "platform_requirements": {
                    "cpu": {"requests": "500m", "architecture": ["amd64"]},
                    "memory": {"requests": "512Mi"},
                },
            }
        ],
        "qos_metrics": [
            {"application_metric_id": "latency_ms", "target": 50, "relation": "lower_or_equal"}
        ],
    }
    doc: dict[str, Any] = {
        "name": name,
        "components": [det, cls],
        "component_interactions": [
            {"component_name1": "det", "type": "egress", "component_name2": "cls"}
        ],
    }
    if cluster:
        doc["cluster_placement"] = {"cluster_id": [cluster]}
    return doc


def build(
    root: Path, *, two_clusters: bool = False, apps: int = 1, pinned: str | None = "n1"
) -> Scenario:
    d = root / "descriptions"
    d.mkdir(parents=True, exist_ok=True)

    def put(rel: str, doc: dict[str, Any]) -> None:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(yaml.safe_dump(doc, sort_keys=False))

    put(
        "clusters/c1.yaml",
        {"MLSysOpsCluster": {"name": "c1", "cluster_id": "c1", "nodes": ["n1", "n2", "n3"]}},
    )
    put("nodes/n1.yaml", node("n1", "c1"))
    put("nodes/n2.yaml", node("n2", "c1"))
    put("nodes/n3.yaml", node("n3", "c1", layer="cloud", cores=8))
    links = [
        {"a": "dev", "b": "n1", "latency": "1ms", "bandwidth": "1Gbps"},
        {"a": "n1", "b": "n2", "latency": "1ms", "bandwidth": "1Gbps"},
        {"a": "n1", "b": "n3", "latency": "10ms", "bandwidth": "1Gbps"},
    ]
    if two_clusters:
        put(
            "clusters/c2.yaml",
            {"MLSysOpsCluster": {"name": "c2", "cluster_id": "c2", "nodes": ["m1", "m2"]}},
        )
        put("nodes/m1.yaml", node("m1", "c2"))
        put("nodes/m2.yaml", node("m2", "c2"))
        links += [
            {"a": "n1", "b": "m1", "latency": "5ms", "bandwidth": "1Gbps"},
            {"a": "m1", "b": "m2", "latency": "1ms", "bandwidth": "1Gbps"},
        ]
        put("apps/free.yaml", {"MLSysOpsApp": app_doc("free", None, cluster=None)})
    else:
        for i in range(apps):
            name = "app" if i == 0 else f"app{i + 1}"
            put(f"apps/{name}.yaml", {"MLSysOpsApp": app_doc(name, pinned)})
    app_ids = (
        ["free"] if two_clusters else ["app" if i == 0 else f"app{i + 1}" for i in range(apps)]
    )
    overlay = {
        "duration": "40s",
        "seed": 3,
        "infrastructure": {
            "clusters": [{"id": "c1", "nodes": [{"id": "dev", "tier": "far_edge"}]}],
            "links": links,
        },
        "applications": [
            {
                "id": a,
                "components": [
                    {"id": "det", "work": {"mean": "5ms"}, "startup": "1s"},
                    {"id": "cls", "work": {"mean": "20ms"}, "startup": "1s"},
                ],
            }
            for a in app_ids
        ],
        "workload": [
            {"app": a, "from": "dev", "arrival": {"type": "periodic", "rate": "5/s"}}
            for a in app_ids
        ],
        "telemetry": {"interval": "5s", "collector": "n1"},
    }
    return load_descriptions(d, overlay)


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(tmp_path_factory.mktemp("one"))


COMMON = """
from mlsysops.logger_util import logger
from mlsysops.utilities import evaluate_condition

SEEN = []


def components(mechanisms, app):
    return mechanisms["fluidity"]["state"]["applications"][app["name"]]["components"]


def fluidity(app, steps, initial):
    plan = {"initial_plan": initial, **steps}
    return {"fluidity": {"name": app["name"], "deployment_plan": plan}}
"""


def make(
    folder: Path,
    name: str,
    analyze: str,
    plan: str = "return {}, context",
    *,
    scope: str | None = "application",
    interval: str = "1s",
    metrics: str = '["node_load1"]',
    extra: str = "",
) -> Path:
    scope_kv = f'"scope": "{scope}", ' if scope else ""
    body = lambda code: textwrap.indent(textwrap.dedent(code).strip(), "    ")  # noqa: E731
    args = (
        "context, application_description, system_description, mechanisms, telemetry, ml_connector"
    )
    text = (
        COMMON
        + "\n\ndef initialize():\n"
        + "    initialContext = {\n"
        + f'        "telemetry": {{"metrics": {metrics}, "system_scrape_interval": "5s"}},\n'
        + '        "mechanisms": ["fluidity"], "packages": [],\n'
        + f'        "configuration": {{"analyze_interval": "{interval}"}},\n'
        + f'        {scope_kv}"n": 0, {extra}\n'
        + "    }\n"
        + "    return initialContext\n\n\n"
        + f"async def analyze({args}):\n{body(analyze)}\n\n\n"
        + f"async def plan({args}):\n{body(plan)}\n"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def run(scenario: Scenario, pol: Any, **kw: Any) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = simcontinuum.run(scenario, policy=pol, **kw)
    results.warnings = [str(w.message) for w in caught if issubclass(w.category, MLSysOpsWarning)]
    return results


def live(results: Any, app: str = "app") -> dict[str, list[str]]:
    """component -> nodes of the replicas alive at the horizon."""
    r = results.replicas
    alive = r[(r.app == app) & r.removed_s.isna()]
    return {c: sorted(g.node) for c, g in alive.groupby("component")}


def nodes_of(placement: dict[str, list[str]]) -> set[str]:
    return {n for nodes in placement.values() for n in nodes}


def rows(results: Any, **match: Any) -> pd.DataFrame:
    a = results.actions
    for k, v in match.items():
        a = a[a[k] == v]
    return a


PLACE = """
comps = components(mechanisms, application_description[0])
return any(c["node_placed"] is None for c in comps.values()), context
"""
PLACE_PLAN = """
app = application_description[0]
where = {"det": "n1", "cls": "n3"}
steps = {c: [{"action": "deploy", "host": where[c]}]
         for c, s in components(mechanisms, app).items() if s["node_placed"] is None}
return fluidity(app, steps, True), context
"""


# --- placement -----------------------------------------------------------------------------


def test_placement_policy_places_everything(sc: Scenario, tmp_path: Path) -> None:
    pol = load_policy_file(make(tmp_path, "policy-placer.py", PLACE, PLACE_PLAN), builtin=False)
    res = run(sc, pol)
    assert live(res) == {"cls": ["n3"], "det": ["n1"]}
    placed = rows(res, call="place", kind="deploy")
    assert set(placed.node) == {"n1", "n3"} and set(placed.outcome) == {"applied"}
    assert len(rows(res, kind="plan", outcome="scheduled")) == 1
    assert res.summary()["ok"] > 0 and not sys.modules.get("mlsysops")


def test_builtin_places_pinned_and_random(sc: Scenario, tmp_path: Path) -> None:
    idle = make(tmp_path, "policy-idle.py", "return False, context")
    a = run(sc, load_policy_file(idle))
    b = run(sc, load_policy_file(idle))
    assert live(a)["det"] == ["n1"] and live(a)["cls"][0] in {"n1", "n2", "n3"}
    pd.testing.assert_frame_equal(a.actions, b.actions)  # the run's stream: same seed, same draw
    draws = {live(run(sc, load_policy_file(idle), seed=s))["cls"][0] for s in range(8)}
    assert len(draws) > 1
    off = run(sc, load_policy_file(idle, builtin=False))
    assert live(off) == {} and len(rows(off, call="place", kind="unplaced")) == 2


def test_non_initial_plan_refused_until_deployed(sc: Scenario, tmp_path: Path) -> None:
    early = """
    app = application_description[0]
    return fluidity(app, {"cls": [{"action": "deploy", "host": "n2"}]}, False), context
    """
    pol = load_policy_file(
        make(tmp_path, "policy-early.py", "return True, context", early), builtin=False
    )
    res = run(sc, pol)
    refused = rows(res, outcome="rejected", kind="plan", call="plan")
    assert len(refused) >= 1 and "initial deployment not executed" in refused.reason.iloc[0]
    assert live(res) == {}


def test_fluidity_rules(sc: Scenario, tmp_path: Path) -> None:
    plans = """
    app = application_description[0]
    context["n"] += 1
    steps = {
        1: {"cls": [{"action": "deploy", "host": "n2"}, {"action": "deploy", "host": "n2"}]},
        2: {"cls": [{"action": "remove", "host": "n2"}]},
        3: {"cls": [{"action": "scale", "host": "n2"}]},
        4: {"det": [{"action": "deploy", "host": "n2"}]},
        5: {"cls": [{"action": "deploy", "host": "n9"}]},
        6: {"cls": [{"action": "change_spec", "host": "n1"}]},
        7: {"cls": [{"action": "deploy", "host": "n2"}]},
    }.get(context["n"])
    if steps is None:
        return {}, context
    return fluidity(app, steps, context["n"] in (1, 7)), context
    """
    pol = load_policy_file(
        make(tmp_path, "policy-rules.py", "return True, context", plans), builtin=False
    )
    res = run(sc, pol)
    reasons = list(rows(res, outcome="rejected", call="plan").reason)
    # plans 2-6 are non-initial while det (pinned, no built-in) has no host: refused
    assert len(reasons) == 5 and all("initial deployment not executed" in r for r in reasons)
    warned = list(rows(res, outcome="warning", call="plan").reason)
    assert any("create 2 pods of 'cls'" in w for w in warned)  # plan 1: duplicates made
    assert any("orphaned" in w for w in warned)  # plan 7 replaced the host list
    # the framework 0.1.12: two pods on n2 (plan 1), a third by the initial redeploy (plan 7)
    assert live(res) == {"cls": ["n2", "n2", "n2"]}


def test_rules_after_initial_deployment(sc: Scenario, tmp_path: Path) -> None:
    plans = """
    app = application_description[0]
    context["n"] += 1
    steps = {
        1: {"det": [{"action": "deploy", "host": "n1"}],
            "cls": [{"action": "deploy", "host": "n3"}]},
        2: {"cls": [{"action": "remove", "host": "n2"}]},
        3: {"cls": [{"action": "scale", "host": "n2"}]},
        4: {"det": [{"action": "deploy", "host": "n2"}]},
        5: {"cls": [{"action": "deploy", "host": "n9"}]},
        6: {"cls": [{"action": "change_spec", "host": "n3"}]},
        7: {"cls": [{"action": "move", "src_host": "n2", "target_host": "n1"}]},
        8: {"cls": [{"action": "deploy", "host": "n1"}, {"action": "deploy", "host": "n2"}]},
        9: {"cls": [{"action": "remove", "host": "n3"}]},
    }.get(context["n"])
    if steps is None:
        return {}, context
    return fluidity(app, steps, context["n"] == 1), context
    """
    pol = load_policy_file(
        make(tmp_path, "policy-rules2.py", "return True, context", plans), builtin=False
    )
    res = run(sc, pol)
    refused = rows(res, outcome="rejected", call="plan")
    expected = [
        (1.0, "cannot remove, 'n2' is not in the host list ['n3']"),  # plan n runs at n - 1 s
        (3.0, "pinned to node 'n1'"),
        (4.0, "host 'n9' is not a node of cluster 'c1'"),
        (6.0, "cannot move, 'n2' is not in the host list"),
        (7.0, "deploy on the new host 'n1' in a non-initial plan"),
    ]
    assert list(refused.time_s) == [t for t, _ in expected]
    for (_, why), reason in zip(expected, refused.reason, strict=True):
        assert reason.startswith("fluidity plan failed: ") and why in reason
    crashed = rows(res, outcome="error", call="plan")
    assert list(crashed.time_s) == [2.0, 5.0]  # invalid action; change_spec without new_spec
    assert all("no PLAN_EXECUTED reply" in r for r in crashed.reason)
    # plan 9 removes n3: the PENDING n1 entry left by plan 8 gets its pod now (a move)
    assert live(res) == {"cls": ["n1"], "det": ["n1"]}
    assert list(rows(res, kind="move").outcome) == ["applied"]


def test_relocation(sc: Scenario, tmp_path: Path) -> None:
    analyze = """
    context["n"] += 1
    comps = components(mechanisms, application_description[0])
    return context["n"] == 10 and comps["cls"]["node_placed"] is not None, context
    """
    move = """
    app = application_description[0]
    src = components(mechanisms, app)["cls"]["node_placed"]
    dst = [n for n in system_description["MLSysOpsCluster"]["nodes"] if n != src][0]
    context["moved"] = [src, dst]
    steps = {"cls": [{"action": "move", "src_host": src, "target_host": dst}]}
    return fluidity(app, steps, False), context
    """
    pol = load_policy_file(make(tmp_path, "policy-relocate.py", analyze, move))
    res = run(sc, pol)
    moved = rows(res, kind="move")
    assert len(moved) == 1 and moved.outcome.iloc[0] == "applied" and moved.time_s.iloc[0] == 9.0
    src, dst = moved.node.iloc[0], moved.target.iloc[0]
    assert live(res)["cls"] == [dst]
    gone = res.replicas[(res.replicas.component == "cls") & (res.replicas.node == src)]
    assert list(gone.end_reason) == ["moved"] and res.summary()["migrations"] == 1


def test_change_spec(sc: Scenario, tmp_path: Path) -> None:
    analyze = """
    context["n"] += 1
    return context["n"] == 5, context
    """
    respec = """
    import copy
    app = application_description[0]
    spec = [c for c in app["spec"]["components"] if c["metadata"]["name"] == "cls"][0]
    spec = copy.deepcopy(spec)
    spec["containers"][0]["image"] = "reg/cls:2"
    spec["containers"][0]["platform_requirements"]["cpu"]["requests"] = "2"
    host = components(mechanisms, app)["cls"]["node_placed"]
    steps = {"cls": [{"action": "change_spec", "new_spec": spec, "host": host}]}
    return fluidity(app, steps, False), context
    """
    pol = load_policy_file(make(tmp_path, "policy-respec.py", analyze, respec))
    res = run(sc, pol)
    changed = rows(res, kind="change_spec")
    assert list(changed.outcome) == ["applied"]
    cls = res.replicas[res.replicas.component == "cls"].sort_values("created_s")
    assert list(cls.cpu) == [0.5, 2.0] and cls.end_reason.iloc[0] == "spec_changed"
    state = pol._cycle.agents["c1"].fluidity.apps["app"]  # type: ignore[union-attr]
    assert state.component("cls")["containers"][0]["image"] == "reg/cls:2"


# --- scopes, shapes, telemetry -------------------------------------------------------------


def test_argument_shapes(sc: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLS_MLCONNECTOR_ENDPOINT", "http://ml:8090")
    record = """
    try:
        df = await telemetry["query"](latest=True)
    except ValueError as exc:  # the agent's store raises while it is empty
        df = None
        context["empty"] = str(exc)
    SEEN.append({
        "apps": application_description, "system": system_description,
        "mechanisms": mechanisms, "keys": sorted(telemetry),
        "columns": list(telemetry["dataframe"].columns),
        "latest": [] if df is None else df.to_dict("records"),
        "index": [] if df is None else list(df.index),
        "ml": ml_connector, "window": len(await telemetry["query"]()),
    })
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-shapes.py", record, interval="10s"))
    run(sc, pol)
    seen = seen_by(pol)
    assert len(seen) == 4  # at 0, 10, 20 and 30 s
    first, last = seen[0], seen[-1]
    (app,) = first["apps"]
    assert set(app) == {"name", "spec", "app_uid"} and app["name"] == "app"
    assert app["spec"]["components"][1]["qos_metrics"][0]["application_metric_id"] == "latency_ms"
    assert first["system"] == {
        "MLSysOpsCluster": {"name": "c1", "cluster_id": "c1", "nodes": ["n1", "n2", "n3"]}
    }
    fl = last["mechanisms"]["fluidity"]
    assert set(last["mechanisms"]) == {"fluidity"} and fl["options"] == {}
    state = fl["state"]
    comps = state["applications"]["app"]["components"]
    assert comps["det"]["node_placed"] == "n1" and comps["det"]["state"] == "Running"
    assert comps["det"]["uid"] == "det-1"
    assert set(state["nodes"]) == {"n1", "n2", "n3"}  # the overlay's device is no k8s node
    n3 = state["nodes"]["n3"]
    assert n3["ready"] == "True" and n3["resources"]["capacity"] == {
        "cpu": "8",
        "memory": "16777216Ki",
    }
    assert n3["resources"]["allocatable"] == n3["resources"]["capacity"]
    assert n3["spec"]["continuum_layer"] == "cloud"
    assert state["cluster"]["description"]["cluster_id"] == "c1"
    assert state["nodes"]["n1"]["components"]["det"]["app"] == "app"
    assert first["keys"] == ["dataframe", "grafana_endpoint", "prometheus_endpoint", "query"]
    assert first["columns"] == ["timestamp"]  # nothing scraped yet: the store is empty
    assert last["columns"] == ["timestamp", "node_load1", "human_timestamp", "latency_ms"]
    assert last["index"] == [5]  # the 6th sample (at 30 s) keeps its label, as iloc[-1:]
    assert first["latest"] == [] and first["ml"] == "http://ml:8090"
    (row,) = last["latest"]
    assert row["timestamp"] == 30.0 and row["human_timestamp"] == "1970-01-01 00:00:30"
    assert 20.0 < row["latency_ms"] < 40.0  # det 5 ms + cls 20 ms + network, in ms
    assert row["node_load1"] >= 0.0
    assert last["window"] == 6  # 30 s of retention at 5 s samples (5 to 30 s)


def test_global_scope_sees_all_applications(tmp_path: Path) -> None:
    scn = build(tmp_path / "sc", apps=2)
    analyze = """
    SEEN.append(sorted(a["name"] for a in application_description))
    return True, context
    """
    place = """
    for app in application_description:
        comps = components(mechanisms, app)
        todo = {c: [{"action": "deploy", "host": "n1" if c == "det" else "n2"}]
                for c, s in comps.items() if s["node_placed"] is None}
        if todo:
            return fluidity(app, todo, True), context
    return {}, context
    """
    pol = load_policy_file(
        make(tmp_path, "policy-global.py", analyze, place, scope="global"), builtin=False
    )
    res = run(scn, pol)
    assert seen_by(pol)[0] == ["app"] and ["app", "app2"] in seen_by(pol)
    assert live(res, "app") == {"cls": ["n2"], "det": ["n1"]}
    assert live(res, "app2") == {"cls": ["n2"], "det": ["n1"]}


def test_application_scope_has_one_context_per_app(tmp_path: Path) -> None:
    scn = build(tmp_path / "sc", apps=2)
    count = """
    context["n"] += 1
    SEEN.append((application_description[0]["name"], context["n"]))
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-count.py", count, interval="10s"))
    run(scn, pol)
    seen = seen_by(pol)
    assert [n for a, n in seen if a == "app"] == [1, 2, 3, 4]
    assert [n for a, n in seen if a == "app2"] == [1, 2, 3, 4]


# --- failures are recorded ------------------------------------------------------------------


def test_raising_policy_is_recorded_once_warned(sc: Scenario, tmp_path: Path) -> None:
    pol = load_policy_file(make(tmp_path, "policy-raiser.py", 'raise ValueError("boom")'))
    res = run(sc, pol)
    errors = rows(res, call="analyze", kind="error")
    assert len(errors) == 40 and "ValueError: boom" in errors.reason.iloc[0]
    assert sum("boom" in w for w in res.warnings) == 1  # one warning per distinct failure
    assert live(res)["det"] == ["n1"]  # the built-in still placed the application
    plan_fail = make(
        tmp_path,
        "policy-planfail.py",
        "return True, context",
        'raise KeyError("nope")',
        interval="10s",
    )
    res = run(sc, load_policy_file(plan_fail))
    assert len(rows(res, call="plan", kind="error")) == 4
    assert "KeyError" in rows(res, call="plan", kind="error").reason.iloc[0]


def test_bad_returns_and_sync_functions(sc: Scenario, tmp_path: Path) -> None:
    bad = make(tmp_path, "policy-bad.py", "return True", interval="10s")
    res = run(sc, load_policy_file(bad))
    assert "must return (bool, context)" in rows(res, call="analyze").reason.iloc[0]
    path = make(tmp_path, "policy-sync.py", "return False, context", interval="10s")
    path.write_text(path.read_text().replace("async def analyze", "def analyze"))
    with pytest.warns(MLSysOpsWarning, match="not 'async def'"):
        pol = load_policy_file(path)
    res = run(sc, pol)
    assert "cannot await" in rows(res, call="analyze").reason.iloc[0]


def test_missing_scope_never_runs(sc: Scenario, tmp_path: Path) -> None:
    count = """
    SEEN.append(1)
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-noscope.py", count, scope=None))
    res = run(sc, pol)
    (row,) = rows(res, call="initialize").itertuples()
    assert (
        row.outcome == "error"
        and "returned no 'scope'" in row.reason
        and "never runs" in row.reason
    )
    assert any("never runs" in w for w in res.warnings)
    assert seen_by(pol) == [] and live(res)["det"] == ["n1"]


def test_zero_interval_is_floored_and_recorded(sc: Scenario, tmp_path: Path) -> None:
    count = """
    SEEN.append(1)
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-busy.py", count, interval="0s"))
    res = run(sc, pol)
    adjusted = rows(res, call="analyze", kind="interval")
    assert len(adjusted) == 1 and "parses to 0" in adjusted.reason.iloc[0]
    assert len(seen_by(pol)) == 40  # once per 1 s cycle, not a busy loop


def test_scheduler_discards_later_plans_and_ignores_unknown_mechanisms(
    sc: Scenario, tmp_path: Path
) -> None:
    deploy = """
    app = application_description[0]
    return fluidity(app, {"cls": [{"action": "deploy", "host": "n3"}]}, True), context
    """
    folder = tmp_path / "two"
    make(folder, "policy-first.py", "return True, context", deploy, interval="10s")
    make(folder, "policy-second.py", "return True, context", deploy, interval="10s")
    make(
        folder,
        "policy-third.py",
        "return True, context",
        'return {"teleport": {"to": "mars"}}, context',
        interval="10s",
    )
    pol = load_policy_file(folder)
    assert pol.name == "mlsysops:first,second,third"
    res = run(sc, pol)
    discarded = rows(res, outcome="discarded")
    assert len(discarded) == 4 and all("'second'" in r and "'first'" in r for r in discarded.reason)
    ignored = rows(res, outcome="ignored")
    assert len(ignored) == 4 and "'teleport'" in ignored.reason.iloc[0]
    assert sum("teleport" in w for w in res.warnings) == 1
    assert "n3" in live(res)["cls"]


# --- the shim, loading, levels -------------------------------------------------------------


def test_shim_never_leaks(sc: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = types.ModuleType("mlsysops")
    monkeypatch.setitem(sys.modules, "mlsysops", real)
    peek = """
    import mlsysops.utilities
    SEEN.append(mlsysops.utilities.evaluate_condition.__module__)
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-peek.py", peek, interval="20s"))
    assert sys.modules["mlsysops"] is real
    run(sc, pol)
    assert sys.modules["mlsysops"] is real
    assert [k for k in sys.modules if k.startswith("mlsysops.")] == []
    assert seen_by(pol) == ["simcontinuum.mlsysops.shim.mlsysops.utilities"] * 2
    assert not any(k.startswith("simcontinuum_mlsysops_policy_") for k in sys.modules)


def test_load_policy_specs(tmp_path: Path) -> None:
    path = make(tmp_path, "policy-spec.py", "return False, context")
    pol = load_policy(str(path))
    assert isinstance(pol, MLSysOpsPolicy) and pol.name == "mlsysops:spec"
    pol = load_policy(f"mlsysops:{tmp_path}?level=continuum&builtin=off")
    assert isinstance(pol, MLSysOpsPolicy) and (pol.level, pol.builtin) == ("continuum", False)
    assert isinstance(load_policy("policy-spec.py", search_path=[tmp_path]), MLSysOpsPolicy)
    with pytest.raises(PolicyError, match="unknown option 'fast=yes'"):
        load_policy(f"mlsysops:{path}?fast=yes")
    with pytest.raises(PolicyError, match="not found"):
        load_policy("nowhere/policy-a.py")
    other = tmp_path / "mine.py"
    other.write_text(path.read_text())
    with pytest.raises(PolicyError, match=r"named policy-<name>\.py"):
        load_policy_file(other)
    broken = tmp_path / "policy-broken.py"
    broken.write_text("import mlsysops.controllers.policy\n")
    with pytest.raises(PolicyError, match="cannot import MLSysOps policy file"):
        load_policy_file(broken)
    clone = pickle.loads(pickle.dumps(pol))
    assert (
        isinstance(clone, MLSysOpsPolicy)
        and clone.paths == pol.paths
        and clone.level == "continuum"
    )


def test_continuum_cluster_placement(tmp_path: Path) -> None:
    scn = build(tmp_path / "sc", two_clusters=True)
    analyze = """
    SEEN.append(sorted(application_description[0]))
    context["n"] += 1
    return context["n"] == 3, context
    """
    place = """
    command = {"action": {"component": "c2"}, "app": application_description}
    return {"clusterPlacement": command}, context
    """
    path = make(tmp_path, "policy-cplace.py", analyze, place)
    res = run(scn, load_policy_file(path, level="continuum"))
    before = res.replicas[res.replicas.removed_s.notna()]
    assert set(before.node) <= {"n1", "n2", "n3"} and set(before.end_reason) == {"moved"}
    assert nodes_of(live(res, "free")) <= {"m1", "m2"}
    assert len(rows(res, kind="cluster_placement", outcome="scheduled")) == 1
    pol = load_policy_file(path, level="continuum")
    res = run(scn, pol)
    assert seen_by(pol)[0] == [
        "component_interactions",
        "components",
        "name",
    ]  # no spec wrapper
    off = run(scn, load_policy_file(path, level="continuum", builtin=False))
    assert nodes_of(live(off, "free")) <= {"m1", "m2"}  # placed as the built-in would


def test_runs_on_a_plain_scenario_file() -> None:
    pol = load_policy(str(HACK / "policy-latencyMover.py"))
    res = run(ROOT / "scenarios" / "hackathon.yaml", pol)  # type: ignore[arg-type]
    assert live(res, "camera-pipeline")["detector"] == ["group1-node1"]
    assert res.summary()["ok"] > 0


def test_shipped_latency_mover() -> None:
    scn = load_descriptions(
        HACK / "descriptions",
        {**yaml.safe_load((HACK / "overlay.yaml").read_text()), "duration": "90s"},
    )
    res = run(scn, load_policy_file(HACK / "policy-latencyMover.py"))
    moves = rows(res, kind="move")
    assert (
        len(moves) >= 1
        and set(moves.outcome) == {"applied"}
        and set(moves.target) <= {"group1-node2", "group2-node2"}
    )
    for app, group in (("group1-hackathon-app", "group1"), ("group2-hackathon-app", "group2")):
        assert live(res, app) == {
            "classifier-app": [f"{group}-node2"],
            "detector-app": [f"{group}-node1"],
        }
    assert res.summary()["slo_violation_rate"] < 0.2
