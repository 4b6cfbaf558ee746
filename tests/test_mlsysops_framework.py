"""MLSysOps policy files behave here as on the framework 0.1.12: clock, randomness, module
state, dead contexts, the core placements (issue 14)."""

from __future__ import annotations

import random  # noqa: TID251 - the global generator is what is tested
from pathlib import Path

import numpy as np
import pytest
from test_mlsysops_policies import build, live, make, rows, run, seen_by

from simcontinuum.mlsysops import load_policy_file
from simcontinuum.mlsysops.callenv import GlobalRandomState, policy_environment
from simcontinuum.model import Scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(tmp_path_factory.mktemp("fw"))


# --- 1. the wall clock is simulated inside policy calls ------------------------------------


def test_policy_clock_reads_simulated_time(sc: Scenario, tmp_path: Path) -> None:
    clocks = """
    import asyncio, time, datetime
    loop = asyncio.get_running_loop()
    t0, m0, d0, l0 = time.time(), time.monotonic(), datetime.datetime.now(), loop.time()
    await asyncio.sleep(30)
    SEEN.append((t0, m0, d0.timestamp(), l0, time.time(), loop.time(), time.time_ns()))
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-clock.py", clocks, interval="10s"))
    res = run(sc, pol)
    seen = seen_by(pol)
    assert [round(s[0]) for s in seen] == [0, 10, 20, 30]
    for t0, m0, d0, l0, t1, l1, ns in seen:
        assert abs(m0 - t0) < 0.5 and abs(d0 - t0) < 0.5 and abs(l0 - t0) < 0.5
        assert 30.0 <= t1 - t0 < 30.5 and 30.0 <= l1 - l0 < 30.5  # sleep cost no real time
        assert abs(ns / 1e9 - t1) < 0.5
    assert res.meta["wall_s"] < 30  # the four 30 s sleeps were virtual


def test_wall_clock_pacing_follows_simulated_time(sc: Scenario, tmp_path: Path) -> None:
    # the framework's clusterPlacement / CPUFrequencyConfigurator pattern
    pace = """
    import time
    now = time.time()
    if context["latest"] is None:
        context["latest"] = now
        return False, context
    if now - context["latest"] > 9:
        context["latest"] = now
        SEEN.append(round(now))
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-pace.py", pace, extra='"latest": None,'))
    run(sc, pol)
    assert seen_by(pol) == [10, 20, 30]


def test_decision_time_uses_the_real_clock(sc: Scenario, tmp_path: Path) -> None:
    busy = """
    import time
    end = time.perf_counter() + 0.02      # real time: perf_counter is never patched
    while time.perf_counter() < end:
        pass
    SEEN.append(time.time())
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-busy.py", busy, interval="10s"))
    res = run(sc, pol)
    assert len(seen_by(pol)) == 4
    assert res.meta["decision_s"] >= 4 * 0.02  # measured outside the simulated clock
    assert max(seen_by(pol)) < 31  # while the policy itself saw simulated time


def test_clock_and_generators_are_restored() -> None:
    import time

    real = time.time()
    state = random.getstate()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    rs = GlobalRandomState(np.random.default_rng(1))
    with policy_environment(5.0, rs):
        assert abs(time.time() - 5.0) < 0.5 and abs(time.monotonic() - 5.0) < 0.5
        first = random.random()
    assert abs(time.time() - real) < 60 and random.getstate() == state
    assert (np.random.get_state()[1] == np_state).all()  # noqa: NPY002
    with policy_environment(6.0, rs):
        second = random.random()  # the run's sequence continues
    again = GlobalRandomState(np.random.default_rng(1))
    with policy_environment(None, again):
        assert [random.random(), random.random()] == [first, second]


# --- 2. global random generators are seeded from the run ------------------------------------


def test_global_random_is_seeded_per_run(sc: Scenario, tmp_path: Path) -> None:
    draw = """
    import random
    import numpy as np
    SEEN.append((random.random(), float(np.random.rand())))
    return False, context
    """
    path = make(tmp_path, "policy-draw.py", draw, interval="10s")
    outs = []
    for _ in range(3):
        pol = load_policy_file(path)
        run(sc, pol)
        outs.append(seen_by(pol))
    assert outs[0] == outs[1] == outs[2] and len(set(outs[0])) == 4
    pol = load_policy_file(path)
    run(sc, pol, seed=99)
    assert seen_by(pol) != outs[0]


# --- 5. one module per policy instance -------------------------------------------------------


def test_module_state_is_per_application(tmp_path: Path) -> None:
    scn = build(tmp_path / "sc", apps=2)
    count = """
    global COUNT
    COUNT = globals().get("COUNT", 0) + 1
    SEEN.append((application_description[0]["name"], COUNT))
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-modcount.py", count, interval="10s"))
    run(scn, pol)
    mods = pol.instance_modules("modcount")
    assert len(mods) == 2 and mods[0] is not mods[1]
    for m in mods:
        assert [n for _, n in m.SEEN] == [1, 2, 3, 4]


# --- 6. analyze returning (False, None) kills the policy -------------------------------------


def test_none_context_kills_the_policy(sc: Scenario, tmp_path: Path) -> None:
    dies = """
    SEEN.append(1)
    return False, None
    """
    pol = load_policy_file(make(tmp_path, "policy-dies.py", dies, interval="10s"))
    res = run(sc, pol)
    assert seen_by(pol) == [1]
    dead = rows(res, call="analyze", kind="dead")
    assert len(dead) == 1 and "never calls this policy again" in dead.reason.iloc[0]
    assert any("framework 0.1.12 never calls" in w for w in res.warnings)
    assert "blocked too" in dead.reason.iloc[0] and dead.time_s.iloc[0] == 1.0
    # in the first loop the core dynamicPlacement (after it) still ran and placed cls
    assert live(res)["cls"]


# --- 8. / 10. the core policies ------------------------------------------------------------


def test_user_static_placement_replaces_the_core_one(sc: Scenario, tmp_path: Path) -> None:
    pol = load_policy_file(make(tmp_path, "policy-staticPlacement.py", "return False, context"))
    res = run(sc, pol)
    assert "det" not in live(res)  # pinned: only the (replaced) core staticPlacement deploys it
    assert live(res)["cls"]  # dynamicPlacement still places the unpinned component


def test_core_dynamic_placement_one_node_for_all(tmp_path: Path) -> None:
    scn = build(tmp_path / "sc", pinned=None)
    res = run(scn, load_policy_file(make(tmp_path, "policy-idle.py", "return False, context")))
    placed = live(res)
    assert set(placed) == {"det", "cls"}
    assert len({n for nodes in placed.values() for n in nodes}) == 1  # one draw for both


# --- 4. the shim: 0.1.12's names, mlstelemetry, packages ------------------------------------


def test_mlstelemetry_stand_in_reads_simulated_telemetry(sc: Scenario, tmp_path: Path) -> None:
    probe = """
    from mlstelemetry import MLSTelemetry
    client = MLSTelemetry("policy", "probe")
    client.pushMetric("my_gauge", "gauge", 1.0)
    util = client.get_metric_value_with_label(metric_name="node_cpu_utilisation", node_name="n1")
    frames = client.get_metric_value_with_label(metric_name="frames_sent_total")
    SEEN.append((util, frames, client.get_metric_value_with_label(metric_name="nope")))
    return False, context
    """
    pol = load_policy_file(make(tmp_path, "policy-probe.py", probe, interval="10s"))
    run(sc, pol)
    seen = seen_by(pol)
    assert seen[0] == (None, None, None)  # nothing delivered at 0 s
    util, frames, nope = seen[-1]
    assert nope is None and len(util) == 1
    assert util[0]["labels"]["key_service_hostname"] == "n1" and 0.0 <= util[0]["value"] <= 1.0
    assert frames[0]["labels"] == {"app": "app"} and frames[0]["value"] > 100  # 5 frames/s


def test_missing_package_names_the_install(tmp_path: Path) -> None:
    from simcontinuum.errors import PolicyError

    path = make(tmp_path, "policy-needs.py", "return False, context")
    text = path.read_text().replace('"packages": []', '"packages": ["no-such-dist-xyz"]')
    path.write_text("import no_such_module_xyz\n" + text)
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    msg = str(info.value)
    assert "pip install no-such-dist-xyz" in msg and "?packages=install" in msg


def test_install_packages_runs_pip(tmp_path: Path) -> None:
    from simcontinuum.mlsysops.packages import require_packages

    path = make(tmp_path, "policy-yaml.py", "return False, context")
    path.write_text(path.read_text().replace('"packages": []', '"packages": ["pyyaml"]'))
    assert require_packages(path, install=True) == []  # already there: pip is satisfied


def test_shim_has_no_name_the_framework_lacks(tmp_path: Path) -> None:
    from simcontinuum.errors import PolicyError

    path = make(tmp_path, "policy-drift.py", "return False, context")
    path.write_text("from mlsysops.utilities import parse_analyze_interval\n" + path.read_text())
    with pytest.raises(PolicyError, match="parse_analyze_interval"):
        load_policy_file(path)
    agent = make(tmp_path, "policy-agent.py", "return False, context")
    agent.write_text("from mlsysops import MessageEvents\n" + agent.read_text())
    with pytest.raises(PolicyError, match="agent stack"):
        load_policy_file(agent)


# --- 12. the hackathon scenario emits the names the teams' policies read -------------------

HACKATHON_METRICS = [
    "frame_classify_latency",
    "detector_frame_latency",
    "frames_sent_total",
    "classifier_frames_processed_total",
    "object_classify_latency",
    "detector_queue_size",
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemFree_bytes",
    "k8s_node_allocatable_cpu",
    "k8s_pod_phase",
]


def test_hackathon_scenario_has_the_teams_metrics(tmp_path: Path) -> None:
    read = """
    try:
        df = await telemetry["query"](latest=True)
    except ValueError:
        return False, context
    SEEN.append({c: df[c].values[0] for c in df.columns})
    return False, context
    """
    metrics = "[" + ", ".join(f'"{m}"' for m in HACKATHON_METRICS) + "]"
    path = make(tmp_path, "policy-teams.py", read, interval="10s", metrics=metrics)
    pol = load_policy_file(path)
    res = run(load_descriptions_hackathon(), pol)
    assert res.summary()["ok"] > 0
    final = seen_by(pol)[-1]
    for m in HACKATHON_METRICS:
        assert m in final and final[m] == final[m], m  # a column, with a value (not NaN)
    assert final["frame_classify_latency"] > final["detector_frame_latency"] > 0  # p95 > p50
    assert final["frames_sent_total"] >= final["classifier_frames_processed_total"] > 100
    assert final["k8s_pod_phase"] == 2.0 and final["k8s_node_allocatable_cpu"] == 8.0
    assert final["node_cpu_seconds_total"] > 0


def load_descriptions_hackathon() -> Scenario:
    import yaml

    from simcontinuum.mlsysops import load_descriptions

    hack = ROOT / "scenarios" / "mlsysops-hackathon"
    overlay = yaml.safe_load((hack / "overlay.yaml").read_text())
    return load_descriptions(hack / "descriptions", {**overlay, "duration": "60s"})


def test_behind_the_boundary_clock_random_and_modules_hold(tmp_path: Path) -> None:
    """Through the trust boundary the worker sees the same simulated clock, the same random
    sequences and one module per application: the same tables as in-process."""
    from simcontinuum.boundary import probe
    from simcontinuum.boundary.local import isolated_policy
    from simcontinuum.engine.simulation import Simulation

    scn = build(tmp_path / "sc", apps=2)
    body = """
    import random, time
    global COUNT
    COUNT = globals().get("COUNT", 0) + 1
    context["seen"] = [round(time.time()), COUNT, random.random()]
    return False, context
    """
    path = make(tmp_path / "p", "policy-probe.py", body, interval="10s")
    here_pol = load_policy_file(path)
    here = Simulation(scn, here_pol, seed=4).run()
    with isolated_policy(str(path), scn, isolation=probe()) as pol:
        there = Simulation(scn, pol, seed=4).run()
        contexts = [
            i.context["seen"]
            for a in pol._cycle.agents.values()
            for i in a.instances
            if i.file is not None
        ]
    mine = [
        i.context["seen"]
        for a in here_pol._cycle.agents.values()
        for i in a.instances
        if i.file is not None
    ]
    assert contexts == mine and len(mine) == 2
    assert all(seen[0] == 30 and seen[1] == 4 for seen in mine)  # sim time; 4 calls per module
    assert here.actions.equals(there.actions)
