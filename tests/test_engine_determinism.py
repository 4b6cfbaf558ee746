"""Seeds you can trust: same seed ⇒ identical tables for every built-in policy; another seed ⇒
other draws; two simulations in one process never interfere; named streams are independent
(adding a consumer shifts no other); a policy drawing from ``reset(rng)`` replays exactly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import INF, Pin, application, comp, mknode, poisson, rich_scenario, scenario, source

import simcontinuum
from simcontinuum.engine.simulation import Simulation
from simcontinuum.model import Link, Scenario, Telemetry
from simcontinuum.policy.api import Deploy, Remove
from simcontinuum.policy.registry import available_policies, load_policy
from simcontinuum.results import TABLES, Results

VOLATILE_META = {"wall_s", "decision_s", "events"}  # wall clock; events counts stop markers


def assert_same(a: Results, b: Results) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    strip = lambda m: {k: v for k, v in m.items() if k not in VOLATILE_META}  # noqa: E731
    assert strip(a.meta) == strip(b.meta)
    sa, sb = a.summary(), b.summary()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k] == sb[k] or (pd.isna(sa[k]) and pd.isna(sb[k])), k


def run(sc: Scenario, policy: Any, seed: int | None = None) -> Results:
    return Simulation(sc, policy, seed=seed).run()  # telemetry on: it draws too


@pytest.mark.parametrize("name", sorted(available_policies()))
def test_same_seed_gives_identical_tables(name: str) -> None:
    sc = rich_scenario()
    first = run(sc, load_policy(name))
    again = run(sc, load_policy(name))
    assert_same(first, again)
    rq = first.requests
    # the scenario really exercises the engine under this policy
    assert len(rq) > 2000 and (rq["status"] == "ok").sum() > 500
    assert (first.events["kind"] == "node_failed").any()
    assert first.telemetry["delivered_s"].isna().any()  # some samples were lost
    assert first.meta["seed"] == 7


@pytest.mark.parametrize("name", ["first-fit", "random"])
def test_another_seed_gives_other_requests(name: str) -> None:
    sc = rich_scenario()
    a = run(sc, load_policy(name), seed=1)
    b = run(sc, load_policy(name), seed=2)
    assert (a.meta["seed"], b.meta["seed"]) == (1, 2)
    n = min(len(a.requests), len(b.requests))
    assert not np.array_equal(
        a.requests["arrival_s"].to_numpy()[:n], b.requests["arrival_s"].to_numpy()[:n]
    )
    assert not a.requests["latency_s"].equals(b.requests["latency_s"])


def test_seed_argument_overrides_the_scenario_seed() -> None:
    sc = rich_scenario()
    via_arg = run(sc, load_policy("random"), seed=3)
    via_scenario = run(replace(sc, seed=3), load_policy("random"))
    assert_same(via_arg, via_scenario)
    top = simcontinuum.run(sc, "random", seed=3)
    pd.testing.assert_frame_equal(top.requests, via_arg.requests)


def test_a_reused_policy_instance_replays() -> None:
    """``reset`` restores a fresh instance's state: reusing one object changes nothing."""
    sc = rich_scenario()
    for name in ("round-robin", "random", "k8s-default"):
        policy = load_policy(name)
        assert_same(run(sc, policy), run(sc, policy))


def test_interleaved_simulations_do_not_interfere() -> None:
    sc = rich_scenario()
    specs = [("random", 3), ("k8s-default", 4), ("random", 3)]
    alone = [run(sc, load_policy(p), seed) for p, seed in specs]
    sims = [Simulation(sc, load_policy(p), seed=seed) for p, seed in specs]
    for sim in sims:
        sim.start()
    # first in time slices, alternating ...
    for t in np.arange(1.0, 30.0, 0.7):
        for sim in sims:
            sim.env.run(until=float(t))
    # ... then event by event
    horizon = sc.duration
    while any(s.env.peek() < horizon for s in sims):
        for sim in sims:
            if sim.env.peek() < horizon:
                sim.env.step()
    together = []
    for sim in sims:
        sim.env.run(until=horizon)
        together.append(sim.finalize(0.0))
    for a, b in zip(alone, together, strict=True):
        assert_same(a, b)
    pd.testing.assert_frame_equal(together[0].requests, together[2].requests)
    assert not together[0].requests.equals(together[1].requests)


def test_adding_a_consumer_shifts_no_other_stream() -> None:
    """A new source, and telemetry drawing its losses, leave every other draw unchanged."""
    base = scenario(
        [mknode("e", cores=2), mknode("d", "far_edge")],
        [application("a", [comp("x", 0.05, "exponential")])],
        [source("a", "d", poisson(10.0), sid="s1")],
        links=[Link("d", "e", 0.001, INF)],
        duration=60.0,
        seed=5,
    )
    more = replace(
        base,
        sources=(*base.sources, source("a", "e", poisson(3.0), sid="s2")),
        telemetry=Telemetry(interval=1.0, loss=0.5),
    )
    a = Simulation(base, Pin({"x": ["e"]}), telemetry=False).run().requests
    b = Simulation(more, Pin({"x": ["e"]})).run().requests
    b1 = b[b["source"] == "s1"]
    assert len(b) > len(b1) > 500
    np.testing.assert_array_equal(a["arrival_s"].to_numpy(), b1["arrival_s"].to_numpy())


class Dice:
    """Draws from the run's ``policy`` stream: where to place, and when to add or remove."""

    name = "dice"

    def __init__(self) -> None:
        self.rng: np.random.Generator | None = None
        self.draws: list[float] = []
        self.resets = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.draws = []
        self.resets += 1

    def _draw(self) -> float:
        assert self.rng is not None, "reset(rng) is called before the first decision"
        x = float(self.rng.random())
        self.draws.append(x)
        return x

    def place(self, app: Any, view: Any) -> dict[str, list[str]]:
        out = {}
        for c in app.components:
            ok = [n for n in view.eligible(c) if view.can_host(c, n)]
            out[c.id] = [ok[int(self._draw() * len(ok))]] * c.replicas_min if ok else []
        return out

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        x = self._draw()
        nodes = [n for n, nv in view.nodes.items() if nv.up and nv.tier != "far_edge"]
        node = nodes[int(self._draw() * len(nodes))] if nodes else "none"
        if x < 0.4:
            return [Deploy("shop", "front", node)]
        if x < 0.7:
            return [Remove("shop", "front", node)]
        return []


def test_a_policy_drawing_from_reset_replays_per_seed() -> None:
    sc = rich_scenario()
    runs = {}
    for seed in (1, 1, 2, 3):
        policy = Dice()
        res = run(sc, policy, seed=seed)
        assert policy.resets == 1
        runs.setdefault(seed, []).append((policy.draws, res))
    (d1, r1), (d1b, r1b) = runs[1]
    assert d1 == d1b and len(d1) > 10
    assert_same(r1, r1b)
    assert runs[2][0][0] != d1 and runs[3][0][0] != d1
    # the draws are the run's named "policy" stream, nothing else
    expected = Simulation(sc, Pin({}), seed=1).streams.get("policy").random(len(d1))
    np.testing.assert_array_equal(np.array(d1), expected)
