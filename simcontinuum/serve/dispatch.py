"""The dispatcher: queued jobs → executor → results, in one thread of the server process.

It takes (claims) as many queued jobs as it has free workers, sends each to an executor of
:mod:`simcontinuum.experiment.executors` (the interface ``bench`` uses) and writes each
result in one transaction when it comes back. Executors:

- ``process`` (default): one single-worker process pool per slot, so a worker that dies is
  known exactly — its own job is queued again (once), the others are untouched; the broken
  pool is replaced;
- ``dask``: one client on ``--address`` (or a local cluster); ``workers`` is what the
  cluster offers. A job whose Dask worker died (``KilledWorker``) is retried the same way;
- ``inline``: in the dispatcher thread itself (tests of the queue only).

Scenario objects are loaded and stripped of file paths here, in the server; workers receive
objects, never paths (no shared file system needed, hidden files never named).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from simcontinuum.boundary import resolve_isolation
from simcontinuum.serve.config import Competition
from simcontinuum.serve.evaluate import EvalLimits, evaluate, worker_init
from simcontinuum.serve.lease import Lease
from simcontinuum.serve.store import Claimed, Store

log = logging.getLogger("simcontinuum.serve")

Evaluate = Callable[..., list[dict[str, Any]]]


@dataclass
class _Slot:
    """One place to run a job: an executor (shared by every slot for Dask) and its job."""

    running: Any
    context: Any  # the executor's context manager, to close (and replace) a broken pool
    own: bool  # this slot owns its executor (process kind): restart it when it breaks
    job: Claimed | None = None


@dataclass
class Dispatcher:
    """Evaluates the queue of ``store`` on ``workers`` workers until :meth:`stop`."""

    store: Store
    competition: Competition
    kind: str = "process"
    workers: int = 2
    address: str | None = None
    evaluate_fn: Evaluate = evaluate
    poll_s: float = 0.5
    isolation_mode: str | None = None
    lease: Lease | None = None
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    def __post_init__(self) -> None:
        if self.lease is not None:
            self.owner = self.lease.holder  # the jobs it claims carry the lease holder's id
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._slots: list[_Slot] = []
        self._shared: Any = None
        self.error: BaseException | None = None
        lim = self.competition.spec.limits
        self.limits = EvalLimits(wall_s=lim.wall_s, cpu_s=lim.cpu_s, memory_mib=lim.memory_mib)
        # Resolved once, here: a server that cannot isolate refuses to start (IsolationError).
        self.isolation = resolve_isolation(self.isolation_mode or self.competition.spec.isolation)
        self.scenarios = self._load_scenarios()
        self.seeds = {p.name: self.competition.seeds(p.name) for p in self.competition.phases}

    def _load_scenarios(self) -> dict[str, list[tuple[str, Any]]]:
        from simcontinuum.experiment.leaderboard import strip_paths
        from simcontinuum.scenario import load_scenario

        return {
            p.name: [
                (label, strip_paths(load_scenario(f)))
                for label, f in zip(p.labels, p.files, strict=True)
            ]
            for p in self.competition.phases
        }

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Put back what a stopped server left running, then start the thread. With a
        lease (held: see :mod:`.lease`), no other server can be running those jobs."""
        recovered = self.store.recover()
        if recovered:
            log.warning("resumed %d job(s) left running by the previous server", recovered)
        self._open_slots()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a submission arrived)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop: running jobs go back to the queue (they start again with the next server)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._close_slots()
        self.store.recover(self.owner)  # its own jobs only: not a successor's
        if self.lease is not None:
            # Here, not after the server returns: uvicorn ends the process by re-raising
            # SIGTERM once the application has shut down.
            self.lease.release()

    # ------------------------------------------------------------------ executors

    def _open_slots(self) -> None:
        from simcontinuum.experiment.executors import executor

        if self.kind == "process":
            for _ in range(self.workers):
                self._slots.append(self._process_slot())
            return
        context = executor(self.kind, self.workers, self.address)
        running = context.__enter__()
        self._shared = context
        n = running.workers if self.kind == "dask" else 1
        self._slots = [_Slot(running, None, own=False) for _ in range(max(1, n))]
        log.info("dispatcher: %s executor, %d worker(s)", self.kind, len(self._slots))

    def _process_slot(self) -> _Slot:
        from simcontinuum.experiment.executors import executor

        context = executor("process", 1, initializer=worker_init)
        return _Slot(context.__enter__(), context, own=True)

    def _close_slots(self) -> None:
        for slot in self._slots:
            if slot.own:
                slot.running.stop()
                with contextlib.suppress(Exception):
                    slot.context.__exit__(None, None, None)
        if self._shared is not None:
            if self.kind == "dask":
                self._slots[0].running.stop()
            with contextlib.suppress(Exception):
                self._shared.__exit__(None, None, None)
            self._shared = None
        self._slots = []

    def _restart(self, slot: _Slot) -> None:
        if not slot.own:
            return
        slot.running.stop()
        with contextlib.suppress(Exception):
            slot.context.__exit__(None, None, None)
        fresh = self._process_slot()
        slot.running, slot.context = fresh.running, fresh.context

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        inflight: dict[cf.Future[Any], _Slot] = {}
        try:
            while not self._stop.is_set():
                free = [s for s in self._slots if s.job is None]
                holder = self.lease.holder if self.lease is not None else None
                claimed = self.store.claim(self.owner, len(free), lease=holder)
                for slot, job in zip(free, claimed, strict=False):
                    slot.job = job
                    log.info("evaluating job %d (team %s, phase %s)", job.id, job.team, job.phase)
                    inflight[self._submit(slot, job)] = slot
                if not inflight:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
                    continue
                done, _ = cf.wait(
                    list(inflight), timeout=self.poll_s, return_when=cf.FIRST_COMPLETED
                )
                for fut in done:
                    self._collect(fut, inflight.pop(fut))
        except BaseException as exc:  # recorded for /healthz and the log; the queue is safe
            self.error = exc
            log.exception("the dispatcher stopped")

    def _submit(self, slot: _Slot, job: Claimed) -> cf.Future[Any]:
        args = (
            job.code,
            self.scenarios[job.phase],
            self.seeds[job.phase],
            self.limits,
            self.isolation,
        )
        try:
            return slot.running.executor.submit(self.evaluate_fn, *args)
        except RuntimeError:  # a pool that broke since its last job: replace it, once
            self._restart(slot)
            return slot.running.executor.submit(self.evaluate_fn, *args)

    def _collect(self, fut: cf.Future[Any], slot: _Slot) -> None:
        job = slot.job
        slot.job = None
        assert job is not None
        try:
            rows = fut.result()
        except BrokenProcessPool:
            self._restart(slot)
            state = self.store.retry_or_fail(job.id, self.owner, "the worker process died")
            log.warning("job %d: the worker process died; now %s", job.id, state)
        except Exception as exc:  # the machinery failed (Dask's KilledWorker, an OSError...)
            reason = f"{type(exc).__name__}: {exc}"[:500]
            state = self.store.retry_or_fail(job.id, self.owner, reason)
            log.warning("job %d: %s; now %s", job.id, reason, state)
        else:
            self.store.finish(job.id, self.owner, _rows(rows), self.seeds[job.phase])
            log.info("job %d finished", job.id)

    @property
    def alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._thread is not None and self._thread.is_alive()


def _rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows if isinstance(r, dict)]


__all__ = ["Dispatcher"]
