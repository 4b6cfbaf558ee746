"""MLSysOps policy files behind the boundary: the agent loop stays trusted.

:class:`~simcontinuum.mlsysops.adapter.MLSysOpsPolicy` (agents, plan scheduler, fluidity
checks, descriptions, telemetry frames) runs in the organizer's process as usual; only each
file's ``initialize()``, ``analyze(...)`` and ``plan(...)`` cross, to one worker per file
(``python -m simcontinuum.boundary.worker --mlsysops /submission/policy-x.py``), where the
file is imported with the ``mlsysops`` shim.

On the wire: ``{"type": "initialize"|"analyze"|"plan", "id": n, "args": ...}`` with the six
arguments of the real contract pickled and base64-encoded (organizer to worker only: the
worker is a Python process by definition and must see DataFrames and the ``query``
coroutine exactly; the telemetry dict is rebuilt in the worker by the same code), and
``{"type": "result", "id": n, "result": <JSON>}`` back — plain JSON, checked by
:func:`~simcontinuum.boundary.protocol.check_result` and never unpickled. A context or plan
that JSON cannot carry is the policy's error, recorded as any other.
"""

from __future__ import annotations

import base64
import itertools
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.boundary.channel import WorkerTimeout
from simcontinuum.boundary.isolation import Isolation, SandboxLimits
from simcontinuum.boundary.protocol import (
    ProtocolViolation,
    RemoteError,
    check_ready,
    check_result,
)
from simcontinuum.boundary.proxy import DEFAULT_CALL_S, Program, Submission, engine_timeout
from simcontinuum.mlsysops.policyfile import PolicyFile, policy_name_of

if TYPE_CHECKING:
    from simcontinuum.model import Scenario


def encode_args(args: tuple[Any, ...]) -> str:
    """The six arguments of ``analyze``/``plan`` for the wire (organizer side)."""
    items = list(args)
    tel = items[4] if len(items) > 4 else None
    if isinstance(tel, dict) and "dataframe" in tel:
        items[4] = {
            "__telemetry__": True,
            "dataframe": tel["dataframe"],
            "prometheus_endpoint": tel.get("prometheus_endpoint"),
            "grafana_endpoint": tel.get("grafana_endpoint"),
        }
    return base64.b64encode(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)).decode()


def decode_args(data: str) -> list[Any]:
    """The arguments back (worker side; the telemetry dict made by the agent's own code)."""
    from simcontinuum.mlsysops.telemetry import telemetry_argument

    items: list[Any] = pickle.loads(base64.b64decode(data))  # from the organizer only
    tel = items[4] if len(items) > 4 else None
    if isinstance(tel, dict) and tel.get("__telemetry__"):
        rebuilt = telemetry_argument(tel["dataframe"])
        rebuilt["prometheus_endpoint"] = tel["prometheus_endpoint"]
        rebuilt["grafana_endpoint"] = tel["grafana_endpoint"]
        items[4] = rebuilt
    return items


def encode_result(out: Any) -> Any:
    """What a policy function returned, as JSON data (tuples as lists)."""
    if isinstance(out, tuple | list):
        return [encode_result(v) for v in out]
    if isinstance(out, dict):
        return {str(k): encode_result(v) for k, v in out.items()}
    return out


class RemotePolicyFile(PolicyFile):
    """A policy file whose functions run in a worker (the agent calls them as usual)."""

    def __init__(
        self,
        path: Path,
        submission: Submission,
        call_s: float,
        instance: int | None = None,
        ids: Iterator[int] | None = None,
    ) -> None:
        super().__init__(path, policy_name_of(path), None)  # type: ignore[arg-type]
        self.sub = submission
        self.call_s = call_s
        self.instance = instance
        self._ids = ids if ids is not None else itertools.count(1)
        self._id = 0

    def for_instance(self, key: int) -> RemotePolicyFile:
        """The same worker, for policy instance ``key``: the worker imports the file anew for
        it (module state per instance, as the agent's ``controllers/policy.py``)."""
        return RemotePolicyFile(self.path, self.sub, self.call_s, key, self._ids)

    def _call(self, kind: str, args: tuple[Any, ...] | None) -> Any:
        self._id = next(self._ids)
        msg: dict[str, Any] = {"type": kind, "id": self._id}
        if self.instance is not None:
            msg["instance"] = self.instance
        # the policy's simulated clock and global-generator seed (simcontinuum.mlsysops.callenv)
        from simcontinuum.mlsysops.callenv import active_clock, active_randomness

        clock, rs = active_clock(), active_randomness()
        if clock is not None:
            msg["now"] = clock.now()
        if rs is not None:
            msg["seed"] = rs.seed
        if args is not None:
            msg["args"] = encode_args(args)
        try:
            reply = self.sub.call(msg, self.call_s)
        except Exception as exc:
            if isinstance(exc, WorkerTimeout):
                engine_timeout()
            raise
        try:
            out = check_result(reply, self._id)
        except ProtocolViolation as exc:
            if self.sub.worker is not None:
                self.sub.worker.stop(f"protocol violation: {exc}")
            raise
        if isinstance(out, RemoteError):
            raise type(out.kind, (RemoteError,), {})(out.kind, str(out))
        return out

    def function(self, name: str) -> Any:
        """``initialize`` (plain) or ``analyze``/``plan`` (``async``), run in the worker."""
        if name == "initialize":

            def initialize() -> Any:
                return self._call("initialize", None)

            return initialize

        async def call(*args: Any) -> Any:
            return self._call(name, args)

        call.__name__ = name
        return call


class MLSysOpsWorkers:
    """The workers of one MLSysOps submission, one per policy file, kept for all its runs.

    Each run begins with a ``start`` request to every worker it uses: the worker forgets its
    policy instances and imports the file anew, so no module state crosses from one run to
    the next (as with a worker started per run), without paying for a new interpreter.
    ``wall_s`` is the submission's wall-clock budget, checked on every call.
    """

    def __init__(
        self, iso: Isolation, limits: SandboxLimits, *, wall_s: float | None = None
    ) -> None:
        self.iso, self.limits, self.wall_s = iso, limits, wall_s
        self._subs: dict[Path, Submission] = {}
        self._ids = itertools.count(1)

    def submission(self, path: Path) -> Submission:
        """The (started) worker of policy file ``path``."""
        sub = self._subs.get(path)
        if sub is None:
            inside = f"/submission/{path.name}" if self.iso.isolated else str(path)
            program = Program.python(inside, path.parent, mlsysops=True)
            sub = self._subs[path] = Submission(program, self.iso, self.limits, wall_s=self.wall_s)
        sub.ensure()
        return sub

    def policy(self, spec: str, scenario: Scenario) -> Any:
        """A fresh :class:`~simcontinuum.mlsysops.adapter.MLSysOpsPolicy` for one run of
        ``scenario``, its files' functions in this submission's workers."""
        from simcontinuum.mlsysops.adapter import load_policy_spec

        call_s = scenario.control.policy_timeout or DEFAULT_CALL_S

        def loader(path: Path) -> PolicyFile:
            sub = self.submission(path)
            rid = next(self._ids)
            out = check_ready(sub.call({"type": "start", "id": rid}, call_s), rid)
            if out is not None:
                raise type(out.kind, (RemoteError,), {})(out.kind, str(out))
            return RemotePolicyFile(path, sub, call_s, ids=self._ids)

        return load_policy_spec(spec, loader=loader)

    def close(self) -> None:
        """Stop every worker (and all their processes)."""
        for sub in self._subs.values():
            sub.close()

    def __enter__(self) -> MLSysOpsWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def remote_mlsysops_policy(
    spec: str, scenario: Scenario, iso: Isolation, limits: SandboxLimits
) -> Iterator[Any]:
    """An :class:`~simcontinuum.mlsysops.adapter.MLSysOpsPolicy` for ``spec`` whose files
    run in workers; every worker is gone when the block ends."""
    with MLSysOpsWorkers(iso, limits) as workers:
        yield workers.policy(spec, scenario)


__all__ = [
    "MLSysOpsWorkers",
    "RemotePolicyFile",
    "decode_args",
    "encode_args",
    "encode_result",
    "remote_mlsysops_policy",
]
