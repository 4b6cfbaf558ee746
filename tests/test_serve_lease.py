"""One server per database: the server lease, with real servers on one SQLite file.

A second server refuses to start while the first one's lease is live (exit 2, naming the
holder, its pid and host, and when the lease expires); a server that stops renewing (here:
SIGSTOP) loses it once it expires, and the server that takes over evaluates every job once;
the stopped one, resumed, finds it lost the lease and stops without touching the new one's
jobs; ``--takeover`` takes a live lease; a clean stop gives it up at once. The SIGKILL case
(the holder's process is gone: taken over at once) is tests/test_serve_crash.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import threading
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
    free_port,
    start_server,
    token_of,
    upload,
    write_competition,
)

from simcontinuum.serve.config import load_competition
from simcontinuum.serve.lease import Lease, holder_gone, process_start
from simcontinuum.serve.store import LeaseHeld, LeaseRow, Store, jobs, runs

TTL = 3.0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def test_two_servers_on_one_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path, server_lease_s=TTL)
    cli("serve", str(path), "--create")
    token = token_of(cli("serve", str(path), "--add-team", "alpha").stdout)
    cli("serve", str(path), "--open", "public")
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)
    servers = []
    try:
        first = start_server(path)
        servers.append(first.proc)
        for i in range(4):
            assert upload(first.url, token, f"p{i}.py", FIRST_FIT if i % 2 else BEST_FIT)[0] == 202

        show = cli("serve", str(path), "--show").stdout
        assert f"server: running, pid {first.proc.pid} on host {socket.gethostname()}" in show
        # a second server on the same database: refused, naming the holder and the expiry
        second = cli("serve", str(path), "--port", str(free_port()), check=False)
        assert second.returncode == 2, second.stderr
        err = second.stderr
        assert f"pid {first.proc.pid} on host {socket.gethostname()}" in err, err
        assert "another server runs this competition" in err and "expires at" in err
        assert "--takeover" in err and "Traceback" not in err

        # the first stops renewing (alive, but frozen): its lease expires by itself
        os.kill(first.proc.pid, signal.SIGSTOP)
        lease = store.lease()
        assert lease is not None and lease.pid == first.proc.pid
        while time.time() < lease.expires_at + 0.2:
            time.sleep(0.2)
        successor = start_server(path)
        servers.append(successor.proc)
        os.kill(first.proc.pid, signal.SIGCONT)
        assert first.proc.wait(timeout=60) == 1  # it found the lease lost, and stopped
        assert "took this database's lease over" in first.log.read_text()
        holder = store.lease()
        assert holder is not None and holder.pid == successor.proc.pid

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with store.read() as c:
                states = c.execute(jobs.select().with_only_columns(jobs.c.state)).scalars().all()
            if all(s in ("scored", "failed") for s in states):
                break
            time.sleep(0.3)
        with store.read() as c:
            table = c.execute(jobs.select()).mappings().all()
            per_job = c.execute(runs.select().with_only_columns(runs.c.job_id)).scalars().all()
        assert len(table) == 4 and {j["state"] for j in table} == {"scored"}, table
        assert sorted(per_job) == sorted(j["id"] for j in table for _ in range(2))  # once each

        # --takeover: a live lease is taken, and its holder stops
        third = start_server(path, "--takeover")
        servers.append(third.proc)
        assert successor.proc.wait(timeout=60) == 1
        # a clean stop gives the lease up: the next server starts at once, without a flag
        third.proc.send_signal(signal.SIGTERM)
        assert third.proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        released = store.lease()
        assert released is not None and released.expires_at == 0.0
        assert "server: none running" in cli("serve", str(path), "--show").stdout
        fourth = start_server(path)
        servers.append(fourth.proc)
        assert "took over" not in fourth.log.read_text()
    finally:
        for proc in servers:
            _stop(proc)
        store.close()


def _row(holder: str, now: float, pid: int | None = None, host: str | None = None) -> LeaseRow:
    pid = os.getpid() if pid is None else pid
    return LeaseRow(
        holder, host or socket.gethostname(), pid, process_start(pid), now, now, now + 30
    )


def test_only_one_of_many_racing_servers_gets_the_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    comp = load_competition(write_competition(tmp_path))
    Store(comp.database_url(), comp).create()
    race(comp.database_url(), comp)


def race(url: str, comp: object) -> None:
    """Eight servers (each its own connection) take the lease at once: exactly one wins."""
    stores = [Store(url, comp) for _ in range(8)]  # type: ignore[arg-type]
    won, refused = [], []
    barrier = threading.Barrier(len(stores))

    def one(i: int) -> None:
        barrier.wait()
        try:
            stores[i].acquire_lease(_row(f"h{i}", time.time()))
            won.append(i)
        except LeaseHeld as exc:
            refused.append(exc.lease.holder)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7 and set(refused) == {f"h{won[0]}"}
    store = stores[0]
    assert store.renew_lease(f"h{won[0]}", 30.0) and not store.renew_lease("h-other", 30.0)
    # a claim checks the lease in its own transaction: a server that lost it claims nothing
    store.add_team("zulu")
    store.set_phase("public", "open")
    store.submit(store.teams()[-1], "z.py", b"x = 1\n")
    assert store.claim("h-other", 5, lease="h-other") == []
    assert store.claim(f"h{won[0]}", 5, lease=f"h{won[0]}")  # the holder does
    assert store.release_lease(f"h{won[0]}")
    store.acquire_lease(_row("after", time.time()))  # released: free at once
    for s in stores:
        s.close()


def test_a_holder_is_gone_only_when_its_process_is(tmp_path: Path) -> None:
    now = time.time()
    assert not holder_gone(_row("me", now))  # this process
    proc = subprocess.Popen(["sleep", "30"])
    try:
        alive = _row("sleeper", now, pid=proc.pid)
        assert not holder_gone(alive)
        fields = dict(p.split("=", 1) for p in alive.pid_start.split(";"))
        reused = ";".join(f"{k}={v}" for k, v in {**fields, "start": "1"}.items())
        assert holder_gone(dataclasses.replace(alive, pid_start=reused))  # the pid was reused
        rebooted = ";".join(f"{k}={v}" for k, v in {**fields, "boot": "another"}.items())
        assert holder_gone(dataclasses.replace(alive, pid_start=rebooted))
        other_ns = ";".join(f"{k}={v}" for k, v in {**fields, "pidns": "1"}.items())
        assert not holder_gone(dataclasses.replace(alive, pid=2**22 - 5, pid_start=other_ns))
        assert not holder_gone(_row("elsewhere", now, pid=proc.pid, host="another-host"))
    finally:
        proc.kill()
        proc.wait()
    assert holder_gone(alive)  # exited (and reaped): its pid is free


def test_a_lease_lost_to_another_server_calls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    comp = load_competition(write_competition(tmp_path))
    store = Store(comp.database_url(), comp)
    store.create()
    lost = threading.Event()
    mine = Lease(store, ttl_s=2.0, on_lost=lost.set)
    mine.acquire()
    mine.start()
    other = Lease(store, ttl_s=2.0)
    with pytest.raises(LeaseHeld, match="another server runs this competition"):
        other.acquire()
    other.acquire(takeover=True)
    assert lost.wait(10) and mine.lost.is_set()
    mine.release()  # lost: it does not release the new holder's lease
    row = store.lease()
    assert row is not None and row.holder == other.holder and row.expires_at > time.time()
    store.close()
