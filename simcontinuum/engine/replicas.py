"""Replicas and their life cycle, as the code has it: pulling → running → draining → gone.

- ``pulling`` — from the deploy until the replica runs: the image pull from the registry node
  (``image_size`` over the route's bottleneck bandwidth, plus latency; none when the node has
  the image — images are cached per node, and a pull in progress is shared), then
  ``startup`` seconds of start-up. One timer covers both; the replicas table splits them:
  ``created_s`` → ``image_ready_s`` is the pull, ``image_ready_s`` → ``running_s`` the start-up.
- ``running`` — the load balancer may send it work.
- ``draining`` — no new work; it is gone once the work it accepted is done.
- ``gone`` — resources released, its row written. A node failure makes its replicas gone at
  once (``node_failure``).

There is no ``pending`` state: admission is decided at the deploy — a replica that does not
fit (capacity, constraints, node down, ``replicas.max``) is rejected and the rejection
recorded, never queued; the policy decides whether to try again. There is no separate
``starting`` state either (it would cost one more event per pulled replica; nothing reads
it): start-up is the span between ``image_ready_s`` and ``running_s``.

A replica reserves its cpu/memory requests on its node from the deploy until it is gone (as
Kubernetes does from scheduling on), so a pulling replica is billed for its core-hours.

Invariants: a replica is in its component's ``running`` list iff its state is ``running``;
``inflight`` counts steps sent to it and not yet finished; a gone replica holds no resources.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from simcontinuum.engine.arrivals import WorkSampler
from simcontinuum.model import Application, Component, speedup
from simcontinuum.policy.api import NodeView, constraint_violation

if TYPE_CHECKING:
    from simcontinuum.engine.compute import NodeState
    from simcontinuum.engine.simulation import Simulation

PULLING = "pulling"  # deployed, not yet running: image pull, then start-up
RUNNING = "running"
DRAINING = "draining"
GONE = "gone"


class ComponentRuntime:
    """The live state of one component of one application."""

    __slots__ = (
        "app",
        "busy",
        "callees",
        "component",
        "id",
        "lb",
        "replicas",
        "running",
        "sampler",
    )

    def __init__(self, app: str, component: Component, sampler: WorkSampler) -> None:
        self.app = app
        self.component = component
        self.id = component.id
        self.sampler = sampler
        self.replicas: list[Replica] = []  # every replica not yet gone
        self.running: list[Replica] = []  # what the load balancer may choose
        # caller node index -> [candidates, round-robin cursor]; cleared on any change
        self.lb: dict[int, list] = {}
        self.callees: list[tuple[ComponentRuntime, float, float]] = []
        self.busy = 0.0  # core-seconds of work given to its replicas (for utilisation)

    def live(self) -> list[Replica]:
        """Replicas not draining and not gone (what a policy counts as placed)."""
        return [r for r in self.replicas if r.state != DRAINING]


class AppRuntime:
    """The live state of one application."""

    __slots__ = ("active", "app", "components", "entry", "index")

    def __init__(self, app: Application, index: int, components: dict[str, ComponentRuntime]):
        self.app = app
        self.index = index
        self.components = components
        self.entry = components[app.entry]
        self.active = False


class Replica:
    """One instance of a component on a node."""

    __slots__ = (
        "cpu",
        "created",
        "end_reason",
        "id",
        "image",
        "inflight",
        "inv_speed",
        "limit_free",
        "limit_rate",
        "memory",
        "node",
        "on_running",
        "ready_at",
        "removed_at",
        "rt",
        "running_at",
        "state",
    )

    def __init__(self, rid: int, rt: ComponentRuntime, node: NodeState, now: float) -> None:
        comp = rt.component
        self.id = rid
        self.rt = rt
        self.node = node
        self.cpu = comp.cpu
        self.memory = comp.memory
        self.image = f"{rt.app}/{comp.id}"
        self.created = now
        self.ready_at = now  # image on the node
        self.running_at: float | None = None
        self.removed_at: float | None = None
        self.state = PULLING
        self.inflight = 0
        self.end_reason: str | None = None
        self.on_running: list[Callable[[Replica], None]] = []
        self.inv_speed = 1.0 / (node.speed * speedup(comp.accelerator, node.node.gpu))
        # a cpu limit of L cores: ceil(L) FIFO slots at L/ceil(L) of a core each (see
        # compute.throttled_finish); None keeps the unlimited path exactly as it was
        limit = comp.cpu_limit
        self.limit_free: list[float] | None = None
        self.limit_rate = 1.0
        if limit is not None and limit > 0:
            slots = math.ceil(limit - 1e-9)
            self.limit_free = [0.0] * slots
            self.limit_rate = limit / slots


class Deployer:
    """Creates, drains and loses replicas; the only code that changes placements."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self._next_id = 0

    # ------------------------------------------------------------------ admission
    def admission_problem(
        self, rt: ComponentRuntime, node: NodeState, cpu: float, memory: float
    ) -> str | None:
        """Why a new replica of ``rt`` cannot go on ``node`` now, or ``None``."""
        if not node.up:
            return f"node '{node.id}' is down"
        why = constraint_violation(rt.component, node.node)
        if why:
            return why
        if not node.fits(cpu, memory):
            free_cpu = node.cores - node.cpu_allocated
            return (
                f"over capacity on '{node.id}': needs {cpu:g} cpu / {memory / 2**20:.0f}Mi, "
                f"free {free_cpu:g} cpu"
                + (
                    f" / {(node.node.memory - node.memory_allocated) / 2**20:.0f}Mi"
                    if node.node.memory > 0
                    else ""
                )
            )
        if len(rt.live()) >= rt.component.replicas_max:
            return f"component already has replicas.max = {rt.component.replicas_max} replicas"
        return None

    # ------------------------------------------------------------------ life cycle
    def deploy(
        self,
        rt: ComponentRuntime,
        node: NodeState,
        *,
        cpu: float | None = None,
        memory: float | None = None,
        image: str | None = None,
    ) -> tuple[Replica | None, str | None]:
        """Start a replica of ``rt`` on ``node``; returns it, or ``None`` and the reason."""
        cpu = rt.component.cpu if cpu is None else cpu
        memory = rt.component.memory if memory is None else memory
        why = self.admission_problem(rt, node, cpu, memory)
        if why:
            return None, why
        now = self.env.now
        pull = self._pull_ready(node, image or f"{rt.app}/{rt.id}", rt.component, now)
        if pull is None:
            return None, f"no route from the registry to '{node.id}' to pull the image"
        rep = Replica(self._next_id, rt, node, now)
        self._next_id += 1
        rep.cpu, rep.memory = cpu, memory
        if image:
            rep.image = image
        rep.ready_at = pull
        node.add_replica(rep, now)
        rt.replicas.append(rep)
        delay = (pull - now) + rt.component.startup
        if delay <= 0:
            self._start(rep)
        else:
            ev = self.env.timeout(delay)
            ev.callbacks.append(functools.partial(self._started, rep))
        return rep, None

    def _pull_ready(self, node: NodeState, image: str, comp: Component, now: float) -> float | None:
        known = node.images.get(image)
        if known is not None:
            return max(now, known)
        if comp.image_size <= 0 or self.sim.registry is None:
            ready = now
        else:
            route = self.sim.network.route(self.sim.registry, node.id)
            if route is None:
                return None
            ready = now + route.transfer_time(comp.image_size)
        node.images[image] = ready
        return ready

    def _started(self, rep: Replica, _event: object) -> None:
        self._start(rep)

    def _start(self, rep: Replica) -> None:
        if rep.state != PULLING:  # removed or lost while starting
            return
        rep.state = RUNNING
        rep.running_at = self.env.now
        rt = rep.rt
        rt.running.append(rep)
        rt.lb.clear()
        callbacks, rep.on_running = rep.on_running, []
        for cb in callbacks:
            cb(rep)

    def drain(self, rep: Replica, reason: str = "removed") -> None:
        """Stop sending work to ``rep``; it is gone once its accepted work is done."""
        if rep.state in (DRAINING, GONE):
            return
        was_running = rep.state == RUNNING
        rep.state = DRAINING
        rep.end_reason = reason
        if was_running:
            rep.rt.running.remove(rep)
            rep.rt.lb.clear()
        if rep.inflight <= 0 or not was_running:
            self.gone(rep, reason)

    def gone(self, rep: Replica, reason: str) -> None:
        """Release ``rep``'s resources and record it."""
        if rep.state == GONE:
            return
        if rep.state == RUNNING:
            rep.rt.running.remove(rep)
            rep.rt.lb.clear()
        rep.state = GONE
        rep.end_reason = rep.end_reason or reason
        if reason == "node_failure":
            rep.end_reason = reason
        now = self.env.now
        rep.removed_at = now
        rep.rt.replicas.remove(rep)
        rep.node.drop_replica(rep, now)
        self.sim.recorder.replica(rep)

    def step_finished(self, rep: Replica) -> None:
        """Called by the traffic model when a draining replica's last step is done."""
        if rep.state == DRAINING and rep.inflight <= 0:
            self.gone(rep, rep.end_reason or "removed")

    def node_view(self, node: NodeState) -> NodeView:
        """A read-only snapshot of ``node`` for policies."""
        return NodeView.of(
            node.node,
            up=node.up,
            cpu_allocated=node.cpu_allocated,
            memory_allocated=node.memory_allocated,
            replicas=tuple((r.rt.app, r.rt.id) for r in node.replicas if r.state != DRAINING),
        )
