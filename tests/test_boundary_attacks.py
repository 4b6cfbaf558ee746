"""Hostile submissions against the leaderboard behind the boundary: each attack class of the
trusted-evaluation issue is tried by one team, and each is contained — a failed row with a
reason (or, where the attack simply has no effect, the team's true score) — while the honest
teams are ranked with their true score.

One real ``simcontinuum leaderboard`` process runs every team (its argv holds the hidden
folder, as an organizer's does). Needs bubblewrap; skips, saying why, where the kernel or
the machine forbids it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import simcontinuum
from simcontinuum.boundary import IsolationError, probe

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "hidden-Zp3kW8"  # the hidden folder's and scenario's name, and the daemons' marker
HEAD, TAIL = TOKEN[:7], TOKEN[7:]  # split in the sources: the joined token is in no file
MARK = "simcontinuum-attack-" + "marker"  # in the argv of every process an attacker leaves

try:
    ISO = probe()
    WHY = ""
except IsolationError as exc:
    ISO = None
    WHY = str(exc)

pytestmark = pytest.mark.skipif(ISO is None, reason=f"no isolation here: {WHY}")

PRELUDE = f"""
import gc, glob, os, signal, socket, subprocess, sys, time
from simcontinuum.policy.builtins import FirstFit

_HEAD, _TAIL = {HEAD!r}, {TAIL!r}  # joined only inside a call: no container holds the token
MARK = {MARK!r}

def channel_fds():
    # the organizer's pipe is whichever fd is a pipe we may write: find them all
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + fd).startswith("pipe:") and int(fd) > 2:
                out.append(int(fd))
        except OSError:
            pass
    return out

def linger(seconds, *extra):
    # a process that outlives its parent, marked so the test can look for it
    return subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep({{seconds}})", MARK, *extra],
        start_new_session=True, stdin=subprocess.DEVNULL,
    )
"""

ATTACKS = {
    # forgery on the channel: a perfect row, straight to the organizer's pipe, then exit
    "forge": """
class Forge(FirstFit):
    def place(self, app, view):
        row = {"type": "row", "row": {"team": "forge", "scenario": "s", "seed": 0,
               "status": "ok", "score": -1e9}}
        for fd in channel_fds() + [1]:
            try:
                os.write(fd, (__import__("json").dumps(row) + "\\n").encode())
            except OSError:
                pass
        os._exit(0)
""",
    # scorer patching: every score function this process can reach returns 0
    "patch": """
import simcontinuum.metrics.score as score
import simcontinuum.results as results

results.Results.summary = lambda self: {"score": 0.0}
for name in dir(score):
    if callable(getattr(score, name)) and not name.startswith("_"):
        setattr(score, name, lambda *a, **k: 0.0)

class Patch(FirstFit):
    pass
""",
    # cross-team writes: the other team's file, the output folder, every staging folder
    "crosswrite": """
TARGETS = {targets!r}

class CrossWrite(FirstFit):
    def place(self, app, view):
        errors = []
        paths = list(TARGETS) + glob.glob("/tmp/simcontinuum-stag*/*/*")
        for path in paths:
            try:
                with open(path, "a") as f:
                    f.write("\\nclass Pwned: pass\\n")
            except OSError as exc:
                errors.append(f"{{type(exc).__name__}}: {{exc.strerror}}")
        if len(errors) < len(paths):
            return super().place(app, view)  # a write went through: the attack worked
        raise RuntimeError("blocked: " + "; ".join(sorted(set(errors))))
""",
    # a detached daemon meant to rewrite leaderboard.csv after the organizer exits
    "daemon": """
class Daemon(FirstFit):
    def place(self, app, view):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                linger(60, "daemon")
                os._exit(0)
            os._exit(0)
        time.sleep(0.5)
        raise RuntimeError("a daemon is running")
""",
    # signals to the organizer and to everything it may see
    "signals": """
class Signals(FirstFit):
    def place(self, app, view):
        for pid in {os.getppid(), 1}:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        try:
            os.kill(-1, signal.SIGTERM)
        except OSError:
            pass
        raise RuntimeError("signalled everything it could see; the organizer is still there")
""",
    # a grandchild holds the pipe open, the worker goes quiet
    "pipehold": """
class PipeHold(FirstFit):
    def place(self, app, view):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARK, "pipe"],
                         pass_fds=channel_fds(), start_new_session=True)
        time.sleep(120)
""",
    # floods: 20 MiB of log, then 64 MiB without a newline down the channel
    "flood": """
class Flood(FirstFit):
    def place(self, app, view):
        chunk = b"x" * 2**20
        for _ in range(20):
            os.write(2, chunk)
        for fd in channel_fds():
            try:
                for _ in range(64):
                    os.write(fd, chunk)
            except OSError:
                pass
        time.sleep(30)
""",
    # poison rows: a 32 MiB formula with newlines as the reason
    "poison": """
class Poison(FirstFit):
    def place(self, app, view):
        raise ValueError("=HYPERLINK(\\"http://x\\")\\n" + "<html>" * (2**22))
""",
    # fork counts: 200 processes against a limit of 64 for the whole submission
    "forkbomb": """
class ForkBomb(FirstFit):
    def place(self, app, view):
        n = 0
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
        except OSError as exc:
            raise RuntimeError(f"blocked after {n} processes: {exc.strerror}") from None
        return super().place(app, view)  # 200 processes: the attack worked
""",
    # memory across children: 4 x 400 MiB, each under the per-process limit (while loading)
    "memkids": """
r, w = os.pipe()
os.set_blocking(r, False)
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(400 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        os.write(w, b"x")
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
held, dead = 0, set()
while held + len(dead) < 4:
    try:
        held += len(os.read(r, 4))
    except BlockingIOError:
        pass
    dead |= {p for p in kids if p not in dead and os.waitpid(p, os.WNOHANG)[0]}
    time.sleep(0.05)
if dead:
    raise RuntimeError(f"blocked: {len(dead)} of 4 children were killed")

class MemKids(FirstFit):  # 1.6 GiB held across children: the attack worked
    pass
""",
    # network: the organizer's loopback, TCP and UDP
    "network": """
PORT = {port}

class Network(FirstFit):
    def place(self, app, view):
        errors = []
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"leak")
            return super().place(app, view)  # connected: the attack worked
        except OSError as exc:
            errors.append(f"tcp: {{exc.strerror or exc}}")
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", PORT))
        except OSError as exc:
            errors.append(f"udp: {{exc.strerror or exc}}")
        raise RuntimeError("blocked: " + "; ".join(errors))
""",
    # timer tampering: switch the alarm off, then think 6 s against a 2 s policy_timeout
    "timer": """
class Timer(FirstFit):
    def place(self, app, view):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(6)
        return super().place(app, view)
""",
    # hidden vs public by name, path or memory; and the hidden files themselves
    "snoop": """
HIDDEN_PARENT = {hidden!r}  # the hidden folder is HIDDEN_PARENT/<token>

class Snoop(FirstFit):
    def place(self, app, view):
        token = _HEAD + _TAIL
        seen = []
        for obj in gc.get_objects():
            values = list(obj.values()) if isinstance(obj, dict) else (
                list(obj) if isinstance(obj, (list, tuple)) else [])
            if any(isinstance(v, str) and token in v for v in values):
                seen.append("memory")
                break
        for path in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ"):
            try:
                if token.encode() in open(path, "rb").read():
                    seen.append(path)
            except OSError:
                pass
        for path in glob.glob(os.path.join(HIDDEN_PARENT, token, "*")):
            seen.append(path)
        if seen:
            return super().place(app, view)  # hidden: behave (the attack worked)
        raise RuntimeError("saw no name and no path: cannot tell hidden from public")
""",
    # writes to the code root: sitecustomize.py for every later team
    "codewrite": """
import site
import simcontinuum

class CodeWrite(FirstFit):
    def place(self, app, view):
        pkg = os.path.dirname(simcontinuum.__file__)
        targets = [os.path.join(d, "sitecustomize.py") for d in site.getsitepackages()]
        targets += [os.path.join(os.path.dirname(pkg), "sitecustomize.py"),
                    os.path.join(pkg, "metrics", "score.py")]
        errors = []
        for path in targets:
            try:
                with open(path, "a") as f:
                    f.write("\\n# pwned\\n")
            except OSError as exc:
                errors.append(exc.strerror)
        if len(errors) < len(targets):
            return super().place(app, view)  # a write went through: the attack worked
        raise RuntimeError("blocked: " + "; ".join(sorted(set(errors))))
""",
}

HONEST = """
from simcontinuum.policy.builtins import FirstFit

class Honest(FirstFit):
    name = "honest"
"""

EXPECT = {  # team -> a fragment of its failed row's reason
    "forge": "ProtocolViolation: expected a 'placement'",
    "crosswrite": "blocked:",
    "daemon": "a daemon is running",
    "signals": "the organizer is still there",
    "pipehold": "exceeded 2 s",
    "flood": "longer than",
    "poison": "ValueError: HYPERLINK",
    "forkbomb": "blocked after",
    "network": "blocked:",
    "timer": "exceeded 2 s",
    "snoop": "cannot tell hidden from public",
    "codewrite": "Read-only file system",  # + "Permission denied" for a checkout under /tmp
}


class Listener:
    """A TCP and a UDP socket on the organizer's loopback; counts what reaches them."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp.settimeout(0.2)
        self.udp.settimeout(0.2)
        self.hits = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            for sock in (self.tcp, self.udp):
                try:
                    if sock is self.tcp:
                        conn, _ = sock.accept()
                        conn.close()
                    else:
                        sock.recvfrom(64)
                    self.hits += 1
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


def hidden_scenario(folder: Path) -> None:
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    text = text.replace("name: quickstart", f"name: {TOKEN}-finals")
    text = text.replace("duration: 120s", "duration: 5s").replace("warmup: 10s", "warmup: 0s")
    text = text.replace("control: {interval: 10s}", "control: {interval: 2s, policy_timeout: 2s}")
    folder.mkdir(parents=True)
    (folder / "finals.yaml").write_text(text)


def survivors() -> list[str]:
    out = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARK.encode() in path.read_bytes():
                out.append(path.parent.name)
        except OSError:
            pass
    return out


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("attacks")
    hidden = base / TOKEN
    hidden_scenario(hidden)
    subs, out = base / "submissions", base / "lb"
    subs.mkdir()
    (subs / "honest.py").write_text(HONEST)
    (subs / "zz_honest.py").write_text(HONEST)  # runs after codewrite: a planted file would hit it
    listener = Listener()
    fill = {
        "targets": [str(subs / "honest.py"), str(out / "leaderboard.csv"), str(base / "x")],
        "port": listener.port,
        "hidden": str(hidden.parent),
    }
    for team, code in ATTACKS.items():
        body = code.format(**fill) if team in ("crosswrite", "network", "snoop") else code
        (subs / f"{team}.py").write_text(textwrap.dedent(PRELUDE + body))
    honest_before = (subs / "honest.py").read_text()
    argv = [sys.executable, "-m", "simcontinuum.cli", "leaderboard", str(subs)]
    argv += ["--scenarios", str(hidden), "--seeds", "1", "--out", str(out), "--jobs", "2"]
    argv += ["--time-limit", "60", "--memory-limit", "1024", "--quiet"]
    try:
        proc = subprocess.run(
            argv, cwd=hidden, capture_output=True, text=True, timeout=600, check=False
        )
    finally:
        listener.close()
    left = survivors()
    written = (out / "leaderboard.csv").read_bytes() if out.exists() else b""
    time.sleep(1.0)  # a daemon would now rewrite the table
    return {
        "proc": proc,
        "table": pd.read_csv(out / "leaderboard.csv").set_index("team") if written else None,
        "written": written,
        "out": out,
        "survivors": left,
        "hits": listener.hits,
        "honest_intact": (subs / "honest.py").read_text() == honest_before,
        "hidden": hidden,
    }


def row(board: dict[str, object], team: str) -> tuple[str, str]:
    table = board["table"]
    assert isinstance(table, pd.DataFrame)
    r = table.loc[team]
    return str(r["status"]), "" if pd.isna(r["reason"]) else str(r["reason"])


def test_the_organizer_finishes_and_ranks_the_honest_teams(board: dict[str, object]) -> None:
    proc = board["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = board["table"]
    assert isinstance(table, pd.DataFrame)
    hidden = board["hidden"]
    assert isinstance(hidden, Path)
    truth = simcontinuum.run(hidden / "finals.yaml", "first-fit", seed=0).summary()["score"]
    for team in ("honest", "zz_honest", "patch"):  # patch: its patches never reach the scorer
        assert table.loc[team, "status"] == "ok", row(board, team)
        assert table.loc[team, "score"] == pytest.approx(truth)
        assert table.loc[team, "rank"] == 1
    assert sorted(table.index) == sorted([*ATTACKS, "honest", "zz_honest"])
    print(table[["rank", "status", "score", "reason"]].to_string())  # shown with -s


@pytest.mark.parametrize("team", sorted(EXPECT))
def test_each_attack_is_contained_with_a_reason(board: dict[str, object], team: str) -> None:
    status, reason = row(board, team)
    assert status == "failed", f"{team}: {reason}"
    assert EXPECT[team] in reason, f"{team}: {reason}"
    assert len(reason) <= 300 and not reason.startswith(("=", "+", "-", "@"))
    assert "\n" not in reason


def test_memory_across_children_is_one_limit(board: dict[str, object]) -> None:
    status, reason = row(board, "memkids")
    if ISO is not None and ISO.cgroup is None:
        pytest.skip("no writable cgroup here: memory is limited per process only")
    assert status == "failed"
    assert "memory" in reason or "blocked" in reason, reason


def test_nothing_of_a_submission_outlives_the_leaderboard(board: dict[str, object]) -> None:
    assert board["survivors"] == [], "processes left by submissions"
    out = board["out"]
    assert isinstance(out, Path)
    assert (out / "leaderboard.csv").read_bytes() == board["written"]  # nobody rewrote it
    assert sorted(p.name for p in out.iterdir()) == [
        "leaderboard.csv",
        "leaderboard.html",
        "leaderboard_runs.csv",
    ]


def test_no_write_reached_another_team_the_code_or_the_network(board: dict[str, object]) -> None:
    assert board["honest_intact"]
    assert board["hits"] == 0
    pkg = Path(simcontinuum.__file__).resolve().parent
    assert not (pkg.parent / "sitecustomize.py").exists()
    assert "pwned" not in (pkg / "metrics" / "score.py").read_text()
    import site

    for d in site.getsitepackages():
        assert not (Path(d) / "sitecustomize.py").exists()


def test_the_tables_hold_only_what_the_organizer_computed(board: dict[str, object]) -> None:
    runs = pd.read_csv(Path(str(board["out"])) / "leaderboard_runs.csv")
    assert pd.api.types.is_float_dtype(runs["score"])
    assert (runs[runs["status"] == "failed"]["score"].isna()).all()
    assert runs["team"].value_counts().max() == 1  # one hidden scenario x one seed each
    reasons = runs["reason"].dropna().astype(str)
    assert (reasons.str.len() <= 300).all() and not reasons.str.contains("\n").any()
