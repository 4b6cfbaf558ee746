"""Behaviour is kept: every shipped scenario × built-in policy (seed 0, short horizon) gives
exactly the tables pinned in ``tests/data/golden_digests.json`` (see ``tests/golden.py``)."""

from __future__ import annotations

import pytest
from golden import cases, digest_case, key, load_digests

PINNED = load_digests()


def test_every_case_is_pinned() -> None:
    assert sorted(PINNED) == sorted(key(s, p) for s, p in cases())


@pytest.mark.parametrize(("scenario", "policy"), cases(), ids=[key(s, p) for s, p in cases()])
def test_tables_are_unchanged(scenario: str, policy: str) -> None:
    got = digest_case(scenario, policy)
    want = PINNED[key(scenario, policy)]
    changed = {f: (want.get(f), got.get(f)) for f in want if got.get(f) != want.get(f)}
    assert not changed, (
        f"{key(scenario, policy)}: these tables changed (pinned, now): {changed}; if the change "
        "is intended, regenerate with `python tests/golden.py --write` and say why"
    )
