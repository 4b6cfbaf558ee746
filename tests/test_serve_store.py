"""The competition's pieces without a server: competition.yaml, seeds, the Ladder, the
boards, the store's transactions, upload checks and the rate limiter."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import yaml

pytest.importorskip("sqlalchemy", reason="the serve extra is not installed")

from serve_support import FIRST_FIT, SECRET, write_competition

from simcontinuum.cli import main
from simcontinuum.serve.board import board_csv, phase_board, private_rows, public_rows
from simcontinuum.serve.config import CompetitionError, load_competition, phase_seeds
from simcontinuum.serve.ladder import ladder, round_to, shown_score
from simcontinuum.serve.store import LimitError, Store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    comp = load_competition(write_competition(tmp_path))
    s = Store(comp.database_url(), comp)
    s.create()
    return s


def test_competition_yaml_errors_name_the_path_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_competition(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["phases"][0]["kind"] = "open"
    doc["phases"][1]["seeds"] = 0
    doc["phases"].append({"name": "public", "kind": "public", "scenarios": ["nowhere/"]})
    doc["limts"] = {}
    path.write_text(yaml.safe_dump(doc))
    assert main(["serve", str(path), "--show"]) == 2
    err = capsys.readouterr().err
    assert "phases[0].kind" in err and "phases[1].seeds" in err and "limts" in err
    assert "Traceback" not in err
    doc = yaml.safe_load(write_competition(tmp_path).read_text())
    doc["phases"][0]["scenarios"] = ["nowhere/"]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CompetitionError, match=r"phases\[0\].scenarios: .*nowhere"):
        load_competition(path)


def test_the_secret_never_sits_with_the_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_competition(tmp_path, secret={"file": "public/secret.txt"})
    (tmp_path / "public" / "secret.txt").write_text("x" * 32)
    with pytest.raises(CompetitionError, match="sits in a scenario folder"):
        load_competition(path)
    path = write_competition(tmp_path, secret={"file": "cup.secret"})
    comp = load_competition(path)
    with pytest.raises(CompetitionError, match=r"cannot read .*cup\.secret"):
        comp.secret()
    (tmp_path / "cup.secret").write_text("s" * 40 + "\n")
    assert comp.seeds("public") == phase_seeds(b"s" * 40, "public", 2)
    monkeypatch.delenv("SIMCONTINUUM_COMPETITION_SECRET", raising=False)
    comp = load_competition(write_competition(tmp_path))
    with pytest.raises(CompetitionError, match="SIMCONTINUUM_COMPETITION_SECRET is not set"):
        comp.seeds("public")


def test_phase_seeds_are_fresh_per_phase_and_stable() -> None:
    a = phase_seeds(b"k" * 32, "public", 5)
    assert a == phase_seeds(b"k" * 32, "public", 5) and len(set(a)) == 5
    assert not set(a) & set(phase_seeds(b"k" * 32, "private", 5))
    assert not set(a) & set(phase_seeds(b"j" * 32, "public", 5))
    assert all(0 <= s < 2**63 for s in a)


def test_ladder_releases_only_improvements_beyond_the_margin() -> None:
    steps = ladder([1.0, 0.97, 0.93, float("nan"), 0.5, 0.499], 0.05)
    assert [s.shown for s in steps] == [1.0, 1.0, 0.95, 0.95, 0.5, 0.5]
    assert [s.released for s in steps] == [True, False, True, False, True, False]
    assert round_to(0.1234, 0.01) == 0.12 and round_to(12.5, 5.0) == 10.0
    # probing: many tiny variations around one score never move the board
    assert shown_score([0.8 + 0.001 * ((-1) ** i) * i for i in range(50)], 0.1) == 0.8
    assert math.isinf(shown_score([], 0.1))
    with pytest.raises(ValueError, match="margin"):
        ladder([1.0], 0.0)


def _job(team: str, sub: int, score: float | None, state: str = "scored") -> dict[str, object]:
    low = None if score is None else score - 0.2
    high = None if score is None else score + 0.2
    return {
        "team": team,
        "submission": sub,
        "state": state,
        "score": score,
        "ci_low": low,
        "ci_high": high,
    }


def test_boards_rank_and_hide() -> None:
    jobs = [
        _job("a", 1, 3.0),
        _job("b", 2, 2.04),
        _job("a", 3, 2.9),
        _job("c", 4, None, "failed"),
        _job("b", 5, 1.0),
    ]
    rows = public_rows(jobs, 0.5)
    assert [(r["rank"], r["team"], r["score"]) for r in rows] == [
        (1, "b", 1.0),
        (2, "a", 3.0),
        (None, "c", None),
    ]
    assert rows[0]["ci_low"] == pytest.approx(1.0) and rows[0]["ci_high"] == pytest.approx(1.0)
    assert rows[1]["submissions"] == 2 and rows[1]["scored"] == 2
    priv = private_rows(jobs)
    assert [(r["team"], r["score"], r["submission"]) for r in priv][:2] == [
        ("b", 1.0, 5),
        ("a", 2.9, 3),
    ]
    assert "rank,team,score" in board_csv({"rows": rows}).splitlines()[0]


def test_a_private_board_is_empty_until_revealed(store: Store) -> None:
    phase = store.competition.phase("private")
    jobs = [_job("a", 1, 3.0)]
    assert phase_board(phase, {"state": "closed", "revealed": False}, jobs)["rows"] == []
    assert phase_board(phase, {"state": "closed", "revealed": True}, jobs)["rows"][0]["score"] == 3


def test_tokens_are_stored_hashed(store: Store, tmp_path: Path) -> None:
    token = store.add_team("alpha")
    assert store.team_for(token) is not None and store.team_for(token + "x") is None
    assert not store.is_organizer(token)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("competition.db*"))
    assert token.encode() not in raw and b"alpha" in raw
    with pytest.raises(CompetitionError, match="exists already"):
        store.add_team("alpha")
    with pytest.raises(CompetitionError, match="letters, digits"):
        store.add_team("<b>")


def test_phase_actions_follow_the_state_machine(store: Store) -> None:
    with pytest.raises(CompetitionError, match="not open; nothing to close"):
        store.set_phase("public", "close")
    assert "open" in store.set_phase("public", "open")
    with pytest.raises(CompetitionError, match="public: its scores show already"):
        store.set_phase("public", "reveal")
    store.set_phase("private", "open")
    with pytest.raises(CompetitionError, match="close it before revealing"):
        store.set_phase("private", "reveal")
    store.set_phase("private", "close")
    assert "revealed" in store.set_phase("private", "reveal")
    with pytest.raises(CompetitionError, match="no phase 'final'"):
        store.set_phase("final", "open")


def test_submission_limits(store: Store) -> None:
    store.add_team("alpha")
    team = store.teams()[0]
    code = textwrap.dedent(FIRST_FIT).encode()
    with pytest.raises(LimitError, match="no phase takes submissions"):
        store.submit(team, "a.py", code)
    store.set_phase("public", "open")
    day = 86400.0 * 20000
    for i in range(20):  # max_submissions_per_day: 20
        assert store.submit(team, "a.py", code, now=day + i).position == i + 1
    with pytest.raises(LimitError, match="20 submissions today"):
        store.submit(team, "a.py", code, now=day + 100)
    accepted = store.submit(team, "a.py", code, now=day + 86400.0)  # the next UTC day
    assert accepted.phases == ("public",)
    store.set_phase("private", "open")
    assert store.submit(team, "a.py", code, now=day + 86401.0).phases == ("public", "private")


def test_claim_finish_and_recover(store: Store) -> None:
    store.add_team("alpha")
    store.set_phase("public", "open")
    team = store.teams()[0]
    a = store.submit(team, "a.py", b"x = 1\n")
    b = store.submit(team, "b.py", b"x = 2\n")
    assert store.position(b.job_ids[0]) == 2
    (job,) = store.claim("one", 1)
    assert job.id == a.job_ids[0] and job.code == b"x = 1\n" and job.attempts == 1
    assert store.position(b.job_ids[0]) == 1
    seeds = store.competition.seeds("public")
    rows = [
        {"scenario": "p1", "seed": s, "status": "ok", "score": 1.0 + i, "wall_s": 0.1}
        for i, s in enumerate(seeds)
    ]
    assert not store.finish(job.id, "another-owner", rows, seeds)  # not its job: nothing written
    assert store.job_runs(job.id) == []
    assert store.recover() == 1  # a new server: the job is queued again, its attempt not counted
    (again,) = store.claim("two", 1)
    assert again.id == job.id and again.attempts == 1
    assert not store.finish(job.id, "one", rows, seeds)  # the old owner is stale
    assert store.finish(job.id, "two", rows, seeds)
    assert not store.finish(job.id, "two", rows, seeds)  # never twice
    (done,) = [j for j in store.team_jobs(team.id) if j["id"] == job.id]
    assert done["state"] == "scored" and done["score"] == pytest.approx(1.5)
    assert [r["seed_index"] for r in store.job_runs(job.id)] == [0, 1]
    (other,) = store.claim("two", 5)
    assert store.retry_or_fail(other.id, "two", "boom") == "queued"
    (other,) = store.claim("two", 5)
    assert store.retry_or_fail(other.id, "two", "boom") == "failed"
    (failed,) = [j for j in store.team_jobs(team.id) if j["id"] == other.id]
    assert failed["reason"] == "the evaluation failed 2 times; last: boom"
    assert store.counts() == {"scored": 1, "failed": 1, "submissions": 2, "runs": 2}


def test_a_failed_run_fails_the_job_with_its_reason(store: Store) -> None:
    store.add_team("alpha")
    store.set_phase("public", "open")
    store.submit(store.teams()[0], "a.py", b"x = 1\n")
    (job,) = store.claim("one", 1)
    seeds = store.competition.seeds("public")
    rows = [
        {"scenario": "p1", "seed": seeds[0], "status": "ok", "score": 1.0},
        {
            "scenario": "p1",
            "seed": seeds[1],
            "status": "failed",
            "reason": "ValueError: x",
            "score": float("nan"),
        },
    ]
    assert store.finish(job.id, "one", rows, seeds)
    (j,) = store.team_jobs(store.teams()[0].id)
    assert j["state"] == "failed" and j["reason"] == "ValueError: x" and j["score"] is None


def test_check_source_and_rate_limiter() -> None:
    from starlette.exceptions import HTTPException

    from simcontinuum.serve.app import RateLimiter, check_source

    assert check_source("a.py", b"x = 1\n", 1000) == b"x = 1\n"
    for name, data, status, text in [
        ("a.py", b"x" * 1001, 413, "larger"),
        ("a.txt", b"x = 1\n", 400, "*.py"),
        ("a.py", b"   \n", 400, "empty"),
        ("a.py", b"def f(:\n", 400, "line 1"),
    ]:
        with pytest.raises(HTTPException) as info:
            check_source(name, data, 1000)
        assert info.value.status_code == status and text in info.value.detail
    for deep in (b"x = " + b"-" * 50000 + b"1\n", b"x = " + b"+".join([b"1"] * 50000) + b"\n"):
        with pytest.raises(HTTPException) as info:  # the compiler's own limits, not a crash
            check_source("deep.py", deep, 256 * 1024)
        assert info.value.status_code == 400 and "nested" in info.value.detail
    limiter = RateLimiter(3)
    assert [limiter.allow("k", now=t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert limiter.allow("k", now=3.0) == pytest.approx(57.0)
    assert limiter.allow("other", now=3.0) == 0.0
    assert limiter.allow("k", now=60.5) == 0.0  # the first hit left the window


def test_a_phase_window_bounds_its_submissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["phases"][0]["opens"] = "2030-01-01T09:00:00Z"
    doc["phases"][0]["closes"] = "2030-01-01T17:00:00Z"
    path.write_text(yaml.safe_dump(doc))
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)
    store.create()
    store.add_team("alpha")
    store.set_phase("public", "open")
    store.set_phase("private", "open")
    team = store.teams()[0]
    at = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert store.submit(team, "a.py", b"x = 1\n", now=at + 8 * 3600).phases == ("private",)
    assert store.submit(team, "a.py", b"x = 1\n", now=at + 10 * 3600).phases == (
        "public",
        "private",
    )
    assert store.submit(team, "a.py", b"x = 1\n", now=at + 17 * 3600).phases == ("private",)
    doc["phases"][0]["closes"] = "2030-01-01T08:00:00Z"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CompetitionError, match=r"phases\[0\].closes: must be after opens"):
        load_competition(path)


@pytest.mark.parametrize(
    "action",
    [["--show"], ["--add-team", "alpha"], ["--open", "public"], ["--reveal", "private"], []],
)
def test_commands_on_a_database_never_created_leave_no_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    action: list[str],
) -> None:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["serve", str(path), *action, "--insecure"]) == 2  # [] would run the server
    err = capsys.readouterr().err
    db = tmp_path / "competition.db"
    assert f"no competition database at {db}; create it with " in err, err
    assert f"`simcontinuum serve {path} --create`" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no empty SQLite file, no WAL
    assert main(["serve", str(path), "--create"]) == 0
    assert db.is_file()


def test_create_in_a_missing_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_competition(tmp_path, database="nowhere/cup.db")
    assert main(["serve", str(path), "--create"]) == 2
    err = capsys.readouterr().err
    assert f"the folder {tmp_path / 'nowhere'} does not exist" in err and "Traceback" not in err


def test_final_submissions_are_validated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_competition(tmp_path, final_submissions=0)
    assert main(["serve", str(path), "--show"]) == 2
    err = capsys.readouterr().err
    assert "final_submissions: Input should be greater than or equal to 1" in err, err
    limits = {"max_submissions_total": 3}
    path = write_competition(tmp_path, final_submissions=5, limits=limits)
    assert main(["serve", str(path), "--show"]) == 2
    err = capsys.readouterr().err
    assert "final_submissions (5) is more than limits.max_submissions_total (3)" in err, err
    assert "Traceback" not in err


def test_the_private_board_counts_the_final_submissions() -> None:
    jobs = [_job("a", 1, 3.0), _job("a", 2, 1.0), _job("a", 3, 2.0), _job("a", 4, None, "failed")]
    jobs += [_job("b", 5, 4.0), _job("b", 6, 0.5), _job("b", 7, 2.5)]
    public = {1: 0.1, 2: 0.9, 3: 0.2, 4: 0.05, 5: 0.3, 6: 0.8, 7: 0.3}
    rows = {r["team"]: r for r in private_rows(jobs, {"a": {1, 3}}, public, limit=2)}
    assert (rows["a"]["score"], rows["a"]["submission"], rows["a"]["final"]) == (2.0, 3, "selected")
    # b marked none: its 2 best public (7 and 5 tie at 0.3: the latest first), best private 2.5
    assert (rows["b"]["score"], rows["b"]["submission"], rows["b"]["final"]) == (2.5, 7, "auto")
    one = {r["team"]: r for r in private_rows(jobs, {}, public, limit=1)}
    assert one["a"]["score"] is None and one["a"]["rank"] is None  # its best public one failed
    assert "final" in board_csv({"rows": list(rows.values())}).splitlines()[0]


def test_selections_follow_the_rules(store: Store) -> None:
    from simcontinuum.serve.store import SelectionError

    store.add_team("alpha")
    store.add_team("bravo")
    alpha, bravo = store.teams()
    store.set_phase("public", "open")
    only_public = store.submit(alpha, "a.py", b"x = 1\n")
    with pytest.raises(SelectionError, match="not evaluated on a private phase"):
        store.select_final(alpha, only_public.submission_id)
    store.set_phase("private", "open")
    subs = [store.submit(alpha, f"{i}.py", b"x = 1\n").submission_id for i in range(3)]
    with pytest.raises(SelectionError, match="no submission") as info:
        store.select_final(bravo, subs[0])
    assert info.value.missing
    assert store.select_final(alpha, subs[0]).selected == (subs[0],)
    assert store.select_final(alpha, subs[0]).selected == (subs[0],)  # twice: once
    assert store.select_final(alpha, subs[1]).selected == (subs[0], subs[1])
    with pytest.raises(SelectionError, match="at most 2"):
        store.select_final(alpha, subs[2])
    assert store.select_final(alpha, subs[0], final=False).selected == (subs[1],)
    assert store.finals(bravo.id).automatic and not store.finals(alpha.id).automatic
    store.set_phase("private", "close")
    assert store.finals(alpha.id).locked
    with pytest.raises(SelectionError, match="locked"):
        store.select_final(alpha, subs[1], final=False)
    assert store.all_finals() == {"alpha": {subs[1]}}
    store.set_phase("private", "reveal")
    store.set_phase("private", "open")  # opened again after the reveal: still locked
    with pytest.raises(SelectionError, match="locked"):
        store.select_final(alpha, subs[0])
