"""Requests through the continuum: sources → entry component → the call graph → back.

This is the hot path, written as callbacks on the SimPy environment rather than a process per
request: one event replays every source's arrivals in time order (drawn ahead in windows);
each visit of a component (a *step*) is one small event object scheduled twice — when the
request reaches the replica's node, and when the node finishes its work (the finish time is
known on arrival, see ``compute.py``). Nothing else on the way costs an event: transfers are
computed from cached routes, and responses flow back arithmetically (they use no resource in
the default network model), joining at each caller when its last callee has answered.

Semantics (DESIGN §1): a request enters at its source, the load balancer picks a running
replica of the entry component (lowest path latency from the caller, ties round-robin); the
replica's node serves the step FIFO on its cores; the component then calls its callees in
parallel (each an RPC: request bytes there, response bytes back) and answers its caller when
all have answered. A request ends exactly once: ``ok`` (its response is back at the source),
``failed`` (a node failed under it, its replica was lost, or no route), ``dropped`` (no replica
or a full queue) or ``incomplete`` (still in flight at the horizon, decided at finalize).

Invariants: each request id appears at most once among the ended ones; a step's ``epoch``
differs from its node's only if the node failed after the step arrived (it was lost).
"""

from __future__ import annotations

from array import array
from heapq import heappush, heapreplace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from simcontinuum.engine.arrivals import INF, ArrivalClock
from simcontinuum.engine.buffers import take
from simcontinuum.engine.compute import throttled_finish
from simcontinuum.engine.recorder import RequestStatus
from simcontinuum.engine.replicas import DRAINING, GONE, AppRuntime, ComponentRuntime, Replica
from simcontinuum.engine.simpy_compat import PRIORITY, FastEvent, scheduler
from simcontinuum.engine.steps import (
    STEP_CANCELLED,
    STEP_DROPPED,
    STEP_FAILED,
    StepColumns,
)
from simcontinuum.model import nominal_rate

if TYPE_CHECKING:
    from simcontinuum.engine.compute import NodeState
    from simcontinuum.engine.network import Network, Route
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.model import Source

# plain ints on the hot path (an IntEnum member costs an attribute lookup per use)
OK, FAILED, DROPPED = int(RequestStatus.OK), int(RequestStatus.FAILED), int(RequestStatus.DROPPED)


class Pump(FastEvent):
    """The one event that replays every source's arrivals, merged in time order."""

    __slots__ = ()


class Step(FastEvent):
    """One visit of a request to one component replica (an event scheduled twice: when it
    reaches the replica's node, and when the node has done its work)."""

    __slots__ = ("back", "epoch", "hops", "join", "lat2", "replica", "resp", "rid", "sid", "t")
    back: float  # seconds for the answer to reach the caller
    epoch: int  # the node's epoch when the step arrived
    join: Join | None  # the caller waiting for this answer (None: the source)
    lat2: float  # pure link latency there and back
    replica: Replica
    rid: int
    hops: list  # link contention only: the route's hops, caller to replica
    resp: float  # link contention only: response bytes
    sid: int  # its row in the steps columns once it arrived (-1 before)
    t: float  # when it is due: the time it was scheduled for (the clock when it fires)


class Join:
    """A component waiting for its callees' answers (made by ``Traffic._done``, fields set
    there: no ``__init__``, so making one is a bare allocation, once per request)."""

    __slots__ = ("lb", "pending", "step", "t")
    step: Step  # the caller's step
    pending: int  # callees yet to answer
    t: float  # latest answer so far
    lb: float  # largest pure-latency lower bound among the answers


class Traffic:
    """Sources, steps and request records of one simulation."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        # the simpy heap and its event counter: steps go straight onto it (simpy_compat)
        self._heap, self._ids = scheduler(sim.env)
        self._node_ids = [n.id for n in sim.nodes]
        self._arrive_cb = [self._arrive]
        self._done_cb = [self._done]
        self.contended = False  # see simcontinuum.engine.links.ContendedTraffic
        self._pump_cb = [self._on_pump]
        self._pump: Pump | None = None
        self._clocks: dict[int, ArrivalClock] = {}
        # source index -> (app, node index, node state, request bytes, response bytes)
        self._src: dict[int, tuple[AppRuntime, int, NodeState, float, float]] = {}
        self._rate = 0.0  # total nominal arrival rate of the started sources
        self._times: list[float] = []  # the open window's arrival times, merged
        self._srcs: list[int] = []  # their sources
        self._pos = 0
        self._win_end = 0.0
        self._starting: list[int] = []  # sources started at this instant, not yet merged
        # request columns: by request id at arrival, by end order at the end
        self.t0 = array("d")
        self.src = array("q")
        self.e_rid = array("q")
        self.e_t = array("d")
        self.e_status = array("b")
        self.e_lb = array("d")
        self.reasons: dict[int, str] = {}
        self.dead: set[int] = set()  # ended early while other branches may be in flight
        self.egress_bytes: dict[tuple[str, str], float] = {}
        self.steps = StepColumns() if sim.record_steps else None

    # ---------------------------------------------------------------- sources
    # Arrivals are open-loop, so they are drawn ahead, a window of simulated time at a time,
    # for all sources at once, merged in time order (ties: by source index), and replayed by
    # one re-scheduled event. The heap then holds only in-flight work, however many sources.
    def start_source(self, index: int, source: Source, app: AppRuntime, stop: float) -> None:
        """Begin emitting ``source``'s requests from now until ``stop``."""
        now = self.env.now
        clock = ArrivalClock(
            source.arrival, self.sim.streams.get(f"workload/{source.id}"), now, stop
        )
        node = self.sim.node_index[source.node]
        self._src[index] = (
            app,
            node,
            self.sim.nodes[node],
            source.request_size,
            source.response_size,
        )
        self._clocks[index] = clock
        self._rate += nominal_rate(source)
        self._starting.append(index)
        if len(self._starting) == 1:  # merge every source started at this instant at once
            ev = self.env.timeout(0.0)
            ev.callbacks.append(self._merge_started)

    def _merge_started(self, _event: object) -> None:
        started, self._starting = self._starting, []
        if self._pos < len(self._times):  # a window is open: merge the new sources into it
            chunks = [self._clocks[i].until(self._win_end) for i in started]
            times = np.concatenate([np.asarray(self._times[self._pos :]), *chunks])
            srcs = np.concatenate(
                [
                    np.asarray(self._srcs[self._pos :], dtype=np.int64),
                    *(
                        np.full(len(c), i, dtype=np.int64)
                        for i, c in zip(started, chunks, strict=True)
                    ),
                ]
            )
            order = np.argsort(times, kind="stable")
            self._times, self._srcs, self._pos = times[order].tolist(), srcs[order].tolist(), 0
            if self._times:
                self._schedule_pump()
        elif self._refill():
            self._schedule_pump()

    def _refill(self) -> bool:
        """Draw the next window of arrivals; False when every source is done."""
        start = max(self._win_end, self.env.now)
        while True:
            active = [i for i, c in self._clocks.items() if not c.done]
            if not active:
                self._times, self._srcs, self._pos = [], [], 0
                return False
            target = max(50_000, 20 * len(active))  # arrivals per window
            end = start + max(1e-3, target / self._rate if self._rate > 0 else 1.0)
            chunks, owners = [], []
            for i in active:  # in source order, so a stable sort breaks ties by source
                times = self._clocks[i].until(end)
                if len(times):
                    chunks.append(times)
                    owners.append(np.full(len(times), i, dtype=np.int64))
            self._win_end = end
            if chunks:
                times = np.concatenate(chunks)
                order = np.argsort(times, kind="stable")
                self._times = times[order].tolist()
                self._srcs = np.concatenate(owners)[order].tolist()
                self._pos = 0
                return True
            start = end

    def _schedule_pump(self) -> None:
        pump = Pump()  # a fresh one: an older pump still on the heap becomes stale
        pump.callbacks = self._pump_cb
        self._pump = pump
        heappush(self._heap, (self._times[self._pos], PRIORITY, next(self._ids), pump))

    def _on_pump(self, pump: Pump) -> None:
        if pump is not self._pump:
            return  # superseded when a source started mid-window
        pos = self._pos
        times = self._times
        now = times[pos]  # the time it was scheduled for (the clock now)
        s = self._srcs[pos]
        pos += 1
        self._pos = pos
        if pos < len(times) or self._refill():
            pump.callbacks = self._pump_cb
            heappush(self._heap, (self._times[self._pos], PRIORITY, next(self._ids), pump))
        else:
            self._pump = None
        app, node, state, req_size, resp_size = self._src[s]
        if not app.active or not state.up:
            return  # a departed app, or a device that is down, sends nothing
        rid = len(self.t0)
        self.t0.append(now)
        self.src.append(s)
        self._dispatch(rid, app.entry, node, req_size, resp_size, None, now)

    # ---------------------------------------------------------------- steps
    def _dispatch(
        self,
        rid: int,
        rt: ComponentRuntime,
        caller: int,
        req_size: float,
        resp_size: float,
        join: Join | None,
        now: float,
    ) -> None:
        entry = rt.lb.get(caller)
        if entry is None:
            entry = self._candidates(rt, caller)
        cands = entry[0]
        n = len(cands)
        if n == 1:
            rep, lat, k, egress = cands[0]
        elif n:
            i = entry[1]
            entry[1] = i + 1
            rep, lat, k, egress = cands[i % n]
        else:
            if rt.running:  # replicas exist, but the network cannot reach any: it fails
                self.end(rid, FAILED, now, 0.0, f"no_route:{rt.app}/{rt.id}")
            else:
                self.end(rid, DROPPED, now, 0.0, f"no_replica:{rt.app}/{rt.id}")
            return
        if egress is not None:  # billed per link when sent, whatever happens to it later
            billed = self.egress_bytes
            for lk in egress:
                billed[lk] = billed.get(lk, 0.0) + req_size + resp_size
        rep.inflight += 1
        step = Step()
        step.rid = rid
        step.replica = rep
        step.join = join
        step.lat2 = lat + lat
        step.back = lat + resp_size * k
        step.sid = -1
        if self.contended:  # links are FIFO servers: the transfer goes hop by hop
            self._send_request(step, caller, req_size, resp_size, now)
            return
        t = now + lat + req_size * k
        step.t = t
        step.callbacks = self._arrive_cb
        heappush(self._heap, (t, PRIORITY, next(self._ids), step))

    def _send_request(
        self, step: Step, caller: int, req_size: float, resp_size: float, now: float
    ) -> None:
        raise NotImplementedError("link contention is simulated by ContendedTraffic")

    def _candidates(self, rt: ComponentRuntime, caller: int) -> list:
        """The lowest-latency running replicas of ``rt`` seen from node ``caller``."""
        network = self.sim.network
        src = self._node_ids[caller]
        best: list[tuple[Replica, float, float, tuple[tuple[str, str], ...] | None]] = []
        best_lat = INF
        for rep in rt.running:
            route = network.route(src, rep.node.id)
            if route is None:
                continue
            cand = (
                rep,
                route.latency,
                8.0 / route.bandwidth,
                _billable(network, route) if route.egress_price_per_byte > 0 else None,
            )
            if route.latency < best_lat - 1e-12:
                best, best_lat = [cand], route.latency
            elif route.latency <= best_lat + 1e-12:
                best.append(cand)
        entry: list = [best, 0]
        rt.lb[caller] = entry
        return entry

    def _arrive(self, step: Step) -> None:
        rep = step.replica
        node = rep.node
        now = step.t
        steps = self.steps
        if rep.state is GONE or not node.up:
            rep.inflight -= 1
            if steps is not None:
                steps.add(step, now, STEP_FAILED)
            self.end(step.rid, FAILED, now, 0.0, f"replica_lost:{node.id}")
            return
        if step.rid in self.dead:
            rep.inflight -= 1
            if steps is not None:
                steps.add(step, now, STEP_CANCELLED)
            self.sim.deployer.step_finished(rep)
            return
        mq = node.max_queue
        if mq is not None and node.in_system - node.cores >= mq:
            rep.inflight -= 1
            if steps is not None:
                steps.add(step, now, STEP_DROPPED)
            self.sim.deployer.step_finished(rep)
            self.end(step.rid, DROPPED, now, 0.0, f"queue_full:{node.id}")
            return
        rt = rep.rt
        sampler = rt.sampler
        buf = sampler.buf
        service = (buf.pop() if buf else sampler.draw()) * rep.inv_speed
        rt.busy += service
        slots = rep.limit_free
        if slots is None:  # NodeState.start_service, inline (once per step)
            free = node.free
            first = free[0]
            finish = (first if first > now else now) + service
            if node.cores == 1:
                free[0] = finish
            else:
                heapreplace(free, finish)
            node.assigned += service
        else:  # a cpu limit: the wait below then includes the time throttled
            finish = throttled_finish(node, slots, rep.limit_rate, now, service)
        if steps is not None:  # inline, one extend: once per step
            rows = steps.rows
            step.sid = len(rows) // 7
            join = step.join
            rows.extend(
                (
                    step.rid,
                    -1 if join is None else join.step.sid,
                    rep.id,
                    now,
                    finish - service - now,
                    service,
                    step.back,
                )
            )
        node.in_system += 1
        node.inflight.add(step)
        step.epoch = node.epoch
        step.t = finish
        step.callbacks = self._done_cb
        heappush(self._heap, (finish, PRIORITY, next(self._ids), step))

    def _done(self, step: Step) -> None:
        rep = step.replica
        node = rep.node
        if step.epoch != node.epoch:
            return  # lost in a node failure; the request was failed then
        node.in_system -= 1
        node.inflight.discard(step)
        rep.inflight -= 1
        if rep.state is DRAINING and rep.inflight <= 0:
            self.sim.deployer.step_finished(rep)
        rid = step.rid
        if rid in self.dead:
            return
        now = step.t
        callees = rep.rt.callees
        if not callees:
            self._answer(step, now, 0.0)
            return
        join = Join()
        join.step = step
        join.pending = len(callees)
        join.t = 0.0
        join.lb = 0.0
        caller = node.index
        for crt, req_size, resp_size in callees:
            self._dispatch(rid, crt, caller, req_size, resp_size, join, now)
            if rid in self.dead:
                return

    def _answer(self, step: Step, t_done: float, lb_below: float) -> None:
        """``step`` is done at ``t_done``: carry its answer up through the joins."""
        t = t_done + step.back
        lb = step.lat2 + lb_below
        join = step.join
        while join is not None:
            join.pending -= 1
            if t > join.t:
                join.t = t
            if lb > join.lb:
                join.lb = lb
            if join.pending:
                return
            parent = join.step
            if parent.epoch != parent.replica.node.epoch:
                self.caller_lost(parent)
                return
            t = join.t + parent.back
            lb = parent.lat2 + join.lb
            join = parent.join
        rid = step.rid
        if rid not in self.dead:
            self.e_rid.append(rid)
            self.e_t.append(t)
            self.e_status.append(OK)
            self.e_lb.append(lb)

    def end(self, rid: int, status: int, t: float, lb: float, reason: str | None) -> None:
        """End request ``rid`` with ``status`` at ``t`` (at most once)."""
        if rid in self.dead:
            return
        self.dead.add(rid)
        self.e_rid.append(rid)
        self.e_t.append(t)
        self.e_status.append(status)
        self.e_lb.append(lb)
        if reason:
            self.reasons[rid] = reason

    def caller_lost(self, parent: Step) -> None:
        """The node of ``parent`` failed while it waited for its callees: the request failed
        at that failure (the first one after the step arrived), however late the answers
        come — the one rule for the default and the contended traffic model."""
        node = parent.replica.node
        self.end(parent.rid, FAILED, node.failed_at[parent.epoch], 0.0, f"node_failure:{node.id}")

    def fail_node_steps(self, node_index: int, steps: set, now: float) -> None:
        """Fail the requests of the steps in flight on a node that just failed."""
        record = self.steps
        for step in steps:
            step.replica.inflight -= 1
            if record is not None:
                record.lost(step.sid)
            self.end(step.rid, FAILED, now, 0.0, f"node_failure:{self._node_ids[node_index]}")

    def reset_routes(self) -> None:
        """Forget every cached load-balancer choice (the network changed)."""
        for app in self.sim.apps:
            for rt in app.components.values():
                rt.lb.clear()


def _billable(network: Network, route: Route) -> tuple[tuple[str, str], ...]:
    """The links of ``route`` that bill egress, each as the network's ``(a, b)`` key."""
    out = []
    for x, y in route.links:
        link = network.link(x, y)
        if link.egress_price_per_gb > 0:
            out.append((link.a, link.b))
    return tuple(out)


class Ended(NamedTuple):
    """Requests that ended in a span of time, one entry each (see :class:`EndedCursor`)."""

    rid: np.ndarray  # request ids
    end: np.ndarray  # end times, seconds
    status: np.ndarray  # RequestStatus codes: OK, FAILED, DROPPED
    arrival: np.ndarray  # arrival times, seconds
    app: np.ndarray  # application indices


class EndedCursor:
    """Reads the requests that have ended since the last read.

    An ok request is recorded as soon as its answer time is known, which may be later than
    the time of the read: such a record is held back and returned by the first read at or
    after its end time, so a reader never sees the future.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._mark = 0  # records before this index were looked at already
        self._deferred = np.empty(0, dtype=np.int64)  # looked at, ending later

    def read(self, now: float) -> Ended:
        """Every request that ended at or before ``now`` and was not read before."""
        tr = self.sim.traffic
        end = len(tr.e_rid)
        idx = np.arange(self._mark, end, dtype=np.int64)
        if len(self._deferred):
            idx = np.concatenate([self._deferred, idx])
        self._mark = end
        ts = take(tr.e_t, np.float64, idx)
        due = ts <= now
        self._deferred = idx[~due]
        idx, ts = idx[due], ts[due]
        rids = take(tr.e_rid, np.int64, idx)
        if len(rids):
            arrival = take(tr.t0, np.float64, rids)
            app = self.sim.source_app_index[take(tr.src, np.int64, rids)]
        else:
            arrival, app = np.empty(0), np.empty(0, dtype=np.int64)
        return Ended(rids, ts, take(tr.e_status, np.int8, idx), arrival, app)
