"""Team bravo: the cheapest node first — with a bug: it assumes every app has two or more
components, so it crashes on single-component apps (the leaderboard reports it)."""

from simcontinuum.policy import AppView, ClusterView, Placement


class Cheapest:
    def place(self, app: AppView, view: ClusterView) -> Placement:
        out: Placement = {}
        second = app.order()[1]  # IndexError on a one-component app
        for comp in app.components:
            nodes = [n for n in view.eligible(comp) if view.can_host(comp, n)]
            nodes.sort(key=lambda n: view.node(n).price.per_hour)
            if nodes:
                out[comp.id] = [nodes[0]]
        out.setdefault(second, [])
        return out
