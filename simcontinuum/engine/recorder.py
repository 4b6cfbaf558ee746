"""The engine's records of what happened besides requests: actions, replicas, events.

Rows are appended as named tuples during the run (cheap, and each field has a name: no
positional guessing) and turned into DataFrames once, at the end, by
:mod:`simcontinuum.engine.finalize`. Request records live with the traffic model in typed
arrays, because they are the hot path; their status codes are :class:`RequestStatus`.

The column order of each table is the field order of its row type (``ACTION_COLUMNS`` etc.).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.replicas import Replica


class RequestStatus(IntEnum):
    """How a request ended; the code stored in the engine's request buffers.

    >>> RequestStatus(3).label
    'incomplete'
    >>> [s.label for s in RequestStatus]
    ['ok', 'failed', 'dropped', 'incomplete']
    """

    OK = 0
    FAILED = 1  # a node failed under it, its replica was lost, or no route
    DROPPED = 2  # no replica, or a full queue
    INCOMPLETE = 3  # still in flight at the horizon (decided at finalize)

    @property
    def label(self) -> str:
        """The name used in the ``status`` column of ``results.requests``."""
        return self.name.lower()


#: The ``status`` categories of ``results.requests``, in code order.
STATUS_NAMES: tuple[str, ...] = tuple(s.label for s in RequestStatus)


class ActionRow(NamedTuple):
    """One decision of the policy and what became of it (a row of ``results.actions``)."""

    time_s: float
    call: str  # place | plan | on_event | reset | ...
    kind: str  # deploy | remove | move | scale | change_spec | error | timeout | ...
    app: str | None
    component: str | None
    node: str | None
    target: str | None
    outcome: str  # applied | rejected | error
    reason: str | None


class ReplicaRow(NamedTuple):
    """One replica's life, once it is gone or at the horizon (a row of ``results.replicas``)."""

    replica_id: int
    app: str
    component: str
    node: str
    tier: str
    cluster: str
    cpu: float
    memory_bytes: float
    created_s: float
    image_ready_s: float
    running_s: float | None
    removed_s: float | None
    end_reason: str | None


class EventRow(NamedTuple):
    """A failure, recovery, arrival or departure (a row of ``results.events``)."""

    time_s: float
    kind: str
    target: str
    detail: str | None


ACTION_COLUMNS: tuple[str, ...] = ActionRow._fields
REPLICA_COLUMNS: tuple[str, ...] = ReplicaRow._fields
EVENT_COLUMNS: tuple[str, ...] = EventRow._fields


class Recorder:
    """Row buffers for one simulation (owned by its :class:`Simulation`)."""

    def __init__(self) -> None:
        self.actions: list[ActionRow] = []
        self.replicas: list[ReplicaRow] = []
        self.events: list[EventRow] = []

    def action(self, row: ActionRow) -> None:
        """One decision of the policy and what became of it."""
        self.actions.append(row)

    def event(self, t: float, kind: str, target: str, detail: str | None) -> None:
        """A failure, recovery, arrival or departure."""
        self.events.append(EventRow(t, kind, target, detail))

    def replica(self, rep: Replica) -> None:
        """A replica's life, once it is gone (or at the horizon)."""
        n = rep.node.node
        self.replicas.append(
            ReplicaRow(
                replica_id=rep.id,
                app=rep.rt.app,
                component=rep.rt.id,
                node=n.id,
                tier=n.tier,
                cluster=n.cluster,
                cpu=rep.cpu,
                memory_bytes=rep.memory,
                created_s=rep.created,
                image_ready_s=rep.ready_at,
                running_s=rep.running_at,
                removed_s=rep.removed_at,
                end_reason=rep.end_reason,
            )
        )

    @staticmethod
    def frame(rows: Sequence[tuple[object, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
        """Rows as a DataFrame with the given columns (typed even when empty)."""
        import pandas as pd

        return pd.DataFrame.from_records(rows, columns=list(columns))
