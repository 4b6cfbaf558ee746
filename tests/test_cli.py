"""The command line: exit codes, messages without tracebacks, and every documented command."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from simcontinuum.cli import Exit, main

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "scenarios" / "quickstart.yaml")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", QUICK)
    assert code == Exit.OK
    assert "quickstart.yaml: ok" in out


def test_validate_bad_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    doc = doc.replace("cpu: 500m", "cpu: -2", 1).replace("entry: detector", "entry: detectr", 1)
    doc = doc.replace("components:", "componets:", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(doc)
    code, _, err = run_cli(capsys, "validate", str(bad))
    assert code == Exit.BAD_INPUT
    assert "Traceback" not in err
    assert "componets" in err and "did you mean 'components'" in err


def test_validate_yaml_syntax_error_has_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nname: [unclosed\nduration: 10s\n")
    code, _, err = run_cli(capsys, "validate", str(bad))
    assert code == Exit.BAD_INPUT
    assert re.search(r"broken\.yaml:\d+:\d+: invalid YAML", err), err


def test_run_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", QUICK, "--policy", "latency-greedy", "--json")
    assert code == Exit.OK
    summary = json.loads(out)
    assert summary["requests"] > 10_000
    assert summary["score"] == pytest.approx(
        sum(summary[k] for k in summary if k.startswith("weighted_"))
    )


def test_run_table_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "res"
    code, out, _ = run_cli(capsys, "run", QUICK, "--seed", "3", "--out", str(out_dir))
    assert code == Exit.OK
    assert "score" in out and "latency p95" in out
    assert (out_dir / "requests.parquet").exists() and (out_dir / "meta.json").exists()
    from simcontinuum.results import Results

    res = Results.load(out_dir)
    assert res.meta["seed"] == 3
    # a second run into the same folder is refused without --force
    code, _, err = run_cli(capsys, "run", QUICK, "--out", str(out_dir))
    assert code == Exit.BAD_INPUT and "--force" in err
    code, _, _ = run_cli(capsys, "run", QUICK, "--out", str(out_dir), "--force", "--json")
    assert code == Exit.OK


def test_unknown_policy_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", QUICK, "--policy", "frist-fit")
    assert code == Exit.BAD_INPUT
    assert "did you mean 'first-fit'" in err and "Traceback" not in err


@pytest.mark.parametrize("seed", ["-1", "abc", "1.5"])
def test_bad_seed(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", QUICK, "--seed", seed])
    assert exc.value.code == Exit.BAD_INPUT
    assert "seed" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "no/such/file.yaml")
    assert code == Exit.BAD_INPUT
    assert "no/such/file.yaml" in err and "Traceback" not in err


def test_policy_file_and_raising_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pol = tmp_path / "bad_policy.py"
    pol.write_text(
        "class Boom:\n    def place(self, app, view):\n        raise RuntimeError('kaput')\n"
    )
    code, out, err = run_cli(capsys, "run", QUICK, "--policy", f"{pol}:Boom", "--json")
    assert code == Exit.OK  # recorded, the run goes on
    assert json.loads(out)["dropped"] > 0
    assert "policy failed" in err
    code, _, err = run_cli(capsys, "run", QUICK, "--policy", f"{pol}:Boom", "--strict")
    assert code == Exit.BAD_INPUT
    assert "kaput" in err


def test_policies_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "policies")
    assert code == Exit.OK
    for name in ("first-fit", "k8s-default", "two-level", "threshold-autoscaler", "failover"):
        assert name in out


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["run", "--help"], ["validate", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_entry_point_subprocess() -> None:
    exe = Path(sys.executable).with_name("simcontinuum")
    proc = subprocess.run(
        [str(exe), "validate", QUICK], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def _readme_commands() -> list[str]:
    """Every ``simcontinuum ...`` command of the README's ``bash`` blocks, in order."""
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("simcontinuum "):
                cmds.append(line)
    return cmds


def _outputs(command: str) -> list[str]:
    args = shlex.split(command)
    return [b for a, b in itertools.pairwise(args) if a in ("--out", "-o") and b.startswith("out/")]


def _inputs(command: str) -> list[str]:
    made = set(_outputs(command))
    found = re.findall(r"(?:^|[\s:])(out/[^\s]+)", command)
    return [f for f in found if f not in made]


def _chains(commands: list[str]) -> list[list[str]]:
    """The commands grouped by what they share: a command that reads ``out/X`` joins the
    group of the latest earlier command that wrote it (or a folder above it). Each group keeps
    README order; groups are independent of each other."""
    group = list(range(len(commands)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for j, command in enumerate(commands):
        for path in _inputs(command):
            for i in range(j - 1, -1, -1):
                if any(
                    path == o or path.startswith(o.rstrip("/") + "/") for o in _outputs(commands[i])
                ):
                    group[root(j)] = root(i)
                    break
    chains: dict[int, list[str]] = {}
    for j, command in enumerate(commands):
        chains.setdefault(root(j), []).append(command)
    return list(chains.values())


README_CHAINS = _chains(_readme_commands())


def _chain_id(chain: list[str]) -> str:
    words = shlex.split(chain[0])[1:4]
    return re.sub(r"[^a-z0-9.]+", "-", " ".join(words).lower()).strip("-") + f"-x{len(chain)}"


def test_readme_chains_cover_every_command_in_order() -> None:
    commands = _readme_commands()
    assert len(commands) >= 8
    assert sorted(c for chain in README_CHAINS for c in chain) == sorted(commands)
    for chain in README_CHAINS:
        assert [commands.index(c) for c in chain] == sorted(commands.index(c) for c in chain)
    # what reads another command's output runs after it, in one test
    report = next(chain for chain in README_CHAINS if any("report out/hack" in c for c in chain))
    assert "--out out/hack" in report[0] and len(report) == 2
    assert len(README_CHAINS) > len(re.findall(r"```bash", (ROOT / "README.md").read_text()))


@pytest.mark.parametrize(
    "chain", README_CHAINS, ids=[f"{k:02d}-{_chain_id(c)}" for k, c in enumerate(README_CHAINS)]
)
def test_readme_commands_run(
    chain: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``simcontinuum ...`` command the README shows runs and exits 0: one test per
    chain of commands that share files, in README order, so independent ones run in parallel
    under ``pytest -n``.

    ``out/...`` paths go to this test's temporary folder, so a command uses what an earlier
    one of its chain wrote (``report out/hack`` after ``run ... --out out/hack``).
    """
    monkeypatch.chdir(ROOT)
    for command in chain:
        argv = [
            re.sub(r"(^|:)out/", lambda m: f"{m.group(1)}{tmp_path}/", a)
            for a in shlex.split(command)[1:]
        ]
        assert main(argv) == Exit.OK, command


def test_readme_python_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example runs as written (results saved under a temp folder)."""
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    code = code.replace('"out/run1"', repr(str(tmp_path / "run1")))
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "run1" / "meta.json").exists()
