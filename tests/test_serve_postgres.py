"""The competition server on a real PostgreSQL server, started by this test.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free loopback port (as the
``postgres`` user when we are root: PostgreSQL refuses to run as root), then the same
organizer commands and submissions as on SQLite, and the store's transactions under
concurrent uploads. Skipped, with the reason, where PostgreSQL is not installed (Debian:
``apt-get install postgresql``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed (the serve extra)")
pytest.importorskip("starlette", reason="the serve extra is not installed")

from serve_support import (
    FIRST_FIT,
    SECRET,
    cli,
    free_port,
    server,
    token_of,
    upload,
    wait_done,
    write_competition,
)
from test_serve_lease import race


def _pg_bin() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(d) / "initdb", os.X_OK):
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


PG = _pg_bin()
pytestmark = pytest.mark.skipif(
    PG is None, reason="PostgreSQL is not installed (apt-get install postgresql)"
)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    assert PG is not None
    root = Path(tempfile.mkdtemp(prefix="simcontinuum-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    port = free_port()
    log = root / "log.txt"
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(PG / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(PG / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(PG / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_a_competition_on_postgresql(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import LimitError, Store

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    db = ["--db", postgres]
    assert "organizer token" in cli("serve", str(path), *db, "--create").stdout
    again = cli("serve", str(path), *db, "--create", check=False)
    assert again.returncode == 2 and "already holds a competition" in again.stderr
    token = token_of(cli("serve", str(path), *db, "--add-team", "alpha").stdout)
    cli("serve", str(path), *db, "--open", "public")
    cli("serve", str(path), *db, "--open", "private")
    with server(path, *db) as srv:
        assert upload(srv.url, token, "a.py", FIRST_FIT)[0] == 202
        # a second server on the same PostgreSQL database: refused while the lease is live
        second = cli("serve", str(path), *db, "--port", str(free_port()), check=False)
        assert second.returncode == 2 and f"pid {srv.proc.pid} on host" in second.stderr
        assert "expires at" in second.stderr and "Traceback" not in second.stderr
        jobs = wait_done(srv.url, token, 2)
    assert {j["state"] for j in jobs} == {"scored"}

    # concurrent uploads of one team: the daily limit (20) holds exactly
    comp = load_competition(path)
    store = Store(postgres, comp)
    store.add_team("bravo")
    team = next(t for t in store.teams() if t.name == "bravo")
    accepted, refused = [], []

    def one() -> None:
        try:
            accepted.append(store.submit(team, "b.py", b"x = 1\n"))
        except LimitError:
            refused.append(1)

    threads = [threading.Thread(target=one) for _ in range(26)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 20 and len(refused) == 6
    claimed = store.claim("pg-owner", 100)
    assert len(claimed) == 40 and len({c.id for c in claimed}) == 40  # 20 × two phases
    assert store.claim("other", 100) == []
    assert store.recover() == 40
    store.close()
    show = cli("serve", str(path), *db, "--show").stdout
    assert "teams: alpha, bravo" in show and "queued 40" in show
    race(postgres, comp)  # eight servers take the lease at once: one wins (row locks)
