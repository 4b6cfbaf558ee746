"""The one place where the server calls the trusted evaluation of a submission.

Every evaluation the server makes goes through :func:`evaluate`: one submission file, the
phase's (validated, path-free) scenario objects, its seeds, limits and isolation in; one row
per scenario × seed out (``status`` ``ok`` with the score and its parts, or ``failed`` with
the reason). It is the trusted-evaluation boundary,
:func:`simcontinuum.boundary.evaluate_submission`: the engine and the score run here (in the
server's worker process), only the policy runs, under bubblewrap, in its own worker.

Runs in a worker process (a local pool or a Dask worker): everything here is picklable data.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.boundary import EvalLimits, Isolation, evaluate_submission

if TYPE_CHECKING:
    from simcontinuum.model import Scenario


def evaluate(
    code: bytes,
    scenarios: Sequence[tuple[str, Scenario]],
    seeds: Sequence[int],
    limits: EvalLimits,
    isolation: Isolation | str | None = None,
) -> list[dict[str, Any]]:
    """Evaluate one submission's source ``code``; one row per scenario × seed, in order.

    A submission that cannot be imported, raises, or exceeds a limit gives ``failed`` rows
    with the reason; only a failure of the evaluation machinery itself raises.
    """
    with tempfile.TemporaryDirectory(prefix="simcontinuum-serve-") as work:
        path = Path(work) / "submission.py"
        path.write_bytes(code)
        return evaluate_submission(
            path, scenarios, seeds, limits, isolation, team="submission", staged=True
        )


def worker_init() -> None:
    """Start-up of a local worker process: lower priority, die with the server, leave
    Ctrl-C to it.

    ``PR_SET_PDEATHSIG`` (Linux): the kernel kills the worker when the server process dies,
    even by SIGKILL, so a crashed server leaves no worker evaluating a job that the next
    server will evaluate again.
    """
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Evaluations are batch work, pages are interactive: on a machine that does both, the
    # web server keeps its CPU (the policy's sandbox inherits this niceness too).
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass


__all__ = ["EvalLimits", "Isolation", "evaluate", "worker_init"]
