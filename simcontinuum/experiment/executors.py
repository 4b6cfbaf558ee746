"""Executors for sweeps: everything goes through ``concurrent.futures.Executor``.

- ``inline``: this process, one task at a time (no start-up cost; the default for ``--jobs 1``);
- ``process``: a ``ProcessPoolExecutor`` of ``jobs`` local processes (``spawn``: no state
  inherited from the parent, the same on every platform); workers ignore Ctrl-C, the parent
  stops them;
- ``dask``: ``distributed.Client(address).get_executor()`` on an existing cluster, or on a
  ``LocalCluster`` of ``jobs`` single-threaded worker processes when no address is given.
  Dask is an optional extra (``pip install 'simcontinuum[dask]'``).

No scheduling happens here: the executor decides where tasks run.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from simcontinuum.errors import SimContinuumError

EXECUTORS = ("auto", "inline", "process", "dask")
DASK_HINT = "install the optional extra: pip install 'simcontinuum[dask]'"


class ExecutorError(SimContinuumError):
    """An executor cannot be made (unknown kind, Dask not installed, cluster unreachable)."""


class InlineExecutor(cf.Executor):
    """Runs each task in the calling thread when it is submitted."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)`` now; its result or exception is in the future."""
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


@dataclass
class Running:
    """An executor in use, with how many tasks it runs at once."""

    executor: cf.Executor
    workers: int
    kind: str

    def stop(self) -> None:
        """Stop now: cancel what has not started and end the local worker processes.

        Finished runs are already in the run store, so nothing finished is lost.
        """
        if isinstance(self.executor, cf.ProcessPoolExecutor):
            # Workers ignore Ctrl-C; end them so the sweep stops now, not after their chunk.
            processes = dict(getattr(self.executor, "_processes", None) or {})
            self.executor.shutdown(wait=False, cancel_futures=True)
            for proc in processes.values():
                proc.kill()
        elif self.kind == "dask":
            self.executor.shutdown(wait=False)  # Dask's executor cancels every future then
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)


@contextmanager
def executor(
    kind: str = "auto", jobs: int = 1, address: str | None = None, *, initializer: Any = None
) -> Iterator[Running]:
    """An executor of ``kind`` for ``jobs`` parallel tasks (see the module docstring).

    ``auto`` is ``inline`` for one job and ``process`` otherwise.

    Raises:
        ExecutorError: an unknown kind, Dask missing, or a Dask cluster that cannot be reached.
    """
    if kind not in EXECUTORS:
        raise ExecutorError(f"unknown executor '{kind}'; choose one of {', '.join(EXECUTORS)}")
    jobs = max(1, int(jobs))
    if kind == "auto":
        kind = "inline" if jobs == 1 else "process"
    if kind == "inline":
        yield Running(InlineExecutor(), 1, kind)
    elif kind == "process":
        pool = cf.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=initializer,
        )
        try:
            yield Running(pool, jobs, kind)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        with _dask(jobs, address) as running:
            yield running


@contextmanager
def _dask(jobs: int, address: str | None) -> Iterator[Running]:
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError(
            f"--executor dask needs Dask, which is not installed; {DASK_HINT}"
        ) from None
    try:
        if address:
            client = Client(address, timeout="20s")
        else:
            with _sigint_ignored():  # the local workers inherit it: Ctrl-C is the parent's
                client = Client(
                    n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
                )
    except OSError as exc:
        raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        workers = sum(client.nthreads().values()) or jobs
        yield Running(client.get_executor(pure=False), workers, "dask")
    finally:
        client.close()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes are started (they keep ignoring it)."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


__all__ = ["DASK_HINT", "EXECUTORS", "ExecutorError", "InlineExecutor", "Running", "executor"]
