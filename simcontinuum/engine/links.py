"""Link contention (``network: {contention: true}``): each link direction is a FIFO server.

A message of ``size`` bytes crosses its route hop by hop: at each link it waits until the
link's direction is free, holds it for ``8 * size / bandwidth`` seconds (serialisation), then
propagates for the link's latency to the next node. Messages queue in the order they reach a
link, so every hop after the first is an event. Responses travel the same way back, and a
caller joins its callees' answers when the last one arrives — event by event, not computed
ahead as in the default model. Everything else (load balancing, nodes, failures, records) is
the default traffic model's.

Invariant: a link direction serialises one message at a time, in arrival order; with no
competing traffic a transfer takes exactly ``latency + size / bottleneck bandwidth`` summed
hop by hop (``sum(latency) + sum(8 * size / bandwidth)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from simcontinuum.engine.traffic import FAILED, OK, Step, Traffic

if TYPE_CHECKING:
    from simcontinuum.engine.simulation import Simulation

Hop = tuple[tuple[str, str], float, float]  # (from, to), latency s, bandwidth bit/s


class ContendedTraffic(Traffic):
    """The traffic model with links as FIFO serialisation servers."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        self.contended = True
        self._free: dict[tuple[str, str], float] = {}  # link direction -> free at

    # ---------------------------------------------------------------- transfers
    def _hops(self, a: str, b: str) -> list[Hop] | None:
        route = self.sim.network.route(a, b)
        if route is None:
            return None
        out = []
        for x, y in route.links:
            link = self.sim.network.link(x, y)
            out.append(((x, y), link.latency, link.bandwidth))
        return out

    def _transfer(self, hops: list[Hop], size: float, i: int, then: Callable[[], None]) -> None:
        """Put the message on hop ``i`` now; call ``then`` when it has crossed them all."""
        now = self.env.now
        key, latency, bandwidth = hops[i]
        free = self._free.get(key, 0.0)
        done = (free if free > now else now) + (8.0 * size / bandwidth if size else 0.0)
        self._free[key] = done
        ev = self.env.timeout(done + latency - now)
        if i + 1 < len(hops):
            ev.callbacks.append(lambda _e: self._transfer(hops, size, i + 1, then))
        else:
            ev.callbacks.append(lambda _e: then())

    def _send(self, hops: list[Hop], size: float, then: Callable[[], None]) -> None:
        if hops:
            self._transfer(hops, size, 0, then)
        else:  # same node: nothing to cross
            then()

    # ---------------------------------------------------------------- requests
    def _send_request(
        self, step: Step, caller: int, req_size: float, resp_size: float, now: float
    ) -> None:
        hops = self._hops(self._node_ids[caller], step.replica.node.id)
        if hops is None:
            step.replica.inflight -= 1
            self.end(step.rid, FAILED, now, 0.0, f"no_route:{step.replica.rt.app}")
            return
        step.hops = hops
        step.resp = resp_size
        self._send(hops, req_size, lambda: self._arrive_now(step))

    def _arrive_now(self, step: Step) -> None:
        step.t = self.env.now  # it arrives when its last hop is crossed
        self._arrive(step)

    def _answer(self, step: Step, t_done: float, lb_below: float) -> None:
        """``step`` is done: its answer crosses the links back, then joins its caller."""
        back = [((y, x), lat, bw) for (x, y), lat, bw in reversed(step.hops)]
        self._send(back, step.resp, lambda: self._answered(step, step.lat2 + lb_below))

    def _answered(self, step: Step, lb: float) -> None:
        now = self.env.now
        rid = step.rid
        if rid in self.dead:
            return
        join = step.join
        if join is None:  # back at the source: done
            self.e_rid.append(rid)
            self.e_t.append(now)
            self.e_status.append(OK)
            self.e_lb.append(lb)
            return
        join.pending -= 1
        if lb > join.lb:
            join.lb = lb
        if join.pending:
            return
        parent = join.step
        if parent.epoch != parent.replica.node.epoch:  # the caller's node failed meanwhile
            self.caller_lost(parent)
            return
        self._answer(parent, now, join.lb)


__all__ = ["ContendedTraffic"]
