"""Columnar records of what happened besides requests: actions, replicas, events, samples.

Rows are appended as tuples during the run (cheap) and turned into DataFrames once, at the end.
Request records live with the traffic model, in typed arrays, because they are the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.replicas import Replica

ACTION_COLUMNS = (
    "time_s",
    "call",
    "kind",
    "app",
    "component",
    "node",
    "target",
    "outcome",
    "reason",
)
REPLICA_COLUMNS = (
    "replica_id",
    "app",
    "component",
    "node",
    "tier",
    "cluster",
    "cpu",
    "memory_bytes",
    "created_s",
    "image_ready_s",
    "running_s",
    "removed_s",
    "end_reason",
)
EVENT_COLUMNS = ("time_s", "kind", "target", "detail")


class Recorder:
    """Row buffers for one simulation."""

    def __init__(self) -> None:
        self.actions: list[tuple[Any, ...]] = []
        self.replicas: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []

    def action(self, *row: Any) -> None:
        """One decision of the policy and what became of it (see ``ACTION_COLUMNS``)."""
        self.actions.append(row)

    def event(self, t: float, kind: str, target: str, detail: str | None) -> None:
        """A failure, recovery, arrival or departure."""
        self.events.append((t, kind, target, detail))

    def replica(self, rep: Replica) -> None:
        """A replica's life, once it is gone (or at the horizon)."""
        n = rep.node.node
        self.replicas.append(
            (
                rep.id,
                rep.rt.app,
                rep.rt.id,
                n.id,
                n.tier,
                n.cluster,
                rep.cpu,
                rep.memory,
                rep.created,
                rep.ready_at,
                rep.running_at,
                rep.removed_at,
                rep.end_reason,
            )
        )

    @staticmethod
    def frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
        """Rows as a DataFrame with the given columns (typed even when empty)."""
        import pandas as pd

        return pd.DataFrame.from_records(rows, columns=list(columns))
