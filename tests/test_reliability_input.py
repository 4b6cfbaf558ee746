"""Reliability, bad input: every class of bad scenario or argument is refused with exit 2,
no traceback, a message naming the place and the fix, and nothing written to ``--out``.

The fuzz test at the end feeds mutated scenario documents to :func:`simcontinuum.load` and
proves it only ever raises :class:`~simcontinuum.errors.ScenarioError`. It runs 2,000
documents by default; ``SIMCONTINUUM_FUZZ_EXAMPLES=100000 pytest -k fuzz_mutated`` runs a
longer campaign locally. (``tests/test_scenario.py`` keeps its own 300-example fuzz test of
its richer document; this one is the larger, broader campaign: unicode keys and values,
non-text keys, type swaps, deep nesting, huge numbers, whole-document junk, YAML text.)
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simcontinuum
from simcontinuum.cli import Exit, main
from simcontinuum.errors import ScenarioError
from simcontinuum.model import Scenario
from simcontinuum.results import Results
from simcontinuum.scenario import validate_file

ROOT = Path(__file__).resolve().parents[1]
Doc = dict[str, Any]


def small_doc() -> Doc:
    """A valid scenario of four nodes and one two-component application (runs in ~0.1 s)."""
    return {
        "version": 1,
        "name": "reliability",
        "seed": 1,
        "duration": "5s",
        "infrastructure": {
            "registry": "cloud-0",
            "clusters": [
                {
                    "id": "cloud",
                    "nodes": [{"id": "cloud-0", "tier": "cloud", "cores": 8, "memory": "16Gi"}],
                },
                {
                    "id": "site",
                    "nodes": [{"id": "edge-0", "tier": "edge", "cores": 4, "memory": "8Gi"}],
                    "node_groups": [
                        {"prefix": "cam", "count": 2, "tier": "far_edge", "memory": "1Gi"}
                    ],
                },
            ],
            "links": [
                {"a": "cloud-0", "b": "edge-0", "latency": "20ms", "bandwidth": "1Gbps"},
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
                        "work": {"dist": "exponential", "mean": "10ms"},
                        "placement": {"tiers": ["edge", "cloud"]},
                    },
                    {"id": "cls", "cpu": "250m", "work": {"dist": "constant", "mean": "2ms"}},
                ],
                "calls": [{"from": "det", "to": "cls", "request_size": "10KB"}],
            }
        ],
        "workload": [
            {"app": "video", "from_group": "cam", "arrival": {"type": "poisson", "rate": "5/s"}}
        ],
    }


def edited(edit: Callable[[Doc], object]) -> Doc:
    doc = small_doc()
    edit(doc)
    return doc


def comp0(doc: Doc) -> Doc:
    return doc["applications"][0]["components"][0]


def cluster(doc: Doc, i: int) -> Doc:
    return doc["infrastructure"]["clusters"][i]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; argparse's own exit (bad arguments) counts as a return."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], out: Path, *argv: str) -> str:
    """``simcontinuum run ... --out OUT`` exits 2 without a traceback and writes nothing."""
    code, stdout, err = cli(capsys, "run", *argv, "--out", str(out), "--quiet")
    assert code == Exit.BAD_INPUT, (code, stdout, err)
    assert "Traceback" not in err + stdout
    assert not out.exists(), "a refused run wrote its --out folder"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    assert not leftovers, leftovers
    return err


# ----------------------------------------------------------------------------- scenarios

TRACE_BAD_COLUMNS = "time_s,app\n0.1,video\n0.2\n"
TRACE_BAD_TIME = "time_s\n0.1\nabc\n"


def _many_cores(doc: Doc) -> None:
    cluster(doc, 1)["node_groups"][0].update(count=100_000, cores=1000)


BAD_SCENARIOS: list[tuple[str, Callable[[Doc], object], list[str]]] = [
    (
        "schema-every-problem-at-once",
        lambda d: (
            d.update(duration="soon"),
            cluster(d, 0)["nodes"][0].update(cores="many"),
            comp0(d).update(cpu=-2),
            d["applications"][0].update(componets=[]),
        ),
        [
            "4 problems in the scenario",
            "duration: expected a duration like 20ms or 1.5s, got 'soon'",
            "infrastructure.clusters[0].nodes[0].cores: expected a whole number of cores "
            "(1 or more), got 'many'",
            "applications[0].components[0].cpu: expected a positive quantity like 250m or 0.5, "
            "got '-2'",
            "applications[0].componets: unknown key; did you mean 'components'?",
        ],
    ),
    (
        "missing-required-keys",
        lambda d: (d.pop("duration"), d["workload"][0].pop("arrival")),
        ["duration: required key missing", "workload[0].arrival: required key missing"],
    ),
    (
        "cycle",
        lambda d: d["applications"][0]["calls"].append({"from": "cls", "to": "det"}),
        ["applications[0].calls: the call graph has a cycle: det -> cls -> det"],
    ),
    (
        "call-to-unknown-component",
        lambda d: d["applications"][0]["calls"][0].update(to="clss"),
        ["applications[0].calls[0].to: unknown component 'clss'; did you mean 'cls'?"],
    ),
    (
        "workload-unknown-app-and-source",
        lambda d: (
            d["workload"][0].update(app="vidoe"),
            d["workload"].append(
                {"app": "video", "from": "edge-9", "arrival": {"type": "poisson", "rate": 1}}
            ),
            d["workload"].append(
                {"app": "video", "from_group": "cams", "arrival": {"type": "poisson", "rate": 1}}
            ),
        ),
        [
            "workload[0].app: unknown application 'vidoe'; did you mean 'video'?",
            "workload[1].from: unknown node 'edge-9'; did you mean 'edge-0'?",
            "workload[2].from_group: unknown node group 'cams'; did you mean 'cam'?",
        ],
    ),
    (
        "disconnected-topology",
        lambda d: d["infrastructure"]["links"].pop(0),
        [
            "infrastructure.links: 3 node(s) cannot be reached from 'cloud-0' over the links: "
            "edge-0, cam-0, cam-1; add links to connect them"
        ],
    ),
    (
        "fits-no-node-cpu",
        lambda d: comp0(d).update(cpu=64),
        [
            "applications[0].components[0]: fits no node: cpu 64 cores excludes all 2 nodes "
            "left by tiers [edge, cloud] (the most any has is 8)"
        ],
    ),
    (
        "fits-no-node-label",
        lambda d: comp0(d).update(placement={"tiers": ["far_edge"], "labels": ["gpu"]}),
        [
            "applications[0].components[0]: fits no node: labels [gpu] excludes all 2 nodes "
            "left by tiers [far_edge]"
        ],
    ),
    (
        "negative-and-nan",
        lambda d: (
            comp0(d).update(cpu="-1", memory=math.nan),
            d["workload"][0]["arrival"].update(rate=".nan"),
            d["infrastructure"]["links"][0].update(latency=-0.001),
        ),
        [
            "infrastructure.links[0].latency: expected a duration like 20ms or 1.5s, got '-0.001'",
            "applications[0].components[0].cpu: expected a positive quantity like 250m or 0.5, "
            "got '-1'",
            "applications[0].components[0].memory: expected memory like 512Mi or 16Gi, "
            "got 'nan' (not a finite number)",
            "workload[0].arrival.rate: expected a rate like 30/s or 100/min, got '.nan' "
            "(not a finite number)",
        ],
    ),
    (
        "node-group-of-10^12",
        lambda d: cluster(d, 1)["node_groups"][0].update(count=10**12),
        [
            "infrastructure.clusters[1].node_groups[0].count: a node group holds at most "
            "100000 nodes, got 1000000000000; describe fewer, more powerful devices"
        ],
    ),
    (
        "node-of-10^9-cores",
        lambda d: cluster(d, 0)["nodes"][0].update(cores=10**9),
        [
            "infrastructure.clusters[0].nodes[0].cores: a node has at most 1000000 cores, "
            "got 1000000000; split it into several nodes or a node group"
        ],
    ),
    (
        "10^8-cores-in-all",
        _many_cores,
        [
            "infrastructure.clusters: the nodes add up to 100000012 cores, more than the limit "
            "of 20000000; describe fewer or smaller nodes"
        ],
    ),
    (
        "nanosecond-intervals-and-mtbf",
        lambda d: d.update(
            telemetry={"interval": "1ns"},
            control={"interval": "100ns"},
            failures=[{"random": {"mtbf": "1us", "mttr": "1us"}}],
        ),
        [
            "telemetry.interval: 1e-09s makes 5e+09 samples over the 5s horizon, more than "
            "10000000; use a longer interval",
            "control.interval: 1e-07s makes 5e+07 policy calls",
            "failures[0].random: about 1e+07 failures expected over the 5s horizon on 4 node(s), "
            "more than 1000000; raise mtbf",
        ],
    ),
    (
        "duplicate-ids",
        lambda d: (
            cluster(d, 1)["nodes"].append({"id": "cloud-0", "tier": "edge"}),
            d["applications"][0]["components"].append({"id": "det"}),
            d["applications"].append({"id": "video", "components": [{"id": "x"}]}),
        ),
        [
            "infrastructure.clusters[1].nodes[1]: duplicate node id 'cloud-0' (first declared "
            "at infrastructure.clusters[0].nodes[0])",
            "applications[0].components[2]: duplicate component id 'det' (first declared at "
            "applications[0].components[0])",
            "applications[1]: duplicate application id 'video' (first declared at applications[0])",
        ],
    ),
    (
        "trace-missing",
        lambda d: d["workload"][0].update(arrival={"type": "trace", "path": "nope.csv"}),
        ["workload[0].arrival.path: trace file 'nope.csv' not found (looked for "],
    ),
    (
        "trace-wrong-columns",
        lambda d: d["workload"][0].update(arrival={"type": "trace", "path": "cols.csv"}),
        ["workload[0].arrival.path: cols.csv line 3: expected 2 columns, got 1"],
    ),
    (
        "trace-bad-time",
        lambda d: d["workload"][0].update(arrival={"type": "trace", "path": "time.csv"}),
        ["workload[0].arrival.path: time.csv line 3: time_s 'abc' is not a non-negative number"],
    ),
    (
        "future-version",
        lambda d: d.update(version=2),
        ["version: this simcontinuum reads scenario version 1, got 2; upgrade simcontinuum"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [pytest.param(edit, expected, id=name) for name, edit, expected in BAD_SCENARIOS],
)
def test_bad_scenario_is_refused_with_every_problem(
    edit: Callable[[Doc], object],
    expected: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "cols.csv").write_text(TRACE_BAD_COLUMNS)
    (tmp_path / "time.csv").write_text(TRACE_BAD_TIME)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(edited(edit), sort_keys=False))
    err = refused(capsys, tmp_path / "out", str(path))
    assert err.startswith(f"{path}: "), err  # the file first, then one line per problem
    for line in expected:
        assert line in err, f"missing {line!r} in:\n{err}"
    # validate reports the same problems, and the library raises them as one ScenarioError
    code, _, verr = cli(capsys, "validate", str(path))
    assert code == Exit.BAD_INPUT and verr.strip() == err.strip()
    with pytest.raises(ScenarioError) as info:
        simcontinuum.load(path)
    assert str(info.value).strip() == err.strip()


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("version: 1\nname: a: b\n", ":2:8:", "mapping values are not allowed"),
        ("version: 1\nname: [x\nduration: 5s\n", ":3:9:", "did not find expected ',' or ']'"),
        ("version: 1\nname: x\nname: y\n", ":3:1:", "duplicate key 'name' (first given on line 2)"),
        ("version: 1\n\tname: x\n", ":2:1:", "found a tab character that violates indentation"),
    ],
    ids=["mapping", "unclosed", "duplicate-key", "tab"],
)
def test_yaml_syntax_error_names_file_line_and_column(
    text: str, where: str, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    err = refused(capsys, tmp_path / "out", str(path))
    assert f"{path}{where} invalid YAML: {what}" in err, err


def test_empty_and_non_mapping_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    err = refused(capsys, tmp_path / "out", str(empty))
    assert "the scenario is empty; start from scenarios/quickstart.yaml" in err
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    err = refused(capsys, tmp_path / "out", str(listed))
    assert "(top level): expected a mapping of keys (version, name, duration, ...)" in err


def test_a_bad_scenario_never_touches_an_existing_out_even_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(edited(lambda d: comp0(d).update(cpu=-1))))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = cli(capsys, "run", str(bad), "--out", str(out), "--force", "--quiet")
    assert code == Exit.BAD_INPUT and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- arguments


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(small_doc(), sort_keys=False))
    return path


def test_unknown_policy_suggests_the_closest(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, tmp_path / "out", str(good), "--policy", "frist-fit")
    assert "error: unknown policy 'frist-fit'; did you mean 'first-fit'?" in err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("{tmp}/nope.py:Mine", "error: policy file '{tmp}/nope.py' not found"),
        ("{tmp}/syntax.py:Mine", "cannot import policy file '{tmp}/syntax.py': SyntaxError"),
        ("{tmp}/ok.py:Other", "no class 'Other' in the module; classes with place(): Mine"),
    ],
    ids=["missing-file", "syntax-error", "missing-class"],
)
def test_bad_policy_files(
    spec: str, expected: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "syntax.py").write_text("def (:\n")
    (tmp_path / "ok.py").write_text(
        "class Mine:\n    def place(self, app, view):\n        return {}\n"
    )
    err = refused(capsys, tmp_path / "out", str(good), "--policy", spec.format(tmp=tmp_path))
    assert expected.format(tmp=tmp_path) in err, err


def test_missing_folder_and_binary_scenario_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such.yaml"
    assert f"{missing}: no such file" in refused(capsys, tmp_path / "out", str(missing))
    assert f"{tmp_path}: is a folder, expected a .yaml file" in refused(
        capsys, tmp_path / "out", str(tmp_path)
    )
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"version: 1\n\xff\xfe")
    err = refused(capsys, tmp_path / "out", str(binary))
    assert f"{binary}: not UTF-8 text (byte 11); save the file as UTF-8" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked.yaml"
    locked.write_text(yaml.safe_dump(small_doc()))
    locked.chmod(0)
    err = refused(capsys, tmp_path / "out", str(locked))
    assert f"{locked}: cannot read the file: Permission denied" in err


def test_a_special_file_is_refused_without_reading_it_all() -> None:
    code = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (768 * 2**20, 768 * 2**20))  # bounded here
        from simcontinuum.cli import main
        sys.exit(main(["validate", "/dev/zero"]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == Exit.BAD_INPUT
    assert "internal error" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr
    assert "/dev/zero:" in proc.stderr


@pytest.mark.parametrize("seed", ["-1", "1.5", "abc", ""])
def test_bad_seeds(
    seed: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, tmp_path / "out", str(good), "--seed", seed)
    assert f"argument --seed/-s: a seed is a whole number from 0 to 2**63 - 1, got {seed!r}" in err


def test_a_seed_too_large_names_the_limit(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, tmp_path / "out", str(good), "--seed", str(2**63))
    assert "2**63 - 1" in err, err


def test_out_with_other_content_is_refused_unless_force(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's")
    code, _, err = cli(capsys, "run", str(good), "--out", str(out), "--quiet")
    assert code == Exit.BAD_INPUT and "Traceback" not in err
    assert (
        f"error: --out {out}: folder exists and is not empty; add --force to replace it, "
        "or choose another path"
    ) in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # an empty folder is fine, and --force replaces the content with the results
    code, _, _ = cli(capsys, "run", str(good), "--out", str(out), "--force", "--quiet")
    assert code == Exit.OK
    assert not (out / "notes.txt").exists()
    assert Results.load(out).meta["status"] == "complete"
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = cli(capsys, "run", str(good), "--out", str(afile), "--quiet")
    assert code == Exit.BAD_INPUT
    assert f"--out {afile}: exists and is not a folder; choose another path" in err
    assert afile.read_text() == "x"


def test_bad_input_in_a_real_process(tmp_path: Path) -> None:
    """The installed entry point behaves like ``main``: exit 2, the message, no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(edited(lambda d: d["applications"][0].pop("components"))))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "simcontinuum.cli", "run", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == Exit.BAD_INPUT
    assert "applications[0].components: required key missing" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


# ----------------------------------------------------------------------------- fuzz

FUZZ_EXAMPLES = int(os.environ.get("SIMCONTINUUM_FUZZ_EXAMPLES", "2000"))


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def fuzz_base() -> Doc:
    """The small document with every optional section, so each can be mutated."""
    doc = small_doc()
    doc.update(
        warmup="1s",
        telemetry={"interval": "1s", "collector": "cloud-0", "loss": 0.1},
        control={"interval": "2s", "policy_timeout": "1s"},
        failures=[
            {"at": "2s", "node": "edge-0", "for": "1s"},
            {"random": {"tier": "far_edge", "mtbf": "1h", "mttr": "1min"}},
        ],
        scoring={"weights": {"cost": 1.0}, "reference_policy": "first-fit"},
    )
    doc["applications"][0]["slo"] = {"p95_latency": "50ms"}
    doc["applications"][0]["components"][0]["replicas"] = {"min": 1, "max": 2}
    return doc


FUZZ_PATHS = _paths(fuzz_base())  # () included: the whole document may be replaced

unicode_text = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates too
huge = st.one_of(
    st.integers(min_value=10**15, max_value=10**400),
    st.integers(max_value=-(10**15)),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -0.0, 5e-324, 2**63, 2**64]),
)
quantity = st.sampled_from(
    [
        *("-1s", "1e999", "NaN", "-inf", "50ms", "0", "1Gbps", "16Gi", "250m", "30/s", "1e-400s"),
        *("cloud", "edge-0", "cam", "det", "cls", "video", "first-fit", "Mi", "1.5.5s", " 5s "),
    ]
)


def _nested(depth: int) -> object:
    value: object = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(),
    huge,
    unicode_text,
    quantity,
    st.integers(min_value=30, max_value=60).map(_nested),  # around MAX_DEPTH = 40
)
key = st.one_of(unicode_text, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
junk = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
    max_leaves=6,
)
OPS = ("replace", "delete", "add_key", "wrap_list", "wrap_dict", "stringify", "duplicate")
mutation = st.tuples(st.sampled_from(FUZZ_PATHS), st.sampled_from(OPS), junk, key)


def mutate(doc: Any, path: tuple[object, ...], op: str, value: object, new_key: object) -> Any:
    """``doc`` with one mutation at ``path``; returns the (possibly replaced) root."""
    if not path:
        return value if op == "replace" else doc
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    k = path[-1]
    old = parent[k]
    if op == "replace":
        parent[k] = value
    elif op == "delete":
        del parent[k]
    elif op == "add_key" and isinstance(old, dict):
        old[new_key] = value
    elif op == "wrap_list":
        parent[k] = [old]
    elif op == "wrap_dict":
        parent[k] = {new_key: old}
    elif op == "stringify":
        parent[k] = str(old)
    elif op == "duplicate" and isinstance(old, list) and old:
        old.append(copy.deepcopy(old[-1]))
    return doc


def _as_yaml(doc: object) -> str | None:
    with contextlib.suppress(Exception):  # not every junk value has a YAML form
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        return text if "\n" in text else None
    return None


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutation, min_size=1, max_size=4), st.booleans())
def test_fuzz_mutated_documents_raise_only_scenario_error(
    mutations: list[tuple[tuple[object, ...], str, object, object]], as_text: bool
) -> None:
    doc: Any = fuzz_base()
    for path, op, value, new_key in mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier one removed it
            doc = mutate(doc, path, op, value, new_key)
    src = _as_yaml(doc) if as_text else None
    try:
        sc = simcontinuum.load(src if src is not None else doc)
    except ScenarioError as err:
        assert err.problems and all(isinstance(p, str) and p.strip() for p in err.problems)
        assert str(err).strip()
        assert not any("internal error" in p for p in err.problems), err.problems
    else:
        assert isinstance(sc, Scenario)


@pytest.mark.parametrize(
    ("src", "shown"),
    [("a\x00b.yaml", "'a\\x00b.yaml'"), ("\ud800.yaml", "'\\ud800.yaml'"), ("", "''")],
    ids=["nul", "lone-surrogate", "empty"],
)
def test_unusable_paths_are_scenario_errors(src: str, shown: str) -> None:
    """Once an 'internal error': open() raises ValueError / UnicodeEncodeError on these."""
    expected = f"{shown}: not a usable file path (empty, or a NUL or unencodable character)"
    with pytest.raises(ScenarioError) as info:
        simcontinuum.load(src)
    assert info.value.problems == [expected]
    assert validate_file(src) == [expected]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=40))
def test_fuzz_any_text_is_a_path_or_yaml_and_raises_only_scenario_error(text: str) -> None:
    try:
        simcontinuum.load(text)
    except ScenarioError as err:
        assert err.problems and not any("internal error" in p for p in err.problems)
