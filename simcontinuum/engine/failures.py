"""Failures: scripted (``at``/``for``) and random (exponential MTBF/MTTR per node).

A failed node loses its replicas (gone, reason ``node_failure``) and the steps in flight on
it (their requests end ``failed``); its capacity is zero until it recovers, empty. A failed
link is removed from the routing graph: traffic reroutes, or fails when no route is left.
A cluster failure is the failure of all its nodes. The policy is told through ``on_event``.

Invariant: overlapping failures of one node nest — it recovers when the last one ends.
Random failures draw from the stream ``failures/<node id>``, so they replay under the seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from simcontinuum.model import Failure, RandomFailures
from simcontinuum.policy.api import Event

if TYPE_CHECKING:
    from simcontinuum.engine.simulation import Simulation


class Failures:
    """Injects the failures of one simulation."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self._down: dict[str, int] = {}  # node or link key -> nesting depth

    def start(self) -> None:
        """Schedule every scripted failure and start the random ones."""
        for f in self.sim.scenario.failures:
            self._at(f.at, functools.partial(self._begin, f))
        for spec in self.sim.scenario.random_failures:
            for node in self.sim.nodes:
                n = node.node
                if (spec.tier is None or n.tier == spec.tier) and (
                    spec.cluster is None or n.cluster == spec.cluster
                ):
                    self._random_cycle(node.id, spec, up=True)

    def _at(self, t: float, fn: Callable[[], None]) -> None:
        delay = max(0.0, t - self.env.now)
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: fn())

    def _begin(self, f: Failure) -> None:
        nodes = self._targets(f)
        lost = []
        for nid in nodes:
            lost += self.fail_node(nid, tell=f.kind == "node")
        if f.kind == "link":
            self.set_link(f.target, up=False)
        if f.kind == "cluster":
            self._tell("cluster_failed", f.target, lost)
        if f.duration is not None:
            self._at(self.env.now + f.duration, lambda: self._end(f))

    def _end(self, f: Failure) -> None:
        for nid in self._targets(f):
            self.recover_node(nid, tell=f.kind == "node")
        if f.kind == "link":
            self.set_link(f.target, up=True)
        if f.kind == "cluster":
            self._tell("cluster_recovered", f.target, [])

    def _targets(self, f: Failure) -> list[str]:
        if f.kind == "node":
            return [f.target]
        if f.kind == "cluster":
            return list(self.sim.scenario.topology.clusters.get(f.target, ()))
        return []

    def _random_cycle(self, nid: str, spec: RandomFailures, *, up: bool) -> None:
        rng = self.sim.streams.get(f"failures/{nid}")
        mean = spec.mtbf if up else spec.mttr
        t = self.env.now + float(rng.exponential(mean))
        if t >= self.sim.scenario.duration:
            return

        def flip() -> None:
            if up:
                self.fail_node(nid, tell=True)
            else:
                self.recover_node(nid, tell=True)
            self._random_cycle(nid, spec, up=not up)

        self._at(t, flip)

    # ------------------------------------------------------------------ effects
    def fail_node(self, nid: str, *, tell: bool) -> list[tuple[str, str]]:
        """Take node ``nid`` down; returns the (app, component) of the replicas lost."""
        depth = self._down.get(nid, 0)
        self._down[nid] = depth + 1
        if depth:
            return []
        sim = self.sim
        node = sim.nodes[sim.node_index[nid]]
        now = self.env.now
        sim.traffic.fail_node_steps(node.index, node.inflight, now)
        lost = [(r.rt.app, r.rt.id) for r in node.replicas]
        for rep in list(node.replicas):
            sim.deployer.gone(rep, "node_failure")
        node.fail(now)
        if sim.network.set_node_up(nid, False):
            sim.traffic.reset_routes()
        sim.recorder.event(now, "node_failed", nid, f"{len(lost)} replicas lost")
        if tell:
            self._tell("node_failed", nid, lost)
        return lost

    def recover_node(self, nid: str, *, tell: bool) -> None:
        """End one failure of node ``nid``; it comes back (empty) when none is left."""
        depth = self._down.get(nid, 0)
        if depth <= 0:
            return
        self._down[nid] = depth - 1
        if depth > 1:
            return
        node = self.sim.nodes[self.sim.node_index[nid]]
        node.recover(self.env.now)
        if self.sim.network.set_node_up(nid, True):
            self.sim.traffic.reset_routes()
        self.sim.recorder.event(self.env.now, "node_recovered", nid, None)
        if tell:
            self._tell("node_recovered", nid, [])

    def set_link(self, key: str, *, up: bool) -> None:
        """Take the link ``"a|b"`` down or bring it back; traffic reroutes."""
        a, b = key.split("|", 1)
        depth = self._down.get(key, 0)
        self._down[key] = depth + (-1 if up else 1)
        if (not up and depth) or (up and depth != 1):
            return
        self.sim.network.set_link_up(a, b, up)
        self.sim.traffic.reset_routes()
        kind = "link_recovered" if up else "link_failed"
        self.sim.recorder.event(self.env.now, kind, key, None)
        self._tell(kind, key, [])

    def _tell(self, kind: str, target: str, lost: list[tuple[str, str]]) -> None:
        self.sim.control.event(Event(self.env.now, kind, target, tuple(lost)))
