"""The trusted side of a policy behind the boundary: a ``Policy`` the engine calls as usual.

:class:`Submission` owns one worker for a submission (started on first use, started again
after it had to be stopped) and knows how to start it: a Python submission runs
``python -m simcontinuum.boundary.worker SPEC``; any other executable is run as it is and
must speak the protocol. :class:`RemotePolicy` is one run's policy: ``place``, ``plan``,
``on_event`` and ``reset`` encode their arguments
(:class:`~simcontinuum.boundary.views.ViewEncoder`),
wait for the reply under the call's deadline and return only what
:mod:`~simcontinuum.boundary.protocol` accepted. The engine is unchanged: it measures the
call's wall time (decision time) and applies its own ``policy_timeout`` as for any policy.

A call that fails — the policy raised, the reply broke the protocol, the worker was late or
died — raises here, so the engine records it and counts it as no action (or, ``strict``,
fails the run). A late or misbehaving worker is stopped; the next call starts a fresh one
(a new policy instance, at most ``max_restarts`` times per run).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simcontinuum.boundary.channel import Worker, WorkerExited, WorkerTimeout
from simcontinuum.boundary.isolation import Isolation, SandboxLimits
from simcontinuum.boundary.protocol import (
    ProtocolViolation,
    RemoteError,
    check_actions,
    check_hello,
    check_placement,
    check_ready,
    clean_text,
)
from simcontinuum.boundary.views import ViewEncoder
from simcontinuum.errors import PolicyError
from simcontinuum.jsonutil import jsonable
from simcontinuum.policy.api import AppView, ClusterView, Event

STARTUP_S = 60.0  # importing numpy/pandas on a loaded machine takes seconds
DEFAULT_CALL_S = 60.0  # a call's limit when the scenario sets no policy_timeout


class SubmissionError(PolicyError):
    """The submission cannot be used (does not load, speaks no protocol)."""


class WallTimeExceeded(BaseException):
    """The submission used up its wall-clock budget. A ``BaseException`` so that it ends
    the run instead of being recorded as one failed call."""


@dataclass(frozen=True)
class Program:
    """How to start a worker: its command and the directory it is given (``/submission``
    inside the sandbox)."""

    command: tuple[str, ...]
    directory: Path | None
    label: str
    kind: str = "policy"  # or "mlsysops": a policy file's initialize/analyze/plan

    @classmethod
    def python(cls, spec: str, directory: Path | None = None, *, mlsysops: bool = False) -> Program:
        """A Python policy: a submission file, ``file.py:Class`` or a registered name."""
        cmd = [os.path.abspath(sys.executable), "-s", "-m", "simcontinuum.boundary.worker"]
        cmd += ["--mlsysops", spec] if mlsysops else [spec]
        return cls(tuple(cmd), directory, spec, "mlsysops" if mlsysops else "policy")

    @classmethod
    def executable(cls, path: Path, *, isolated: bool) -> Program:
        """Any executable that speaks the protocol (its directory is the submission)."""
        inside = f"/submission/{path.name}" if isolated else str(path.resolve())
        return cls((inside,), path.resolve().parent, path.name)


def is_mlsysops_spec(spec: str) -> bool:
    """Whether ``spec`` names MLSysOps policy files: ``mlsysops:...``, a ``policy-*.py``
    file (options ``?level=...`` allowed), or a folder of them without ``policy.py``."""
    from simcontinuum.mlsysops.spec import is_policy_spec

    p = Path(spec).expanduser()
    if p.is_dir():
        return any(p.glob("policy-*.py")) and not (p / "policy.py").is_file()
    return is_policy_spec(spec)


def program_of(path: Path, *, isolated: bool, mlsysops: bool = False) -> Program:
    """The :class:`Program` of a staged submission: a ``*.py`` file, or a directory with
    ``policy.py`` or an executable ``policy``."""
    path = Path(path)
    if path.is_dir():
        for name in ("policy.py", "policy"):
            f = path / name
            if f.is_file():
                if name == "policy.py":
                    inside = "/submission/policy.py" if isolated else str(f.resolve())
                    return Program.python(inside, path.resolve())
                return Program.executable(f, isolated=isolated)
        raise SubmissionError(f"{path}: no policy.py and no executable 'policy' in it")
    if path.suffix == ".py":
        inside = f"/submission/{path.name}" if isolated else str(path.resolve())
        return Program.python(inside, path.resolve().parent, mlsysops=mlsysops)
    return Program.executable(path, isolated=isolated)


class Submission:
    """One submission's worker, started on demand (see the module docstring)."""

    def __init__(
        self,
        program: Program,
        iso: Isolation,
        limits: SandboxLimits | None = None,
        *,
        wall_s: float | None = None,
    ) -> None:
        self.program = program
        self.iso = iso
        self.limits = limits or SandboxLimits()
        self.worker: Worker | None = None
        self.hello: dict[str, Any] = {}
        self._greeted = False  # the running worker has answered the hello
        self._turn = False  # the first call has come (spawn() may start the worker before)
        self.started = time.monotonic()
        self.wall_s = wall_s
        self.starts = 0
        self.last_failure: str | None = None

    def remaining(self) -> float:
        """Seconds left of the wall-clock budget (``inf``: none)."""
        if self.wall_s is None:
            return float("inf")
        return self.wall_s - (time.monotonic() - self.started)

    def deadline(self, call_s: float) -> float:
        """The limit of one call: ``call_s``, or what is left of the budget.

        Raises:
            WallTimeExceeded: nothing is left.
        """
        left = self.remaining()
        if left <= 0:
            self.close()
            raise WallTimeExceeded(f"wall-clock limit exceeded ({self.wall_s:g} s)")
        return min(call_s, left)

    def spawn(self) -> None:
        """Start the worker now, without waiting for it: its sandbox and interpreter come up
        while the caller does something else (the leaderboard: the previous team's runs).
        The submission's own code is imported only at the hello, on the first call; the
        wall-clock budget starts then too."""
        if self.worker is None or self.worker.dead is not None:
            if self.worker is not None:
                self.worker.stop()
            self.starts += 1
            self._greeted = False
            self.worker = Worker(
                list(self.program.command), self.iso, self.limits, self.program.directory
            )

    def ensure(self) -> Worker:
        """The running worker (started now if there is none)."""
        if self.worker is not None and self.worker.dead is None and self._greeted:
            return self.worker
        if not self._turn:  # the first call: the budget starts now, even if spawned ahead
            self._turn = True
            self.started = time.monotonic()
        self.spawn()
        assert self.worker is not None
        try:
            first = self.worker.handshake(self.deadline(STARTUP_S))
        except (WorkerTimeout, WorkerExited, ProtocolViolation) as exc:
            tail = _last_line(self.worker.stderr_text())
            raise SubmissionError(
                f"the policy worker did not start: {exc}" + (f" ({tail})" if tail else "")
            ) from None
        if first.get("type") == "fatal":
            self.worker.stop("fatal")
            raise SubmissionError(f"cannot load the policy: {clean_text(first.get('reason'))}")
        try:
            self.hello = check_hello(first, self.program.kind)
        except ProtocolViolation as exc:
            self.worker.stop(str(exc))
            raise SubmissionError(f"the policy worker's hello is invalid: {exc}") from None
        self._greeted = True
        return self.worker

    def call(self, message: dict[str, Any], call_s: float) -> dict[str, Any]:
        """Send ``message`` to the (running) worker and return the reply."""
        worker = self.ensure()
        limit = self.deadline(call_s)
        try:
            return worker.request(message, limit)
        except WorkerTimeout:
            if self.remaining() <= 0:
                raise WallTimeExceeded(f"wall-clock limit exceeded ({self.wall_s:g} s)") from None
            raise

    def close(self) -> None:
        """Stop the worker (and all its processes)."""
        if self.worker is not None:
            self.worker.stop("closed")

    def __enter__(self) -> Submission:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def engine_timeout() -> None:
    """Raise the engine's own time-out (a call over ``control.policy_timeout``), so the call
    is recorded exactly as an in-process policy's late call."""
    from simcontinuum.errors import PolicyTimeout

    raise PolicyTimeout() from None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return clean_text(lines[-1]) if lines else ""


class RemotePolicy:
    """One run's policy, living in the submission's worker (see the module docstring).

    Args:
        submission: the worker owner; call_s: the limit of one call (the scenario's
            ``control.policy_timeout``; ``None`` or 0: :data:`DEFAULT_CALL_S`).
        max_restarts: workers started again in this run after one had to be stopped.
    """

    def __init__(
        self, submission: Submission, call_s: float | None = None, *, max_restarts: int = 3
    ) -> None:
        self.sub = submission
        self.call_s = float(call_s) if call_s else DEFAULT_CALL_S
        self.timeout_is_engine = bool(call_s)
        self.max_restarts = max_restarts
        self.restarts = 0
        self._id = 0
        self._encoder = ViewEncoder()
        self._error_types: dict[str, type[Exception]] = {}
        self._begin()
        hello = submission.hello
        self.name = hello.get("name") or submission.program.label
        interval = hello.get("control_interval")
        if interval is not None:
            self.control_interval = float(interval)
        methods = hello.get("methods", ())
        # the engine asks callable(getattr(policy, "plan")): hide what the policy lacks
        for m in ("plan", "on_event", "reset"):
            if m not in methods:
                setattr(self, m, None)

    def _begin(self) -> None:
        """A new policy instance in the (possibly new) worker, and a fresh encoder: a new
        worker knows nothing of the topology yet."""
        self.sub.ensure()
        self._encoder = ViewEncoder()
        self._ready(self._send({"type": "start"}))

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.sub.worker is not None and self.sub.worker.dead is not None:
            if self.restarts >= self.max_restarts:
                raise PolicyError(
                    f"the policy worker was stopped {self.restarts + 1} times in this run "
                    f"(last: {self.sub.worker.dead}); counted as no action"
                )
            self.restarts += 1
            self._begin()
        self._id += 1
        message = {**message, "id": self._id}
        try:
            return self.sub.call(message, self._limit())
        except WorkerTimeout:
            self._timeout()
            raise

    def _limit(self) -> float:
        # the engine's own timer (SIGALRM, policy_timeout) fires at call_s; ours a little
        # later, for calls made where no signal can be used (threads)
        return self.call_s + (0.25 if self.timeout_is_engine else 0.0)

    def _timeout(self) -> None:
        if self.timeout_is_engine:
            engine_timeout()
        raise WorkerTimeout(
            f"the policy worker did not answer within {self.call_s:g} s; it was stopped"
        ) from None

    def _fail(self, err: RemoteError) -> Exception:
        cls = self._error_types.get(err.kind)
        if cls is None:
            # the policy's own exception class name, so that rows read as in-process ones
            cls = self._error_types[err.kind] = type(err.kind, (RemoteError,), {})
        exc = cls(err.kind, str(err))
        return exc

    def _ready(self, reply: dict[str, Any]) -> None:
        err = self._checked(check_ready, reply)
        if err is not None:
            raise self._fail(err)

    def _checked(self, check: Any, reply: dict[str, Any]) -> Any:
        try:
            return check(reply, self._id)
        except ProtocolViolation as exc:
            if self.sub.worker is not None:
                self.sub.worker.stop(f"protocol violation: {exc}")
            raise

    # ------------------------------------------------------------------ Policy
    def reset(self, rng: Any) -> None:
        """Give the worker's policy the run's ``policy`` stream (its exact state)."""
        state = rng.bit_generator.state
        self._ready(self._send({"type": "reset", "rng": jsonable(state)}))

    def place(self, app: AppView, view: ClusterView) -> dict[str, list[str]]:
        """Where ``app``'s components go."""
        data = self._encoder.view(view)
        if app.id not in view.apps:
            data.setdefault("new_apps", {})[app.id] = self._encoder.app(app)
        reply = self._send({"type": "place", "app": {"id": app.id}, "view": data})
        out = self._checked(check_placement, reply)
        if isinstance(out, RemoteError):
            raise self._fail(out)
        return out

    def plan(self, view: ClusterView, telemetry: Any) -> list[Any]:
        """The actions of one control interval."""
        message = {
            "type": "plan",
            "view": self._encoder.view(view),
            "telemetry": self._encoder.telemetry(telemetry),
        }
        return self._actions(self._send(message))

    def on_event(self, event: Event, view: ClusterView) -> list[Any]:
        """The actions in answer to ``event``."""
        message = {
            "type": "on_event",
            "event": self._encoder.event(event),
            "view": self._encoder.view(view),
        }
        return self._actions(self._send(message))

    def _actions(self, reply: dict[str, Any]) -> list[Any]:
        out = self._checked(check_actions, reply)
        if isinstance(out, RemoteError):
            raise self._fail(out)
        return out


def stage(source: Path, into: Path) -> Path:
    """Copy a submission (file or directory) into ``into`` (private staging); returns the
    staged path. Symbolic links are copied as links, never followed out of the folder."""
    if source.is_symlink():
        raise SubmissionError(f"{source}: a symbolic link; submit the file itself")
    into.mkdir(parents=True, exist_ok=True)
    target = into / source.name
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)
    return target


__all__ = [
    "DEFAULT_CALL_S",
    "Program",
    "RemotePolicy",
    "Submission",
    "SubmissionError",
    "WallTimeExceeded",
    "engine_timeout",
    "is_mlsysops_spec",
    "program_of",
    "stage",
]
