"""The organizer's day in docs/competition.md runs as written, on the shipped example
competition: every ``simcontinuum`` command of its ``bash`` blocks, in order (the server in
the background, on a free port), except the two that need outside infrastructure (a Dask
scheduler and a PostgreSQL host; tests/test_serve_dask.py and tests/test_serve_postgres.py
run those paths on servers they start)."""

from __future__ import annotations

import csv
import io
import re
import shlex
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")

from serve_support import SECRET, http, start_server, token_of

from simcontinuum.cli import main

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("--address tcp://10.0.0.5", "db.internal")


def _commands() -> list[str]:
    text = (ROOT / "docs" / "competition.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("simcontinuum ") and not any(o in line for o in OUTSIDE):
                cmds.append(line)
    return cmds


def test_the_organizers_day_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(
        ROOT / "examples" / "competition",
        tmp_path / "examples" / "competition",
        ignore=shutil.ignore_patterns("competition.db*"),
    )
    shutil.copy(ROOT / "examples" / "my_policy.py", tmp_path / "examples" / "my_policy.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    commands = _commands()
    assert [c.split()[1] for c in commands].count("serve") >= 9 and len(commands) >= 11
    running = None
    tokens: dict[str, str] = {}
    try:
        for command in commands:
            argv = shlex.split(command)[1:]
            if argv[0] == "serve" and "--port" in argv:
                running = start_server(Path(argv[1]).resolve())
                continue
            if argv[0] in ("submit", "status", "select"):
                assert running is not None, "the docs submit before the server runs"
                argv = [running.url if a == "http://127.0.0.1:8000" else a for a in argv]
                monkeypatch.setenv("SIMCONTINUUM_TOKEN", tokens["alpha"])
            capsys.readouterr()
            assert main(argv) == 0, command  # in this process: the organizer's commands
            out = capsys.readouterr().out
            if "--add-team" in argv:
                tokens[argv[argv.index("--add-team") + 1]] = token_of(out)
            if argv[0] == "submit":
                assert re.search(r"queued: submission 1 of team alpha on public, private", out)
        assert running is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            code, text, _ = http(running.url + "/leaderboard.csv?phase=private")
            if code == 200 and "alpha" in text:
                break
            time.sleep(1)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert code == 200 and rows[0]["team"] == "alpha" and rows[0]["rank"] == "1", text
        assert rows[0]["final"] == "selected" and rows[0]["submission"] == "1"  # `select 1`
    finally:
        if running is not None:
            running.kill(15)
