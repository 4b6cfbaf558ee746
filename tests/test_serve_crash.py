"""Nothing lost: the server is killed with SIGKILL while it evaluates, then started again.

After the restart every submission is evaluated exactly once to the end: the jobs finished
before the kill are untouched (same finish time, one evaluation), those in flight are
evaluated again (their half-done work was never written), none is dropped, and each job has
exactly its scenario × seed runs. The killed server's worker processes die with it.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from serve_support import (
    BEST_FIT,
    FIRST_FIT,
    SECRET,
    cli,
    server,
    start_server,
    token_of,
    upload,
    write_competition,
)

N = 6


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.update(int(x) for x in text.split())
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sigkill_mid_run_then_restart_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import Store, jobs, runs

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    cli("serve", str(path), "--create")
    token = token_of(cli("serve", str(path), "--add-team", "alpha").stdout)
    cli("serve", str(path), "--open", "public")
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)

    def table() -> dict[int, dict[str, object]]:
        with store.read() as c:
            return {int(r["id"]): dict(r) for r in c.execute(jobs.select()).mappings()}

    first = start_server(path)
    try:
        for i in range(N):
            code, answer = upload(first.url, token, f"p{i}.py", FIRST_FIT if i % 2 else BEST_FIT)
            assert code == 202, answer
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = [j["state"] for j in table().values()]
            if "scored" in states and "running" in states:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"never saw scored and running jobs at once: {table()}")
        workers = _children(first.proc.pid)
        first.kill(signal.SIGKILL)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait()
    before = table()
    done_before = {i: j for i, j in before.items() if j["state"] == "scored"}
    in_flight = {i for i, j in before.items() if j["state"] == "running"}
    assert done_before and in_flight and len(before) == N
    deadline = time.monotonic() + 30  # PR_SET_PDEATHSIG: the workers die with the server
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "worker processes outlived the server"

    with server(path) as second:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if all(j["state"] in ("scored", "failed") for j in table().values()):
                break
            time.sleep(0.2)
        log = second.log.read_text()
    after = table()
    assert len(after) == N and all(j["state"] == "scored" for j in after.values()), after
    for i, j in done_before.items():  # finished before the kill: not evaluated again
        assert after[i]["finished_at"] == j["finished_at"] and after[i]["evaluations"] == 1
        assert after[i]["score"] == j["score"]
    for i in in_flight:  # in flight: evaluated again, and that did not count as a failure
        assert after[i]["evaluations"] == 2 and after[i]["attempts"] == 1
    with store.read() as c:
        counts = c.execute(runs.select().with_only_columns(runs.c.job_id)).scalars().all()
    assert sorted(counts) == sorted([i for i in after for _ in range(2)])  # 1 scenario × 2 seeds
    assert f"resumed {len(in_flight)} job(s)" in log
    # the killed server's lease was live, but its process is gone: taken over at once
    assert f"took over the lease of {socket.gethostname()}:{first.proc.pid}:" in log, log
    assert "its process is gone" in log
    store.close()
