"""Helpers of the competition-server tests: a small competition on disk, a real server in a
subprocess on a free loopback port, and HTTP calls with the standard library.

Scenarios are tiny (4 simulated seconds, 10 nodes) and phases have two seeds, so one
evaluation takes about a second plus the sandbox's process start.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from policy_sources import BEST_FIT, FIRST_FIT, HOSTILE

SECRET = "test-secret-0123456789abcdef"


__all__ = ["BEST_FIT", "FIRST_FIT", "HOSTILE", "SECRET"]  # and the helpers below


def write_competition(root: Path, **overrides: Any) -> Path:
    """A competition folder under ``root``: one public and one private scenario, two seeds
    each; returns the path of ``competition.yaml``. ``overrides`` replace top-level keys."""
    from simcontinuum.generate.build import generate

    params = {"duration": "4s", "warmup": "0s", "load": 0.1}
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "hidden-Qx7v2").mkdir(exist_ok=True)
    generate("smart-city", 10, 2, 3, params).write(root / "public" / "p1.yaml")
    generate("smart-city", 11, 2, 3, params).write(root / "hidden-Qx7v2" / "h1.yaml")
    doc: dict[str, Any] = {
        "name": "Test cup",
        "phases": [
            {
                "name": "public",
                "kind": "public",
                "scenarios": ["public/"],
                "seeds": 2,
                "ladder_margin": 0.5,
            },
            {"name": "private", "kind": "private", "scenarios": ["hidden-Qx7v2/"], "seeds": 2},
        ],
        "limits": {
            "wall_s": 120,
            "cpu_s": 30,
            "memory_mib": 1024,
            "max_upload_kib": 16,
            "max_submissions_per_day": 20,
        },
        "workers": 2,
        "rate_limit_per_minute": 600,
    }
    doc.update(overrides)
    path = root / "competition.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def env() -> dict[str, str]:
    """The environment of a server subprocess: ours, plus the organizer's secret."""
    return {**os.environ, "SIMCONTINUUM_COMPETITION_SECRET": SECRET}


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``simcontinuum ARGS`` in a subprocess (with the secret set)."""
    proc = subprocess.run(
        [sys.executable, "-m", "simcontinuum.cli", *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def token_of(output: str) -> str:
    """The token printed by ``--create`` or ``--add-team``."""
    return output.strip().split()[-1]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """A server subprocess: its URL, process, and log."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server process (only it: its workers die with it)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=60)


def start_server(competition: Path, *extra: str, log: Path | None = None) -> Running:
    """Start ``simcontinuum serve`` on a free port; returns when ``/healthz`` answers."""
    port = free_port()
    log = log or competition.parent / f"server-{port}.log"
    out = open(log, "ab")  # noqa: SIM115 - the server writes here while it lives
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simcontinuum.cli",
            "serve",
            str(competition),
            "--port",
            str(port),
            *extra,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env(),
    )
    out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2):
            return Running(proc, url, log)
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the server did not answer: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def server(competition: Path, *extra: str) -> Iterator[Running]:
    """A running server for the block; stopped (SIGTERM, then SIGKILL) after it."""
    running = start_server(competition, *extra)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGTERM)
            try:
                running.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                running.proc.kill()
                running.proc.wait()


def http(
    url: str,
    *,
    token: str | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, str, dict[str, str]]:
    """One request; returns (status, body text, headers) — never raises on HTTP errors."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=h, method=method)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), _lower(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), _lower(exc.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def multipart(filename: str, content: bytes, field: str = "policy") -> tuple[bytes, str]:
    """A multipart body with one file; returns (body, content type)."""
    boundary = "testboundary7f3a"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: text/x-python\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload(url: str, token: str, filename: str, code: str | bytes) -> tuple[int, dict[str, Any]]:
    """POST a policy to ``/api/submissions``; returns (status, JSON answer)."""
    content = textwrap.dedent(code).encode() if isinstance(code, str) else code
    body, ctype = multipart(filename, content)
    status, text, _ = http(
        url + "/api/submissions", token=token, data=body, headers={"Content-Type": ctype}
    )
    return status, json.loads(text)


def wait_done(url: str, token: str, n_jobs: int, timeout: float = 300) -> list[dict[str, Any]]:
    """Poll ``/api/submissions`` until ``n_jobs`` jobs of the team are scored or failed."""
    deadline = time.monotonic() + timeout
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, text, _ = http(url + "/api/submissions", token=token)
        if status == 429:  # a server with a low rate limit: wait, then ask again
            time.sleep(2.0)
            continue
        assert status == 200, text
        jobs = json.loads(text)["jobs"]
        if len(jobs) >= n_jobs and all(j["state"] in ("scored", "failed") for j in jobs):
            return jobs
        time.sleep(1.0)
    raise AssertionError(f"not finished in {timeout} s: {jobs}")


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def flaky_evaluate(code: bytes, scenarios: Any, seeds: Any, limits: Any, isolation: Any) -> Any:
    """An evaluation whose worker process dies, as the submission's first line says:
    ``# die: always`` (every time) or ``# die: once PATH`` (the first time: PATH is made)."""
    from simcontinuum.serve.evaluate import evaluate

    head = code.split(b"\n", 1)[0].decode()
    if head.startswith("# die: always"):
        os._exit(9)
    if head.startswith("# die: once "):
        marker = Path(head.split(" ", 3)[3])
        if not marker.exists():
            marker.touch()
            os._exit(9)
    return evaluate(code, scenarios, seeds, limits, isolation)
