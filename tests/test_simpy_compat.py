"""The SimPy layout that :mod:`simcontinuum.engine.simpy_compat` relies on — the one module
that touches SimPy internals. If a SimPy release changes any of this, these tests say what."""

from __future__ import annotations

import itertools
from heapq import heappush

import pytest
import simpy
from simpy.core import NORMAL, URGENT

from simcontinuum.engine import simpy_compat
from simcontinuum.engine.simpy_compat import FastEvent


class Tick(FastEvent):
    __slots__ = ("name",)


def test_environment_internals_have_the_pinned_layout() -> None:
    env = simpy.Environment()
    assert isinstance(env._queue, list) and env._queue == []
    assert isinstance(env._eid, itertools.count)
    assert env._now == 0 and env.now == 0
    assert (URGENT, NORMAL) == (0, 1) and simpy_compat.PRIORITY == NORMAL
    env.timeout(2.5)
    (entry,) = env._queue
    t, prio, eid, event = entry  # (time, priority, eid, event)
    assert (t, prio, eid) == (2.5, NORMAL, 0) and isinstance(event, simpy.Timeout)
    assert next(env._eid) == 1  # the counter numbers every scheduled event


def test_step_runs_a_bare_event_pushed_onto_the_heap() -> None:
    env = simpy.Environment()
    seen: list[tuple[str, float]] = []
    ev = Tick()
    ev.name = "a"
    ev.callbacks = [lambda e: seen.append((e.name, env.now))]
    queue, eid = simpy_compat.scheduler(env)
    assert queue is env._queue and eid is env._eid
    heappush(queue, (1.5, simpy_compat.PRIORITY, next(eid), ev))
    env.step()
    assert seen == [("a", 1.5)] and env.now == 1.5
    assert ev.callbacks is None  # step swaps the callbacks out before calling them


def test_schedule_orders_by_time_then_insertion() -> None:
    env = simpy.Environment()
    seen: list[str] = []
    for name, t in (("late", 2.0), ("first", 1.0), ("second", 1.0)):
        ev = Tick()
        ev.name = name
        ev.callbacks = [lambda e: seen.append(e.name)]
        simpy_compat.schedule(env, t, ev)
    env.run()
    assert seen == ["first", "second", "late"]


def test_event_count_reads_without_scheduling() -> None:
    env = simpy.Environment()
    for d in (1.0, 2.0, 3.0):
        env.timeout(d)
    assert simpy_compat.event_count(env) == 3
    assert simpy_compat.event_count(env) == 3  # reading consumed nothing
    env.timeout(4.0)
    assert simpy_compat.event_count(env) == 4


@pytest.mark.parametrize("until", [2.0, 2.5, 0.3])
def test_run_until_is_env_run_without_the_stop_event(until: float) -> None:
    """Same events processed, same clock, and no event scheduled (``env.run(until)`` numbers
    two: its stop event, and the same event again when SimPy re-schedules it after the stop)
    — also for a stop time that only ``now + (until - now)`` reproduces."""

    def build() -> tuple[simpy.Environment, list[float]]:
        env = simpy.Environment()
        seen: list[float] = []
        for d in (0.1, 0.3, 1.0, 2.0, 2.0, 3.0):
            env.timeout(d).callbacks.append(lambda _e, env=env: seen.append(env.now))
        env.run(until=0.1 + 1e-12)  # a non-zero start, as in a sliced run
        return env, seen

    a, seen_a = build()
    b, seen_b = build()
    a.run(until=until)
    simpy_compat.run_until(b, until)
    assert seen_a == seen_b and a.now == b.now
    assert simpy_compat.event_count(a) == simpy_compat.event_count(b) + 2
    with pytest.raises(ValueError, match="must be greater"):
        simpy_compat.run_until(b, b.now)


def test_no_other_module_names_simpy_internals() -> None:
    """Only simpy_compat says ``._queue``, ``._eid`` or ``env._now``."""
    import re
    from pathlib import Path

    import simcontinuum

    root = Path(simcontinuum.__file__).parent
    pattern = re.compile(r"\benv\._(queue|eid|now)\b")
    users = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.py") if pattern.search(p.read_text())
    )
    assert users == ["engine/simpy_compat.py"]
