"""One running policy worker and its pipes, read through a selector with deadlines and caps.

The organizer writes a request to the worker's stdin and reads exactly one line back from its
stdout, both without blocking: a selector waits on stdin (while the request is being
written), stdout and stderr at once, up to a deadline. A reply longer than
:data:`~simcontinuum.boundary.protocol.MAX_LINE`, a line nobody asked for, end of file, or the
deadline ends the worker: it is killed together with every process it started, and the
call fails. stderr is drained whenever the organizer waits and only its last
:data:`STDERR_TAIL` bytes are kept.

Invariant: :meth:`Worker.stop` returns only when no process of the submission is left (the
cgroup is empty, or the sandbox's pid namespace is gone, or — not isolated — its process
group is empty; this last one cannot see a process that left the group with ``setsid``).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from simcontinuum.boundary.isolation import (
    Cgroup,
    Isolation,
    SandboxLimits,
    preexec,
    sandbox_argv,
    worker_env,
)
from simcontinuum.boundary.protocol import MAX_LINE, VERSION, ProtocolViolation, decode, encode
from simcontinuum.boundary.seccomp import filter_fd

STDERR_TAIL = 64 * 1024


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been stopped)."""


class WorkerExited(Exception):
    """The worker ended (or was ended by a limit) while a call was pending."""


class Worker:
    """A started worker process: ``request()`` one message at a time, then ``stop()``.

    Args:
        command: the worker's command (inside the sandbox's file system when isolated).
        iso: how to isolate it; limits: its sandbox limits.
        submission: host directory mounted read-only at ``/submission`` (isolated runs); the
            worker's working directory otherwise.
    """

    def __init__(
        self,
        command: list[str],
        iso: Isolation,
        limits: SandboxLimits,
        submission: Path | None = None,
    ) -> None:
        self.iso = iso
        self.limits = limits
        self.cgroup = Cgroup(iso.cgroup, limits) if iso.isolated and iso.cgroup else None
        self.buf = bytearray()
        self.stderr_tail = bytearray()
        self.stderr_bytes = 0
        self.dead: str | None = None
        info_r, info_w = os.pipe() if iso.isolated else (-1, -1)
        seccomp_r = filter_fd() if iso.isolated and iso.seccomp else -1
        argv = sandbox_argv(
            iso,
            command,
            submission,
            limits,
            info_w if iso.isolated else None,
            seccomp_r if seccomp_r >= 0 else None,
        )
        home = str(submission) if submission is not None and not iso.isolated else None
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=home or ("/" if iso.isolated else None),
                env=worker_env(home or "/tmp") if not iso.isolated else {"PATH": "/usr/bin:/bin"},
                start_new_session=True,  # its own process group: stopped as a whole
                pass_fds=tuple(fd for fd in (info_w, seccomp_r) if fd >= 0),
                preexec_fn=preexec(limits, self.cgroup, isolated=iso.isolated),
            )
        except BaseException:
            if self.cgroup is not None:
                self.cgroup.remove()
            raise
        finally:
            for fd in (info_w, seccomp_r):
                if fd >= 0:
                    os.close(fd)
        self._info_fd = info_r
        self.ns_pid: int | None = None
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        for fd in (self._in, self._out, self._err):
            os.set_blocking(fd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self._out, selectors.EVENT_READ)
        self.sel.register(self._err, selectors.EVENT_READ)

    # ------------------------------------------------------------------ talking
    def handshake(self, timeout_s: float) -> dict[str, Any]:
        """Send ``hello`` and return the worker's first message (``hello`` or ``fatal``)."""
        return self.request({"type": "hello", "protocol": VERSION}, timeout_s)

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and return the one reply (decoded, not yet checked).

        Raises:
            WorkerTimeout, WorkerExited, ProtocolViolation: the worker has been stopped.
        """
        if self.dead:
            raise WorkerExited(self.dead)
        try:
            if self.buf:
                raise ProtocolViolation("the worker wrote a message nobody asked for")
            line = self._exchange(encode(message), time.monotonic() + timeout_s)
            return decode(line)
        except ProtocolViolation as exc:
            self.stop(f"protocol violation: {exc}")
            raise
        except BaseException as exc:  # a deadline, the engine's own time-out, Ctrl-C
            self.stop(f"stopped ({type(exc).__name__})")
            raise

    def _exchange(self, data: bytes, deadline: float) -> bytes:
        pending = memoryview(data)
        if pending:  # a request fits the pipe's buffer as a rule: write it at once
            try:
                pending = pending[os.write(self._in, pending[: 1 << 16]) :]
            except BrokenPipeError:
                raise WorkerExited(self._exit_reason()) from None
            except BlockingIOError:
                pass
        writing = bool(pending)
        if writing:  # the rest when the worker has read some
            self.sel.register(self._in, selectors.EVENT_WRITE)
        try:
            while True:
                nl = self.buf.find(b"\n")
                if nl >= 0 and not writing:
                    line = bytes(self.buf[: nl + 1])
                    del self.buf[: nl + 1]
                    return line
                if nl < 0 and len(self.buf) > MAX_LINE:
                    raise ProtocolViolation(f"a reply longer than {MAX_LINE} bytes")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerTimeout("no reply before the deadline")
                for key, _mask in self.sel.select(left):
                    fd = key.fd
                    if fd == self._in:
                        try:
                            n = os.write(fd, pending[: 1 << 16])
                        except BrokenPipeError:
                            raise WorkerExited(self._exit_reason()) from None
                        except BlockingIOError:
                            continue
                        pending = pending[n:]
                        if not pending:
                            self.sel.unregister(fd)
                            writing = False
                    elif fd == self._out:
                        chunk = _read(fd)
                        if chunk == b"":
                            raise WorkerExited(self._exit_reason())
                        self.buf += chunk or b""
                    else:
                        self._drain_stderr()
        finally:
            if writing:
                self.sel.unregister(self._in)

    def _drain_stderr(self) -> None:
        chunk = _read(self._err)
        if chunk == b"":
            self.sel.unregister(self._err)
            return
        if chunk:
            self.stderr_bytes += len(chunk)
            self.stderr_tail += chunk
            del self.stderr_tail[:-STDERR_TAIL]

    def _exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the policy worker closed its output"
        if self.cgroup is not None and self.cgroup.oom_killed():
            return (
                f"the policy worker ran out of memory ({self.limits.memory_mib} MiB for the "
                "whole submission)"
            )
        return describe_exit(code, self.limits)

    def stderr_text(self) -> str:
        """The last lines the worker wrote to stderr."""
        return self.stderr_tail.decode("utf-8", "replace")

    # ------------------------------------------------------------------ stopping
    def stop(self, why: str = "stopped") -> None:
        """End the worker and every process of its submission; wait until they are gone."""
        if self.dead is None:
            self.dead = why
        with contextlib.suppress(OSError, ValueError):
            if self.proc.poll() is None and self.proc.stdin is not None:
                with contextlib.suppress(BlockingIOError):
                    os.write(self._in, b'{"type":"bye"}\n')
        self._ns_pid()
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.ns_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.ns_pid, signal.SIGKILL)  # the namespace's init: takes all along
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self._wait_gone()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.sel.close()
        if self._info_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._info_fd)
            self._info_fd = -1

    def close(self) -> None:
        """Ask the worker to finish (``bye``), then stop it as :meth:`stop` does."""
        self.stop("closed")

    def _ns_pid(self) -> None:
        """The pid (outside) of the sandbox's init, from bwrap's ``--info-fd``."""
        if self.ns_pid is not None or self._info_fd < 0:
            return
        data = b""
        os.set_blocking(self._info_fd, False)
        with contextlib.suppress(OSError):
            data = os.read(self._info_fd, 4096)
        with contextlib.suppress(ValueError, TypeError):
            self.ns_pid = int(json.loads(data.decode() or "{}").get("child-pid"))

    def _wait_gone(self, limit_s: float = 10.0) -> None:
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            if not self._alive():
                break
            if self.cgroup is not None:
                self.cgroup.kill()
            time.sleep(0.01)
        if self.cgroup is not None:
            self.cgroup.remove()

    def _alive(self) -> bool:
        if self.cgroup is not None:
            return bool(self.cgroup.pids())
        if self.ns_pid is not None:
            return _running(self.ns_pid)
        try:
            os.killpg(self.proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _read(fd: int) -> bytes | None:
    """What is there to read (``b""``: end of file; ``None``: nothing yet)."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited init has no processes left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def describe_exit(code: int | None, limits: SandboxLimits) -> str:
    """Why a worker ended, in words."""
    if code is None:
        return "the policy worker closed its output"
    if code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        if sig == signal.SIGXCPU:
            return f"the policy worker exceeded its CPU time ({limits.cpu_s} s)"
        if sig == signal.SIGKILL:
            return (
                "the policy worker was killed (SIGKILL: a limit, e.g. memory "
                f"{limits.memory_mib} MiB or CPU {limits.cpu_s} s)"
            )
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the policy worker was killed by {name}"
    return f"the policy worker exited with status {code}"


__all__ = ["STDERR_TAIL", "Worker", "WorkerExited", "WorkerTimeout", "describe_exit"]
