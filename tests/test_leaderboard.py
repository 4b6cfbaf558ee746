"""The leaderboard: good submissions rank, broken ones fail with a reason, the hidden
scenarios' paths never reach a submission."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from policy_sources import FIRST_FIT, HOSTILE

import simcontinuum
from simcontinuum.cli import main
from simcontinuum.experiment.leaderboard import (
    LeaderboardError,
    Limits,
    run_leaderboard,
    standings,
    strip_paths,
    submissions,
)
from simcontinuum.generate.build import generate

TOKEN = "hidden-Qx7v2Lz"  # the hidden folder's name: no submission may ever see it

SUBMISSIONS = {
    "alpha.py": FIRST_FIT,
    "bravo.py": """
from simcontinuum.policy.builtins import LatencyGreedy as _LG, BestFit as _BF

class Helper:
    pass

class Latency(_LG):
    pass

class Best(_BF):
    pass

POLICY = "Best"
""",
    "snoop.py": f"""
import gc, os, sys
from simcontinuum.policy.builtins import FirstFit as _Base

_HEAD, _TAIL = {TOKEN[:7]!r}, {TOKEN[7:]!r}   # split: the joined token lives in no container

class Snoop(_Base):
    def place(self, app, view):
        token = _HEAD + _TAIL
        leaks = []
        if any(token in v for v in os.environ.values()):
            leaks.append("environment")
        if "ORGANIZER_SECRET" in os.environ:
            leaks.append("organizer variable")
        if any(token in a for a in sys.argv) or token in os.getcwd():
            leaks.append("argv/cwd")
        if any(token in f for f in os.listdir(".")):
            leaks.append("working directory")
        for obj in gc.get_objects():
            if isinstance(obj, dict):
                values = list(obj.values())
            elif isinstance(obj, (list, tuple)):
                values = list(obj)
            else:
                continue
            if any(isinstance(v, str) and token in v for v in values):
                leaks.append("memory")
                break
        if leaks:
            raise RuntimeError("leaked: " + ", ".join(leaks))
        return super().place(app, view)
""",
    "spin.py": """
class Spin:
    def place(self, app, view):
        while True:
            try:
                while True:
                    pass
            except BaseException:  # even the per-call time-out cannot stop it
                pass
""",
    **HOSTILE,
    "_helper.py": "raise SystemExit('not a submission: names starting with _ are skipped')\n",
}


@pytest.fixture
def hidden(tmp_path: Path) -> Path:
    folder = tmp_path / TOKEN
    g = generate("smart-city", 10, 2, 3, {"duration": "4s", "warmup": "0s", "load": 0.1})
    g.write(folder / "h1.yaml")
    return folder


def test_scenarios_and_environment_carry_no_path(
    hidden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simcontinuum.boundary.isolation import worker_env

    sc = simcontinuum.load(hidden / "h1.yaml")
    assert TOKEN in (sc.source_path or "")
    assert strip_paths(sc).source_path is None
    monkeypatch.setenv("ORGANIZER_SECRET", "s3cret")
    env = worker_env("/tmp")
    assert set(env) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "MPLBACKEND",
    }
    assert env["HOME"] == "/tmp" and "s3cret" not in env.values()


def test_leaderboard_isolates_broken_submissions(
    hidden: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = tmp_path / "submissions"
    subs.mkdir()
    for name, code in SUBMISSIONS.items():
        (subs / name).write_text(textwrap.dedent(code))
    assert [f.name for f in submissions(subs)] == sorted(n for n in SUBMISSIONS if n[0] != "_")
    monkeypatch.setenv("ORGANIZER_SECRET", "s3cret")
    out = tmp_path / "lb"
    argv = ["leaderboard", str(subs), "--scenarios", str(hidden), "--seeds", "2", "--out", str(out)]
    limits = ["--jobs", "2", "--time-limit", "90", "--cpu-limit", "8", "--memory-limit", "1024"]
    assert main([*argv, *limits, "--quiet"]) == 0

    table = pd.read_csv(out / "leaderboard.csv").set_index("team")
    reason = table["reason"].to_dict()
    assert table.loc[["alpha", "bravo", "snoop"], "status"].tolist() == ["ok"] * 3, reason
    assert "ValueError: boom" in reason["raises"]
    assert "exited with status 3" in reason["exits"]
    assert "memory" in reason["hog"].lower()
    # the organizer's clock stops it: a call over control.policy_timeout (5 s) fails the run
    assert "place() exceeded 5 s" in reason["spin"], reason["spin"]
    assert "definitely_not_a_module" in reason["badimport"]
    for team in ("raises", "exits", "hog", "spin", "badimport"):
        assert table.loc[team, "status"] == "failed" and pd.isna(table.loc[team, "rank"])

    ranked = table[table["status"] == "ok"].sort_values("score")
    assert ranked["rank"].tolist() == [1, 2, 3] or ranked["score"].duplicated().any()
    assert ranked["score"].is_monotonic_increasing
    runs = pd.read_csv(out / "leaderboard_runs.csv")
    assert len(runs) == 8 * 2  # every team x scenario x seed has a row
    assert (runs[runs["team"] == "alpha"]["status"] == "ok").all()
    # first-fit under another name scores what the built-in scores on the same seeds
    ff = [
        simcontinuum.run(hidden / "h1.yaml", "first-fit", seed=s).summary()["score"] for s in (0, 1)
    ]
    assert table.loc["alpha", "score"] == pytest.approx(sum(ff) / 2)
    assert table.loc["snoop", "score"] == pytest.approx(table.loc["alpha", "score"])
    html = (out / "leaderboard.html").read_text()
    assert "alpha" in html and "boom" in html


def test_standings_rank_ok_teams_first() -> None:
    runs = pd.DataFrame(
        {
            "team": ["a", "a", "b", "b", "c", "c"],
            "scenario": ["s"] * 6,
            "seed": [0, 1] * 3,
            "status": ["ok", "ok", "ok", "ok", "ok", "failed"],
            "reason": [None] * 5 + ["crashed"],
            "score": [3.0, 5.0, 1.0, 2.0, 0.5, None],
        }
    )
    table = standings(runs)
    assert table["team"].tolist() == ["b", "a", "c"]
    assert table["rank"].tolist()[:2] == [1, 2] and pd.isna(table["rank"].iloc[2])
    assert table.loc[2, "reason"] == "crashed"


def test_no_submissions(tmp_path: Path, hidden: Path) -> None:
    with pytest.raises(LeaderboardError, match=r"no \*\.py"):
        run_leaderboard(tmp_path, [hidden], [0], limits=Limits())
    assert (
        main(
            [
                "leaderboard",
                str(tmp_path / "nope"),
                "--scenarios",
                str(hidden),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
