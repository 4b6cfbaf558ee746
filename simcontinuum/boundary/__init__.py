"""The trust boundary: only the policy runs untrusted; engine, clock and score stay home.

A policy behind the boundary lives in a worker process (:mod:`~simcontinuum.boundary.worker`,
or any executable that speaks :mod:`~simcontinuum.boundary.protocol`), under OS isolation
(:mod:`~simcontinuum.boundary.isolation`: bubblewrap namespaces, cgroup limits). The organizer
talks to it through :class:`~simcontinuum.boundary.proxy.RemotePolicy`, a policy the engine
calls like any other. :func:`evaluate_submission` is the one entry point for evaluating a
submission (the leaderboard, a competition server). See ``docs/protocol.md`` and
``docs/security.md``.

Importing this package is cheap (PEP 562: each name loads its module on first use), so the
worker, which needs only the protocol and the views, starts without the organizer's side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simcontinuum.lazy import lazy_exports

if TYPE_CHECKING:
    from simcontinuum.boundary.evaluate import (
        EvalLimits,
        evaluate_submission,
        failure_reason,
        resolve_isolation,
    )
    from simcontinuum.boundary.isolation import Isolation, IsolationError, SandboxLimits, probe
    from simcontinuum.boundary.protocol import VERSION, ProtocolViolation
    from simcontinuum.boundary.proxy import Program, RemotePolicy, Submission, SubmissionError

_LAZY = {
    "EvalLimits": "evaluate",
    "evaluate_submission": "evaluate",
    "failure_reason": "evaluate",
    "resolve_isolation": "evaluate",
    "Isolation": "isolation",
    "IsolationError": "isolation",
    "SandboxLimits": "isolation",
    "probe": "isolation",
    "VERSION": "protocol",
    "ProtocolViolation": "protocol",
    "Program": "proxy",
    "RemotePolicy": "proxy",
    "Submission": "proxy",
    "SubmissionError": "proxy",
}


__getattr__, __dir__ = lazy_exports(__name__, {k: f"{__name__}.{v}" for k, v in _LAZY.items()})


__all__ = [
    "VERSION",
    "EvalLimits",
    "Isolation",
    "IsolationError",
    "Program",
    "ProtocolViolation",
    "RemotePolicy",
    "SandboxLimits",
    "Submission",
    "SubmissionError",
    "evaluate_submission",
    "failure_reason",
    "probe",
    "resolve_isolation",
]
