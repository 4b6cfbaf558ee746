"""Reliability, leaderboard isolation: what a hostile submission can and cannot reach.

``tests/test_leaderboard.py`` already covers submissions that raise, sleep or spin forever,
hoard memory, ``os._exit``, fail to import, and look for the hidden scenarios in their own
environment, argv, working directory and memory; ``tests/test_boundary_attacks.py`` every
attack class of the trusted-evaluation issue. This file adds:

- the worker's ``/proc/self`` view (cmdline, environ, open files, mapped files), ``HOME``
  and ``TMPDIR`` carry no hidden path;
- files it writes in its working folder, ``HOME`` or ``TMPDIR`` (one private tmpfs) vanish
  with the sandbox, and a write anywhere else fails (the organizer's files are not there);
- a file larger than the size limit fails the run;
- the organizer process is out of reach: its ``/proc/<ppid>/cmdline``, ``environ`` and
  ``cwd`` (which name the hidden folder) are not visible in the worker's pid namespace.

The leaderboard runs once, as a real ``simcontinuum leaderboard`` process (so that its own
argv holds the hidden folder, as for an organizer), for every submission of this file.
Needs bubblewrap (skips otherwise, saying why).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from simcontinuum.boundary import IsolationError, probe
from simcontinuum.generate.build import generate

TOKEN = "hidden-Rk4wQ9"  # the hidden folder's name and the organizer's secret
HEAD, TAIL = TOKEN[:7], TOKEN[7:]  # split in the sources: the joined token is in no file

SELF_SNOOP = f"""
import os, sys, tempfile
from simcontinuum.policy.builtins import FirstFit

TOKEN = {HEAD!r} + {TAIL!r}

def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""

class SelfSnoop(FirstFit):
    def place(self, app, view):
        leaks = []
        if TOKEN in _read("/proc/self/cmdline") or any(TOKEN in a for a in sys.argv):
            leaks.append("own argv")
        if TOKEN in _read("/proc/self/environ") or any(TOKEN in v for v in os.environ.values()):
            leaks.append("own environment")
        for fd in os.listdir("/proc/self/fd"):
            try:
                if TOKEN in os.readlink("/proc/self/fd/" + fd):
                    leaks.append("open file " + fd)
            except OSError:
                pass
        for where in (os.getcwd(), os.path.expanduser("~"), tempfile.gettempdir()):
            if TOKEN in where or any(TOKEN in n for n in os.listdir(where)):
                leaks.append("folder " + where)
        if TOKEN in _read("/proc/self/maps"):
            leaks.append("mapped files")
        if leaks:
            raise RuntimeError("leaked: " + ", ".join(leaks))
        return super().place(app, view)
"""

PARENT_SNOOP = f"""
import os
from simcontinuum.policy.builtins import FirstFit

TOKEN = {HEAD!r} + {TAIL!r}

def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""

class ParentSnoop(FirstFit):
    def place(self, app, view):
        ppid = os.getppid()
        leaks = []
        argv = _read(f"/proc/{{ppid}}/cmdline").split("\\0")
        if any(TOKEN in a for a in argv):
            leaks.append("organizer argv")
        if TOKEN in _read(f"/proc/{{ppid}}/environ"):
            leaks.append("organizer environment")
        try:
            if TOKEN in os.readlink(f"/proc/{{ppid}}/cwd"):
                leaks.append("organizer cwd")
        except OSError:
            pass
        for a in argv:  # with the path, the hidden scenarios are one open() away
            if TOKEN in a and os.path.isdir(a):
                for name in sorted(os.listdir(a)):
                    size = len(_read(os.path.join(a, name)))
                    leaks.append(f"read {{name}} ({{size}} characters)")
        if leaks:
            raise RuntimeError("leaked: " + ", ".join(leaks))
        return super().place(app, view)
"""

WRITER = """
import json, os, tempfile
from simcontinuum.policy.builtins import FirstFit

OUTSIDE = {outside!r}

class Writer(FirstFit):
    def place(self, app, view):
        mine = [os.path.abspath("in-cwd.txt"), os.path.expanduser("~/in-home.txt")]
        fd, tmp = tempfile.mkstemp(prefix="in-tmp-")
        os.close(fd)
        mine.append(tmp)
        for path in mine:
            with open(path, "w") as f:
                f.write("written by a submission")
        try:
            with open(OUTSIDE, "w") as f:  # anywhere the organizer's user may write
                f.write("written by a submission")
        except OSError:
            pass  # expected: the organizer's files are not in the sandbox
        else:
            raise RuntimeError("wrote outside the sandbox")
        with open(os.path.join(tempfile.gettempdir(), "report.json"), "w") as f:
            json.dump({{"cwd": os.getcwd(), "files": mine}}, f)
        for path in mine:
            assert open(path).read() == "written by a submission"
        return super().place(app, view)
"""

BIG_FILE = """
from simcontinuum.policy.builtins import FirstFit

class Filler(FirstFit):
    def place(self, app, view):
        chunk = b"x" * 2**24
        with open("filler.bin", "wb") as f:
            for _ in range(20):  # 320 MiB, over the 256 MiB file size limit
                f.write(chunk)
        return super().place(app, view)
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One ``simcontinuum leaderboard`` process over this file's submissions."""
    try:
        probe()
    except IsolationError as exc:
        pytest.skip(f"no isolation here: {exc}")
    base = tmp_path_factory.mktemp("board")
    hidden = base / TOKEN
    g = generate("smart-city", 10, 2, 3, {"duration": "4s", "warmup": "0s", "load": 0.1})
    g.write(hidden / "h1.yaml")
    outside = base / "outside" / "pwned.json"
    outside.parent.mkdir()
    subs = base / "submissions"
    subs.mkdir()
    (subs / "self_snoop.py").write_text(textwrap.dedent(SELF_SNOOP))
    (subs / "parent_snoop.py").write_text(textwrap.dedent(PARENT_SNOOP))
    (subs / "writer.py").write_text(textwrap.dedent(WRITER.format(outside=str(outside))))
    (subs / "big_file.py").write_text(textwrap.dedent(BIG_FILE))
    out = base / "lb"
    argv = [sys.executable, "-m", "simcontinuum.cli", "leaderboard", str(subs)]
    argv += ["--scenarios", str(hidden), "--seeds", "1", "--out", str(out), "--jobs", "2"]
    argv += ["--time-limit", "120", "--quiet"]
    env = {**os.environ, "ORGANIZER_SECRET": TOKEN}
    proc = subprocess.run(
        argv, cwd=hidden, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "leaderboard.csv").set_index("team")
    return {"table": table, "outside": outside, "hidden": hidden}


def status(board: dict[str, object], team: str) -> tuple[str, str]:
    table = board["table"]
    assert isinstance(table, pd.DataFrame)
    row = table.loc[team]
    return str(row["status"]), "" if pd.isna(row["reason"]) else str(row["reason"])


def test_the_child_sees_no_hidden_path_in_its_own_process(board: dict[str, object]) -> None:
    state, reason = status(board, "self_snoop")
    assert state == "ok", reason


def test_writes_in_the_sandbox_vanish_writes_elsewhere_fail(board: dict[str, object]) -> None:
    state, reason = status(board, "writer")
    assert state == "ok", reason  # its own writes worked, the one outside failed
    outside = board["outside"]
    assert isinstance(outside, Path)
    assert not outside.exists()


def test_a_file_over_the_size_limit_fails_the_run(board: dict[str, object]) -> None:
    state, reason = status(board, "big_file")
    assert state == "failed"
    assert "File too large" in reason or "file size limit" in reason, reason


def test_the_child_cannot_read_the_organizer_process(board: dict[str, object]) -> None:
    state, reason = status(board, "parent_snoop")
    assert state == "ok", reason
