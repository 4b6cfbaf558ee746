"""What the adapter needs from the engine beyond the policy hook, in one place.

An MLSysOps policy records rows the policy hook cannot express (failed ``analyze`` calls,
discarded and refused plans), reads the scenario (to find the description files and the
control interval), the replicas' running state (``Running`` vs ``Pending``) and the delivered
telemetry at application arrival. The engine passes none of these to policies, so the adapter
binds to the :class:`~simcontinuum.engine.simulation.Simulation` itself: the engine calls
``policy.bind(simulation)`` right after ``reset(rng)``, and the bridge uses only the
simulation's public driving API (``now``, ``scenario``, ``running_on``,
``delivered_telemetry``, ``record_action``).

Everything the adapter reads of the engine is in :class:`EngineBridge`; without one (e.g.
under :func:`~simcontinuum.policy.check_policy`) the adapter keeps its rows in
``policy.records`` and works from the views alone.
"""

from __future__ import annotations

from typing import Any, cast

from simcontinuum.mlsysops.fluidity import Note


class EngineBridge:
    """The adapter's access to one simulation, through its public driving API only."""

    def __init__(self, sim: Any) -> None:
        self._sim = sim

    @property
    def scenario(self) -> Any:
        return self._sim.scenario

    @property
    def now(self) -> float:
        return float(self._sim.now)

    def record(self, note: Note) -> None:
        """Append ``note`` to the run's actions table."""
        self._sim.record_action(
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
        return cast("set[str] | None", self._sim.running_on(app, component))

    def telemetry(self) -> Any:
        """The telemetry delivered by now (None when the run samples none)."""
        return self._sim.delivered_telemetry()


__all__ = ["EngineBridge"]
