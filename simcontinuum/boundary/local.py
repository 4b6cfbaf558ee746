"""``--isolate`` for ``run`` and ``bench``: a policy spec behind the boundary, as the
leaderboard runs it (the same worker, protocol, time limits, decision time and sandbox).

A spec is what ``--policy`` takes: a registered name (``first-fit``), ``path/file.py:Class``,
``path/file.py``, a team directory (``policy.py`` or an executable ``policy``), an
executable that speaks the protocol, or an MLSysOps ``policy-<name>.py`` file (or a folder
of them). A file's folder is mounted read-only at ``/submission`` in the sandbox (so a
policy may import its siblings); nothing else of the host is visible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.boundary.evaluate import EvalLimits, resolve_isolation
from simcontinuum.boundary.isolation import Isolation
from simcontinuum.boundary.proxy import (
    Program,
    RemotePolicy,
    Submission,
    is_mlsysops_spec,
    program_of,
)
from simcontinuum.errors import PolicyError

if TYPE_CHECKING:
    from simcontinuum.model import Scenario


def _split(spec: str) -> tuple[Path | None, str]:
    """(the file a spec names, the rest after ``:``) or (None, spec)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and Path(head).expanduser().is_file():
        return Path(head).expanduser().resolve(), tail
    p = Path(spec).expanduser()
    if p.exists():
        return p.resolve(), ""
    return None, spec


def program_for(spec: str, iso: Isolation) -> Program:
    """The worker program that runs ``spec`` (see the module docstring)."""
    path, rest = _split(spec)
    if path is None:  # a registered name: nothing to mount
        _refuse_adapters(spec)
        return Program.python(spec)
    if path.is_dir():
        return program_of(path, isolated=iso.isolated)
    if path.suffix == ".py":
        inside = f"/submission/{path.name}" if iso.isolated else str(path)
        return Program.python(f"{inside}:{rest}" if rest else inside, path.parent)
    if os.access(path, os.X_OK):
        return Program.executable(path, isolated=iso.isolated)
    # a data file (a learned model): the registry loads it inside the worker
    inside = f"/submission/{path.name}" if iso.isolated else str(path)
    return Program.python(f"{inside}:{rest}" if rest else inside, path.parent)


def _refuse_adapters(name: str) -> None:
    """Framework adapters that ``bind`` to the engine (the Kubernetes and Karmada ones) read
    engine state no view carries; by design they stay on the trusted side."""
    from simcontinuum.policy.registry import load_policy

    if callable(getattr(load_policy(name), "bind", None)):
        raise PolicyError(
            f"policy '{name}' is a framework adapter that binds to the engine (trusted code, "
            "DESIGN.md section 9); it cannot run behind the boundary: run it without --isolate"
        )


@contextmanager
def isolated_policy(
    spec: str,
    scenario: Scenario,
    *,
    isolation: Isolation | str | None = None,
    limits: EvalLimits | None = None,
) -> Iterator[Any]:
    """A policy for one run of ``scenario`` whose code runs in an isolated worker; the
    worker and every process it started are gone when the block ends.

    Raises:
        IsolationError: no isolation here (``isolation="insecure"`` runs without).
        SubmissionError: the policy cannot be loaded in the worker.
    """
    iso = resolve_isolation(isolation)
    limits = limits or EvalLimits(wall_s=float("inf"))
    if is_mlsysops_spec(spec):
        from simcontinuum.boundary.mlsysops import remote_mlsysops_policy

        with remote_mlsysops_policy(spec, scenario, iso, limits.sandbox()) as policy:
            yield policy
        return
    program = program_for(spec, iso)
    wall = None if limits.wall_s == float("inf") else limits.wall_s
    with Submission(program, iso, limits.sandbox(), wall_s=wall) as sub:
        yield RemotePolicy(sub, scenario.control.policy_timeout)


@contextmanager
def policy_factory(
    spec: str,
    scenario: Scenario,
    *,
    isolation: Isolation | str | None = None,
    limits: EvalLimits | None = None,
) -> Iterator[Any]:
    """A function that makes a fresh isolated policy for each run of ``scenario`` — all in
    one worker (a new policy instance per run), so a sweep pays the worker's start once."""
    iso = resolve_isolation(isolation)
    limits = limits or EvalLimits(wall_s=float("inf"))
    wall = None if limits.wall_s == float("inf") else limits.wall_s
    if is_mlsysops_spec(spec):  # one worker per policy file, a fresh module per run
        from simcontinuum.boundary.mlsysops import MLSysOpsWorkers

        with MLSysOpsWorkers(iso, limits.sandbox(), wall_s=wall) as workers:
            yield lambda: workers.policy(spec, scenario)
        return
    with Submission(program_for(spec, iso), iso, limits.sandbox(), wall_s=wall) as sub:
        yield lambda: RemotePolicy(sub, scenario.control.policy_timeout)


__all__ = ["is_mlsysops_spec", "isolated_policy", "policy_factory", "program_for"]
