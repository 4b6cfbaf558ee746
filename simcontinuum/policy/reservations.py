"""Reservations for policy authors: what one decision has already booked on top of a view.

A :class:`~simcontinuum.policy.api.ClusterView` is a snapshot: it does not change while a
policy decides. A policy that puts several replicas in one ``place`` call (or several deploys
in one ``plan``) must count its own earlier choices, or two replicas that fit one at a time
land on a node that cannot hold both, and the engine rejects the second. :class:`Reservations`
is that bookkeeping — the view plus per-node cpu and memory booked by this call:

>>> from simcontinuum.model import Component, Node, Scenario, Topology
>>> from simcontinuum.policy.check import empty_view
>>> nodes = (Node("a", "edge", "c", cores=2, memory=4 * 2**30), Node("b", "cloud", "c", cores=8))
>>> topology = Topology(nodes=nodes, links=(), clusters={"c": ("a", "b")})
>>> view = empty_view(Scenario("s", topology, applications=(), sources=(), duration=1.0))
>>> r = Reservations(view)
>>> web = Component("web", cpu=1.5, memory=2**30)
>>> r.feasible(web)
['a', 'b']
>>> r.reserve(web, "a")
>>> r.feasible(web), r.free_cpu("a")
(['b'], 0.5)
>>> round(least_allocated(view.node("b"), web.cpu, web.memory), 2)
81.25

:func:`least_allocated` is the one "least allocated" rule of simcontinuum, used by the
``k8s-default`` and ``two-level`` baselines, the adaptive policies and the engine's ``Scale``
action: the kube-scheduler NodeResourcesLeastAllocated score, the mean over cpu and memory of
``(allocatable - requested) / allocatable × 100`` after the new replica is counted (memory
only where the node declares it).

Invariant: a :class:`Reservations` never changes the view it reads; :meth:`copy` makes an
independent one to try a placement and drop it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from simcontinuum.model import Component
from simcontinuum.policy.api import ClusterView, NodeView, capacity_violation, constraint_violation


def least_allocated(
    node: NodeView,
    cpu: float,
    memory: float,
    *,
    cpu_free: float | None = None,
    memory_free: float | None = None,
) -> float:
    """The kube-scheduler NodeResourcesLeastAllocated score of ``node`` for one more replica
    requesting ``cpu`` cores and ``memory`` bytes: mean over the resources of free-after /
    allocatable × 100 (higher: emptier). Memory counts only where the node declares it.

    Args:
        node: the node as a policy sees it.
        cpu: cores the new replica requests.
        memory: bytes the new replica requests.
        cpu_free: free cores to start from (default ``node.cpu_free``; a policy passes what
            is left after its own reservations).
        memory_free: free bytes to start from (default ``node.memory_free``).

    >>> from simcontinuum.model import Node
    >>> n = NodeView.of(Node("n", "edge", "c", cores=4, memory=8.0), cpu_allocated=1.0)
    >>> least_allocated(n, 1.0, 2.0)  # cpu (4-1-1)/4 = 50 %, memory (8-0-2)/8 = 75 %
    62.5
    """
    free_c = node.cpu_free if cpu_free is None else cpu_free
    terms = [(free_c - cpu) / node.cores * 100.0]
    if node.memory > 0:
        free_m = node.memory_free if memory_free is None else memory_free
        terms.append((free_m - memory) / node.memory * 100.0)
    return sum(terms) / len(terms)


class Reservations:
    """The view plus what this decision has already reserved on each node.

    Args:
        view: the snapshot the policy was given.
    """

    __slots__ = ("_cpu", "_memory", "view")

    def __init__(self, view: ClusterView) -> None:
        self.view = view
        self._cpu: defaultdict[str, float] = defaultdict(float)
        self._memory: defaultdict[str, float] = defaultdict(float)

    def copy(self) -> Reservations:
        """An independent copy (to try a placement and drop it)."""
        other = Reservations(self.view)
        other._cpu.update(self._cpu)
        other._memory.update(self._memory)
        return other

    def reserved_cpu(self, nid: str) -> float:
        """Cores this decision has booked on ``nid``."""
        return self._cpu.get(nid, 0.0)

    def reserved_memory(self, nid: str) -> float:
        """Bytes this decision has booked on ``nid``."""
        return self._memory.get(nid, 0.0)

    def free_cpu(self, nid: str) -> float:
        """Cores free on ``nid`` after this decision's reservations (0 while down)."""
        return self.view.node(nid).cpu_free - self._cpu[nid]

    def free_memory(self, nid: str) -> float:
        """Bytes free on ``nid`` after this decision's reservations (``inf`` when the node
        declares no memory)."""
        return self.view.node(nid).memory_free - self._memory[nid]

    def fits(self, comp: Component, nid: str) -> bool:
        """Whether one more replica of ``comp`` may go on ``nid`` now (constraints, up,
        capacity after the reservations)."""
        node = self.view.node(nid)
        if constraint_violation(comp, node) is not None:
            return False
        cpu, memory = comp.cpu + self._cpu[nid], comp.memory + self._memory[nid]
        return capacity_violation(comp, node, cpu=cpu, memory=memory) is None

    def feasible(self, comp: Component, nids: Iterable[str] | None = None) -> list[str]:
        """Nodes (in scenario order, or of ``nids``) that can take one more replica."""
        return [n for n in (self.view.nodes if nids is None else nids) if self.fits(comp, n)]

    def reserve(self, comp: Component, nid: str) -> None:
        """Book one replica of ``comp`` on ``nid`` (not checked: call :meth:`fits` first)."""
        self._cpu[nid] += comp.cpu
        self._memory[nid] += comp.memory

    def hosts_anything(self, nid: str) -> bool:
        """Whether ``nid`` hosts a replica, live or reserved by this decision."""
        return bool(self.view.node(nid).replicas) or self._cpu[nid] > 0 or self._memory[nid] > 0

    def least_allocated(self, comp: Component, nid: str) -> float:
        """:func:`least_allocated` of ``nid`` for one more ``comp``, after the reservations."""
        return least_allocated(
            self.view.node(nid),
            comp.cpu,
            comp.memory,
            cpu_free=self.free_cpu(nid),
            memory_free=self.free_memory(nid),
        )


__all__ = ["Reservations", "least_allocated"]
