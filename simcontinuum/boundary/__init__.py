"""The trust boundary: only the policy runs untrusted; engine, clock and score stay home.

A policy behind the boundary lives in a worker process (:mod:`~simcontinuum.boundary.worker`,
or any executable that speaks :mod:`~simcontinuum.boundary.protocol`), under OS isolation
(:mod:`~simcontinuum.boundary.isolation`: bubblewrap namespaces, cgroup limits). The organizer
talks to it through :class:`~simcontinuum.boundary.proxy.RemotePolicy`, a policy the engine
calls like any other. :func:`evaluate_submission` is the one entry point for evaluating a
submission (the leaderboard, a competition server). See ``docs/protocol.md`` and
``docs/security.md``.
"""

from simcontinuum.boundary.evaluate import (
    EvalLimits,
    evaluate_submission,
    failure_reason,
    resolve_isolation,
)
from simcontinuum.boundary.isolation import Isolation, IsolationError, SandboxLimits, probe
from simcontinuum.boundary.protocol import VERSION, ProtocolViolation
from simcontinuum.boundary.proxy import Program, RemotePolicy, Submission, SubmissionError

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
