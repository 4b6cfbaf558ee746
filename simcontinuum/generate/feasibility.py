"""Is a generated scenario feasible? Every application must be placeable by ``first-fit``.

The check replays what the built-in :class:`~simcontinuum.policy.builtins.FirstFit` does at
time zero: applications in scenario order, each placed on the continuum left by the ones
before (departures ignored, so the check is conservative), with ``replicas_min`` replicas per
component. It returns one line per component first-fit could not place, naming the
constraint that failed: no node passes the placement constraints, or none of the allowed
nodes has enough free cpu or memory left.
"""

from __future__ import annotations

from dataclasses import replace

from simcontinuum.model import Component, Scenario
from simcontinuum.policy.api import ClusterView, NodeView, constraint_violation
from simcontinuum.policy.builtins import FirstFit
from simcontinuum.policy.check import app_view, empty_view


def first_fit_problems(scenario: Scenario) -> list[str]:
    """Why first-fit cannot place every application of ``scenario`` at time zero ([] if it can)."""
    base = empty_view(scenario)
    # Only nodes some component may use can change first-fit's choices; dropping the others
    # (typically the far-edge devices) keeps the scenario order and makes the check fast.
    comps = [c for a in scenario.applications for c in a.components]
    nodes: dict[str, NodeView] = {
        nid: n
        for nid, n in base.nodes.items()
        if any(constraint_violation(c, n) is None for c in comps)
    }
    policy = FirstFit()
    problems: list[str] = []
    for app in scenario.applications:
        av = app_view(scenario, app)
        view = ClusterView(
            now=0.0,
            nodes=nodes,
            clusters=base.clusters,
            placements={},
            apps={app.id: av},
            _latency=base.latency,
        )
        placement = policy.place(av, view)
        for comp in app.components:
            placed = placement.get(comp.id, [])
            for nid in placed:
                n = nodes[nid]
                nodes[nid] = replace(
                    n,
                    cpu_allocated=n.cpu_allocated + comp.cpu,
                    memory_allocated=n.memory_allocated + comp.memory,
                )
            if len(placed) < comp.replicas_min:
                why = _why(comp, nodes)
                problems.append(f"application '{app.id}' component '{comp.id}': {why}")
    return problems


def _why(comp: Component, nodes: dict[str, NodeView]) -> str:
    allowed = [n for n in nodes.values() if constraint_violation(comp, n) is None]
    p = comp.placement
    if not allowed:
        rules = []
        if p.tiers:
            rules.append(f"tiers {sorted(p.tiers)}")
        if p.labels:
            rules.append(f"labels {sorted(p.labels)}")
        return f"no node satisfies its placement constraints ({', '.join(rules) or 'none'})"
    cpu = max(n.cpu_free for n in allowed)
    if cpu + 1e-9 < comp.cpu:
        return (
            f"cpu: needs {comp.cpu:g} cores, the most free on its {len(allowed)} allowed "
            f"node(s) is {cpu:g} after placing the applications before it"
        )
    mem = max(n.memory_free for n in allowed if n.cpu_free + 1e-9 >= comp.cpu)
    return (
        f"memory: needs {comp.memory / 2**20:.0f}Mi, the most free on allowed nodes with room "
        f"for its cpu is {mem / 2**20:.0f}Mi"
    )


__all__ = ["first_fit_problems"]
