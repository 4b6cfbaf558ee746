"""What a policy file sees of the world while one of its functions runs: simulated time and
seeded global random generators.

Policies written for the MLSysOps agent pace themselves with the wall clock (``time.time()``
in the framework's ``clusterPlacement``, ``CPUFrequencyConfigurator``, the mvp relocate and
changeCompSpec files) and draw from the global ``random`` module (the core
``dynamicPlacement``). Run unchanged in a simulation, both would tie a run to the host: a 60 s
pacing would never fire in a 300 s run that takes 2 s, and the same ``--seed`` would give
different scores. :func:`policy_environment` therefore makes, for the duration of one call:

- ``time.time()``, ``time.time_ns()``, ``datetime.now()``/``utcnow()``, ``date.today()``,
  ``time.localtime()``/``gmtime()``/``strftime()`` read the *simulated* time: simulated
  seconds since the Unix epoch (t = 0 is 1970-01-01 00:00:00 UTC, the same origin as the
  telemetry ``timestamp`` column), plus the real time spent inside the call so far (a policy
  busy-waiting on ``time.time()`` still ends), plus every ``asyncio.sleep`` it awaited. This
  is done with `time-machine <https://pypi.org/project/time-machine/>`_, which patches the C
  functions, so ``from time import time`` and ``from datetime import datetime`` are covered;
- ``time.monotonic()``/``monotonic_ns()`` read the same clock (patched on the ``time``
  module; a name bound with ``from time import monotonic`` while the policy file was imported
  is our wrapper too, because files are imported inside this environment);
- the event loop that awaits ``analyze``/``plan`` runs on that clock: ``loop.time()`` is the
  simulated clock and ``await asyncio.sleep(30)`` returns at once with the clock 30 s later
  (:class:`SimulatedClockLoop`) — the simulation does not wait for a policy;
- the global ``random`` module and numpy's global generator continue one private sequence
  per run, seeded from the run's ``policy`` stream; the caller's generator states are put
  back afterwards, so nothing outside the policy sees a difference.

The trusted side keeps the real clock: decision time is measured with ``time.perf_counter``
and time limits use ``signal.setitimer``, neither of which is patched.

Invariant: outside :func:`policy_environment` every patched function is the original again
and the global generators' states are what they were before the call.
"""

from __future__ import annotations

import asyncio
import random  # noqa: TID251 - the policy's global generator is the point here
import selectors
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_REAL_MONOTONIC = time.monotonic
_REAL_MONOTONIC_NS = time.monotonic_ns
_REAL_PERF = time.perf_counter
_LOCAL = threading.local()  # the active clock of this thread (policies run in one thread)


@dataclass
class PolicyClock:
    """The simulated clock one call sees: ``base`` (simulated seconds at the call's start)
    plus real seconds elapsed since then plus virtual sleeps."""

    base: float
    started: float = field(default_factory=_REAL_PERF)
    slept: float = 0.0
    traveller: Any = None  # time-machine's Coordinates, shifted by virtual sleeps

    def now(self) -> float:
        return self.base + (_REAL_PERF() - self.started) + self.slept

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            if self.traveller is not None:
                self.traveller.shift(seconds)


def active_clock() -> PolicyClock | None:
    """The clock of the policy call running in this thread, if any."""
    clock: PolicyClock | None = getattr(_LOCAL, "clock", None)
    return clock


def active_randomness() -> GlobalRandomState | None:
    """The global-generator sequences of the policy call running in this thread, if any."""
    rs: GlobalRandomState | None = getattr(_LOCAL, "randomness", None)
    return rs


def current_metrics() -> dict[str, list[dict[str, Any]]]:
    """The delivered telemetry as ``mlstelemetry`` series, for the policy call running in
    this thread (empty outside a call)."""
    source = getattr(_LOCAL, "metrics", None)
    return source() if source is not None else {}


@contextmanager
def metrics_source(source: Any) -> Iterator[None]:
    """Within the block, :func:`current_metrics` answers from ``source()``."""
    previous = getattr(_LOCAL, "metrics", None)
    _LOCAL.metrics = source
    try:
        yield
    finally:
        _LOCAL.metrics = previous


def _monotonic() -> float:
    clock = active_clock()
    return clock.now() if clock is not None else _REAL_MONOTONIC()


def _monotonic_ns() -> int:
    clock = active_clock()
    return int(clock.now() * 1e9) if clock is not None else _REAL_MONOTONIC_NS()


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that never blocks: a wait for a timer advances the simulated clock."""

    def __init__(self, clock_of: Any) -> None:
        super().__init__()
        self._clock_of = clock_of

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            return ready
        clock = self._clock_of()
        if clock is not None:
            clock.sleep(timeout)
        return ready


class SimulatedClockLoop(asyncio.SelectorEventLoop):
    """An event loop on the policy's simulated clock: timers fire by advancing the clock,
    never by waiting (``asyncio.sleep(30)`` costs no real time)."""

    def __init__(self) -> None:
        super().__init__(_VirtualSelector(active_clock))

    def time(self) -> float:
        clock = active_clock()
        return clock.now() if clock is not None else _REAL_MONOTONIC()


class GlobalRandomState:
    """One run's private sequences of the global ``random`` and ``numpy.random`` generators."""

    def __init__(self, rng: Any, seed: int | None = None) -> None:
        if seed is None:
            seed = int(rng.integers(0, 2**32 - 1)) if rng is not None else 0
        saved = random.getstate()
        random.seed(seed)
        self.python = random.getstate()
        random.setstate(saved)
        self.numpy: Any = None
        self._seed = seed

    @property
    def seed(self) -> int:
        """The seed of both sequences (a worker process starts the same ones from it)."""
        return self._seed

    @contextmanager
    def active(self) -> Iterator[None]:
        import numpy as np

        previous = getattr(_LOCAL, "randomness", None)
        _LOCAL.randomness = self

        saved_py = random.getstate()
        saved_np = np.random.get_state()  # noqa: NPY002
        random.setstate(self.python)
        if self.numpy is None:
            np.random.seed(self._seed)  # noqa: NPY002, TID251 - the policy's global generator
        else:
            np.random.set_state(self.numpy)  # noqa: NPY002
        try:
            yield
        finally:
            self.python = random.getstate()
            self.numpy = np.random.get_state()  # noqa: NPY002
            random.setstate(saved_py)
            np.random.set_state(saved_np)  # noqa: NPY002
            _LOCAL.randomness = previous


@contextmanager
def simulated_clock(now: float) -> Iterator[PolicyClock]:
    """Within the block, the wall-clock functions read simulated time ``now`` onwards."""
    import time_machine

    clock = PolicyClock(float(now))
    previous = active_clock()
    _LOCAL.clock = clock
    saved = (time.monotonic, time.monotonic_ns)
    time.monotonic, time.monotonic_ns = _monotonic, _monotonic_ns
    try:
        with time_machine.travel(float(now), tick=True) as traveller:
            clock.traveller = traveller
            yield clock
    finally:
        time.monotonic, time.monotonic_ns = saved
        _LOCAL.clock = previous


@contextmanager
def policy_environment(now: float | None, randomness: GlobalRandomState | None) -> Iterator[None]:
    """Simulated clock at ``now`` (None: the real clock) and the run's global generators."""
    with _maybe_clock(now), randomness.active() if randomness is not None else _nothing():
        yield


@contextmanager
def _maybe_clock(now: float | None) -> Iterator[None]:
    if now is None:
        yield
        return
    with simulated_clock(now):
        yield


@contextmanager
def _nothing() -> Iterator[None]:
    yield


__all__ = [
    "GlobalRandomState",
    "PolicyClock",
    "SimulatedClockLoop",
    "active_clock",
    "active_randomness",
    "current_metrics",
    "metrics_source",
    "policy_environment",
    "simulated_clock",
]
