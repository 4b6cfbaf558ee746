"""The scenario generator: validity, feasibility, determinism, parameters, families, CLI."""

from __future__ import annotations

import doctest
import hashlib
import json
import statistics
from functools import cache
from pathlib import Path

import pytest

import simcontinuum
from simcontinuum.cli import main
from simcontinuum.generate import apps as gen_apps
from simcontinuum.generate import build, emit, family, feasibility, params, topology, units
from simcontinuum.generate.build import generate
from simcontinuum.generate.family import family_seeds, generate_family
from simcontinuum.generate.feasibility import first_fit_problems
from simcontinuum.generate.params import GenerateError
from simcontinuum.generate.templates import TEMPLATES
from simcontinuum.model import Application, Scenario
from simcontinuum.policy.api import constraint_violation
from simcontinuum.policy.check import check_policy
from simcontinuum.scenario.reading import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
SHORT = {"duration": "10s", "warmup": "1s"}


@pytest.mark.parametrize(
    "module", [emit, units, topology, gen_apps, family, params, feasibility, build]
)
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_template_makes_valid_feasible_scenarios(template: str, seed: int) -> None:
    g = generate(template, 14 + 3 * seed, 1 + seed % 3, seed, SHORT)
    assert parse_yaml(g.text) == g.document  # the writer round-trips exactly
    sc = simcontinuum.load(g.text)
    assert len(sc.topology.nodes) == 14 + 3 * seed
    assert len(sc.applications) == 1 + seed % 3
    assert sc.sources, "every scenario has load"
    assert first_fit_problems(sc) == []
    errors = [f for f in check_policy("first-fit", sc) if not f.startswith("warning")]
    assert errors == []
    assert not [f for f in check_policy("first-fit", sc) if "unplaced" in f]


def test_generated_scenario_runs() -> None:
    g = generate("video-analytics", 12, 2, 5, {"duration": "20s", "warmup": "0s"})
    res = simcontinuum.run(g.text, "first-fit", seed=1)
    s = res.summary()
    assert s["requests"] > 0 and s["ok"] > 0


def test_same_inputs_same_bytes_and_seed_matters() -> None:
    a = generate("random", 40, 3, 11, {"load": 0.4})
    b = generate("random", 40, 3, 11, {"load": 0.4})
    c = generate("random", 40, 3, 12, {"load": 0.4})
    assert a.text == b.text
    assert a.text != c.text


def test_cli_writes_identical_files(tmp_path: Path) -> None:
    argv = ["generate", "-t", "smart-city", "-n", "30", "-a", "2", "-s", "4", "--set", "load=0.5"]
    assert main([*argv, "-o", str(tmp_path / "a.yaml")]) == 0
    assert main([*argv, "-o", str(tmp_path / "b.yaml")]) == 0
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()
    assert "--set 'load=0.5'" in (tmp_path / "a.yaml").read_text()  # how it was made


def test_parameters_take_effect() -> None:
    # with the per-device caps lifted, load alone sets the rates: twice the load, twice the rate
    lift = {"device_rate": dict.fromkeys(params.DEVICE_KINDS, 10_000)}
    low = generate("industrial-iot", 60, 2, 3, {"load": 0.2, **lift})
    high = generate("industrial-iot", 60, 2, 3, {"load": 0.4, **lift})

    def rates(g: build.Generated) -> list[float]:
        return [w["arrival"]["rate"] for w in g.document["workload"]]

    assert [round(h / lo, 2) for lo, h in zip(rates(low), rates(high), strict=True)] == [2.0] * len(
        rates(low)
    )
    capped = generate("industrial-iot", 60, 2, 3, {"load": 0.4, "device_rate.sensor": 0.5})
    assert min(rates(capped)) == 0.5  # the vibration sensors
    g = generate("smart-city", 40, 2, 3, {"cores.edge": 32, "mtbf.edge": "1h", "outages": 2})
    sc = simcontinuum.load(g.text)
    assert {n.cores for n in sc.topology.nodes if n.tier == "edge"} == {32}
    assert [f.tier for f in sc.random_failures] == ["edge"]
    assert len(sc.failures) == 2
    assert sc.scoring.weights["cost"] == 1.0
    mix = {"cloud": 0.2, "edge": 0.2, "far_edge": 0.6}
    g = generate("random", 30, 2, 3, {"weights": {"cost": 5}, "tier_mix": mix})
    sc = simcontinuum.load(g.text)
    assert sc.scoring.weights["cost"] == 5.0
    assert sum(n.tier == "cloud" for n in sc.topology.nodes) == 6


def test_bad_parameters_are_named_with_a_fix() -> None:
    with pytest.raises(GenerateError) as err:
        generate("smart-city", 20, 2, 1, {"lod": 0.5, "cores.edg": 4, "slo": "fast"})
    text = str(err.value)
    assert "did you mean 'load'" in text
    assert "did you mean 'edge'" in text
    assert "slo:" in text
    with pytest.raises(GenerateError, match="did you mean 'smart-city'"):
        generate("smart-citi", 20, 2, 1)
    with pytest.raises(GenerateError, match="--nodes"):
        generate("random", 1, 1, 1)


def test_infeasible_draw_names_the_failed_constraint() -> None:
    with pytest.raises(GenerateError) as err:
        generate("video-analytics", 10, 3, 1, {"gpu_share": {"cloud": 0, "edge": 0}})
    assert "labels [gpu]" in str(err.value)
    # capacity: the components ask for more cpu than any node has
    with pytest.raises(GenerateError) as err:
        generate("smart-city", 10, 2, 1, {"cpu_request": 64, "cores": {"cloud": 8, "edge": 4}})
    assert "cpu" in str(err.value)


def test_first_fit_check_reports_capacity() -> None:
    doc = {
        "duration": "1s",
        "infrastructure": {
            "clusters": [{"id": "c", "nodes": [{"id": "n", "tier": "cloud", "cores": 2}]}]
        },
        "applications": [
            {"id": "a", "components": [{"id": "x", "cpu": 1}, {"id": "y", "cpu": 1}]},
            {"id": "b", "components": [{"id": "z", "cpu": 1}]},
        ],
        "workload": [],
    }
    doc["applications"][0]["calls"] = [{"from": "x", "to": "y"}]
    problems = first_fit_problems(simcontinuum.load(doc))
    assert problems == [
        "application 'b' component 'z': cpu: needs 1 cores, the most free on its 1 allowed "
        "node(s) is 0 after placing the applications before it"
    ]


def test_two_thousand_nodes_stay_small() -> None:
    for template in ("smart-city", "random"):
        g = generate(template, 2000, 8, 1)
        assert len(g.text) < 60_000, "node groups keep large files small"
        sc = simcontinuum.load(g.text)
        assert len(sc.topology.nodes) == 2000


def test_family_public_hidden_disjoint_and_reproducible(tmp_path: Path) -> None:
    config = {
        "name": "fam",
        "template": "random",
        "nodes": [12, 20],
        "apps": 2,
        "seed": 9,
        "public": 2,
        "hidden": 3,
        "set": SHORT,
        "vary": {"load": [0.2, 0.4], "app_shape": {"choice": ["chain", "tree"]}},
    }
    m = generate_family(config, tmp_path / "a")
    generate_family(config, tmp_path / "b")
    public = [e["seed"] for e in m["public"]]
    hidden = [e["seed"] for e in m["hidden"]]
    assert len(public) == 2 and len(hidden) == 3
    assert not set(public) & set(hidden)
    for split, n in (("public", 2), ("hidden", 3)):
        files = sorted((tmp_path / "a" / split).glob("*.yaml"))
        assert len(files) == n
        for f in files:
            assert f.read_bytes() == (tmp_path / "b" / split / f.name).read_bytes()
            simcontinuum.load(f)
    assert (tmp_path / "a/manifest.json").read_bytes() == (
        tmp_path / "b/manifest.json"
    ).read_bytes()
    for entry in m["public"] + m["hidden"]:
        data = (tmp_path / "a" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert 12 <= entry["nodes"] <= 20 and 0.2 <= entry["set"]["load"] <= 0.4
    assert json.loads((tmp_path / "a/manifest.json").read_text())["config"]["seed"] == 9
    with pytest.raises(GenerateError, match="not empty"):
        generate_family(config, tmp_path / "a")
    assert family_seeds(9, 2, 3) == (public, hidden)


def test_family_config_errors_are_listed() -> None:
    with pytest.raises(GenerateError) as err:
        generate_family({"template": "random", "seed": -1, "hiden": 2}, "unused")
    text = str(err.value)
    assert "did you mean 'hidden'" in text and "seed:" in text


def test_cli_family_example_and_list_params(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "challenge"
    assert main(["generate", "--family", str(ROOT / "examples/family.yaml"), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(list((out / "hidden").glob("*.yaml"))) == len(manifest["hidden"]) > 0
    assert main(["generate", "--list-params", "--template", "industrial-iot"]) == 0
    listed = capsys.readouterr().out
    assert "tier_mix" in listed and "0.005" in listed  # the template's own default
    assert main(["generate", "--template", "nope", "-o", str(tmp_path / "x.yaml")]) == 2
    assert main(["generate", "-t", "random", "--set", "load", "-o", str(tmp_path / "x.yaml")]) == 2


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    assert "examples:" in capsys.readouterr().out


# ----------------------------------------------------------------------------- load calibration


def _visits(app: Application) -> dict[str, int]:
    """Visits per request: call paths from the entry to each component."""

    @cache
    def visits(cid: str) -> int:
        if cid == app.entry:
            return 1
        return sum(visits(c.src) for c in app.calls if c.dst == cid)

    return {c.id: visits(c.id) for c in app.components}


def _reference_capacity(sc: Scenario, app: Application, cid: str) -> float:
    """Cores x speed of the lower-quartile non-far-edge node the component may use."""
    comp = app.component(cid)
    gpu = comp.accelerator is not None and "gpu" in comp.placement.labels
    caps = sorted(
        n.cores * n.speed * (n.gpu.speedup if gpu and n.gpu else 1.0)
        for n in sc.topology.nodes
        if n.tier != "far_edge" and constraint_violation(comp, n) is None
    )
    return caps[int(0.25 * (len(caps) - 1))]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("load", [0.3, 0.7])
def test_each_component_fits_one_typical_node(template: str, load: float) -> None:
    caps = params.resolve(TEMPLATES[template].defaults, {})["device_rate"]
    for seed in (1, 2):
        g = generate(template, 80, 4, seed, {"load": load})
        sc = simcontinuum.load(g.text)
        kind = {n.id: next(iter(n.labels), "") for n in sc.topology.nodes}
        for app in sc.applications:
            sources = [s for s in sc.sources if s.app == app.id]
            arrival = sources[0].arrival
            peak = 1.0 + arrival.amplitude if arrival.type == "diurnal" else 1.0
            per_source = arrival.mean_rate if arrival.type == "diurnal" else arrival.rate
            for s in sources:  # a device sends no more than a device of its kind may
                if kind.get(s.node) in caps:
                    assert per_source <= caps[kind[s.node]]
            demand = peak * per_source * len(sources)  # requests/s at the peak
            fill = min(max(0.8, load), load * peak)
            visits = _visits(app)
            for comp in app.components:
                need = demand * visits[comp.id] * comp.work.mean
                assert need <= fill * _reference_capacity(sc, app, comp.id) * 1.001, (
                    f"{g.template} seed {seed}: {app.id}/{comp.id} needs more than one node"
                )


def test_warmup_auto_covers_the_cold_start() -> None:
    g = generate("video-analytics", 40, 3, 1)  # GPU images of up to 1.2 GB
    warmup = float(g.document["warmup"].rstrip("s"))
    assert 5.0 < warmup <= 30.0
    assert generate("video-analytics", 40, 3, 1, {"warmup": "3s"}).document["warmup"] == "3s"
    short = generate("video-analytics", 40, 3, 1, {"duration": "10s"})
    assert short.document["warmup"] == "5s"  # at most half the run


FAIR = {"duration": "30s"}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_generated_scenarios_are_a_fair_challenge(template: str) -> None:
    """A sensible policy copes (k8s-default: p95 within 3x the largest SLO, no node busier
    than 90% on average), and a latency-aware one beats a random one."""
    scores: dict[str, list[float]] = {"latency-greedy": [], "random": []}
    for seed in (1, 2, 3):
        sc = simcontinuum.load(generate(template, 30, 3, seed, FAIR).text)
        slo = max(a.slo.latency_target or 0.0 for a in sc.applications if a.slo)
        res = simcontinuum.run(sc, "k8s-default", seed=seed)
        p95 = res.summary()["p95_latency_s"]
        assert p95 <= 3 * slo, f"seed {seed}: k8s-default p95 {p95:.3f}s, SLO {slo:.3f}s"
        tel = res.telemetry
        util = tel[tel["metric"] == "node_cpu_utilisation"].groupby("id")["value"].mean()
        assert util.max() <= 0.9, f"seed {seed}: node {util.idxmax()} at {util.max():.2f}"
        for policy, out in scores.items():
            out.append(simcontinuum.run(sc, policy, seed=seed).summary()["score"])
    assert statistics.mean(scores["latency-greedy"]) < statistics.mean(scores["random"]), scores
