"""The one place that knows SimPy's internals (pinned by ``tests/test_simpy_compat.py``).

The hot path puts its own light event objects straight onto the environment's heap instead
of building a :class:`simpy.Timeout` per step (see :mod:`simcontinuum.engine.traffic`), and
the driving API advances the clock without adding a stop event. Both rely on SimPy 4's layout:

- ``env._queue`` is a heap (``heapq``) of ``(time, priority, eid, event)`` entries, ordered by
  time, then priority (``URGENT`` = 0 before ``NORMAL`` = 1), then ``eid``;
- ``env._eid`` is an ``itertools.count`` numbering every scheduled event (so the next number is
  how many events were scheduled; ``env.run(until=t)`` numbers two: its stop event, and the
  same event again when SimPy re-schedules it as it stops);
- ``env._now`` is the current time, set by ``Environment.step`` from the entry it pops;
- ``Environment.step`` pops an entry, swaps ``event.callbacks`` for ``None``, calls each
  callback with the event, then reads ``event._ok`` (an event that is not ok must carry
  ``_value``/``_defused``); :func:`run_until` does exactly that in its own loop;
- ``env.run(until=t)`` numbers its stop event first and again as it stops (see
  :func:`run_until`'s ``as_run``).

No other module names ``_queue``, ``_eid`` or ``_now``. If SimPy changes them, this module and
its test change, nothing else.
"""

from __future__ import annotations

import copy
from heapq import heappop, heappush
from typing import Any, cast

import simpy
from simpy.core import NORMAL

#: The priority of every event the engine schedules (SimPy's ``NORMAL``).
PRIORITY = int(NORMAL)


class FastEvent:
    """Base of the engine's light events: what ``Environment.step`` needs, nothing more.

    A subclass sets ``callbacks`` to a list of callables (each called with the event) before
    scheduling it with the function from :func:`scheduler`.
    """

    __slots__ = ("callbacks",)
    # no __init__: creating one is a bare C-level allocation (the hot path makes millions)
    callbacks: list[Any] | None  # callables, each called with the event
    _ok = True  # read by simpy.Environment.step after the callbacks ran


def scheduler(env: simpy.Environment) -> tuple[list[Any], Any]:
    """``(heap, counter)`` of ``env`` for scheduling :class:`FastEvent` s on the hot path.

    An entry is ``(time, PRIORITY, next(counter), event)`` pushed with :func:`heapq.heappush`
    (see :func:`schedule` for the same as a function call). Returned as a pair, not a
    closure, so the hot path pays no extra call per event.
    """
    return env._queue, env._eid


def schedule(env: simpy.Environment, t: float, event: FastEvent) -> None:
    """Put ``event`` on ``env``'s heap at absolute time ``t`` (normal priority)."""
    queue = cast("list[tuple[float, int, int, Any]]", env._queue)
    heappush(queue, (t, PRIORITY, next(env._eid), event))


def event_count(env: simpy.Environment) -> int:
    """How many events were scheduled on ``env`` so far (reading it schedules nothing)."""
    return int(next(copy.copy(env._eid)))


def run_until(env: simpy.Environment, until: float, *, as_run: bool = False) -> None:
    """Process every event before ``until``, then set the clock to ``until`` — what
    ``env.run(until=until)`` does, but without putting a stop event on the heap.

    ``until`` is taken as ``env.run`` takes it: the stop time is ``now + (until - now)``
    (the same float), and events at exactly that time are left for later, as SimPy's urgent
    stop event runs before them. The engine schedules no urgent events of its own.

    Each event is processed as ``Environment.step`` processes it (clock, callbacks swapped
    out and called in order, a failed event that is not defused raised), in a loop inlined
    here: the method call, its ``try`` and the ``now`` property per event are a third of
    SimPy's own cost per event, and an RL step is ~1,500 events.

    Args:
        env: the environment.
        until: the stop time (greater than ``env.now``).
        as_run: number the two events ``env.run(until=...)`` numbers (its stop event, and
            the same event again when it is re-scheduled as the run stops) without
            scheduling them, so ``meta["events"]`` and every event's number stay what a
            whole run with ``env.run`` gives. Without it, nothing is numbered: a sliced
            run counts what a whole one does.
    """
    now = env._now
    if until <= now:
        raise ValueError(f"until ({until}) must be greater than the current time ({now})")
    stop = now + (until - now)
    # entries hold events of any kind: Any, so FastEvents and SimPy's own both type-check
    queue = cast("list[tuple[float, int, int, Any]]", env._queue)
    if as_run:
        next(env._eid)  # env.run's stop event, numbered before anything the run schedules
    # (StopSimulation, which Environment.step also handles, is raised only by env.run's
    # own stop event, which this loop never has)
    while queue and queue[0][0] < stop:
        env._now, _, _, event = heappop(queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            # a failed event nobody handled crashes the run, as in Environment.step
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    env._now = stop
    if as_run:
        next(env._eid)  # ... and its re-scheduling as the run stops


__all__ = ["PRIORITY", "FastEvent", "event_count", "run_until", "schedule", "scheduler"]
