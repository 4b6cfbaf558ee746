"""Per-step timing: for every visit of a request to a component replica, where the time went.

A *step* (see :mod:`simcontinuum.engine.traffic`) is recorded once, when the request reaches
the replica's node: its request, the step of the caller that sent it (``-1`` for the entry
component, called by the source), the replica, when it was sent, and — because a node serves
FIFO and a step's service time is known on arrival — its queue wait and service time. The
columns are typed arrays appended on the hot path (a few appends per step) and turned into
the ``steps`` table once, at the end.

Columns of the table (``Results.steps``):
``step_id, request_id, parent_step, app, component, replica_id, node, sent_s, arrive_s,
network_in_s`` (``arrive_s - sent_s``: link latency plus transfer, and link queueing under
contention), ``queue_wait_s`` (waiting for a core), ``service_s`` (on the core, after node
speed and accelerator), ``done_s`` (``arrive_s + queue_wait_s + service_s``), ``network_out_s``
(link latency plus transfer of the answer back to the caller, without link queueing),
``status`` (``ok``: served; ``failed``: the replica was gone or its node failed under it;
``dropped``: the node's queue was full; ``cancelled``: the request had already ended on
another branch; ``incomplete``: still being served at the horizon) and ``scored`` (the
request arrived after warm-up).

Invariants: ``step_id`` is the row number; a request's steps form a tree through
``parent_step`` rooted at one step with ``parent_step == -1``; ``queue_wait_s >= 0`` and
``service_s >= 0``; only ``ok`` and ``incomplete`` steps have a non-zero service time.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.engine.buffers import copy_of
from simcontinuum.results import STEP_COLUMNS, STEP_STATUS_NAMES, empty_steps

__all__ = ["STEP_COLUMNS", "STEP_STATUS_NAMES", "StepColumns", "empty_steps"]

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.simulation import Simulation

STEP_OK, STEP_FAILED, STEP_DROPPED, STEP_INCOMPLETE, STEP_CANCELLED = 0, 1, 2, 3, 4


class StepColumns:
    """The steps of one simulation, in arrival order, in one typed array.

    A step is seven numbers in ``rows`` — request id, the caller's step id, replica id (ids
    are exact in a float64 up to 2**53), arrival, queue wait, service, way back: one
    ``extend`` a step, 56 bytes, nothing for the garbage collector to track (a list of
    tuples or of floats measured slower here, by their allocations). Step ids are row
    numbers.
    """

    __slots__ = ("rows", "status")

    def __init__(self) -> None:
        self.rows = array("d")
        # steps that were not served (rare): step id -> status; the rest are ok
        self.status: dict[int, int] = {}

    def add(self, step: Any, now: float, status: int) -> None:
        """Record ``step`` reaching its replica at ``now`` and not being served.

        (A served step is appended inline by the traffic model, the same way.)
        """
        step.sid = len(self.rows) // 7
        join = step.join
        self.status[step.sid] = status
        self.rows.extend(
            (
                step.rid,
                -1 if join is None else join.step.sid,
                step.replica.id,
                now,
                0.0,
                0.0,
                step.back,
            )
        )

    def lost(self, sid: int) -> None:
        """A served step's node failed before the step finished."""
        if sid >= 0:
            self.status[sid] = STEP_FAILED

    def matrix(self) -> np.ndarray:
        """Every whole row so far as an (n, 7) float64 array."""
        # a signal may stop a run inside an extend: whole rows only
        n = len(self.rows) // 7
        return copy_of(self.rows, np.float64, 0, 7 * n).reshape(n, 7)

    def frame(self, sim: Simulation, horizon: float) -> pd.DataFrame:
        """The ``steps`` table (see the module docstring), closing the books at ``horizon``."""
        import pandas as pd

        m = self.matrix()
        n = len(m)
        rid, parent, rep = (m[:, i].astype(np.int64) for i in range(3))
        arrive, wait, service, back = (m[:, i].copy() for i in range(3, 7))
        status = np.zeros(n, dtype=np.int8)
        for sid, code in self.status.items():
            if sid < n:
                status[sid] = code
        done = arrive + wait + service
        wait[wait < 1e-12] = 0.0  # finish - service - now: rounding, not a wait
        status[(status == STEP_OK) & (done > horizon)] = STEP_INCOMPLETE
        # replica -> app, component, node: every replica is in the recorder by finalize
        where: dict[int, tuple[str, str, str]] = {
            int(row[0]): (row[1], row[2], row[3]) for row in sim.recorder.replicas
        }
        apps = [a.app.id for a in sim.apps]
        comps = [f"{a.app.id}/{c.id}" for a in sim.apps for c in a.app.components]
        nodes = [nd.id for nd in sim.nodes]
        reps = np.unique(rep)
        app_of = {r: apps.index(where[int(r)][0]) for r in reps}
        comp_of = {r: comps.index(f"{where[int(r)][0]}/{where[int(r)][1]}") for r in reps}
        node_of = {r: nodes.index(where[int(r)][2]) for r in reps}

        def codes(m: dict[Any, int]) -> np.ndarray:
            if not len(rep):
                return np.empty(0, dtype=np.int64)
            lut = np.zeros(int(reps.max()) + 1, dtype=np.int64)
            for r, c in m.items():
                lut[int(r)] = c
            return lut[rep]

        comp_cats = pd.Index([c.split("/", 1)[1] for c in comps])
        n_req = len(sim.traffic.t0)
        t0 = copy_of(sim.traffic.t0, np.float64, 0, n_req)
        scored = t0[rid] >= sim.scenario.warmup if n else np.zeros(0, dtype=bool)
        # a step is sent when its caller's step is done (the entry step: when the request
        # arrived), so the send time needs no column of its own
        sent = np.where(
            parent >= 0, done[np.maximum(parent, 0)] if n else done, t0[rid] if n else done
        )
        comp_codes = codes(comp_of)
        # components of different applications may share a name: one category per name
        names = list(dict.fromkeys(comp_cats))
        name_code = np.array([names.index(c) for c in comp_cats], dtype=np.int64)
        return pd.DataFrame(
            {
                "step_id": np.arange(n, dtype=np.int64),
                "request_id": rid,
                "parent_step": parent,
                "app": pd.Categorical.from_codes(codes(app_of), categories=pd.Index(apps)),
                "component": pd.Categorical.from_codes(
                    name_code[comp_codes] if n else comp_codes, categories=pd.Index(names)
                ),
                "replica_id": rep,
                "node": pd.Categorical.from_codes(codes(node_of), categories=pd.Index(nodes)),
                "sent_s": sent,
                "arrive_s": arrive,
                "network_in_s": arrive - sent,
                "queue_wait_s": wait,
                "service_s": service,
                "done_s": done,
                "network_out_s": back,
                "status": pd.Categorical.from_codes(
                    status, categories=pd.Index(list(STEP_STATUS_NAMES))
                ),
                "scored": scored,
            }
        )
