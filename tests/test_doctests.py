"""Every docstring example of the package is collected and counted.

``--doctest-modules`` (pyproject's ``addopts``, with ``simcontinuum`` in ``testpaths``) runs
the examples; this file makes sure none is silently skipped: for every module, the examples
the doctest finder sees must be exactly the ``>>>`` lines of its source. A ``>>>`` in a
comment, in a string that is not a docstring, or in a docstring the finder does not reach (an
object imported from elsewhere, a nested function) fails here instead of passing unseen.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simcontinuum"
PROMPT = re.compile(r"^\s*>>>( |$)", re.MULTILINE)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
WITH_EXAMPLES = [p for p in SOURCES if PROMPT.search(p.read_text(encoding="utf-8"))]


def test_doctest_modules_is_on(pytestconfig: pytest.Config) -> None:
    assert "--doctest-modules" in pytestconfig.getini("addopts")
    assert "simcontinuum" in pytestconfig.getini("testpaths")
    # the modules that promise examples in their style (pure functions, parsers) have them
    named = {_module_name(p) for p in WITH_EXAMPLES}
    expected = {
        "simcontinuum.io",
        "simcontinuum.jsonutil",
        "simcontinuum.metrics.score",
        "simcontinuum.model",
        "simcontinuum.policy.reservations",
        "simcontinuum.policy.spec",
        "simcontinuum.scenario.units",
        "simcontinuum.experiment.stats",
    }
    assert expected <= named, expected - named


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=lambda p: _module_name(p))
def test_every_prompt_is_a_collected_example(path: Path) -> None:
    module = importlib.import_module(_module_name(path))
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__)
    found = sum(len(t.examples) for t in tests if t.filename and Path(t.filename) == path)
    in_source = len(PROMPT.findall(path.read_text(encoding="utf-8")))
    assert found == in_source > 0, (
        f"{path.relative_to(ROOT)}: {in_source} '>>>' lines but the doctest finder collects "
        f"{found} examples; put every example in a docstring of an object defined there"
    )
