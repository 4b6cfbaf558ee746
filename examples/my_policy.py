"""An example placement policy: put each component on the nearest node with room.

Run it with:

    simcontinuum run scenarios/hackathon.yaml --policy examples/my_policy.py:NearestWithRoom

A policy is any class with ``place(app, view) -> {component id: [node id, ...]}``; ``view`` is a
read-only snapshot of the continuum (see ``simcontinuum.policy.api``). Invalid choices are
rejected by the engine and recorded in ``results.actions`` — they never crash the run.
"""

from __future__ import annotations

from simcontinuum.policy import AppView, ClusterView, Placement


class NearestWithRoom:
    """Entry component next to its sources; each callee next to its caller."""

    name = "nearest-with-room"

    def place(self, app: AppView, view: ClusterView) -> Placement:
        placement: Placement = {}
        reserved: dict[str, float] = {}  # cpu this call has already promised per node
        for cid in app.order():
            comp = app.component(cid)
            callers = app.callers(cid)
            if callers and callers[0] in placement:
                anchors = placement[callers[0]]
            else:
                anchors = [node for node, _rate in app.sources] or list(view.nodes)[:1]

            def distance(nid: str, anchors: list[str] = anchors) -> float:
                return min(view.latency(a, nid) for a in anchors)

            for nid in sorted(view.eligible(comp), key=distance):
                free = view.node(nid).cpu_free - reserved.get(nid, 0.0)
                if view.can_host(comp, nid) and free >= comp.cpu:
                    placement[cid] = [nid] * comp.replicas_min
                    reserved[nid] = reserved.get(nid, 0.0) + comp.cpu * comp.replicas_min
                    break
        return placement
