"""The genetic algorithm and fixed placements: round trip, determinism, better than random."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import simcontinuum
from simcontinuum.cli import main
from simcontinuum.errors import PolicyError
from simcontinuum.learn.fixed import FixedPlacement, read_placement, write_placement
from simcontinuum.learn.ga import OptimizeError, decode, layout, optimize, repair
from simcontinuum.policy.registry import load_policy

ROOT = Path(__file__).resolve().parent.parent


def short(name: str, duration: str = "30s") -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc["duration"] = duration
    doc["warmup"] = "5s"
    return doc


def placed(res: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for comp, node in zip(res.replicas["component"], res.replicas["node"], strict=True):
        out.setdefault(comp, []).append(node)
    return out


# ----------------------------------------------------------------------------- fixed


def test_fixed_spec_round_trip(tmp_path: Path) -> None:
    plan = {
        "video": {"detector": ["edge-1"], "classifier": "edge-0"},
        "ingest": {"store": ["edge-1"]},
    }
    path = write_placement(plan, tmp_path / "best.yaml", comment="hand-made\nsecond line")
    assert path.read_text().startswith("# hand-made\n# second line\n")
    assert read_placement(path)["video"]["classifier"] == ["edge-0"]
    policy = load_policy(f"fixed:{path}")
    assert isinstance(policy, FixedPlacement) and policy.name == "fixed:best.yaml"
    res = simcontinuum.run(short("quickstart"), policy, seed=0, reference=False)
    assert placed(res) == {"detector": ["edge-1"], "classifier": ["edge-0"], "store": ["edge-1"]}
    assert policy.fallbacks == 0
    # a placement a GA writes replays to the same score
    again = simcontinuum.run(short("quickstart"), f"fixed:{path}", seed=0, reference=False)
    assert again.summary()["score"] == res.summary()["score"]


def test_fixed_falls_back_where_the_file_cannot_be_followed() -> None:
    doc = short("quickstart")
    policy = FixedPlacement({"video": {"detector": ["no-such-node"], "classifier": ["cam-0"]}})
    res = simcontinuum.run(doc, policy, seed=0, reference=False)
    where = placed(res)
    # cam-0 is far edge (not allowed): its nearest allowed node; ingest is not listed: first-fit
    assert where["classifier"] == ["edge-0"] and where["store"] == ["cloud-0"]
    assert where["detector"] == ["cloud-0"]
    assert policy.fallbacks == 3
    assert (res.actions["outcome"] == "applied").all()


def test_bad_placement_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"placement file 'nope\.yaml' not found"):
        load_policy("fixed:nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("video: [edge-0]\n")
    with pytest.raises(PolicyError, match=r"video: expected a mapping component"):
        load_policy(f"fixed:{bad}")
    bad.write_text("video: {detector: [1, 2]}\n")
    with pytest.raises(PolicyError, match=r"video.detector: expected a list of node ids"):
        load_policy(f"fixed:{bad}")
    with pytest.raises(PolicyError, match="give a file after 'fixed:'"):
        load_policy("fixed: ")


# ----------------------------------------------------------------------------- GA


def test_layout_respects_constraints_and_repair_capacity() -> None:
    sc = simcontinuum.load(short("hackathon"))
    slots = layout(sc)
    assert [(s.component, s.choices) for s in slots] == [
        ("detector", ("group1-node1",)),
        ("classifier", ("group1-node1", "group1-node2", "cloud-node1")),
    ]
    doc = short("quickstart")
    doc["infrastructure"]["clusters"][0]["nodes"][0]["cores"] = 1
    doc["applications"][0]["components"][0]["cpu"] = "800m"
    sc = simcontinuum.load(doc)
    slots = layout(sc)
    cloud = [s.choices.index("cloud-0") for s in slots]
    genome = repair(np.array(cloud), slots, sc, np.random.default_rng(0))
    plan = decode(genome, slots)
    on_cloud = [c for a in plan.values() for c, nodes in a.items() if "cloud-0" in nodes]
    assert on_cloud == ["detector"]


def test_same_seed_same_result() -> None:
    doc = short("quickstart")
    a = optimize(doc, generations=3, population=6, seeds=[0], seed=5)
    b = optimize(doc, generations=3, population=6, seeds=[0], seed=5)
    assert a.placement == b.placement and a.score == b.score
    assert a.history.drop(columns="wall_s").equals(b.history.drop(columns="wall_s"))
    assert a.history["generation"].tolist() == [0, 1, 2, 3]
    assert a.history["best"].is_monotonic_decreasing  # elitism keeps the best
    c = optimize(doc, generations=3, population=6, seeds=[0], seed=6, crossover="one-point")
    assert len(c.history) == 4


def test_ga_beats_random_placement() -> None:
    doc = short("quickstart")
    seeds = [0, 1]
    best = optimize(doc, generations=4, population=8, seeds=seeds, seed=1)
    rand = [
        simcontinuum.run(doc, "random", seed=s, reference=False).summary()["score"]
        for s in range(6)
    ]
    assert best.score < float(np.mean(rand))
    assert best.score <= min(best.history["best"]) + 1e-12
    ff = np.mean([simcontinuum.run(doc, "first-fit", seed=s).summary()["score"] for s in seeds])
    assert best.score < ff


def test_process_executor_gives_the_same_result() -> None:
    doc = short("quickstart", "20s")
    inline = optimize(doc, generations=1, population=4, seeds=[0], seed=2)
    procs = optimize(doc, generations=1, population=4, seeds=[0], seed=2, jobs=2)
    assert procs.executor == "process" and procs.workers == 2
    assert procs.placement == inline.placement and procs.score == inline.score


def test_bad_arguments() -> None:
    doc = short("quickstart")
    with pytest.raises(OptimizeError, match="population must be >= 2"):
        optimize(doc, population=1)
    with pytest.raises(OptimizeError, match="crossover must be one of"):
        optimize(doc, crossover="two-point")
    with pytest.raises(OptimizeError, match="at least one evaluation seed"):
        optimize(doc, seeds=[])


def test_cli_optimize_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = tmp_path / "qs.yaml"
    scen.write_text(yaml.safe_dump(short("quickstart", "20s")))
    out = tmp_path / "best.yaml"
    args = ["optimize", str(scen), "--generations", "2", "--population", "4", "--seed", "3"]
    assert main([*args, "-o", str(out)]) == 0
    text = capsys.readouterr()
    assert "gen" in text.out and "best placement" in text.out and "replay:" in text.err
    first = out.read_text()
    assert main([*args, "-o", str(out), "-q"]) == 0
    assert out.read_text() == first  # same seed, same file
    assert main(["run", str(scen), "--policy", f"fixed:{out}", "--seed", "0", "--json"]) == 0
    score = json.loads(capsys.readouterr().out)["score"]
    assert f"{score:.6g}" in first
    assert main(["optimize", str(scen), "--population", "1", "-o", str(out)]) == 2
    assert "population must be >= 2" in capsys.readouterr().err
