"""The dispatcher on a real process pool: a worker that dies has its own job retried once,
a job whose worker dies twice fails with the reason, and the other jobs are untouched."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the serve extra is not installed")

from serve_support import FIRST_FIT, SECRET, flaky_evaluate, write_competition

from simcontinuum.serve.config import load_competition
from simcontinuum.serve.dispatch import Dispatcher
from simcontinuum.serve.store import Store


def test_dead_workers_retry_once_then_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    comp = load_competition(write_competition(tmp_path))
    store = Store(comp.database_url(), comp)
    store.create()
    store.add_team("alpha")
    store.set_phase("public", "open")
    team = store.teams()[0]
    body = textwrap.dedent(FIRST_FIT)
    once = store.submit(team, "once.py", f"# die: once {tmp_path / 'marker'}\n{body}".encode())
    always = store.submit(team, "always.py", f"# die: always\n{body}".encode())
    fine = store.submit(team, "fine.py", body.encode())
    dispatcher = Dispatcher(store, comp, workers=2, evaluate_fn=flaky_evaluate, poll_s=0.1)
    dispatcher.start()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if store.counts().get("queued", 0) + store.counts().get("running", 0) == 0:
                break
            time.sleep(0.2)
    finally:
        dispatcher.stop()
    jobs = {j["filename"]: j for j in store.team_jobs(team.id)}
    assert jobs["once.py"]["state"] == "scored" and jobs["once.py"]["attempts"] == 2
    assert jobs["always.py"]["state"] == "failed"
    assert "failed 2 times" in jobs["always.py"]["reason"]
    assert "worker process died" in jobs["always.py"]["reason"]
    assert jobs["fine.py"]["state"] == "scored" and jobs["fine.py"]["attempts"] == 1
    assert jobs["fine.py"]["score"] == pytest.approx(jobs["once.py"]["score"])
    assert len(store.job_runs(once.job_ids[0])) == 2 and store.job_runs(always.job_ids[0]) == []
    assert len(store.job_runs(fine.job_ids[0])) == 2
    assert dispatcher.error is None
    store.close()
