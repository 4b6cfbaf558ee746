"""The one policy-spec parser (simcontinuum.policy.spec) and third-party plugins by entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simcontinuum.errors import PolicyError
from simcontinuum.policy.registry import load_policy
from simcontinuum.policy.spec import parse_policy_spec

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


@pytest.mark.parametrize(
    ("text", "kind", "scheme", "target", "attr"),
    [
        ("first-fit", "name", None, "first-fit", None),
        ("  K8s_Default ", "name", None, "K8s_Default", None),
        ("ml:m.joblib", "scheme", "ml", "m.joblib", None),
        ("ML: m.joblib", "scheme", "ml", "m.joblib", None),
        ("fixed:best.yaml", "scheme", "fixed", "best.yaml", None),
        ("mlsysops:dir/", "scheme", "mlsysops", "dir/", None),
        (
            "d/policy-x.py?level=continuum",
            "scheme",
            "mlsysops",
            "d/policy-x.py?level=continuum",
            None,
        ),
        ("d/policy-x.py:Mine", "file", None, "d/policy-x.py", "Mine"),
        ("mine.py:Mine", "file", None, "mine.py", "Mine"),
        ("sub/dir:Mine", "file", None, "sub/dir", "Mine"),
        ("mine.py", "file", None, "mine.py", None),
        ("pkg.mod:Mine", "module", None, "pkg.mod", "Mine"),
        ("mod:Mine", "module", None, "mod", "Mine"),
    ],
)
def test_every_form_parses(
    text: str, kind: str, scheme: str | None, target: str, attr: str | None
) -> None:
    spec = parse_policy_spec(text)
    assert (spec.kind, spec.scheme, spec.target, spec.attr) == (kind, scheme, target, attr)


@pytest.mark.parametrize("bad", ["", "   ", "mine.py:", "mine.py:not a class"])
def test_malformed_specs_are_explained(bad: str) -> None:
    with pytest.raises(PolicyError, match=r"empty policy spec|is not a class name"):
        parse_policy_spec(bad)


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(PolicyError, match="unknown policy 'frist-fit'; did you mean 'first-fit'"):
        load_policy("frist-fit")


def test_a_bare_file_with_one_policy_class(tmp_path: Path) -> None:
    one = tmp_path / "one.py"
    one.write_text(
        "from simcontinuum.policy.builtins import FirstFit\n\n"
        "class Mine(FirstFit):\n    name = 'mine'\n"
    )
    assert load_policy(str(one)).name == "mine"  # FirstFit is imported, not defined here
    two = tmp_path / "two.py"
    two.write_text(one.read_text() + "\nclass Other(Mine):\n    pass\n")
    with pytest.raises(
        PolicyError, match=r"needs a class: give '.*two\.py:ClassName' .*Mine, Other"
    ):
        load_policy(str(two))
    named = tmp_path / "named.py"
    named.write_text(two.read_text() + "\nPOLICY = 'Other'\n")
    assert type(load_policy(str(named))).__name__ == "Other"  # the leaderboard's rule
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    with pytest.raises(PolicyError, match="defines no class with a place"):
        load_policy(str(none))


def test_files_and_digest_follow_content_not_place(tmp_path: Path) -> None:
    a = tmp_path / "a" / "mine.py"
    a.parent.mkdir()
    a.write_text("class Mine:\n    def place(self, app, view):\n        return {}\n")
    spec = parse_policy_spec(f"{a}:Mine")
    assert spec.files() == (a.resolve(),)
    before = spec.digest()
    b = tmp_path / "b" / "mine.py"
    b.parent.mkdir()
    b.write_text(a.read_text())
    assert parse_policy_spec(f"{b}:Mine").digest() == before  # moved: same policy
    assert parse_policy_spec(f"{a}:Other").digest() != before  # another class
    a.write_text(a.read_text() + "# tuned\n")
    assert spec.digest() != before
    # a relative path is also looked for in the search path (the scenario's folder)
    rel = parse_policy_spec("mine.py:Mine")
    assert rel.files() == () and rel.files([a.parent]) == (a.resolve(),)


def test_scheme_files_and_options(tmp_path: Path) -> None:
    model = tmp_path / "m.joblib"
    model.write_bytes(b"v1")
    (tmp_path / "m.features.json").write_text("{}")
    assert [f.name for f in parse_policy_spec(f"ml:{model}").files()] == [
        "m.features.json",
        "m.joblib",
    ]
    folder = tmp_path / "pol"
    folder.mkdir()
    for name in ("policy-a.py", "policy-b.py", "helper.py"):
        (folder / name).write_text(f"# {name}\n")
    spec = parse_policy_spec(f"mlsysops:{folder}")
    assert [f.name for f in spec.files()] == ["policy-a.py", "policy-b.py"]
    # options change the policy, so they change the key (they used to be left out)
    cont = parse_policy_spec(f"mlsysops:{folder}?level=continuum")
    assert cont.digest() != spec.digest()
    assert cont.digest() == parse_policy_spec(f"mlsysops:{folder}?level=continuum&").digest()
    # a missing file reads nothing and still has a digest
    assert parse_policy_spec(f"fixed:{tmp_path / 'nope.yaml'}").files() == ()
    assert parse_policy_spec("module_that_is_not_there:X").files() == ()


def test_portable_spec_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_policy_spec("mine.py:Mine").portable() == f"{tmp_path.resolve()}/mine.py:Mine"
    assert parse_policy_spec("first-fit").portable() == "first-fit"


# ----------------------------------------------------------------------------- plugins

PLUGIN = '''
"""A tiny third-party policy package for simcontinuum."""


class TinyGreedy:
    """First node with room, component by component (a plugin's policy)."""

    name = "tiny-greedy"

    def place(self, app, view):
        out = {}
        for comp in app.components:
            for nid in view.eligible(comp):
                if view.can_host(comp, nid):
                    out[comp.id] = [nid]
                    break
        return out


class _Scheme:
    """tiny:NAME -- the same policy, shown under another name."""

    example = "tiny:NAME"

    def load(self, arg, *, search_path):
        policy = TinyGreedy()
        policy.name = "tiny:" + arg
        return policy

    def files(self, arg, *, search_path):
        return []


SCHEME = _Scheme()
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder holding an installed distribution (module + .dist-info with entry points),
    as pip lays one out; it is put on PYTHONPATH of a child process only."""
    site = tmp_path_factory.mktemp("site")
    (site / "tiny_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "tiny_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[simcontinuum.policies]\n"
        "tiny-greedy = tiny_plugin:TinyGreedy\n"
        "scheme.tiny = tiny_plugin:SCHEME\n"
    )
    (info / "RECORD").write_text(
        "tiny_plugin.py,,\ntiny_plugin-1.0.dist-info/METADATA,,\n"
        "tiny_plugin-1.0.dist-info/entry_points.txt,,\ntiny_plugin-1.0.dist-info/RECORD,,\n"
    )
    return site


def _cli(site: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    code = "import sys; from simcontinuum.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_installed_plugin_runs_by_name(plugin_site: Path) -> None:
    done = _cli(plugin_site, "run", str(QUICKSTART), "--policy", "tiny-greedy", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["requests"] > 0
    listed = _cli(plugin_site, "policies")
    assert "tiny-greedy" in listed.stdout and "tiny-plugin" in listed.stdout
    assert "tiny:" in listed.stdout and "ml:" in listed.stdout  # the schemes too
    typo = _cli(plugin_site, "run", str(QUICKSTART), "--policy", "tiny-gredy")
    assert typo.returncode == 2
    assert "did you mean 'tiny-greedy'" in typo.stderr and "Traceback" not in typo.stderr
    # without the package on the path the name is unknown, as it should be
    assert _cli(None, "run", str(QUICKSTART), "--policy", "tiny-greedy").returncode == 2


def test_a_plugin_scheme_is_a_spec_prefix(plugin_site: Path) -> None:
    done = _cli(plugin_site, "run", str(QUICKSTART), "--policy", "tiny:mine", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"] > 0
    empty = _cli(plugin_site, "run", str(QUICKSTART), "--policy", "tiny:")
    assert empty.returncode == 2 and "e.g. 'tiny:NAME'" in empty.stderr
