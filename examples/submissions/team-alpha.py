"""Team alpha: each component on the nearest edge or cloud node with room."""

from simcontinuum.policy import AppView, ClusterView, Placement


class Nearest:
    def place(self, app: AppView, view: ClusterView) -> Placement:
        placement: Placement = {}
        used: dict[str, float] = {}
        for cid in app.order():
            comp = app.component(cid)
            callers = app.callers(cid)
            anchors = placement.get(callers[0], []) if callers else []
            anchors = anchors or [node for node, _rate in app.sources] or list(view.nodes)[:1]

            def distance(nid: str, anchors: list[str] = anchors) -> float:
                return min(view.latency(a, nid) for a in anchors)

            for nid in sorted(view.eligible(comp), key=distance):
                node = view.node(nid)
                if node.tier == "far_edge":  # devices are too slow to serve others
                    continue
                if view.can_host(comp, nid) and node.cpu_free - used.get(nid, 0.0) >= comp.cpu:
                    placement[cid] = [nid]
                    used[nid] = used.get(nid, 0.0) + comp.cpu
                    break
        return placement
