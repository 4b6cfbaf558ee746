"""Evaluating one submission through the boundary: the organizer's entry point.

:func:`evaluate_submission` is what the leaderboard and a competition server call. The
engine, the scenarios, the clock, the validation and the score stay in the calling process;
only the policy runs in the submission's worker (isolated by
:mod:`~simcontinuum.boundary.isolation`).
Every row is built here from the trusted side's own results; nothing the submission prints
becomes a row. Texts that come from the submission (error messages) are cut to 300
characters, on one line, without a leading spreadsheet formula character.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.boundary.isolation import Isolation, IsolationError, SandboxLimits, probe
from simcontinuum.boundary.protocol import clean_text
from simcontinuum.boundary.proxy import (
    RemotePolicy,
    Submission,
    SubmissionError,
    WallTimeExceeded,
    is_mlsysops_spec,
    program_of,
    stage,
)
from simcontinuum.errors import PolicyError

if TYPE_CHECKING:
    from simcontinuum.model import Scenario


@dataclass(frozen=True)
class EvalLimits:
    """Limits of one submission, for all its runs together.

    Attributes:
        wall_s: wall-clock seconds for every run of the submission (engine time included).
        cpu_s: CPU seconds of each worker process.
        memory_mib: memory of the whole submission (cgroup), else of each process.
        processes: processes and threads of the whole submission.
        files: open files per process; tmpfs_mib: size of the private ``/tmp``.
    """

    wall_s: float = 600.0
    cpu_s: int = 600
    memory_mib: int = 4096
    processes: int = 64
    files: int = 256
    tmpfs_mib: int = 256

    def sandbox(self) -> SandboxLimits:
        return SandboxLimits(
            cpu_s=self.cpu_s,
            memory_mib=self.memory_mib,
            processes=self.processes,
            files=self.files,
            tmpfs_mib=self.tmpfs_mib,
        )


def resolve_isolation(isolation: Isolation | str | None) -> Isolation:
    """``"auto"``/``None`` (bubblewrap or refuse), ``"insecure"`` (bubblewrap if it works,
    else none), ``"none"`` (never isolate), or an :class:`Isolation` as it is.

    Raises:
        IsolationError: isolation cannot be had and was not waived.
    """
    if isinstance(isolation, Isolation):
        return isolation
    if isolation in (None, "auto", "bwrap"):
        return probe()
    if isolation == "insecure":
        return probe(insecure=True)
    if isolation == "none":
        return Isolation("none")
    raise IsolationError(f"unknown isolation {isolation!r}: use auto, insecure or none")


def failure_reason(exc: BaseException) -> str:
    """One clean line: why a run failed."""
    cause = exc.__cause__ or exc
    if isinstance(cause, MemoryError):
        return "memory limit exceeded (MemoryError)"
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    head = (lines[0] if lines else type(exc).__name__).replace(" (--strict)", "").rstrip(":")
    if cause is not exc and not isinstance(exc, SubmissionError):
        head = f"{head}: {type(cause).__name__}: {cause}"
    elif not isinstance(exc, PolicyError):
        head = f"{type(exc).__name__}: {head}"
    return clean_text(head)


def evaluate_submission(
    submission: str | os.PathLike[str],
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: EvalLimits | None = None,
    isolation: Isolation | str | None = None,
    *,
    team: str | None = None,
    strict: bool = True,
    telemetry: bool = True,
    staged: bool = False,
    progress: Any = None,
    prepared: Submission | None = None,
) -> list[dict[str, Any]]:
    """Run one submission on every scenario × seed, its policy behind the boundary.

    Args:
        submission: a ``*.py`` policy file (the class named by ``POLICY`` or the one class
            with ``place``), an MLSysOps ``policy-<name>.py`` file (the agent loop runs
            here, its three functions in the worker), or a directory with ``policy.py`` or
            an executable ``policy`` that speaks the protocol (``docs/protocol.md``).
        scenarios: ``(label, scenario)`` pairs, already loaded and validated by the caller;
            labels name rows only (the worker never sees a label, a name or a path).
        seeds: the seeds of every scenario.
        limits: the submission's limits (:class:`EvalLimits`).
        isolation: see :func:`resolve_isolation` (default: bubblewrap, or refuse).
        team: the rows' ``team`` (default: the file's stem or the directory's name).
        strict: a policy call that raises, breaks the protocol or times out fails the run
            (the competition default); otherwise it counts as no action.
        staged: ``submission`` is already a private copy (else it is copied first).
        progress: called with each row as it is made.
        prepared: this submission's worker, from :func:`prepare_submission` (started while
            the caller was busy); made here when ``None``.

    Returns:
        One row per scenario × seed, in order: ``team, scenario, seed, status`` (``ok`` or
        ``failed``), ``reason``, ``policy_errors``, the score and its parts (as
        ``Results.summary()``), ``wall_s``. Every process of the submission is gone when
        this returns.

    Raises:
        IsolationError: isolation was asked for and cannot be had.
    """
    from simcontinuum.boundary.mlsysops import MLSysOpsWorkers
    from simcontinuum.engine.simulation import Simulation

    limits = limits or EvalLimits()
    iso = resolve_isolation(isolation)
    source = Path(submission)
    name = team or (source.stem if source.is_file() else source.name)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="simcontinuum-stage-") as tmp:
        path = source if staged else stage(source, Path(tmp))
        fatal: str | None = None
        mlsysops = is_mlsysops_spec(str(path))
        sub = None if mlsysops else prepared
        if sub is None and not mlsysops:
            try:
                program = program_of(path, isolated=iso.isolated)
            except SubmissionError as exc:
                fatal = failure_reason(exc)
            else:
                sub = Submission(program, iso, limits.sandbox(), wall_s=limits.wall_s)
        # an MLSysOps submission: one worker per policy file, kept for all its runs
        workers = MLSysOpsWorkers(iso, limits.sandbox(), wall_s=limits.wall_s) if mlsysops else None
        started_all = time.monotonic()
        try:
            for label, scenario in scenarios:
                for seed in seeds:
                    row: dict[str, Any] = {"team": name, "scenario": label, "seed": int(seed)}
                    started = time.perf_counter()
                    if fatal is not None or (sub is None and not mlsysops):
                        row.update(status="failed", reason=fatal)
                    elif mlsysops and time.monotonic() - started_all > limits.wall_s:
                        fatal = f"wall-clock limit exceeded ({limits.wall_s:g} s)"
                        row.update(status="failed", reason=fatal)
                    else:
                        try:
                            if sub is not None:
                                policy: Any = RemotePolicy(sub, scenario.control.policy_timeout)
                            else:  # an MLSysOps policy file: the agent stays here
                                assert workers is not None
                                policy = workers.policy(str(path), scenario)
                            sim = Simulation(
                                scenario,
                                policy,
                                seed=int(seed),
                                strict=strict,
                                telemetry=telemetry,
                            )
                            results = sim.run()
                        except WallTimeExceeded as exc:
                            fatal = clean_text(str(exc))
                            row.update(status="failed", reason=fatal)
                        except SubmissionError as exc:
                            fatal = failure_reason(exc)
                            row.update(status="failed", reason=fatal)
                        except (PolicyError, MemoryError, RecursionError) as exc:
                            row.update(status="failed", reason=failure_reason(exc))
                        else:
                            meta = results.meta
                            row.update(
                                status="ok", reason=None, policy_errors=meta["policy_errors"]
                            )
                            row.update(results.summary())
                    row["wall_s"] = time.perf_counter() - started
                    rows.append(row)
                    if progress is not None:
                        progress(row)
        finally:
            if sub is not None:
                sub.close()  # every process of the submission is gone after this
            if workers is not None:
                workers.close()
    return rows


def prepare_submission(
    staged: str | os.PathLike[str],
    limits: EvalLimits | None = None,
    isolation: Isolation | str | None = None,
) -> Submission | None:
    """The worker of a staged submission, started now (its sandbox and interpreter; the
    submission's code is imported only when :func:`evaluate_submission` makes its first
    call, with ``prepared=``). ``None`` for what evaluate_submission starts itself (an
    MLSysOps policy file) or reports (a submission that cannot be used)."""
    limits = limits or EvalLimits()
    iso = resolve_isolation(isolation)
    path = Path(staged)
    if is_mlsysops_spec(str(path)):
        return None
    try:
        program = program_of(path, isolated=iso.isolated)
    except SubmissionError:
        return None
    sub = Submission(program, iso, limits.sandbox(), wall_s=limits.wall_s)
    try:
        sub.spawn()
    except OSError:
        return None
    return sub


__all__ = [
    "EvalLimits",
    "IsolationError",
    "evaluate_submission",
    "failure_reason",
    "prepare_submission",
    "resolve_isolation",
]
