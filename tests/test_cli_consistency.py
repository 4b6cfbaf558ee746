"""One meaning of --seeds, examples that exist, policies by name, honest score labels,
warnings for implausible bare numbers, validated accelerators, and ML/RL paths that say
what to install when the extras are missing."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

import simcontinuum
from simcontinuum.argtypes import seed_set
from simcontinuum.cli import Exit, build_parser, main
from simcontinuum.errors import ScenarioError
from simcontinuum.scenario import load_scenario
from simcontinuum.scenario.plausible import ScenarioWarning

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "scenarios" / "quickstart.yaml"
HACK = ROOT / "scenarios" / "hackathon.yaml"


def test_seeds_mean_the_same_everywhere() -> None:
    assert seed_set("3").resolve() == [0, 1, 2]
    assert seed_set("3").resolve(first_seed=5) == [5, 6, 7]
    assert seed_set("2..4").resolve(first_seed=9) == [2, 3, 4]
    for bad in ("0", "-1", "x", "4..2", "1..x"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_set(bad)
    parser = build_parser()
    for argv in (
        ["bench", "--policies", "first-fit", "--scenarios", "s", "--out", "o"],
        ["leaderboard", "subs", "--scenarios", "s", "--out", "o"],
        ["dataset", "s", "-o", "d.csv"],
    ):
        for seeds, want in (("3", [0, 1, 2]), ("4..5", [4, 5])):
            args = parser.parse_args([*argv, "--seeds", seeds])
            assert args.seeds.resolve(args.first_seed) == want, argv


def test_help_examples_name_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """Every FILE.py:Class in a --help text is a class of that file."""
    texts = []
    for argv in (["--help"], ["run", "--help"], ["check-policy", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        texts.append(capsys.readouterr().out)
    examples = [
        ln for t in texts for ln in t.splitlines() if ln.strip().startswith("simcontinuum ")
    ]
    specs = set(re.findall(r"([\w/.-]+\.py):(\w+)", "\n".join(examples)))
    assert specs, "the help texts show a policy file"
    for path, cls in specs:
        source = (ROOT / path).read_text()
        assert f"class {cls}" in source, f"{path}:{cls} in --help does not exist"


def test_bench_labels_file_policies_by_name(tmp_path: Path) -> None:
    from simcontinuum.experiment.bench import run_bench

    scen = tmp_path / "q.yaml"
    doc = yaml.safe_load(QUICK.read_text())
    doc["duration"] = "20s"
    scen.write_text(yaml.safe_dump(doc))
    res = run_bench(
        ["first-fit", "examples/my_policy.py:NearestWithRoom"],
        [scen],
        [0],
        None,
        baseline="examples/my_policy.py:NearestWithRoom",
    )
    assert set(res.runs["policy"]) == {"first-fit", "nearest-with-room"}


def test_score_table_says_what_failed_rate_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(HACK), "--quiet"]) == Exit.OK
    out = capsys.readouterr().out
    assert "failed_rate (failed + dropped)" in out
    assert "× first-fit: each part divided by the same part of the reference policy" in out


def _doc(**link: object) -> dict[str, object]:
    doc = yaml.safe_load(QUICK.read_text())
    doc["infrastructure"]["links"][0].update(link)
    return doc


def test_bare_numbers_that_are_implausible_warn() -> None:
    with pytest.warns(ScenarioWarning) as caught:
        load_scenario(_doc(latency=25, bandwidth=100))
    text = [str(w.message) for w in caught]
    assert any("links[0].latency: 25 has no unit, so it is 25 s" in t for t in text)
    assert any("links[0].bandwidth: 100 has no unit, so it is 100 bit/s" in t for t in text)
    doc = _doc(latency="25s", bandwidth="100bps")  # with units: taken at their word
    doc["duration"] = 7200  # over an hour, bare
    with pytest.warns(ScenarioWarning, match=r"duration: 7200 has no unit.*\(2 h\)"):
        load_scenario(doc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in sorted((ROOT / "scenarios").glob("*.yaml")):
            load_scenario(f)  # the shipped files are plausible


def test_validate_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(_doc(latency=25)))
    assert main(["validate", str(f)]) == Exit.OK
    err = capsys.readouterr().err
    assert f"warning: {f}: infrastructure.links[0].latency: 25 has no unit" in err
    assert "loader.py" not in err


def test_accelerators_are_validated_and_only_matching_ones_speed_up() -> None:
    doc = yaml.safe_load(HACK.read_text())
    doc["applications"][0]["components"][1]["accelerator"] = "tpu"
    with pytest.raises(ScenarioError, match=r"accelerator: 'tpu' is not offered by any node"):
        load_scenario(doc)
    lat = {}
    for acc in ("gpu", "t4"):
        doc["applications"][0]["components"][1]["accelerator"] = acc
        res = simcontinuum.run(doc, policy="two-level", seed=1, telemetry=False)
        lat[acc] = res.summary()["p95_latency_s"]
    assert lat["gpu"] == lat["t4"]  # the model name of the node's GPU: the same speed-up
    doc["infrastructure"]["clusters"][0]["nodes"][1]["gpu"]["model"] = "a100"
    doc["applications"][0]["components"][1]["accelerator"] = "a100"
    same = simcontinuum.run(doc, policy="two-level", seed=1, telemetry=False)
    assert same.summary()["p95_latency_s"] == lat["gpu"]


BLOCK = textwrap.dedent(
    """\
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):  # the ML/RL extras are not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("sklearn", "joblib", "gymnasium"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import importlib.util
    real = importlib.util.find_spec
    def find_spec(name, *a, **k):
        if name.split(".")[0] in ("sklearn", "joblib", "gymnasium"):
            return None
        return real(name, *a, **k)
    importlib.util.find_spec = find_spec
    """
)


def _without_extras(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "noextras.py"
    script.write_text(BLOCK + textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_train_without_sklearn_names_the_install_line(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n")
    proc = _without_extras(
        tmp_path,
        f"""
        from simcontinuum.cli import main
        raise SystemExit(main(["train", {str(data)!r}, "-o", {str(tmp_path / "m.joblib")!r}]))
        """,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'simcontinuum[ml]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ml_policy_without_sklearn_does_not_blame_the_file(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from simcontinuum.learn.datasets import dataset
    from simcontinuum.learn.mlpolicy import save_model, train_latency_model

    data = dataset(str(QUICK), "random", [0], window=10.0)
    save_model(train_latency_model(data, kind="random-forest"), tmp_path / "m.joblib")
    proc = _without_extras(
        tmp_path,
        f"""
        from simcontinuum.cli import main
        raise SystemExit(main(["run", {str(QUICK)!r}, "--policy", "ml:{tmp_path / "m.joblib"}"]))
        """,
    )
    assert proc.returncode == 2, proc.stderr
    assert "needs the module 'sklearn' to load" in proc.stderr
    assert "pip install 'simcontinuum[ml]'" in proc.stderr
    assert "cannot be loaded" not in proc.stderr and "Traceback" not in proc.stderr


def test_rl_example_without_gymnasium_names_the_install_line(tmp_path: Path) -> None:
    proc = _without_extras(
        tmp_path,
        """
        from simcontinuum.learn.qlearning import main
        raise SystemExit(main(["--steps", "1"]))
        """,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'simcontinuum[rl]'" in proc.stderr
