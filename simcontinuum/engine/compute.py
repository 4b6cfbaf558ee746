"""Node state: ``cores`` identical FIFO servers, the resources reserved on them, and billing.

A node serves request steps in arrival order on ``cores`` servers (M/G/c, FIFO). Because the
order is FIFO and a step's service time is known when it arrives, the start and finish of a
step are fixed at arrival: it starts when the earliest server frees up (or now) and holds it
for its service time. So a node keeps only each server's *free time* — one float per core —
and no queue of its own; a completion is one scheduled event.

Invariants:
- work assigned but not yet done at time ``t`` is ``sum(max(0, free - t))``: a server is busy
  without a gap from the last arrival until its free time, so the busy core-seconds up to
  ``t`` are ``assigned - remaining(t)`` (used for utilisation and energy);
- ``cpu_allocated <= cores`` and ``memory_allocated <= memory`` (when memory is declared) at all
  times: replicas reserve their requests from the deploy until gone;
- a failed node has no replicas, no steps in flight, and zero capacity until it recovers.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, NamedTuple

from simcontinuum.model import Node


class Usage(NamedTuple):
    """What a node is billed for up to some time (see :meth:`NodeState.usage`)."""

    hours: float  # billed node-hours: the whole span if ``always``, hosting time if not
    core_seconds: float  # requested cores x seconds of its replicas
    up_seconds: float
    kwh: float  # energy of the linear power model

    def priced(self, node: Node, energy_price_per_kwh: float) -> tuple[float, float, float]:
        """The one billing formula: what node-hours, core-hours and energy cost.

        The cost table of the results (:meth:`items`) and the running bill
        (:meth:`cost`, ``Simulation.bill``) both come from here. Egress is billed per link,
        when sent.
        """
        price = node.price
        return (
            self.hours * price.per_hour,
            self.core_seconds / 3600.0 * price.per_core_hour,
            self.kwh * energy_price_per_kwh,
        )

    def items(self, node: Node, energy_price_per_kwh: float) -> list[BillItem]:
        """The bill of ``node`` as rows of the cost table (without the node's columns)."""
        hours, cores, energy = self.priced(node, energy_price_per_kwh)
        return [
            BillItem("node_hours", self.hours, "h", hours, 0.0),
            BillItem("core_hours", self.core_seconds / 3600.0, "core*h", cores, 0.0),
            BillItem("energy", self.kwh, "kWh", energy, self.kwh),
        ]

    def cost(self, node: Node, energy_price_per_kwh: float) -> float:
        """The sum of :meth:`priced` (cheap: the running bill calls it every RL step)."""
        hours, cores, energy = self.priced(node, energy_price_per_kwh)
        return hours + cores + energy


class BillItem(NamedTuple):
    """One priced line of a node's bill (a row of ``results.cost`` without the node)."""

    item: str  # node_hours | core_hours | energy
    quantity: float
    unit: str
    cost: float
    energy_kwh: float


if TYPE_CHECKING:
    from simcontinuum.engine.replicas import Replica


class NodeState:
    """The live state of one node during a run."""

    __slots__ = (
        "active_seconds",
        "active_since",
        "assigned",
        "core_seconds",
        "cores",
        "cpu_allocated",
        "down_seconds",
        "down_since",
        "epoch",
        "failed_at",
        "free",
        "gpu_speedup",
        "id",
        "images",
        "in_system",
        "index",
        "inflight",
        "lost_work",
        "max_queue",
        "memory_allocated",
        "node",
        "replicas",
        "speed",
        "up",
    )

    def __init__(self, node: Node, index: int) -> None:
        self.node = node
        self.id = node.id
        self.index = index
        self.cores = node.cores
        self.speed = node.speed
        self.gpu_speedup = node.gpu.speedup if node.gpu else 1.0
        self.max_queue = node.max_queue
        self.up = True
        self.epoch = 0  # bumped at each failure: steps of an older epoch were lost
        self.failed_at: list[float] = []  # failed_at[e]: the failure that ended epoch e
        self.free: list[float] = [0.0] * node.cores  # a heap of server free times
        self.assigned = 0.0  # core-seconds of work ever assigned
        self.lost_work = 0.0  # core-seconds assigned but lost in failures
        self.in_system = 0  # steps queued or in service
        self.inflight: set[Any] = set()  # step events in flight here (for failures)
        self.cpu_allocated = 0.0
        self.memory_allocated = 0.0
        self.replicas: list[Replica] = []  # every replica not yet gone
        self.images: dict[str, float] = {}  # image -> time it is (or will be) on the node
        self.active_since: float | None = None  # while it hosts a replica (when_active)
        self.active_seconds = 0.0
        self.core_seconds = 0.0  # requested cores x seconds of its replicas
        self.down_since: float | None = None
        self.down_seconds = 0.0

    def start_service(self, now: float, service: float) -> float:
        """Give a step of ``service`` seconds the earliest free server; return its finish.

        (``Traffic._arrive`` has the same lines inline: it is once per step.)
        """
        free = self.free
        first = free[0]
        finish = (first if first > now else now) + service
        if self.cores == 1:
            free[0] = finish
        else:
            heapq.heapreplace(free, finish)
        self.assigned += service
        return finish

    def queued(self, now: float) -> int:
        """Steps waiting for a server (not in service) at ``now``."""
        busy = sum(1 for f in self.free if f > now)
        return max(0, self.in_system - busy)

    def busy_seconds(self, t: float) -> float:
        """Core-seconds of work done up to time ``t`` (``t`` >= the last arrival)."""
        remaining = sum(f - t for f in self.free if f > t)
        return self.assigned - self.lost_work - remaining

    def fits(self, cpu: float, memory: float) -> bool:
        """Whether requests of ``cpu`` cores and ``memory`` bytes can be admitted now."""
        if not self.up:
            return False
        if self.cpu_allocated + cpu > self.cores + 1e-9:
            return False
        mem = self.node.memory
        return not (mem > 0 and self.memory_allocated + memory > mem + 1e-6)

    def fail(self, now: float) -> None:
        """Lose all work in progress: servers are freed, the node is down."""
        remaining = sum(f - now for f in self.free if f > now)
        self.lost_work += remaining
        self.free = [now] * self.cores
        self.in_system = 0
        self.inflight = set()
        self.up = False
        self.epoch += 1
        self.failed_at.append(now)
        self.down_since = now
        self.images.clear()  # a node that comes back is empty

    def recover(self, now: float) -> None:
        """Bring a failed node back, empty."""
        if self.down_since is not None:
            self.down_seconds += now - self.down_since
        self.down_since = None
        self.up = True
        self.free = [now] * self.cores

    def add_replica(self, replica: Replica, now: float) -> None:
        """Reserve a replica's requests on this node."""
        if not self.replicas:
            self.active_since = now
        self.replicas.append(replica)
        self.cpu_allocated += replica.cpu
        self.memory_allocated += replica.memory

    def drop_replica(self, replica: Replica, now: float) -> None:
        """Release a replica's requests; bill its core-seconds."""
        self.replicas.remove(replica)
        self.cpu_allocated = max(0.0, self.cpu_allocated - replica.cpu)
        self.memory_allocated = max(0.0, self.memory_allocated - replica.memory)
        self.core_seconds += replica.cpu * (now - replica.created)
        if not self.replicas and self.active_since is not None:
            self.active_seconds += now - self.active_since
            self.active_since = None

    def usage(self, t: float) -> Usage:
        """Billing and energy up to time ``t`` (``t`` >= the last event so far)."""
        n = self.node
        if n.price.billing == "always":
            hours = t / 3600.0
        else:
            active = self.active_seconds
            if self.active_since is not None:
                active += t - self.active_since
            hours = active / 3600.0
        core_seconds = self.core_seconds + sum(r.cpu * (t - r.created) for r in self.replicas)
        down = self.down_seconds + (t - self.down_since if self.down_since is not None else 0.0)
        up_seconds = max(0.0, t - down)
        busy = min(self.busy_seconds(t), self.cores * up_seconds)
        joules = n.power.idle_w * up_seconds + (n.power.max_w - n.power.idle_w) * busy / n.cores
        return Usage(hours, core_seconds, up_seconds, joules / 3.6e6)


def throttled_finish(
    node: NodeState, slots: list[float], rate: float, now: float, service: float
) -> float:
    """When a step of a cpu-limited replica finishes (the fluid form of the CFS quota).

    A replica with a limit of ``L`` cores runs at most ``ceil(L)`` steps at once (its
    ``slots``, a heap of free times, FIFO), each at ``rate = L / ceil(L)`` of a core: over any
    interval it never uses more than ``L`` cores, which is what the kernel's quota
    (``L × 100 ms`` per 100 ms period) enforces on average, without the within-period
    bursts. The step still needs ``service`` seconds of a node core (FIFO with every other
    step on the node), so it ends at the later of the two: the node's contention or its
    own quota. The node core is held for ``service`` only, as a throttled cgroup leaves the
    core to others.

    >>> from simcontinuum.model import Node
    >>> n = NodeState(Node(id="n", tier="edge", cluster="c", cores=2), 0)
    >>> throttled_finish(n, [0.0], 0.5, 0.0, 0.010)  # 10 ms of cpu at half a core
    0.02
    """
    first = slots[0]
    start = first if first > now else now
    node_finish = node.start_service(start, service)
    finish = max(node_finish, start + service / rate)
    heapq.heapreplace(slots, finish)
    return finish
