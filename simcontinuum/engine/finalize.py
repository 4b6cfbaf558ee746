"""Finalize a simulation: turn its buffers into the result tables, closing the books at the
horizon (requests in flight become ``incomplete``; live replicas and node activity are billed
up to the horizon; energy is integrated from each node's busy time).

This is the engine's last phase (``Simulation.finish``); it is the only reader of the
engine's request buffers besides :class:`~simcontinuum.engine.traffic.EndedCursor`. What it
builds is plain :class:`~simcontinuum.results.Results`; scoring them is
:mod:`simcontinuum.metrics`' job.

Cost rows (one per node and item, plus one per billable link): ``item`` is ``node_hours``
(``per_hour`` × hours billed: the whole horizon for ``always``, hours hosting a replica for
``when_active``), ``core_hours`` (requested cores × hours, × ``per_core_hour``), ``energy``
(kWh × ``scoring.energy_price_per_kwh``) or ``egress`` (GB over a billable link × its price).
The amounts come from :meth:`~simcontinuum.engine.compute.Usage.priced` — the one billing
formula, which :meth:`Simulation.bill` sums during the run.
"""

from __future__ import annotations

import platform
import signal
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum._version import __version__
from simcontinuum.engine import simpy_compat
from simcontinuum.engine.buffers import copy_of
from simcontinuum.engine.recorder import (
    ACTION_COLUMNS,
    EVENT_COLUMNS,
    REPLICA_COLUMNS,
    STATUS_NAMES,
    Recorder,
    RequestStatus,
)
from simcontinuum.engine.steps import empty_steps

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.results import Results

COST_COLUMNS = ("node", "tier", "cluster", "item", "quantity", "unit", "cost", "energy_kwh")
_OK = RequestStatus.OK
_INCOMPLETE = RequestStatus.INCOMPLETE


def build_results(sim: Simulation, wall_s: float) -> Results:
    """Everything a run produced, as :class:`~simcontinuum.results.Results`."""
    from simcontinuum.results import Results

    horizon = sim.closes_at
    for node in sim.nodes:
        for rep in list(node.replicas):
            sim.recorder.replica(rep)
    requests = _requests(sim, horizon)
    meta = {
        "scenario": sim.scenario.name,
        "scenario_digest": sim.scenario.digest,
        "scenario_path": sim.scenario.source_path,
        "policy": sim.policy_name,
        "seed": sim.seed,
        "duration_s": sim.scenario.duration,
        "horizon_s": horizon,
        "warmup_s": sim.scenario.warmup,
        "interrupted": sim.interrupted,
        "status": "interrupted" if sim.interrupted else "complete",
        "interrupted_by": signal.Signals(sim.interrupted_by).name if sim.interrupted_by else None,
        "wall_s": wall_s,
        "events": simpy_compat.event_count(sim.env),
        "migrations": sim.migrations,
        "policy_calls": sim.control.calls,
        "policy_errors": sim.control.errors,
        "policy_rejected": sim.control.rejected,
        "policy_first_error": sim.control.first_error,
        "decision_s": sim.control.decision_seconds,
        "charge_decision_time": sim.scenario.control.charge_decision_time,
        "weights": dict(sim.scenario.scoring.weights),
        "simcontinuum_version": __version__,
        "python": platform.python_version(),
        "requests": len(requests),
        "streams": sim.streams.names(),
    }
    return Results(
        requests=requests,
        telemetry=sim.telemetry.frame(),
        actions=Recorder.frame(sim.recorder.actions, ACTION_COLUMNS),
        replicas=Recorder.frame(sim.recorder.replicas, REPLICA_COLUMNS),
        cost=_cost(sim, horizon),
        events=Recorder.frame(sim.recorder.events, EVENT_COLUMNS),
        meta=meta,
        steps=sim.traffic.steps.frame(sim, horizon) if sim.traffic.steps else empty_steps(),
    )


def _requests(sim: Simulation, horizon: float) -> pd.DataFrame:
    import pandas as pd

    tr = sim.traffic
    # A signal may land between two appends of one record: keep only whole records (a
    # request whose end was half-written is still in flight, so incomplete).
    n = min(len(tr.t0), len(tr.src))
    t0 = copy_of(tr.t0, np.float64, 0, n)
    src = copy_of(tr.src, np.int64, 0, n)
    end = np.full(n, np.nan)
    status = np.full(n, _INCOMPLETE, dtype=np.int8)  # unless it ended
    lb = np.full(n, np.nan)
    m = min(len(tr.e_rid), len(tr.e_t), len(tr.e_status), len(tr.e_lb))
    if m:
        rid = copy_of(tr.e_rid, np.int64, 0, m)
        whole = rid < n
        rid = rid[whole]
        end[rid] = copy_of(tr.e_t, np.float64, 0, m)[whole]
        status[rid] = copy_of(tr.e_status, np.int8, 0, m)[whole]
        lb[rid] = copy_of(tr.e_lb, np.float64, 0, m)[whole]
    late = end > horizon  # answered after the horizon: still in flight then
    status[late] = _INCOMPLETE
    end[status == _INCOMPLETE] = np.nan
    lb[status != _OK] = np.nan
    sources = sim.scenario.sources
    app_idx = sim.source_app_index[src] if n else np.empty(0, dtype=np.int64)
    apps = [a.app for a in sim.apps]
    targets = np.array(
        [a.slo.latency_target if a.slo and a.slo.latency_target else np.nan for a in apps]
    )
    target = targets[app_idx] if n else np.empty(0)
    latency = end - t0
    has_slo = ~np.isnan(target)
    violated = pd.array(latency > target, dtype="boolean")
    violated[(status != _OK) | ~has_slo] = pd.NA
    node_names = list(dict.fromkeys(s.node for s in sources))
    node_code = np.array([node_names.index(s.node) for s in sources], dtype=np.int64)
    reasons: list[str | None] = [None] * n
    for rid_, why in tr.reasons.items():
        if status[rid_] != _INCOMPLETE:
            reasons[rid_] = why
    return pd.DataFrame(
        {
            "request_id": np.arange(n, dtype=np.int64),
            "app": pd.Categorical.from_codes(app_idx, categories=pd.Index([a.id for a in apps])),
            "source": pd.Categorical.from_codes(src, categories=pd.Index([s.id for s in sources])),
            "source_node": pd.Categorical.from_codes(
                node_code[src], categories=pd.Index(node_names)
            ),
            "arrival_s": t0,
            "end_s": end,
            "latency_s": latency,
            "network_latency_s": lb,
            "status": pd.Categorical.from_codes(status, categories=pd.Index(list(STATUS_NAMES))),
            "reason": reasons,
            "has_slo": has_slo,
            "slo_violated": violated,
            "scored": t0 >= sim.scenario.warmup,
        }
    )


def _cost(sim: Simulation, horizon: float) -> pd.DataFrame:
    import pandas as pd

    energy_price = sim.scenario.scoring.energy_price_per_kwh
    rows: list[tuple[Any, ...]] = []
    for node in sim.nodes:
        n = node.node
        key = (n.id, n.tier, n.cluster)
        for item in node.usage(horizon).items(n, energy_price):
            rows.append((*key, *item))
    for (a, b), gb, cost in sim.egress_bill():
        rows.append((f"{a}|{b}", "network", "network", "egress", gb, "GB", cost, 0.0))
    df = pd.DataFrame.from_records(rows, columns=list(COST_COLUMNS))
    if len(df):
        df = df.groupby(["node", "tier", "cluster", "item", "unit"], as_index=False, sort=False)[
            ["quantity", "cost", "energy_kwh"]
        ].sum()[list(COST_COLUMNS)]
    return df
