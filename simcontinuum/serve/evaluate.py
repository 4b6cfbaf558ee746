"""The one place where the server calls the trusted evaluation of a submission.

Every evaluation the server makes goes through :func:`evaluate`: one submission file, the
phase's (validated, path-free) scenario objects, its seeds and limits in; one row per
scenario × seed out (``status`` ``ok`` with the score and its parts, or ``failed`` with the
reason). Today it is the leaderboard's isolated child process
(:func:`simcontinuum.experiment.leaderboard.run_submission`: a fresh process, hard resource
limits, a private working directory, no path to any scenario); when the trusted-evaluation
boundary (``simcontinuum.boundary``) lands, the body below becomes its one call and nothing
else in the server changes.

Runs in a worker process (a local pool or a Dask worker): everything here is picklable data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simcontinuum.model import Scenario


@dataclass(frozen=True)
class EvalLimits:
    """Limits of one evaluation: wall and CPU seconds for all its runs, address space."""

    wall_s: float = 600.0
    cpu_s: int = 600
    memory_mib: int = 2048


def evaluate(
    code: bytes,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: EvalLimits,
) -> list[dict[str, Any]]:
    """Evaluate one submission's source ``code``; one row per scenario × seed, in order.

    A submission that cannot be imported, raises, or exceeds a limit gives ``failed`` rows
    with the reason; only a failure of the evaluation machinery itself raises.
    """
    from simcontinuum.experiment.leaderboard import Limits, complete_rows, run_submission

    with tempfile.TemporaryDirectory(prefix="simcontinuum-serve-") as work:
        path = Path(work) / "submission.py"
        path.write_bytes(code)
        lim = Limits(wall_s=limits.wall_s, cpu_s=limits.cpu_s, memory_mib=limits.memory_mib)
        outcome = run_submission(path, scenarios, seeds, lim)
        return complete_rows(outcome, [label for label, _ in scenarios], seeds)


def worker_init() -> None:
    """Start-up of a local worker process: die with the server, leave Ctrl-C to it.

    ``PR_SET_PDEATHSIG`` (Linux): the kernel kills the worker when the server process dies,
    even by SIGKILL, so a crashed server leaves no worker evaluating a job that the next
    server will evaluate again.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass


__all__ = ["EvalLimits", "evaluate", "worker_init"]
