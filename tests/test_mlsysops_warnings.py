"""Warnings about an MLSysOps policy file name the policy's own file and line, never a line
of simcontinuum (the agent's ``warnings.warn(..., stacklevel=N)`` used to point into
``agent.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from test_mlsysops_policies import build, make

import simcontinuum
from simcontinuum.mlsysops import MLSysOpsWarning, load_policy_file
from simcontinuum.mlsysops.warn import policy_line, warn_outside

PACKAGE = str(Path(simcontinuum.__file__).parent)


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build(tmp_path_factory.mktemp("warn"))


def caught_running(scenario: Any, policy: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simcontinuum.run(scenario, policy=policy, reference=False)
    return [w for w in caught if issubclass(w.category, MLSysOpsWarning)]


def line_of(path: Path, text: str) -> int:
    """The (1-based) line of ``path`` that contains ``text``."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


def shown(w: warnings.WarningMessage) -> str:
    """The warning as Python prints it (file:line: category: message, then the line)."""
    return warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)


def test_a_raising_analyze_is_warned_at_the_raising_line(sc: Any, tmp_path: Path) -> None:
    helper = "\ndef deep(x):\n    return x['missing']  # the raising line\n"
    path = make(tmp_path, "policy-raiser.py", "return deep({}), context", extra="", interval="5s")
    path.write_text(path.read_text() + helper)
    (w,) = [w for w in caught_running(sc, load_policy_file(path)) if "analyze()" in str(w.message)]
    assert "analyze() raised KeyError" in str(w.message)
    assert Path(w.filename) == path
    assert w.lineno == line_of(path, "the raising line")
    text = shown(w)
    assert text.startswith(f"{path}:{w.lineno}: MLSysOpsWarning: policy 'raiser'")
    assert "x['missing']" in text and PACKAGE not in text


def test_a_raising_plan_and_a_bad_plan_name_their_lines(sc: Any, tmp_path: Path) -> None:
    path = make(tmp_path, "policy-planfail.py", "return True, context", 'raise KeyError("nope")')
    (w,) = [w for w in caught_running(sc, load_policy_file(path)) if "plan()" in str(w.message)]
    assert (Path(w.filename), w.lineno) == (path, line_of(path, 'raise KeyError("nope")'))
    # a plan that is not a dict raised nothing: the warning names its def
    bad = make(tmp_path, "policy-badplan.py", "return True, context", "return [1], context")
    (w,) = [w for w in caught_running(sc, load_policy_file(bad)) if "must return" in str(w.message)]
    assert (Path(w.filename), w.lineno) == (bad, line_of(bad, "async def plan("))
    assert PACKAGE not in shown(w)


def test_initialize_and_interval_problems_name_initialize(sc: Any, tmp_path: Path) -> None:
    busy = make(tmp_path, "policy-busy.py", "return False, context", interval="0s")
    (w,) = [w for w in caught_running(sc, load_policy_file(busy)) if "busy-loop" in str(w.message)]
    assert (Path(w.filename), w.lineno) == (busy, line_of(busy, "def initialize("))
    broken = make(tmp_path, "policy-initfail.py", "return False, context")
    text = broken.read_text().replace(
        "    return initialContext\n", "    return initialContext['nope']  # here\n"
    )
    broken.write_text(text)
    (w,) = [
        w for w in caught_running(sc, load_policy_file(broken)) if "initialize()" in str(w.message)
    ]
    assert "initialize() raised KeyError" in str(w.message)
    assert (Path(w.filename), w.lineno) == (broken, line_of(broken, "# here"))


def test_a_sync_analyze_is_warned_at_its_def(tmp_path: Path) -> None:
    path = make(tmp_path, "policy-sync.py", "return False, context")
    path.write_text(path.read_text().replace("async def analyze", "def analyze"))
    with pytest.warns(MLSysOpsWarning, match="not 'async def'") as record:
        load_policy_file(path)
    (w,) = record.list
    assert (Path(w.filename), w.lineno) == (path, line_of(path, "def analyze("))


def test_the_policys_own_warning_keeps_its_own_line(sc: Any, tmp_path: Path) -> None:
    code = "import warnings\nwarnings.warn('from the policy')  # mine\nreturn False, context"
    path = make(tmp_path, "policy-warner.py", code, interval="10s")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simcontinuum.run(sc, policy=load_policy_file(path), reference=False)
    own = [w for w in caught if str(w.message) == "from the policy"]
    assert own and all((Path(w.filename), w.lineno) == (path, line_of(path, "# mine")) for w in own)


def test_policy_line_falls_back_to_the_def_then_line_one(tmp_path: Path) -> None:
    path = tmp_path / "policy-x.py"
    path.write_text("import os\n\n\nasync def plan(*a):\n    return {}, a[0]\n")
    assert policy_line(path, "plan") == 4
    assert policy_line(path, "analyze") == 1  # no such function
    assert policy_line(path, "plan", ValueError("not raised there")) == 4
    bad = tmp_path / "policy-bad.py"
    bad.write_text("x = 1\ny = (\n")
    try:
        compile(bad.read_text(), str(bad), "exec")
    except SyntaxError as exc:
        assert policy_line(bad, "initialize", exc) == exc.lineno


def test_a_warning_about_no_policy_names_the_callers_line() -> None:
    with pytest.warns(MLSysOpsWarning, match="about the run") as record:
        warn_outside("about the run")  # this line
    (w,) = record.list
    assert (w.filename, w.lineno) == (__file__, line_of(Path(__file__), "# this line"))


def test_the_recorded_reason_ends_with_the_policys_line(sc: Any, tmp_path: Path) -> None:
    path = make(tmp_path, "policy-boom.py", 'raise ValueError("boom")', interval="10s")
    with pytest.warns(MLSysOpsWarning, match="boom"):
        res = simcontinuum.run(sc, policy=load_policy_file(path), reference=False)
    a = res.actions
    reason = a[(a.call == "analyze") & (a.kind == "error")].reason.iloc[0]
    line = line_of(path, 'raise ValueError("boom")')
    assert reason.endswith(f" (at {path}:{line} in analyze)")  # tmp_path is outside the cwd
