"""The child side of the leaderboard: run one submission in its own process, under limits.

Started by :mod:`simcontinuum.experiment.leaderboard` as::

    python -s -m simcontinuum.experiment.sandbox submission.py --cpu S --memory MiB --files N

in a fresh temporary working directory. Before anything of the submission runs it:

1. sets hard resource limits (``resource.setrlimit``, soft = hard so the policy cannot raise
   them): CPU seconds, address space, open files, file size, no core dumps;
2. reads its job from stdin: a pickled dict with the team name, the (validated, path-free)
   scenario objects, the seeds and the run options — never a path to a scenario file;
3. moves its stdout aside: the original stdout becomes a private channel for results, and
   file descriptor 1 (and ``sys.stdout``) point to stderr, so a policy's ``print`` cannot
   corrupt the protocol.

Then it imports the submission (``POLICY = "ClassName"`` or the one class with a ``place``
method), runs every scenario × seed with a fresh instance and writes one JSON line per run:
``{"type": "row", "row": {...}}``, or ``{"type": "fatal", "reason": ...}`` when the
submission cannot be imported. A run in which the policy raises or exceeds
``control.policy_timeout`` (strict mode, the default) is a failed row with the reason.
Resource exhaustion is seen by the parent as a signal or an exit status.

See :mod:`simcontinuum.experiment.leaderboard` for the threat model.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import pickle
import sys
import time
import traceback
from typing import IO, Any

from simcontinuum.errors import PolicyError

MiB = 2**20


def set_limits(cpu_s: int, memory_mib: int, files: int, fsize_mib: int = 256) -> None:
    """Hard limits for this process (Linux/macOS); the soft CPU limit sends SIGXCPU first."""
    import resource

    def hard(which: int, soft: int, hard_: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard_ is None else hard_))

    hard(resource.RLIMIT_CPU, cpu_s, cpu_s + 2)
    hard(resource.RLIMIT_CORE, 0)
    hard(resource.RLIMIT_NOFILE, files)
    hard(resource.RLIMIT_FSIZE, fsize_mib * MiB)
    if memory_mib > 0 and hasattr(resource, "RLIMIT_AS"):
        hard(resource.RLIMIT_AS, memory_mib * MiB)


def _private_stdout() -> IO[str]:
    """The original stdout as a private text stream; fd 1 and sys.stdout go to stderr."""
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def find_policy(path: str) -> Any:
    """Import the submission and return its policy class (or object).

    ``POLICY = "Name"`` (or ``POLICY = TheClass``) names it; otherwise the module must define
    exactly one class with a callable ``place``.

    Raises:
        ImportError: with the reason, when the file cannot be imported or names no policy.
    """
    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImportError(f"import failed: {type(exc).__name__}: {exc}") from exc
    named = getattr(module, "POLICY", None)
    if isinstance(named, str):
        if not hasattr(module, named):
            raise ImportError(f"POLICY = {named!r}, but the module defines no {named}")
        return getattr(module, named)
    if named is not None:
        return named
    found = [
        v
        for v in vars(module).values()
        if inspect.isclass(v)
        and v.__module__ == module.__name__
        and callable(getattr(v, "place", None))
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ImportError("no class with a place(app, view) method; define one")
    names = ", ".join(sorted(c.__name__ for c in found))
    raise ImportError(f"several classes with place(): {names}; set POLICY = 'TheOne'")


def _reason(exc: BaseException) -> str:
    """One line: what went wrong in a run (the policy's own exception when there is one)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, MemoryError):
        return "memory limit exceeded (MemoryError)"
    lines = str(exc).splitlines()
    head = (lines[0] if lines else type(exc).__name__).replace(" (--strict)", "").rstrip(":")
    if cause is not exc:
        return f"{head}: {type(cause).__name__}: {cause}"
    return head if isinstance(exc, PolicyError) else f"{type(exc).__name__}: {head}"


def run_all(job: dict[str, Any], target: Any, channel: IO[str]) -> None:
    """Run every scenario × seed of ``job`` with ``target``; one JSON line per run."""
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.jsonutil import dumps
    from simcontinuum.policy.registry import load_policy

    for label, scenario in job["scenarios"]:
        for seed in job["seeds"]:
            started = time.perf_counter()
            row: dict[str, Any] = {"team": job["team"], "scenario": label, "seed": int(seed)}
            try:
                policy = load_policy(target)
                sim = Simulation(
                    scenario,
                    policy,
                    seed=int(seed),
                    strict=job.get("strict", True),
                    telemetry=job.get("telemetry", True),
                )
                results = sim.run()
            except (PolicyError, MemoryError, RecursionError) as exc:
                row.update(status="failed", reason=_reason(exc))
            except Exception as exc:
                row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
                traceback.print_exc()
            else:
                row.update(status="ok", reason=None, policy_errors=results.meta["policy_errors"])
                row.update(results.summary())
            row["wall_s"] = time.perf_counter() - started
            channel.write(dumps({"type": "row", "row": row}, sort_keys=False) + "\n")
            channel.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m simcontinuum.experiment.sandbox")
    parser.add_argument("submission")
    parser.add_argument("--cpu", type=int, default=600, help="CPU seconds")
    parser.add_argument("--memory", type=int, default=2048, help="address space, MiB (0: none)")
    parser.add_argument("--files", type=int, default=256, help="open files")
    args = parser.parse_args(argv)
    set_limits(args.cpu, args.memory, args.files)
    job = pickle.load(sys.stdin.buffer)  # from the organizer process, not the submission
    channel = _private_stdout()
    try:
        target = find_policy(args.submission)
    except ImportError as exc:
        channel.write(json.dumps({"type": "fatal", "reason": str(exc)}) + "\n")
        channel.flush()
        return 0
    run_all(job, target, channel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
