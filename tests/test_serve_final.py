"""Final submissions for the private board, as on Kaggle, through a real server: a team
marks up to ``final_submissions`` of its submissions final (``simcontinuum select``, the JSON
API, the team page's form); the private board counts the best of them; a team that marks none
gets its best by public score, automatically; the marks lock when the private phase closes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from serve_support import (
    BEST_FIT,
    FIRST_FIT,
    SECRET,
    cli,
    http,
    server,
    token_of,
    upload,
    wait_done,
    write_competition,
)


def _final(url: str, token: str, sid: int, method: str = "POST") -> tuple[int, dict[str, object]]:
    code, text, _ = http(f"{url}/api/submissions/{sid}/final", token=token, method=method)
    return code, json.loads(text)


def test_final_submissions_choose_the_private_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import Store

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path, final_submissions=2)
    organizer = token_of(cli("serve", str(path), "--create").stdout)
    alpha = token_of(cli("serve", str(path), "--add-team", "alpha").stdout)
    bravo = token_of(cli("serve", str(path), "--add-team", "bravo").stdout)
    cli("serve", str(path), "--open", "public")
    cli("serve", str(path), "--open", "private")
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)
    with server(path) as srv:
        url = srv.url
        subs: dict[str, list[int]] = {"alpha": [], "bravo": []}
        for team, token, codes in (
            ("alpha", alpha, (BEST_FIT, FIRST_FIT, BEST_FIT)),
            ("bravo", bravo, (FIRST_FIT, BEST_FIT, FIRST_FIT)),
        ):
            for i, code in enumerate(codes):
                status, answer = upload(url, token, f"{team}{i}.py", code)
                assert status == 202, answer
                subs[team].append(int(answer["submission"]))
        wait_done(url, alpha, 6)
        wait_done(url, bravo, 6)
        private = {j["submission"]: j["score"] for j in store.phase_jobs("private")}
        public = {j["submission"]: j["score"] for j in store.phase_jobs("public")}
        a, b, c = subs["alpha"]
        assert private[a] != private[b], "the two policies must differ on the hidden scenario"
        worse, better = (a, b) if private[a] > private[b] else (b, a)  # lower is better

        # the command line marks the worse one final (the team cannot know it is worse)
        out = cli("select", str(worse), "--server", url, "--token", alpha).stdout
        assert f"submission {worse} is final" in out and f"#{worse}" in out
        # the API: a second mark, then a third is refused (final_submissions: 2)
        code, answer = _final(url, alpha, c)
        assert code == 200 and answer["selected"] == sorted([worse, c]) and answer["limit"] == 2
        code, answer = _final(url, alpha, better)
        assert code == 409 and "at most 2" in str(answer["error"])
        code, answer = _final(url, alpha, c, method="DELETE")
        assert code == 200 and answer["selected"] == [worse] and answer["final"] is False
        # the team page's form (cookie login), marked and unmarked again
        cookie = {"Cookie": f"simcontinuum_token={alpha}"}
        code, _, headers = http(f"{url}/team/final/{c}", data=b"final=1", headers=cookie)
        assert code == 303 and headers["location"].startswith("/team?done=")
        code, page, _ = http(url + headers["location"], token=alpha)
        assert code == 200 and f"submission {c} is final" in page
        page = http(url + "/team", token=alpha)[1]
        assert f"#{min(worse, c)}, #{max(worse, c)}" in page and "mark final" in page
        assert http(f"{url}/team/final/{c}", data=b"final=0", headers=cookie)[0] == 303
        # another team's submission is not found; the CLI exits 2
        assert _final(url, alpha, subs["bravo"][0])[0] == 404
        proc = cli("select", str(subs["bravo"][0]), "--server", url, "--token", alpha, check=False)
        assert proc.returncode == 2 and "404" in proc.stderr and "Traceback" not in proc.stderr
        status = json.loads(http(url + "/api/submissions", token=alpha)[1])
        assert status["finals"] == {
            "selected": [worse],
            "limit": 2,
            "automatic": False,
            "locked": False,
        }
        assert {j["submission"] for j in status["jobs"] if j["final"]} == {worse}
        assert "final" in cli("status", "--server", url, "--token", alpha).stdout
        # bravo marks none: its page says the best public ones count automatically
        page = http(url + "/team", token=bravo)[1]
        assert "count automatically on the private board" in page
        page = http(url + "/organizer", token=organizer)[1]  # the organizer sees the marks
        assert f'alpha <span class="note">final: #{worse}</span>' in page, page
        assert 'bravo <span class="note">final: automatic (best public)</span>' in page

        # the private phase closes: the marks are locked
        cli("serve", str(path), "--close", "private")
        code, answer = _final(url, alpha, better)
        assert code == 409 and "locked" in str(answer["error"])
        proc = cli(
            "select", str(worse), "--server", url, "--unselect", "--token", alpha, check=False
        )
        assert proc.returncode == 2 and "locked" in proc.stderr
        cli("serve", str(path), "--reveal", "private")

        code, text, _ = http(url + "/leaderboard.csv?phase=private")
        rows = {r["team"]: r for r in csv.DictReader(io.StringIO(text))}
    store.close()
    assert code == 200
    # alpha: the best of what it marked — the worse policy, not its best, not its last
    assert rows["alpha"]["final"] == "selected" and int(rows["alpha"]["submission"]) == worse
    assert float(rows["alpha"]["score"]) == pytest.approx(private[worse])
    # bravo: its two best by public score (the latest first among equals), the best of them
    top = sorted(subs["bravo"], key=lambda s: (public[s], -s))[:2]
    assert rows["bravo"]["final"] == "auto"
    assert float(rows["bravo"]["score"]) == pytest.approx(min(private[s] for s in top))
    assert int(rows["bravo"]["submission"]) in top
