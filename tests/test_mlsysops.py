"""MLSysOps compatibility without running policies: description files, the overlay, the
eligibility rule, the shim's helpers, the static policy check and the ``mlsysops`` commands."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from simcontinuum.cli import Exit, main
from simcontinuum.errors import ScenarioError
from simcontinuum.mlsysops import (
    check_policy_file,
    load_descriptions,
    node_matches_requirements,
    read_descriptions,
    requirement_mismatch,
    scenario_from_args,
)
from simcontinuum.mlsysops.descriptions import classify
from simcontinuum.mlsysops.requirements import allocatable_mismatch, parse_interval
from simcontinuum.mlsysops.shim import shim_modules

ROOT = Path(__file__).resolve().parents[1]
HACK = ROOT / "scenarios" / "mlsysops-hackathon"
DESC = HACK / "descriptions"
OVERLAY = HACK / "overlay.yaml"
MOVER = HACK / "policy-latencyMover.py"


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if not isinstance(doc, str) else doc)
    return path


def node_doc(name: str, cluster: str = "c1", layer: str = "edge", **kw: Any) -> dict[str, Any]:
    doc = {
        "name": name,
        "cluster_id": cluster,
        "continuum_layer": layer,
        "environment": {
            "node_type": "virtualized",
            "os": "ubuntu",
            "container_runtime": ["containerd"],
        },
        "hardware": {"cpu": {"architecture": "amd64", "cores": 4}, "memory": 8},
    }
    doc.update(kw)
    return doc


# --- descriptions --------------------------------------------------------------------------


def test_shipped_descriptions_translate() -> None:
    sc = load_descriptions(DESC, OVERLAY)
    assert sc.name == "mlsysops-hackathon" and sc.duration == 300.0
    assert sc.source_path == str(DESC.resolve())
    assert sc.topology.clusters["group1-cluster"] == (
        "group1-node1",
        "group1-node2",
        "group1-camera",
    )
    n1 = sc.node("group1-node1")
    assert (n1.tier, n1.cores, n1.memory, n1.speed) == ("edge", 8, 16 * 2.0**30, 1.0)
    assert n1.labels == frozenset({"camera-attached"}) and sc.node("group1-node2").speed == 2.0
    assert sc.control.interval == 1.0
    for aid, group in (("group1-hackathon-app", "group1"), ("group2-hackathon-app", "group2")):
        app = sc.application(aid)  # group 2 is in the CR form (name from metadata.name)
        det, cls = app.component("detector-app"), app.component("classifier-app")
        assert app.entry == "detector-app" and [(c.src, c.dst) for c in app.calls] == [
            ("detector-app", "classifier-app")
        ]
        assert det.placement.node == f"{group}-node1" and det.cpu == 2.0
        assert det.memory == 2 * 2.0**30 and cls.cpu == 1.0
        assert cls.placement.tiers == frozenset({"edge"})
        assert cls.placement.cluster == f"{group}-cluster"
        assert cls.replicas_max == 2  # one per described node of its cluster
        assert app.slo is not None and app.slo.metric == "frame_classify_latency"
        assert app.slo.p95_latency == pytest.approx(0.05)
        assert cls.work.mean == pytest.approx(0.030)


def test_scenario_from_args_is_load_descriptions() -> None:
    a = scenario_from_args(str(DESC), str(OVERLAY), seed=3)
    assert a.seed == 3 and a.digest == load_descriptions(DESC, OVERLAY, seed=3).digest


def test_cr_and_top_key_forms() -> None:
    cr = {"apiVersion": "mlsysops.eu/v1", "kind": "MLSysOpsApp", "metadata": {"name": "a"}}
    kind, inner = classify(cr)  # type: ignore[misc]
    assert kind == "MLSysOpsApp" and inner["metadata"]["name"] == "a"
    assert classify({"MLSysOpsNode": {"name": "n"}}) == ("MLSysOpsNode", {"name": "n"})
    assert classify({"version": 1, "infrastructure": {}}) is None
    desc = read_descriptions(DESC)
    assert set(desc.apps) == {"group1-hackathon-app", "group2-hackathon-app"}
    assert desc.apps["group2-hackathon-app"]["kind"] == "MLSysOpsApp"  # the CR kept whole
    assert desc.continuum is not None and desc.continuum["continuum_id"] == "hackathon-continuum"
    assert desc.cluster_of_node("group2-node2") == "group2-cluster"


def small(tmp_path: Path, *, app: dict[str, Any] | None = None) -> Path:
    d = tmp_path / "desc"
    write(
        d / "clusters" / "c1.yaml",
        {"MLSysOpsCluster": {"name": "c1", "cluster_id": "c1", "nodes": ["n1", "n2"]}},
    )
    write(d / "nodes" / "n1.yaml", {"MLSysOpsNode": node_doc("n1")})
    write(
        d / "nodes" / "n2.yaml",
        {
            "MLSysOpsNode": node_doc(
                "n2", layer="cloud", hardware={"cpu": {"cores": 8}, "memory": "32Gi"}
            )
        },
    )
    app = app or {
        "name": "app",
        "components": [
            {"metadata": {"name": "a"}, "containers": [{"image": "x"}]},
            {"metadata": {"name": "b"}, "containers": [{"image": "y"}]},
        ],
        "component_interactions": [
            {"component_name1": "b", "type": "ingress", "component_name2": "a"}
        ],
    }
    write(d / "app.yaml", {"MLSysOpsApp": app})
    return d


def test_defaults_and_overlay_merge(tmp_path: Path) -> None:
    d = small(tmp_path)
    sc = load_descriptions(d)
    assert sc.duration == 300.0 and sc.seed == 0 and sc.control.interval == 1.0
    assert {(lk.a, lk.b) for lk in sc.topology.links} == {("n1", "n2")}  # star of the cluster
    assert sc.node("n2").memory == 32 * 2.0**30 and sc.node("n2").tier == "cloud"
    app = sc.application("app")
    assert app.entry == "a" and [(c.src, c.dst) for c in app.calls] == [("a", "b")]  # ingress
    assert app.component("a").cpu == pytest.approx(0.1)  # no requests: the scenario default
    overlay = {
        "duration": "60s",
        "infrastructure": {
            "clusters": [
                {
                    "id": "c1",
                    "nodes": [{"id": "n1", "speed": 3.0}, {"id": "dev", "tier": "far_edge"}],
                }
            ],
            "links": [
                {"a": "dev", "b": "n1", "latency": "2ms", "bandwidth": "1Gbps"},
                {"a": "n1", "b": "n2", "latency": "5ms", "bandwidth": "1Gbps"},
            ],
        },
        "applications": [
            {
                "id": "app",
                "components": [{"id": "b", "work": {"mean": "7ms"}}],
                "calls": [{"from": "a", "to": "b", "request_size": "1KB"}],
            }
        ],
        "workload": [{"app": "app", "from": "dev", "arrival": {"type": "poisson", "rate": "2/s"}}],
        "control": {"policy_timeout": "9s"},
    }
    sc = load_descriptions(d, overlay)
    assert sc.duration == 60.0 and sc.node("n1").speed == 3.0 and sc.node("n1").cores == 4
    assert sc.node("dev").cluster == "c1" and len(sc.sources) == 1
    assert sc.control.interval == 1.0 and sc.control.policy_timeout == 9.0  # merged
    b = sc.application("app").component("b")
    assert b.work.mean == pytest.approx(0.007) and b.cpu == pytest.approx(0.1)
    assert sc.application("app").calls[0].request_size == 1000.0
    assert len(sc.topology.links) == 2


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: write(
                d / "nodes" / "n1.yaml", {"MLSysOpsNode": node_doc("n1", layer="moon")}
            ),
            "MLSysOpsNode.continuum_layer: expected one of",
        ),
        (
            lambda d: write(
                d / "clusters" / "c1.yaml",
                {"MLSysOpsCluster": {"cluster_id": "c1", "nodes": ["n1", "n2", "n9"]}},
            ),
            "lists node 'n9', which has no MLSysOpsNode description",
        ),
        (
            lambda d: write(d / "dup.yaml", {"MLSysOpsNode": node_doc("n1")}),
            "MLSysOpsNode 'n1' is also described in",
        ),
        (lambda d: write(d / "bad.yaml", "MLSysOpsNode: [unclosed"), "bad.yaml: not valid YAML"),
        (
            lambda d: write(
                d / "app.yaml",
                {"MLSysOpsApp": {"name": "app", "components": [{"metadata": {"name": "a"}}]}},
            ),
            "containers: required",
        ),
        (
            lambda d: write(
                d / "app.yaml",
                {
                    "MLSysOpsApp": {
                        "name": "app",
                        "cluster_placement": {"cluster_id": ["zz"]},
                        "components": [{"metadata": {"name": "a"}, "containers": [{}]}],
                    }
                },
            ),
            "unknown cluster 'zz'",
        ),
    ],
)
def test_description_problems_name_the_file(tmp_path: Path, mutate: Any, expected: str) -> None:
    d = small(tmp_path)
    mutate(d)
    with pytest.raises(ScenarioError) as err:
        load_descriptions(d)
    assert any(expected in p for p in err.value.problems), err.value.problems


def test_invalid_translation_points_at_translate(tmp_path: Path) -> None:
    d = small(tmp_path)
    with pytest.raises(ScenarioError) as err:
        load_descriptions(d, {"duration": "-5s"})
    assert any("duration" in p for p in err.value.problems)
    assert "simcontinuum mlsysops translate" in err.value.problems[-1]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScenarioError, match="no MLSysOps descriptions found"):
        read_descriptions(empty)


# --- the eligibility rule ------------------------------------------------------------------

NODE = {
    "metadata": {"name": "n1"},  # the CR form names the node in metadata
    "continuum_layer": "edge",
    "mobile": True,
    "labels": ["gpu", "edge-ready"],
    "sensors": [
        {
            "camera": {
                "model": "d455",
                "camera_type": "rgb",
                "framerate": 30,
                "supported_resolutions": ["1024x768"],
            }
        },
        {"temperature": {"model": "sdc30"}},
    ],
    "environment": {
        "node_type": "virtualized",
        "os": "ubuntu",
        "container_runtime": ["containerd"],
    },
    "hardware": {
        "cpu": {"architecture": "amd64", "frequency": [2.4, 3.0], "performance_indicator": 75},
        "disk": "256",
        "gpu": {"model": "k80", "memory": "4", "performance_indicator": 100},
    },
}


def comp(
    placement: dict[str, Any] | None = None, req: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "metadata": {"name": "c"},
        "containers": [
            {"platform_requirements": req or {}},
            {"platform_requirements": {"gpu": {"model": "zz"}}},
        ],
    }
    if placement is not None:
        c["node_placement"] = placement
    c.update(kw)
    return c


@pytest.mark.parametrize(
    ("component", "why"),
    [
        (comp(), None),
        (
            comp(
                {
                    "node": "n1",
                    "continuum_layer": ["edge", "cloud"],
                    "mobile": True,
                    "labels": ["gpu"],
                }
            ),
            None,
        ),
        (comp({"continuum_layer": ["*"]}), None),
        (comp({"node": "n2"}), "pinned to node 'n2'"),
        (comp({"continuum_layer": ["cloud"]}), "node layer 'edge' not in"),
        (comp({"labels": ["fpga"]}), "lacks labels ['fpga']"),
        (
            comp(
                sensors=[
                    {"camera": {"model": "d455", "minimum_framerate": 25, "resolution": "1024x768"}}
                ]
            ),
            None,
        ),
        (comp(sensors=[{"camera": {"minimum_framerate": 60}}]), "framerate"),
        (comp(sensors=[{"camera": {"resolution": "4056x3040"}}]), "resolution"),
        (comp(sensors=[{"camera": {"model": "picam"}}]), "camera model"),
        (comp(sensors=[{"temperature": {"model": "other"}}]), "temperature sensor"),
        (comp(node_type="native"), "node_type"),
        (comp(os="zephyr"), "os 'ubuntu'"),
        (comp(container_runtime="kata"), "container runtime 'kata'"),
        (comp(req={"cpu": {"architecture": ["arm64"]}}), "cpu architecture 'amd64'"),
        (comp(req={"cpu": {"frequency": 2.8}}), None),
        (comp(req={"cpu": {"frequency": 3.5}}), "frequency"),
        (comp(req={"cpu": {"performance_indicator": 80}}), "performance_indicator"),
        (comp(req={"disk": "300"}), "disk"),
        (comp(req={"gpu": {"model": "k80", "memory": "2", "performance_indicator": 90}}), None),
        (comp(req={"gpu": {"model": "a100"}}), "gpu model"),
        (comp(req={"gpu": {"memory": "8"}}), "gpu memory"),
    ],
)
def test_node_matches_requirements(component: dict[str, Any], why: str | None) -> None:
    got = requirement_mismatch(NODE, component)
    assert node_matches_requirements(NODE, component) is (why is None)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_mobile_and_missing_sensors() -> None:
    static = {**NODE, "mobile": False, "sensors": []}
    assert "mobile" in (requirement_mismatch(static, comp({"mobile": True})) or "")
    assert "no camera" in (requirement_mismatch(static, comp(sensors=[{"camera": {}}])) or "")


def test_allocatable_ignores_running_pods() -> None:
    c = comp(req={"cpu": {"requests": "1500m"}, "memory": {"requests": "2Gi"}})
    assert allocatable_mismatch(c, {"cpu": "2", "memory": "4194304Ki"}) is None
    assert "cpu request" in (allocatable_mismatch(c, {"cpu": "1", "memory": "4194304Ki"}) or "")
    assert "memory request" in (allocatable_mismatch(c, {"cpu": "2", "memory": "1024Ki"}) or "")


def test_intervals_and_evaluate_condition() -> None:
    assert [parse_interval(x) for x in ("5s", "2m", "1h", "1d", "0s", "5", "1.5s", None)] == [
        5,
        120,
        3600,
        86400,
        0,
        None,
        None,
        None,
    ]
    with shim_modules():
        from mlsysops.logger_util import logger  # type: ignore[import-not-found]
        from mlsysops.utilities import evaluate_condition  # type: ignore[import-not-found]

        assert evaluate_condition(50, 60, "lower_or_equal") is True  # (target, measured)
        assert evaluate_condition(3, 2, "greater_than") is True
        assert evaluate_condition(2, 2, "equal") and not evaluate_condition(2, 2, "lower_than")
        assert evaluate_condition(2, 2, "greater_or_equal")
        with pytest.raises(ValueError, match="Invalid operator"):
            evaluate_condition(1, 2, "about")
        logger.test("the agent's extra level works")
    assert not any(k == "mlsysops" or k.startswith("mlsysops.") for k in sys.modules)


def test_shim_restores_a_real_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    real = types.ModuleType("mlsysops")
    sub = types.ModuleType("mlsysops.controllers")
    monkeypatch.setitem(sys.modules, "mlsysops", real)
    monkeypatch.setitem(sys.modules, "mlsysops.controllers", sub)
    with shim_modules():
        import mlsysops  # type: ignore[import-not-found]

        assert mlsysops is not real and "mlsysops.controllers" not in sys.modules
    assert sys.modules["mlsysops"] is real and sys.modules["mlsysops.controllers"] is sub


# --- the static check ----------------------------------------------------------------------

GOOD = textwrap.dedent(
    """
    from mlsysops.logger_util import logger

    def initialize():
        initialContext = {"telemetry": {"metrics": ["m"], "system_scrape_interval": "5s"},
                          "mechanisms": ["fluidity"], "packages": [],
                          "configuration": {"analyze_interval": "10s"}, "scope": "application"}
        return initialContext

    async def analyze(context, application_description, system_description, mechanisms,
                      telemetry, ml_connector):
        return False, context

    async def plan(context, application_description, system_description, mechanisms,
                   telemetry, ml_connector):
        return {}, context
    """
)


def policy(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def messages(path: Path) -> list[str]:
    return [str(f) for f in check_policy_file(path)]


def test_check_shipped_and_good_files(tmp_path: Path) -> None:
    assert messages(MOVER) == []
    assert messages(policy(tmp_path, "policy-good.py", GOOD)) == []


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("good.py", lambda s: s, "error: file name 'good.py'"),
        ("policy-my-placer.py", lambda s: s, "warning: the agent names this policy 'my'"),
        (
            "policy-x.py",
            lambda s: s.replace("async def analyze", "def analyze"),
            "error: analyze() must be 'async def'",
        ),
        (
            "policy-x.py",
            lambda s: s.replace("def plan", "def plan_it"),
            "error: no module-level function plan()",
        ),
        (
            "policy-x.py",
            lambda s: s.replace(', "scope": "application"', ""),
            "error: initialContext has no 'scope'",
        ),
        (
            "policy-x.py",
            lambda s: s.replace('"application"', '"cluster"'),
            "neither 'application' nor 'global'",
        ),
        ("policy-x.py", lambda s: s.replace('"10s"', '"0s"'), "is zero"),
        ("policy-x.py", lambda s: s.replace('"10s"', '"10 seconds"'), "does not match"),
        (
            "policy-x.py",
            lambda s: s.replace('"packages": []', '"packages": [str(1)]'),
            "warning: initialContext (line 5) is not a literal",  # the agent only logs it
        ),
        (
            "policy-x.py",
            lambda s: s.replace('"packages": []', '"packages": "numpy"'),
            "packages must be a list",
        ),
        (
            "policy-x.py",
            lambda s: s.replace('"packages": []', '"packages": ["no-such-dist-xyz>=1"]'),
            "here ['no-such-dist-xyz>=1'] are not installed: run 'pip install no-such-dist-xyz>=1'",
        ),
        (
            "policy-x.py",
            lambda s: "from mlsysops.utilities import parse_analyze_interval\n" + s,
            "error: 'from mlsysops.utilities import parse_analyze_interval': mlsysops 0.1.12 "
            "has no such name",
        ),
        (
            "policy-x.py",
            lambda s: "from mlsysops import MessageEvents\n" + s,
            "warning: 'from mlsysops import MessageEvents': part of the agent stack",
        ),
        (
            "policy-x.py",
            lambda s: s.replace("initialContext =", "ctx =").replace(
                "return initialContext", "return ctx"
            ),
            "no 'initialContext = {...}'",
        ),
        (
            "policy-x.py",
            lambda s: s.replace(
                "telemetry, ml_connector):\n    return False", "telemetry):\n    return False"
            ),
            "analyze() takes 5 argument(s)",
        ),
        (
            "policy-x.py",
            lambda s: (
                "from mlsysops.controllers.policy import X\nimport no_such_package_here\n" + s
            ),
            "exists only in the real agent",
        ),
        (
            "policy-x.py",
            lambda s: "import no_such_package_here\n" + s,
            "'no_such_package_here' is not importable",
        ),
        (
            "policy-x.py",
            lambda s: s.replace('["fluidity"]', '["teleport"]'),
            "mechanism 'teleport' is unknown",
        ),
        ("policy-x.py", lambda s: s + "\ndef broken(:\n", "syntax error"),
    ],
)
def test_check_findings(tmp_path: Path, name: str, edit: Any, expected: str) -> None:
    found = messages(policy(tmp_path, name, edit(GOOD)))
    assert any(expected in m for m in found), found


# --- commands ------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "mlsysops", "check", str(MOVER))
    assert code == Exit.OK and "ok (policy 'latencyMover')" in out
    bad = policy(
        tmp_path,
        "policy-bad.py",
        GOOD.replace('"10s"', '"0s"').replace("async def plan", "def plan"),
    )
    code, out, _ = run_cli(capsys, "mlsysops", "check", str(MOVER), str(bad))
    assert code == Exit.BAD_INPUT
    assert out.count("policy-bad.py: error") == 2  # every finding is printed
    code, _, err = run_cli(capsys, "mlsysops")
    assert code == Exit.BAD_INPUT and "check" in err


def test_translate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "mlsysops", "translate", str(DESC), "--overlay", str(OVERLAY))
    assert code == Exit.OK
    doc = yaml.safe_load(out)
    assert doc["name"] == "mlsysops-hackathon" and len(doc["applications"]) == 2
    target = tmp_path / "sc.yaml"
    code, out, _ = run_cli(
        capsys, "mlsysops", "translate", str(DESC), "--overlay", str(OVERLAY), "-o", str(target)
    )
    assert code == Exit.OK and target.exists()
    assert main(["validate", str(target)]) == Exit.OK
    d = small(tmp_path)
    write(d / "nodes" / "n1.yaml", {"MLSysOpsNode": node_doc("n1", layer="moon")})
    code, _, err = run_cli(capsys, "mlsysops", "translate", str(d))
    assert code == Exit.BAD_INPUT and "continuum_layer" in err and "Traceback" not in err
