"""Telemetry as the policy sees it: a sample taken at ``t`` on a node ``d`` seconds from the
collector reaches ``plan`` at ``t + d`` and not before; a lost sample never does; every sample
is kept in ``results.telemetry`` with ``delivered_s`` (NaN when lost).

The times are exact binary fractions (sampling every 1 s, planning every 1/8 s, a 1/4 s link)
so "not before" is checked at the very tick before delivery, not within a tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, run, scenario, source

from simcontinuum.model import Control, Link, Scenario, Telemetry
from simcontinuum.results import Results

DELAY = 0.25  # seconds from the edge node to the collector
TICK = 0.125  # control interval


def site(*, loss: float = 0.0, duration: float = 6.0, seed: int = 3) -> Scenario:
    """Device d –0– edge e1 –250 ms– collector c0 (cloud); app ``a`` on e1."""
    nodes = [mknode("c0", "cloud", cores=4), mknode("e1", cores=2), mknode("d", "far_edge")]
    links = [Link("e1", "c0", DELAY, INF), Link("d", "e1", 0.0, INF)]
    return scenario(
        nodes,
        [application("a", [comp("front", 0.01)])],
        [source("a", "d", poisson(20.0))],
        links=links,
        duration=duration,
        seed=seed,
        telemetry=Telemetry(interval=1.0, collector="c0", loss=loss),
        control=Control(interval=TICK),
    )


class Watcher(Pin):
    """Places ``front`` on e1 and keeps what ``plan`` was shown at every call."""

    def __init__(self) -> None:
        super().__init__({"front": ["e1"]})
        self.seen: list[tuple[float, pd.DataFrame, pd.DataFrame, Any]] = []

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        self.seen.append(
            (
                view.now,
                telemetry.window(1e9),
                telemetry.latest(),
                telemetry.value("node_cpu_allocated_cores", "e1"),
            )
        )
        return []


def keys(df: pd.DataFrame) -> set[tuple[float, str, str]]:
    return set(zip(df["time_s"], df["id"].astype(str), df["metric"].astype(str), strict=True))


@pytest.fixture(scope="module")
def watched() -> tuple[Results, Watcher]:
    policy = Watcher()
    return run(site(), policy, telemetry=True), policy


def test_a_sample_is_visible_exactly_from_its_delivery(watched: tuple[Results, Watcher]) -> None:
    res, policy = watched
    tel = res.telemetry
    e1 = tel[(tel["id"] == "e1") & (tel["kind"] == "node")]
    assert (e1["delivered_s"] - e1["time_s"] == DELAY).all()
    c0 = tel[tel["id"] == "c0"]
    assert (c0["delivered_s"] == c0["time_s"]).all()  # the collector's own samples: no delay
    sample_times = sorted(set(e1["time_s"]))
    assert sample_times == [1.0, 2.0, 3.0, 4.0, 5.0]
    checked_before = checked_after = 0
    for now, window, _, _ in policy.seen:
        visible = set(window.loc[window["id"] == "e1", "time_s"])
        for t in sample_times:
            if t < now < t + DELAY:
                assert t not in visible, f"sample of {t} seen at {now}, before {t + DELAY}"
                checked_before += 1
            elif now >= t + DELAY:
                assert t in visible, f"sample of {t} not seen at {now}"
                checked_after += 1
        assert (window["delivered_s"] <= now).all()
    assert checked_before >= 5 and checked_after >= 20


def test_latest_and_value_are_the_newest_delivered(watched: tuple[Results, Watcher]) -> None:
    res, policy = watched
    tel = res.telemetry
    alloc = tel[(tel["id"] == "e1") & (tel["metric"] == "node_cpu_allocated_cores")]
    for now, _, latest, value in policy.seen:
        arrived = alloc[alloc["delivered_s"] <= now]
        if arrived.empty:
            assert value is None
            continue
        newest = arrived.sort_values("time_s").iloc[-1]
        assert value == pytest.approx(newest["value"])
        row = latest[(latest["kind"] == "node") & (latest["id"] == "e1")]
        assert len(row) == 1
        assert row["time_s"].iloc[0] == newest["time_s"]
        assert row["node_cpu_allocated_cores"].iloc[0] == pytest.approx(newest["value"])


def test_the_collector_sees_nothing_at_the_first_sample_of_a_far_node(
    watched: tuple[Results, Watcher],
) -> None:
    _, policy = watched
    first = [(now, w) for now, w, _, _ in policy.seen if 1.0 <= now < 1.0 + DELAY]
    assert first and all((w["id"] != "e1").all() for _, w in first)


def test_lost_samples_never_appear_and_are_recorded_with_nan() -> None:
    policy = Watcher()
    res = run(site(loss=0.3, duration=20.0), policy, telemetry=True)
    tel = res.telemetry
    lost = tel[tel["delivered_s"].isna()]
    kept = tel[tel["delivered_s"].notna()]
    assert 0.2 < len(lost) / len(tel) < 0.4  # ~30 % lost, every metric row drawn alike
    seen: set[tuple[float, str, str]] = set()
    for _, window, _, _ in policy.seen:
        seen |= keys(window)
    assert not seen & keys(lost)
    # every delivered sample was seen by the last call after its delivery
    last = policy.seen[-1][0]
    assert keys(kept[kept["delivered_s"] <= last]) <= seen


def test_every_sample_is_in_the_results() -> None:
    res = run(site(duration=10.0), Watcher(), telemetry=True)
    tel = res.telemetry
    assert list(tel.columns) == ["time_s", "delivered_s", "kind", "id", "metric", "value"]
    nodes = tel[tel["kind"] == "node"]
    per_tick = nodes.groupby("time_s")["id"].nunique()
    assert list(per_tick.index) == [float(t) for t in range(1, 10)]
    assert (per_tick == 3).all()  # c0, e1 and the device, at every tick
    metrics = set(nodes["metric"].astype(str))
    assert {"node_up", "node_cpu_utilisation", "node_queue_length"} <= metrics
    apps = tel[tel["kind"] == "app"]
    assert set(apps["time_s"]) == set(per_tick.index)
    # an application's sample travels from its entry replica's node (e1)
    assert (apps["delivered_s"] - apps["time_s"] == DELAY).all()
    assert not math.isnan(apps.loc[apps["metric"] == "app_request_rate", "value"].iloc[-1])


def test_reading_records_never_pins_the_growing_buffers() -> None:
    """A frame kept alive after its function returned (as a sampling profiler or a traceback
    keeps it) must not hold a numpy view of a record buffer: the run would then fail with
    ``BufferError: cannot resize an array that is exporting buffers`` at the next append."""
    import sys
    from array import array

    import numpy as np

    from simcontinuum.engine.buffers import copy_of, take

    kept = []
    buf = array("d", [1.0, 2.0, 3.0])

    def read() -> np.ndarray:
        out = take(buf, np.float64, np.array([0, 2])) + copy_of(buf, np.float64, 1)[:2]
        kept.append(sys._getframe())  # what Dask's profiler does to a running task
        return out

    assert read().tolist() == [3.0, 6.0]
    buf.append(4.0)  # would raise BufferError if a view were still alive
    assert len(kept) == 1
