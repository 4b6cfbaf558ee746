"""The competition server as teams and organizers use it: a real server (uvicorn in a
subprocess) on a free loopback port, driven through the CLI and plain HTTP."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from serve_support import (
    BEST_FIT,
    FIRST_FIT,
    HOSTILE,
    Running,
    cli,
    http,
    multipart,
    server,
    token_of,
    upload,
    wait_done,
    write_competition,
)


class Cup:
    """A running competition: its file, server, organizer token, and a way to add teams."""

    def __init__(self, path: Path, running: Running, organizer: str) -> None:
        self.path, self.running, self.organizer = path, running, organizer
        self.url = running.url

    def team(self, name: str) -> str:
        return token_of(cli("serve", str(self.path), "--add-team", name).stdout)


def _cup(root: Path, **overrides: object) -> Iterator[Cup]:
    path = write_competition(root, **overrides)
    organizer = token_of(cli("serve", str(path), "--create").stdout)
    cli("serve", str(path), "--open", "public")
    cli("serve", str(path), "--open", "private")
    with server(path) as running:
        yield Cup(path, running, organizer)


@pytest.fixture(scope="module")
def cup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cup]:
    yield from _cup(tmp_path_factory.mktemp("cup"))


def test_submit_and_status_from_the_command_line(cup: Cup, tmp_path: Path) -> None:
    token = cup.team("alpha")
    policy = tmp_path / "my_policy.py"
    policy.write_text(textwrap.dedent(FIRST_FIT))
    out = cli("submit", str(policy), "--server", cup.url, "--token", token).stdout
    assert re.search(r"queued: submission \d+ of team alpha on public, private; position \d+", out)
    jobs = wait_done(cup.url, token, 2)
    by_phase = {j["phase"]: j for j in jobs}
    assert by_phase["public"]["state"] == "scored" and by_phase["public"]["score"] > 0
    assert by_phase["private"]["state"] == "scored" and by_phase["private"]["score"] is None
    status = cli("status", "--server", cup.url, "--token", token).stdout
    assert "team alpha" in status and "my_policy.py" in status and "scored" in status
    # the run report: per-scenario scores on the public phase, none on the private one
    code, text, _ = http(f"{cup.url}/api/jobs/{by_phase['public']['job']}", token=token)
    report = json.loads(text)
    assert code == 200 and [s["scenario"] for s in report["scenarios"]] == ["p1"]
    assert len(report["runs"]) == 2 and {r["seed"] for r in report["runs"]} == {0, 1}
    code, text, _ = http(f"{cup.url}/api/jobs/{by_phase['private']['job']}", token=token)
    assert code == 200 and json.loads(text)["runs"] == [] and json.loads(text)["score"] is None
    # the public board shows alpha through the Ladder (a multiple of the 0.5 margin)
    board = json.loads(http(cup.url + "/api/leaderboard")[1])["phases"]
    public = next(b for b in board if b["name"] == "public")
    row = next(r for r in public["rows"] if r["team"] == "alpha")
    assert row["score"] == pytest.approx(round(by_phase["public"]["score"] / 0.5) * 0.5, abs=0.5)
    assert (row["score"] / 0.5) == pytest.approx(round(row["score"] / 0.5))
    private = next(b for b in board if b["name"] == "private")
    assert private["visible"] is False and private["rows"] == []
    # CSV export of the public board; the private one is refused until revealed
    code, text, headers = http(cup.url + "/leaderboard.csv?phase=public")
    assert code == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert any(r["team"] == "alpha" and r["rank"] for r in rows)
    assert http(cup.url + "/leaderboard.csv?phase=private")[0] == 403


def test_a_token_acts_only_for_its_team(cup: Cup) -> None:
    a, b = cup.team("carol"), cup.team("dave")
    code, answer = upload(cup.url, a, "c.py", FIRST_FIT)
    assert code == 202 and answer["team"] == "carol" and answer["position"] >= 1
    job = answer["jobs"][0]
    assert http(f"{cup.url}/api/jobs/{job}", token=b)[0] == 404  # not dave's
    assert http(f"{cup.url}/team/jobs/{job}", token=b)[0] == 404
    assert http(f"{cup.url}/api/jobs/{job}", token=a)[0] == 200
    dave = json.loads(http(cup.url + "/api/submissions", token=b)[1])
    assert dave["team"] == "dave" and dave["jobs"] == [] and dave["finals"]["selected"] == []
    assert http(cup.url + "/api/submissions", token="team_forged")[0] == 401
    assert http(cup.url + "/api/submissions")[0] == 401
    # the CLI says so, exit 2, no traceback
    proc = cli("status", "--server", cup.url, "--token", "team_forged", check=False)
    assert proc.returncode == 2 and "401" in proc.stderr and "Traceback" not in proc.stderr
    wait_done(cup.url, a, 2)


def test_organizer_pages_need_the_organizer_token(cup: Cup) -> None:
    team = cup.team("erin")
    assert http(cup.url + "/organizer")[0] == 403
    code, _, headers = http(cup.url + "/team")  # a person without a token: to the login form
    assert code == 303 and headers["location"] == "/login"
    assert http(cup.url + "/organizer", token=team)[0] == 403
    code, page, _ = http(cup.url + "/organizer", token=cup.organizer)
    assert code == 200 and "erin" in page and "open-public" in page
    code, _, _ = http(cup.url + "/organizer/phases/public/close", token=team, data=b"")
    assert code == 403
    states = json.loads(http(cup.url + "/api/leaderboard")[1])["phases"]
    assert {b["name"]: b["state"] for b in states} == {"public": "open", "private": "open"}


def test_hidden_scenarios_are_never_served(cup: Cup) -> None:
    code, page, _ = http(cup.url + "/scenarios")
    assert code == 200 and "/scenarios/public/p1" in page and "private" not in page
    code, text, _ = http(cup.url + "/scenarios/public/p1")
    assert code == 200 and "nodes" in text
    hidden_name = "h1"
    for url in (
        f"/scenarios/private/{hidden_name}",
        "/scenarios/private/p1",
        "/scenarios/public/h1",
        "/scenarios/public/..%2Fhidden-Qx7v2%2Fh1",
    ):
        assert http(cup.url + url)[0] == 404, url
    for url in ("/", "/board", "/scenarios", "/api/leaderboard", "/leaderboard.csv"):
        assert "hidden-Qx7v2" not in http(cup.url + url)[1], url
    assert http(cup.url + "/static/../config.py")[0] == 404


def test_uploads_are_capped_in_size_and_type(cup: Cup) -> None:
    token = cup.team("frank")
    big = b"# " + b"x" * (17 * 1024) + b"\n"
    code, answer = upload(cup.url, token, "big.py", big)
    assert code == 413 and "16 KiB" in answer["error"]
    code, answer = upload(cup.url, token, "notes.txt", "x = 1\n")
    assert code == 400 and "*.py" in answer["error"]
    code, answer = upload(cup.url, token, "syntax.py", "def broken(:\n")
    assert code == 400 and "line 1" in answer["error"]
    code, answer = upload(cup.url, token, "bin.py", b"\x00\x01ELF")
    assert code == 400 and "binary" in answer["error"]
    code, answer = upload(cup.url, token, "latin.py", "x = '\xe9'\n".encode("latin-1"))
    assert code == 400 and "UTF-8" in answer["error"]
    body, ctype = multipart("a.py", b"x = 1\n", field="other")
    code, text, _ = http(
        cup.url + "/api/submissions", token=token, data=body, headers={"Content-Type": ctype}
    )
    assert code == 400 and "policy" in text
    assert json.loads(http(cup.url + "/api/submissions", token=token)[1])["jobs"] == []


def test_cross_site_form_posts_are_refused(cup: Cup) -> None:
    token = cup.team("gina")
    body, ctype = multipart("a.py", textwrap.dedent(FIRST_FIT).encode())
    code, text, _ = http(
        cup.url + "/team/submit",
        data=body,
        headers={
            "Content-Type": ctype,
            "Cookie": f"simcontinuum_token={token}",
            "Origin": "http://evil.example",
        },
    )
    assert code == 403 and "cross-site" in text
    assert json.loads(http(cup.url + "/api/submissions", token=token)[1])["jobs"] == []


def test_hostile_submissions_are_contained(cup: Cup) -> None:
    token = cup.team("hostile")
    for name, code in HOSTILE.items():
        status, answer = upload(cup.url, token, name, code)
        assert status == 202, answer
    jobs = wait_done(cup.url, token, 2 * len(HOSTILE))
    reasons = {j["filename"]: j["reason"] for j in jobs if j["phase"] == "public"}
    assert all(j["state"] == "failed" for j in jobs), jobs
    assert "ValueError: boom" in reasons["raises.py"]
    assert "exited with status 3" in reasons["exits.py"]
    # the cgroup's memory limit ends it, or (reclaim under it being slow on a busy machine)
    # the organizer's clock does first: either way it fails with the reason
    hog = reasons["hog.py"].lower()
    assert "memory" in hog or "place() exceeded 5 s" in hog, hog
    assert "definitely_not_a_module" in reasons["badimport.py"]
    # on the private phase the reason waits for the reveal (it is text the policy controls)
    private = [j for j in jobs if j["phase"] == "private"]
    assert all("revealed" in j["reason"] for j in private)
    assert json.loads(http(cup.url + "/healthz")[1])["ok"] is True
    # the reason is escaped on the team page
    page = http(cup.url + "/team", token=token)[1]
    assert "boom &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_a_hostile_team_name_renders_as_text(cup: Cup) -> None:
    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import Store

    token = cup.team("xss")
    comp = load_competition(cup.path)
    store = Store(comp.database_url(), comp)
    team = store.team_for(token)
    assert team is not None
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    store.rename_unchecked(team.id, evil)
    store.close()
    upload(cup.url, token, "x.py", FIRST_FIT)
    wait_done(cup.url, token, 2)
    for url in ("/", "/board"):
        page = http(cup.url + url)[1]
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img" in page, url
        assert "<script>alert" not in page and "<img src=x" not in page
    assert evil not in http(cup.url + "/team", token=token)[1]
    _, _, headers = http(cup.url + "/")
    assert "script-src 'self'" in headers["content-security-policy"]


@pytest.fixture
def small_cup(tmp_path: Path) -> Iterator[Cup]:
    limits = {
        "wall_s": 120,
        "cpu_s": 30,
        "memory_mib": 1024,
        "max_upload_kib": 16,
        "max_submissions_per_day": 2,
        "max_submissions_total": 3,
    }
    yield from _cup(tmp_path, limits=limits, rate_limit_per_minute=25)


def test_limits_reveal_and_rate_limits(small_cup: Cup) -> None:
    cup = small_cup
    token = cup.team("alpha")
    assert upload(cup.url, token, "a.py", FIRST_FIT)[0] == 202
    assert upload(cup.url, token, "b.py", BEST_FIT)[0] == 202
    code, answer = upload(cup.url, token, "c.py", FIRST_FIT)
    assert code == 429 and "2 submissions today" in answer["error"]
    jobs = wait_done(cup.url, token, 4)
    assert {j["state"] for j in jobs} == {"scored"}
    # closing and revealing the private phase from the organizer's page
    org = {"Authorization": f"Bearer {cup.organizer}"}
    assert http(cup.url + "/organizer/phases/private/reveal", data=b"", headers=org)[0] == 409
    assert http(cup.url + "/organizer/phases/private/close", data=b"", headers=org)[0] == 303
    assert http(cup.url + "/organizer/phases/private/reveal", data=b"", headers=org)[0] == 303
    code, text, _ = http(cup.url + "/leaderboard.csv?phase=private")
    assert code == 200
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert all(j["score"] is None for j in jobs if j["phase"] == "private")
    jobs = wait_done(cup.url, token, 4)  # revealed: the private scores show now
    best = min((j for j in jobs if j["phase"] == "private"), key=lambda j: j["score"])
    assert row["team"] == "alpha" and row["rank"] == "1" and row["final"] == "auto"
    # none marked final: its final_submissions (2) best public ones count, the best of them
    assert float(row["score"]) == pytest.approx(best["score"])
    # too many requests from one client
    codes = [http(cup.url + "/scenarios")[0] for _ in range(30)]
    assert 429 in codes
    code, _, headers = http(cup.url + "/scenarios")
    assert code == 429 and int(headers["retry-after"]) >= 1
    # made-up tokens do not buy fresh budgets; a valid token has its own
    assert http(cup.url + "/scenarios", token="team_madeup")[0] == 429
    assert http(cup.url + "/organizer", token=cup.organizer)[0] == 200
