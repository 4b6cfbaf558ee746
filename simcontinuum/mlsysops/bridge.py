"""What the adapter needs from the engine beyond the policy hook, in one place.

An MLSysOps policy records rows the policy hook cannot express (failed ``analyze`` calls,
discarded and refused plans), reads the scenario (to find the description files and the
control interval), the replicas' running state (``Running`` vs ``Pending``) and the delivered
telemetry at application arrival. The engine passes none of these to policies, so the adapter
binds to the engine's :class:`~simcontinuum.engine.control.Controller`:

the engine's controller calls ``policy.bind(controller)`` right after ``reset(rng)``.

Everything engine-internal the adapter touches is in :class:`EngineBridge`; without one (e.g.
under :func:`~simcontinuum.policy.check_policy`) the adapter keeps its rows in
``policy.records`` and works from the views alone.
"""

from __future__ import annotations

from typing import Any

from simcontinuum.mlsysops.fluidity import Note


class EngineBridge:
    """The adapter's access to one simulation, through its controller."""

    def __init__(self, controller: Any) -> None:
        self._controller = controller

    @property
    def scenario(self) -> Any:
        return self._controller.sim.scenario

    @property
    def now(self) -> float:
        return float(self._controller.sim.env.now)

    def record(self, note: Note) -> None:
        """Append ``note`` to the run's actions table."""
        self._controller.record(
            note.call,
            note.kind,
            note.app,
            note.component,
            note.node,
            note.target,
            outcome=note.outcome,
            reason=note.reason,
        )

    def running(self, app: str, component: str) -> set[str] | None:
        """Hosts with a *running* replica of ``app/component`` (None if unknown)."""
        rt_app = self._controller.sim.app_by_id.get(app)
        if rt_app is None or component not in rt_app.components:
            return None
        return {r.node.id for r in rt_app.components[component].running}

    def telemetry(self) -> Any:
        """The telemetry delivered by now (None when the run samples none)."""
        sampler = getattr(self._controller.sim, "telemetry", None)
        if sampler is None or not getattr(sampler, "enabled", False):
            return None
        return sampler.view()


__all__ = ["EngineBridge"]
