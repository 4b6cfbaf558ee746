"""The scenario loader: formats, defaults, expansions, every error class, and a fuzz test."""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcontinuum.errors import ScenarioError
from simcontinuum.model import Scenario
from simcontinuum.scenario import build as build_module
from simcontinuum.scenario import load_scenario, scenario_digest, validate_file

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

Doc = dict[str, Any]


def base_doc() -> Doc:
    """A small valid scenario exercising most sections."""
    return {
        "version": 1,
        "name": "unit",
        "seed": 3,
        "duration": "60s",
        "warmup": "5s",
        "infrastructure": {
            "clusters": [
                {
                    "id": "cloud",
                    "nodes": [
                        {
                            "id": "cloud-0",
                            "tier": "cloud",
                            "cores": 16,
                            "speed": 1.5,
                            "memory": "64Gi",
                            "labels": ["x86"],
                            "location": [23.7, 37.9],
                            "price": {"per_hour": 1.2, "billing": "when_active"},
                            "power": {"idle_w": 100, "max_w": 300},
                        }
                    ],
                },
                {
                    "id": "site",
                    "nodes": [
                        {
                            "id": "edge-0",
                            "tier": "edge",
                            "cores": 4,
                            "memory": "8Gi",
                            "labels": ["gpu"],
                            "gpu": {"model": "t4", "count": 1, "speedup": 8},
                        },
                        {"id": "infra-0", "tier": "edge_infrastructure", "cores": 2},
                    ],
                    "node_groups": [
                        {"prefix": "cam", "count": 3, "tier": "far_edge", "speed": 0.3},
                    ],
                },
            ],
            "links": [
                {"a": "cloud-0", "b": "edge-0", "latency": "20ms", "bandwidth": "1Gbps"},
                {"a": "infra-0", "b": "edge-0", "latency": "1ms", "bandwidth": "10Gbps"},
                {"group": "cam", "b": "edge-0", "latency": "2ms", "bandwidth": "100Mbps"},
            ],
        },
        "applications": [
            {
                "id": "video",
                "entry": "det",
                "components": [
                    {
                        "id": "det",
                        "cpu": "500m",
                        "memory": "512Mi",
                        "image_size": "800MB",
                        "work": {"dist": "exponential", "mean": "20ms"},
                        "accelerator": "gpu",
                        "placement": {"tiers": ["edge", "cloud"]},
                        "replicas": {"min": 1, "max": 3},
                        "slo": {"p95_latency": "30ms"},
                    },
                    {"id": "cls", "work": {"dist": "lognormal", "mean": "5ms", "cv": 0.5}},
                ],
                "calls": [
                    {"from": "det", "to": "cls", "request_size": "200KB", "response_size": "1KB"}
                ],
                "slo": {"p95_latency": "50ms"},
            },
            {"id": "ping", "components": [{"id": "pong"}]},
        ],
        "workload": [
            {
                "app": "video",
                "from_group": "cam",
                "arrival": {"type": "periodic", "rate": "10/s"},
                "request_size": "500KB",
            },
            {"app": "ping", "from": "edge-0", "arrival": {"type": "poisson", "rate": 5}},
        ],
        "telemetry": {"interval": "2s", "loss": 0.1},
        "control": {"interval": "5s"},
        "failures": [
            {"at": "30s", "node": "edge-0", "for": "10s"},
            {"at": "40s", "link": ["edge-0", "cloud-0"]},
            {"random": {"tier": "far_edge", "mtbf": "1h", "mttr": "2min"}},
        ],
        "scoring": {"weights": {"cost": 2.0}, "reference_policy": "first-fit"},
    }


def problems_of(doc: object, **kwargs: Any) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


def edited(edit: Callable[[Doc], object]) -> Doc:
    doc = base_doc()
    edit(doc)
    return doc


def node0(doc: Doc) -> Doc:
    return doc["infrastructure"]["clusters"][0]["nodes"][0]


def comp(doc: Doc, i: int = 0) -> Doc:
    return doc["applications"][0]["components"][i]


# --- loading -------------------------------------------------------------------------------


def test_loads_the_base_document() -> None:
    sc = load_scenario(base_doc())
    assert isinstance(sc, Scenario)
    assert sc.name == "unit" and sc.seed == 3 and sc.duration == 60 and sc.warmup == 5
    assert sc.source_path is None
    assert len(sc.digest) == 64


def test_loads_from_path_text_and_pathlike(tmp_path: Path) -> None:
    text = yaml.safe_dump(base_doc())
    path = tmp_path / "s.yaml"
    path.write_text(text)
    from_path = load_scenario(str(path))
    from_pathlike = load_scenario(path)
    from_text = load_scenario(text)
    assert from_path.source_path == str(path) == from_pathlike.source_path
    assert from_text.source_path is None
    assert from_path.digest == from_text.digest == load_scenario(base_doc()).digest
    assert validate_file(path) == []


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    doc = base_doc()
    del doc["name"]
    path = tmp_path / "my-city.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_scenario(path).name == "my-city"


def test_seed_override_and_digest() -> None:
    sc = load_scenario(base_doc(), seed=99)
    assert sc.seed == 99
    assert sc.digest != load_scenario(base_doc()).digest
    assert sc.digest == load_scenario(edited(lambda d: d.update(seed=99))).digest
    assert problems_of(base_doc(), seed=-1)[0].startswith("seed: expected a seed")


def test_digest_ignores_key_order() -> None:
    doc = base_doc()
    reordered = dict(reversed(list(doc.items())))
    assert scenario_digest(doc) == scenario_digest(reordered)
    assert scenario_digest(doc) != scenario_digest(edited(lambda d: d.update(duration="61s")))


def test_missing_file_and_bad_inputs(tmp_path: Path) -> None:
    assert "no such file" in problems_of(str(tmp_path / "nope.yaml"))[0]
    assert "expected a scenario file path, YAML text or a dict" in problems_of(5)[0]
    assert "empty" in problems_of("\n")[0]
    assert "expected a mapping of keys" in problems_of("- a\n- b\n")[0]
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    assert "not UTF-8" in validate_file(tmp_path / "bin.yaml")[0]
    assert "is a folder" in validate_file(tmp_path)[0]


# --- defaults and conversion ------------------------------------------------------------------


def test_defaults() -> None:
    doc = {
        "duration": 10,
        "infrastructure": {"clusters": [{"id": "c", "nodes": [{"id": "n", "tier": "edge"}]}]},
        "applications": [
            {
                "id": "a",
                "components": [{"id": "x"}, {"id": "y", "replicas": {"min": 3}}],
                "calls": [{"from": "x", "to": "y"}],
            }
        ],
    }
    sc = load_scenario(doc)
    node = sc.node("n")
    assert (node.cores, node.speed, node.memory, node.cluster) == (1, 1.0, 0.0, "c")
    assert (node.price.per_hour, node.price.billing, node.gpu, node.location) == (
        0,
        "always",
        None,
        None,
    )
    app = sc.application("a")
    x, y = app.components
    assert app.entry == "x"
    assert (x.cpu, x.memory, x.image_size, x.startup) == (0.1, 0.0, 0.0, 0.0)
    assert (x.work.dist, x.work.mean) == ("constant", 0.0)
    assert (x.replicas_min, x.replicas_max) == (1, 1)
    assert (y.replicas_min, y.replicas_max) == (3, 3)
    assert sc.topology.registry is None and sc.telemetry.collector is None
    assert (sc.seed, sc.warmup, sc.version) == (0, 0.0, 1)
    assert (sc.telemetry.interval, sc.control.interval, sc.control.policy_timeout) == (
        5.0,
        10.0,
        5.0,
    )
    assert sc.scoring.weights["p95_latency_s"] == 10.0
    assert sc.sources == () and sc.failures == ()


def test_registry_and_collector_default_to_the_first_cloud_node() -> None:
    sc = load_scenario(base_doc())
    assert sc.topology.registry == "cloud-0" == sc.telemetry.collector


def test_control_interval_null_means_never() -> None:
    sc = load_scenario(edited(lambda d: d.update(control={"interval": None})))
    assert sc.control.interval is None


def test_conversion_in_base_units() -> None:
    sc = load_scenario(base_doc())
    cloud = sc.node("cloud-0")
    assert cloud.memory == 64 * 2**30 and cloud.labels == frozenset({"x86"})
    assert cloud.location == (23.7, 37.9) and cloud.price.billing == "when_active"
    assert cloud.power.max_w == 300
    edge = sc.node("edge-0")
    assert edge.gpu is not None and edge.gpu.speedup == 8 and edge.gpu.model == "t4"
    assert sc.node("infra-0").tier == "edge_infrastructure"
    det = sc.application("video").component("det")
    assert det.cpu == 0.5 and det.memory == 512 * 2**20 and det.image_size == 800e6
    assert det.work.mean == pytest.approx(0.02) and det.accelerator == "gpu"
    assert det.placement.tiers == frozenset({"edge", "cloud"})
    assert det.slo is not None and det.slo.p95_latency == pytest.approx(0.03)
    assert sc.application("video").slo.latency_target == pytest.approx(0.05)  # type: ignore[union-attr]
    call = sc.application("video").calls[0]
    assert (call.src, call.dst, call.request_size, call.response_size) == ("det", "cls", 2e5, 1e3)
    assert sc.telemetry.loss == 0.1 and sc.telemetry.interval == 2.0
    assert sc.scoring.weights["cost"] == 2.0 and sc.scoring.reference_policy == "first-fit"


def test_node_groups_links_and_sources_expand() -> None:
    sc = load_scenario(base_doc())
    assert sc.topology.clusters == {
        "cloud": ("cloud-0",),
        "site": ("edge-0", "infra-0", "cam-0", "cam-1", "cam-2"),
    }
    cam = sc.node("cam-2")
    assert (cam.tier, cam.cluster, cam.speed) == ("far_edge", "site", 0.3)
    group_links = [(link.a, link.b) for link in sc.topology.links if link.a.startswith("cam")]
    assert group_links == [("cam-0", "edge-0"), ("cam-1", "edge-0"), ("cam-2", "edge-0")]
    ids = [s.id for s in sc.sources]
    assert ids == ["video@cam-0", "video@cam-1", "video@cam-2", "ping@edge-0"]
    src = sc.sources[0]
    assert src.arrival.type == "periodic" and src.arrival.rate == 10 and src.request_size == 5e5


def test_repeated_source_ids_get_a_suffix() -> None:
    def add(d: Doc) -> None:
        d["workload"] += [
            {"app": "ping", "from": "edge-0", "arrival": {"type": "poisson", "rate": 1}},
            {"app": "ping", "from": "edge-0", "arrival": {"type": "poisson", "rate": 2}},
        ]

    ids = [s.id for s in load_scenario(edited(add)).sources]
    assert ids[-3:] == ["ping@edge-0", "ping@edge-0#2", "ping@edge-0#3"]


def test_failures_convert() -> None:
    sc = load_scenario(base_doc())
    node_f, link_f = sc.failures
    assert (node_f.kind, node_f.target, node_f.at, node_f.duration) == ("node", "edge-0", 30, 10)
    assert (link_f.kind, link_f.target, link_f.duration) == ("link", "cloud-0|edge-0", None)
    (rand,) = sc.random_failures
    assert (rand.tier, rand.mtbf, rand.mttr, rand.cluster) == ("far_edge", 3600, 120, None)


def test_arrival_types_convert() -> None:
    def arrivals(d: Doc) -> None:
        d["workload"] = [
            {"app": "ping", "from": "edge-0", "arrival": a}
            for a in (
                {"type": "diurnal", "mean_rate": "10/s", "amplitude": 0.5, "period": "1h"},
                {"type": "onoff", "rate": "100/min", "on": "5s", "off": "10s"},
            )
        ]

    diurnal, onoff = (s.arrival for s in load_scenario(edited(arrivals)).sources)
    assert (diurnal.mean_rate, diurnal.amplitude, diurnal.period) == (10, 0.5, 3600)
    assert (onoff.rate, onoff.on, onoff.off) == (pytest.approx(100 / 60), 5, 10)


def test_yaml_on_off_keys_stay_text() -> None:
    text = """
duration: 10s
infrastructure: {clusters: [{id: c, nodes: [{id: n, tier: edge}]}]}
applications: [{id: a, components: [{id: x}]}]
workload: [{app: a, from: n, arrival: {type: onoff, rate: 2/s, on: 1s, off: 2s}}]
control: {charge_decision_time: yes}
"""
    sc = load_scenario(text)
    assert sc.sources[0].arrival.on == 1 and sc.sources[0].arrival.off == 2
    assert sc.control.charge_decision_time is True


def test_empirical_work_mean_defaults_to_the_values_mean() -> None:
    sc = load_scenario(
        edited(lambda d: comp(d, 1).update(work={"dist": "empirical", "values": ["1ms", "3ms"]}))
    )
    work = sc.application("video").component("cls").work
    assert work.values == (0.001, 0.003) and work.mean == pytest.approx(0.002)


# --- traces --------------------------------------------------------------------------------


def trace_doc(path: str) -> Doc:
    def edit(d: Doc) -> None:
        d["workload"] = [
            {"app": "video", "from_group": "cam", "arrival": {"type": "trace", "path": path}}
        ]

    return edited(edit)


def test_trace_rows_are_filtered_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "time_s,app,source\n3.0,video,cam-0\n1.5,video,cam-0\n2,ping,cam-0\n0.5,video,cam-1\n"
    )
    doc = trace_doc("t.csv")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    sc = load_scenario(tmp_path / "s.yaml")
    times = {s.node: s.arrival.times for s in sc.sources}
    assert times == {"cam-0": (1.5, 3.0), "cam-1": (0.5,), "cam-2": ()}
    assert sc.sources[0].arrival.path == str(tmp_path / "t.csv")


def test_trace_without_filter_columns(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("time_s,other\n2,x\n1,y\n")
    sc = load_scenario(trace_doc(str(tmp_path / "t.csv")))
    assert all(s.arrival.times == (1.0, 2.0) for s in sc.sources)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time_s\n1\nabc\n", "t.csv line 3: time_s 'abc' is not a non-negative number"),
        ("time_s\n-1\n", "t.csv line 2: time_s '-1' is not a non-negative number"),
        ("when\n1\n", "t.csv line 1: expected a header with a time_s column"),
        ("", "t.csv is empty"),
        ("time_s,app\n1\n", "t.csv line 2: expected 2 columns, got 1"),
        ("time_s,app\n1,other\n", "has no rows for app 'video'"),
    ],
)
def test_malformed_traces(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "t.csv").write_text(content)
    (problem,) = problems_of(trace_doc(str(tmp_path / "t.csv")))
    assert problem.startswith("workload[0].arrival.path: ")
    assert message in problem


def test_missing_trace_names_the_resolved_path(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(trace_doc("traces/none.csv")))
    (problem,) = validate_file(tmp_path / "s.yaml")
    expected = os.path.join(str(tmp_path), "traces", "none.csv")
    assert problem == (
        f"workload[0].arrival.path: trace file 'traces/none.csv' not found (looked for {expected})"
    )


# --- structural errors ----------------------------------------------------------------------


def test_version() -> None:
    assert problems_of(edited(lambda d: d.update(version=2))) == [
        "version: this simcontinuum reads scenario version 1, got 2; "
        "upgrade simcontinuum or convert the file"
    ]
    assert problems_of(edited(lambda d: d.update(version="one"))) == [
        "version: expected 1, got 'one'"
    ]


def test_negative_cpu_message() -> None:
    doc = edited(lambda d: d["applications"][0]["components"][1].update(cpu=-2))
    assert problems_of(doc) == [
        "applications[0].components[1].cpu: expected a positive quantity like 250m or 0.5, got '-2'"
    ]


def test_unknown_keys_suggest_the_closest() -> None:
    def typos(d: Doc) -> None:
        app = d["applications"][0]
        app["componets"] = app.pop("components")
        d["duraton"] = d.pop("duration")
        node0(d)["zzz"] = 1

    got = problems_of(edited(typos))
    assert "applications[0].componets: unknown key; did you mean 'components'?" in got
    assert "duraton: unknown key; did you mean 'duration'?" in got
    assert "applications[0].components: required key missing" in got
    assert any(
        p.startswith("infrastructure.clusters[0].nodes[0].zzz: unknown key; expected one of: tier")
        for p in got
    )


def test_unknown_keys_in_nested_optional_models() -> None:
    doc = edited(lambda d: d["applications"][0].update(slo={"p95": "5ms"}))
    assert problems_of(doc) == ["applications[0].slo.p95: unknown key; did you mean 'p95_latency'?"]
    doc = edited(lambda d: d["scoring"]["weights"].update(latency=1))
    assert problems_of(doc)[0].startswith("scoring.weights.latency: unknown key")
    doc = edited(lambda d: d["failures"][2]["random"].update(mtbff="1h"))
    assert problems_of(doc) == ["failures[2].random.mtbff: unknown key; did you mean 'mtbf'?"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(infrastructure=[]), "infrastructure: expected a mapping of keys"),
        (
            lambda d: d["applications"][0].update(components="abc"),
            "applications[0].components: expected a list",
        ),
        (
            lambda d: node0(d).update(tier="clod"),
            "infrastructure.clusters[0].nodes[0].tier: expected a tier "
            "(cloud, edge_infrastructure, edge, far_edge), got 'clod'; did you mean 'cloud'?",
        ),
        (
            lambda d: node0(d).update(cores=2.5),
            "infrastructure.clusters[0].nodes[0].cores: expected a whole number of cores",
        ),
        (
            lambda d: node0(d).update(id=5),
            "infrastructure.clusters[0].nodes[0].id: expected an id like edge-0 (text without "
            "spaces), got '5' (quote it: '5')",
        ),
        (
            lambda d: node0(d).update(location=[200, 0]),
            "infrastructure.clusters[0].nodes[0].location: "
            "expected a longitude between -180 and 180",
        ),
        (
            lambda d: d["infrastructure"].update(network={"contention": "maybe"}),
            "infrastructure.network.contention: expected true or false, got 'maybe'",
        ),
        (lambda d: d.update(name=["x"]), "name: expected text, got a list"),
        (
            lambda d: d.update(duration=float("nan")),
            "duration: expected a duration like 20ms or 1.5s, got 'nan' (not a finite number)",
        ),
        (
            lambda d: d.update(duration="0s"),
            "duration: expected a positive duration like 20ms or 1.5s, got '0s'",
        ),
        (lambda d: d["telemetry"].update(loss=2), "telemetry.loss: expected a fraction"),
        (
            lambda d: d["infrastructure"]["links"][0].update(bandwidth="fast"),
            "infrastructure.links[0].bandwidth: expected a positive bandwidth like 100Mbps",
        ),
        (
            lambda d: d["workload"][0]["arrival"].update(rate="-3/s"),
            "workload[0].arrival.rate: expected a rate like 30/s or 100/min, got '-3/s'",
        ),
        (lambda d: comp(d).update(memory="1e300Gi"), "(more than the limit of 1e18)"),
        (
            lambda d: d["failures"][1].update(link=["a"]),
            "failures[1].link: expected a link as [a, b], two node ids, got a list",
        ),
        (
            lambda d: d["infrastructure"].pop("clusters"),
            "infrastructure.clusters: required key missing",
        ),
    ],
)
def test_wrong_types_explain_what_was_expected(
    edit: Callable[[Doc], object], expected: str
) -> None:
    got = problems_of(edited(edit))
    assert any(p.startswith(expected) or expected in p for p in got), got


def test_node_group_count_limit() -> None:
    def big(d: Doc) -> None:
        d["infrastructure"]["clusters"][1]["node_groups"][0]["count"] = 100_001

    assert problems_of(edited(big)) == [
        "infrastructure.clusters[1].node_groups[0].count: a node group holds at most 100000 "
        "nodes, got 100001; describe fewer, more powerful devices"
    ]


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nduration: 5s\ninfrastructure:\n  clusters: [\n  - id: c\n")
    (problem,) = validate_file(path)
    assert problem.startswith(f"{path}:5:3: invalid YAML: ")
    path.write_text("version: 1\nname: a\nname: b\n")
    assert validate_file(path) == [
        f"{path}:3:1: invalid YAML: duplicate key 'name' (first given on line 2)"
    ]
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == str(path)


def test_deep_and_self_referencing_documents_are_refused() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    assert "nested deeper than" in problems_of(edited(lambda d: d.update(name=deep)))[0]
    loop: Doc = {}
    loop["me"] = loop
    assert "refers to itself" in problems_of(edited(lambda d: d.update(extra=loop)))[0]
    too_deep = problems_of("a: " + "[" * 5000 + "\n")[0]  # libyaml or the pure-Python parser
    assert "nested too deeply" in too_deep or "maximum nesting depth" in too_deep
    bomb = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert "more than" in problems_of(bomb)[0]


# --- semantic errors ------------------------------------------------------------------------


def test_duplicate_ids() -> None:
    def dups(d: Doc) -> None:
        d["infrastructure"]["clusters"][0]["nodes"].append({"id": "edge-0", "tier": "cloud"})
        d["infrastructure"]["clusters"].append({"id": "site"})
        d["applications"].append({"id": "ping", "components": [{"id": "a"}]})
        d["applications"][0]["components"].append({"id": "cls"})

    got = problems_of(edited(dups))
    assert (
        "infrastructure.clusters[1].nodes[0]: duplicate node id 'edge-0' "
        "(first declared at infrastructure.clusters[0].nodes[1])" in got
    )
    assert any("duplicate cluster id 'site'" in p for p in got)
    assert (
        "applications[2]: duplicate application id 'ping' (first declared at applications[1])"
        in got
    )
    assert any(
        p.startswith("applications[0].components[2]: duplicate component id 'cls'") for p in got
    )


def test_group_members_clashing_with_nodes() -> None:
    doc = edited(lambda d: node0(d).update(id="cam-1"))
    assert any("duplicate node id 'cam-1'" in p for p in problems_of(doc))


def test_unknown_references_are_all_reported() -> None:
    def refs(d: Doc) -> None:
        d["infrastructure"]["registry"] = "cloud-9"
        d["infrastructure"]["links"].append(
            {"a": "edge-O", "b": "cloud-0", "latency": 0, "bandwidth": 1}
        )
        d["infrastructure"]["links"].append(
            {"group": "cams", "b": "cloud-0", "latency": 0, "bandwidth": 1}
        )
        d["telemetry"]["collector"] = "nobody"
        comp(d)["placement"] = {"node": "edge-9"}
        comp(d, 1)["placement"] = {"cluster": "sitee"}
        d["applications"][0]["entry"] = "detector"
        d["applications"][0]["calls"][0]["to"] = "clss"
        d["workload"][0]["app"] = "vidoe"
        d["workload"][1]["from"] = "edge-1"
        d["workload"].append(
            {"app": "ping", "from_group": "kam", "arrival": {"type": "poisson", "rate": 1}}
        )
        d["failures"][0]["node"] = "edge-7"
        d["failures"][1]["link"] = ["cam-0", "cloud-0"]
        d["failures"].append({"at": 1, "cluster": "mars"})
        d["failures"][2]["random"]["cluster"] = "venus"

    got = problems_of(edited(refs))
    expected = [
        "infrastructure.registry: unknown node 'cloud-9'; did you mean 'cloud-0'?",
        "infrastructure.links[3].a: unknown node 'edge-O'; did you mean 'edge-0'?",
        "infrastructure.links[4].group: unknown node group 'cams'; did you mean 'cam'?",
        "telemetry.collector: unknown node 'nobody'",
        "applications[0].components[0].placement.node: unknown node 'edge-9'; "
        "did you mean 'edge-0'?",
        "applications[0].components[1].placement.cluster: unknown cluster 'sitee'; "
        "did you mean 'site'?",
        "applications[0].entry: unknown component 'detector'",
        "applications[0].calls[0].to: unknown component 'clss'; did you mean 'cls'?",
        "workload[0].app: unknown application 'vidoe'; did you mean 'video'?",
        "workload[1].from: unknown node 'edge-1'; did you mean 'edge-0'?",
        "workload[2].from_group: unknown node group 'kam'; did you mean 'cam'?",
        "failures[0].node: unknown node 'edge-7'; did you mean 'edge-0'?",
        "failures[1].link: no link between 'cam-0' and 'cloud-0'",
        "failures[2].random.cluster: unknown cluster 'venus'",
        "failures[3].cluster: unknown cluster 'mars'",
    ]
    for line in expected:
        assert line in got, (line, got)


def test_call_graph_cycle_is_named() -> None:
    def cycle(d: Doc) -> None:
        d["applications"][0]["calls"].append({"from": "cls", "to": "det"})

    assert problems_of(edited(cycle)) == [
        "applications[0].calls: the call graph has a cycle: det -> cls -> det"
    ]


def test_unreachable_components_are_named() -> None:
    doc = edited(lambda d: d["applications"][0].update(calls=[]))
    assert problems_of(doc) == [
        "applications[0].components: not reachable from entry 'det' over the calls: cls; "
        "call them or remove them"
    ]


def test_disconnected_topology_names_the_nodes() -> None:
    def cut(d: Doc) -> None:
        d["infrastructure"]["links"] = d["infrastructure"]["links"][:1]
        d["failures"] = []

    assert problems_of(edited(cut)) == [
        "infrastructure.links: 4 node(s) cannot be reached from 'cloud-0' over the links: "
        "infra-0, cam-0, cam-1, cam-2; add links to connect them"
    ]


def test_self_and_duplicate_links() -> None:
    def links(d: Doc) -> None:
        d["infrastructure"]["links"] += [
            {"a": "edge-0", "b": "edge-0", "latency": 0, "bandwidth": 1},
            {"a": "edge-0", "b": "cloud-0", "latency": 0, "bandwidth": 1},
            {"a": "edge-0", "group": "cam", "b": "cloud-0", "latency": 0, "bandwidth": 1},
        ]

    got = problems_of(edited(links))
    assert "infrastructure.links[3]: a link from 'edge-0' to itself; remove it" in got
    assert any(p.startswith("infrastructure.links[4]: a second link between") for p in got)
    assert (
        "infrastructure.links[5]: give exactly one of 'a' (a node) or 'group' (a node group)" in got
    )


@pytest.mark.parametrize(
    ("placement", "extra", "expected"),
    [
        (
            {"tiers": ["cloud"], "labels": ["gpu"]},
            {},
            "labels [gpu] excludes all 1 node left by tiers [cloud]",
        ),
        (
            {"tiers": ["far_edge"], "node": "edge-0"},
            {},
            "pinned node 'edge-0' excludes all 3 nodes left by tiers [far_edge]",
        ),
        (
            {"tiers": ["cloud"], "cluster": "site"},
            {},
            "cluster 'site' excludes all 1 node left by tiers [cloud]",
        ),
        ({}, {"cpu": 32}, "cpu 32 cores excludes all 6 nodes (the most any has is 16)"),
        (
            {"tiers": ["edge"]},
            {"memory": "9Gi"},
            "memory 9Gi excludes all 1 node left by tiers [edge] and cpu 0.1 cores "
            "(the most any has is 8Gi)",
        ),
        (
            {"tiers": ["edge_infrastructure"]},
            {"cpu": 4},
            "cpu 4 cores excludes all 1 node left by tiers [edge_infrastructure] "
            "(the most any has is 2)",
        ),
    ],
)
def test_component_that_fits_no_node(placement: Doc, extra: Doc, expected: str) -> None:
    doc = edited(lambda d: comp(d, 1).update(placement=placement, **extra))
    assert problems_of(doc) == [f"applications[0].components[1]: fits no node: {expected}"]


def test_undeclared_node_memory_is_unlimited() -> None:
    doc = edited(lambda d: comp(d, 1).update(memory="1Ti", placement={"node": "infra-0"}))
    assert load_scenario(doc).application("video").component("cls").memory == 2**40


def test_time_and_range_checks() -> None:
    def bad(d: Doc) -> None:
        d["warmup"] = "60s"
        d["applications"][1].update(arrive_at="10s", depart_at="5s")
        comp(d)["replicas"] = {"min": 3, "max": 2}
        comp(d, 1)["replicas"] = {"min": 0, "max": 0}
        node0(d)["power"] = {"idle_w": 100, "max_w": 50}

    got = problems_of(edited(bad))
    assert got == [
        "warmup: must be shorter than duration (60s), got 60s",
        "infrastructure.clusters[0].nodes[0].power.max_w: must be at least idle_w (100), got 50",
        "applications[0].components[0].replicas: min 3 is more than max 2",
        "applications[0].components[1].replicas.max: expected at least 1, got 0",
        "applications[1].depart_at: must be later than arrive_at (10s), got 5s",
    ]


def test_arrival_and_work_keys_depend_on_their_type() -> None:
    def bad(d: Doc) -> None:
        d["workload"][0]["arrival"] = {"type": "poisson", "mean_rate": 3}
        d["workload"][1]["arrival"] = {"type": "onoff", "rate": 1, "on": "1s"}
        comp(d)["work"] = {"dist": "exponential", "cv": 2}
        comp(d, 1)["work"] = {"dist": "empirical", "mean": "1ms"}

    got = problems_of(edited(bad))
    assert got == [
        "applications[0].components[0].work.mean: required for dist 'exponential', e.g. mean: 20ms",
        "applications[0].components[0].work.cv: only used by dist 'lognormal', not 'exponential'",
        "applications[0].components[1].work.values: "
        "dist 'empirical' needs a non-empty list of values",
        "applications[0].components[1].work.mean: "
        "not used by dist 'empirical' (it draws from values)",
        "workload[0].arrival.rate: required for type 'poisson'",
        "workload[0].arrival.mean_rate: not used by type 'poisson' (it uses: rate)",
        "workload[1].arrival.off: required for type 'onoff'",
    ]


def test_workload_and_failure_shapes() -> None:
    def bad(d: Doc) -> None:
        d["workload"][0]["from"] = "edge-0"
        del d["workload"][1]["from"]
        d["failures"][0]["cluster"] = "site"
        del d["failures"][1]["at"]
        d["failures"][2]["at"] = 5

    got = problems_of(edited(bad))
    assert got == [
        "workload[0]: give exactly one of 'from' (a node) or 'from_group' (a group)",
        "workload[1]: give exactly one of 'from' (a node) or 'from_group' (a group)",
        "failures[0]: give exactly one of node, link or cluster (or random: {...})",
        "failures[1].at: required, e.g. {at: 300s, node: edge-0, for: 60s}",
        "failures[2]: a random failure takes only 'random: {...}', not ['at']",
    ]


def test_every_problem_is_reported_at_once() -> None:
    def many(d: Doc) -> None:
        d["warmup"] = "2m"
        d["infrastructure"]["registry"] = "x"
        d["applications"][0]["calls"].append({"from": "cls", "to": "det"})
        d["workload"][0]["app"] = "nope"
        d["failures"][0]["node"] = "nope"

    assert len(problems_of(edited(many))) == 5


def test_internal_errors_still_raise_scenario_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(build_module, "expand", boom)
    (problem,) = problems_of(base_doc())
    assert problem.startswith("internal error while loading the scenario (KeyError")


# --- shipped scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quickstart", "hackathon", "smart-city"])
def test_shipped_scenarios_load(name: str) -> None:
    path = SCENARIOS / f"{name}.yaml"
    assert validate_file(path) == []
    sc = load_scenario(path)
    assert sc.name == name and sc.applications and sc.sources
    assert sc.warmup < sc.duration


def expected_requests(sc: Scenario) -> float:
    total = 0.0
    for src in sc.sources:
        a, app = src.arrival, sc.application(src.app)
        window = (app.depart_at or sc.duration) - app.arrive_at
        rate = {
            "poisson": a.rate,
            "periodic": a.rate,
            "diurnal": a.mean_rate,
            "onoff": a.rate * a.on / max(a.on + a.off, 1e-9),
        }.get(a.type, 0.0)
        total += rate * window
    return total


def test_quickstart_shape() -> None:
    sc = load_scenario(SCENARIOS / "quickstart.yaml")
    tiers = [n.tier for n in sc.topology.nodes]
    assert tiers.count("cloud") == 1 and tiers.count("edge") == 2 and tiers.count("far_edge") == 6
    assert {s.arrival.type for s in sc.sources} == {"poisson", "periodic"}
    assert any(app.calls for app in sc.applications) and len(sc.applications) == 2
    assert 20_000 <= expected_requests(sc) <= 50_000


def test_hackathon_shape() -> None:
    sc = load_scenario(SCENARIOS / "hackathon.yaml")
    assert set(sc.topology.clusters) == {"group1", "cloud"}
    n1, n2 = sc.node("group1-node1"), sc.node("group1-node2")
    assert (n1.cores, n1.price.per_hour, n1.price.billing) == (8, 0.20, "always")
    assert n2.cores == 8 and n2.price.per_hour > n1.price.per_hour
    assert sc.node("cloud-node1").price.billing == "when_active"
    app = sc.applications[0]
    assert app.component("detector").placement.node == "group1-node1"
    assert app.slo is not None and app.slo.p95_latency == pytest.approx(0.05)
    (src,) = sc.sources
    assert src.arrival.type == "periodic" and src.arrival.rate == 30


def test_smart_city_shape() -> None:
    sc = load_scenario(SCENARIOS / "smart-city.yaml")
    assert len(sc.topology.nodes) >= 100 and len(sc.applications) >= 5
    assert {n.tier for n in sc.topology.nodes} >= {"cloud", "edge", "far_edge"}
    assert any(s.arrival.type == "diurnal" for s in sc.sources)
    assert any(f.kind == "node" and f.duration for f in sc.failures)
    assert 100_000 <= expected_requests(sc) <= 200_000
    assert (sc.duration, sc.warmup) == (300, 30)


# --- fuzz: whatever the input, only ScenarioError -------------------------------------------


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


BASE_PATHS = _paths(base_doc())[1:]


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**15, max_value=10**400),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(["-1s", "1e999", "NaN", "50ms", "1Gbps", "16Gi", "cloud", "cam", "det"]),
        st.integers(min_value=1, max_value=200).map(_nested),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _mutate(doc: Doc, path: tuple[object, ...], op: str, value: object) -> None:
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if op == "replace":
        parent[key] = value
    elif op == "delete" and isinstance(parent, dict):
        del parent[key]
    elif op == "delete" and isinstance(parent, list):
        parent.pop(key)  # type: ignore[call-overload]
    elif op == "add" and isinstance(parent, dict):
        parent[str(value)[:10]] = value
    elif op == "add" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))  # type: ignore[index]


mutation = st.tuples(
    st.sampled_from(BASE_PATHS), st.sampled_from(["replace", "delete", "add"]), junk
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_fuzz_mutated_documents_raise_only_scenario_error(
    mutations: list[tuple[tuple[object, ...], str, object]],
) -> None:
    doc = base_doc()
    for path, op, value in mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _mutate(doc, path, op, value)  # fails when an earlier mutation removed the path
    try:
        sc = load_scenario(doc)
    except ScenarioError as err:
        assert err.problems
        assert not any(p.startswith("internal error") for p in err.problems), err.problems
    else:
        assert isinstance(sc, Scenario)


BASE_LINES = yaml.safe_dump(base_doc()).splitlines()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(BASE_LINES) - 1), st.text(max_size=30), st.booleans())
def test_fuzz_yaml_text_raises_only_scenario_error(line: int, text: str, replace: bool) -> None:
    lines = list(BASE_LINES)
    if replace:
        lines[line] = lines[line][: len(lines[line]) // 2] + text
    else:
        lines.insert(line, text)
    try:
        load_scenario("\n".join(lines) + "\n")
    except ScenarioError as err:
        assert not any(p.startswith("internal error") for p in err.problems), err.problems


def test_link_contention_is_read() -> None:
    """``network: {contention: true}`` reaches the topology (the engine then queues messages
    on links; see tests/test_engine_contention.py)."""
    doc = yaml.safe_load((SCENARIOS / "quickstart.yaml").read_text())
    doc["infrastructure"]["network"] = {"contention": True}
    assert load_scenario(doc).topology.contention is True
