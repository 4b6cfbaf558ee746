"""The one error hierarchy of simcontinuum.

Every error a user can cause derives from :class:`SimContinuumError` and says what was
expected, what came, and how to fix it. The CLI prints these without a traceback.
"""

from __future__ import annotations


class SimContinuumError(Exception):
    """Base of every error simcontinuum raises on purpose."""


class ScenarioError(SimContinuumError):
    """A scenario file or document is invalid.

    Attributes:
        problems: every problem found, each as ``"path: message"``; all are reported at once.
        source: the file the scenario came from, if any.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} in the scenario:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class PolicyError(SimContinuumError):
    """A policy cannot be loaded, or (in strict mode) misbehaved."""


class PolicyTimeout(BaseException):
    """Raised inside a policy call that ran past its time limit (``control.policy_timeout``).
    A ``BaseException`` so that a policy's own ``except Exception`` cannot swallow it; the
    engine records it and counts the call as no action. Public so that code on both sides of
    the trust boundary can name it without reaching into the engine."""


class ResultsError(SimContinuumError):
    """A results directory is missing, partial or corrupt."""


class TelemetryError(SimContinuumError, LookupError):
    """A policy read telemetry with a metric name or id no run ever emits (a typo, most
    often): the message names the closest known one."""
