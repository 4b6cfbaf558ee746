"""Telemetry: sampled metrics, delivered late and sometimes lost, as on a real cluster.

Every ``telemetry.interval`` the sampler reads each node (``node_up``, ``node_cpu_utilisation``
over the interval, ``node_cpu_allocated_cores``, ``node_memory_allocated_bytes``,
``node_queue_length``, ``node_power_watts``, ``node_replicas``) and each running application
(``app_requests_total``, ``app_errors_total`` — counters — and over the interval
``app_request_rate``, ``app_latency_p50_seconds``, ``app_latency_p95_seconds``,
``app_latency_p99_seconds``, ``app_replicas``; plus the application's SLO metric id when it
has one, in milliseconds as MLSysOps ``qos_metrics`` use) and each of its components (id
``app/component``: ``component_replicas``, ``component_running_replicas`` and
``component_cpu_utilisation`` — cpu used over cpu requested by its running replicas, the
metric a Kubernetes HPA scales on; it may exceed 1). A node's sample reaches the
collector after the path latency from that node (an application's, from its entry replica's
node); with probability ``telemetry.loss`` it never arrives. Policies read only what has
arrived (:class:`DeliveredTelemetry`); ``results.telemetry`` keeps every sample with its
``delivered_s`` (NaN when lost).

Invariants: a sample taken at ``t`` from a node ``d`` seconds from the collector is visible
from ``t + d`` on, never before; a lost sample is never visible.
"""

from __future__ import annotations

import bisect
import math
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.engine.buffers import copy_of, take
from simcontinuum.engine.latest import LatestTable, NewestIndex, latest_table
from simcontinuum.engine.metric_catalog import METRICS
from simcontinuum.engine.recorder import RequestStatus
from simcontinuum.errors import TelemetryError

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.engine.replicas import ComponentRuntime
    from simcontinuum.engine.simulation import Simulation

COLUMNS = ("time_s", "delivered_s", "kind", "id", "metric", "value")


class TelemetrySampler:
    """Samples one simulation's nodes and applications every interval."""

    def __init__(self, sim: Simulation, *, enabled: bool = True) -> None:
        self.sim = sim
        cfg = sim.scenario.telemetry
        self.interval = cfg.interval
        self.enabled = enabled and cfg.interval is not None and cfg.interval > 0
        topo = sim.scenario.topology
        self.collector = cfg.collector or topo.registry or topo.nodes[0].id
        self.loss = cfg.loss
        self._rng = sim.streams.get("telemetry/loss")
        self.time = array("d")
        self.delivered = array("d")
        self.kind: list[str] = []
        self.id: list[str] = []
        self.metric: list[str] = []
        self.value = array("d")
        self._last_t = 0.0
        self._last_busy = [0.0] * len(sim.nodes)
        # imported here, not at the top: a policy worker reads DeliveredTelemetry from this
        # module and must not pay for the engine (traffic -> steps -> results -> pandas)
        from simcontinuum.engine.traffic import EndedCursor

        self._ended = EndedCursor(sim)  # requests count once they have ended
        self._totals: dict[str, list[int]] = {}  # app -> [requests, errors]
        self._last_comp_busy: dict[str, float] = {}
        self.newest_index: NewestIndex | None = None  # built by the first read
        # what reads may name: a typo raises with a did-you-mean instead of reading None
        apps = sim.scenario.applications
        self.id_kinds: dict[str, str] = {n.id: "node" for n in sim.nodes}
        self.id_kinds.update({a.id: "app" for a in apps})
        self.id_kinds.update({f"{a.id}/{c.id}": "component" for a in apps for c in a.components})
        self.metric_kinds: dict[str, str] = {m.name: m.kind for m in METRICS}
        self.metric_kinds.update({a.slo.metric: "app" for a in apps if a.slo and a.slo.metric})

    def start(self) -> None:
        """Schedule the first sample."""
        if not self.enabled:
            return
        env = self.sim.env

        def tick(_e: Any) -> None:
            self.sample()
            nxt = env.timeout(self.interval)
            nxt.callbacks.append(tick)

        first = env.timeout(self.interval)
        first.callbacks.append(tick)

    # ------------------------------------------------------------------ sampling
    def _emit(self, t: float, delivered: float, kind: str, ident: str, metrics: dict) -> None:
        for name, value in metrics.items():
            self.time.append(t)
            self.delivered.append(delivered)
            self.kind.append(kind)
            self.id.append(ident)
            self.metric.append(name)
            self.value.append(math.nan if value is None else float(value))

    def _delivery(self, t: float, nid: str | None) -> float:
        if self.loss > 0 and self._rng.random() < self.loss:
            return math.nan
        if nid is None:
            return t
        return t + self.sim.network.latency(nid, self.collector)  # inf: never arrives

    def sample(self) -> None:
        """Take one sample of every node and running application now."""
        sim = self.sim
        now = sim.env.now
        dt = max(now - self._last_t, 1e-12)
        for node in sim.nodes:
            busy = node.busy_seconds(now)
            util = min(1.0, max(0.0, (busy - self._last_busy[node.index]) / (node.cores * dt)))
            self._last_busy[node.index] = busy
            power = node.node.power
            self._emit(
                now,
                self._delivery(now, node.id),
                "node",
                node.id,
                {
                    "node_up": 1.0 if node.up else 0.0,
                    "node_cpu_utilisation": util if node.up else 0.0,
                    "node_cpu_allocated_cores": node.cpu_allocated,
                    "node_memory_allocated_bytes": node.memory_allocated,
                    "node_queue_length": node.queued(now) if node.up else 0,
                    "node_power_watts": (power.idle_w + (power.max_w - power.idle_w) * util)
                    if node.up
                    else 0.0,
                    "node_replicas": len(node.replicas),
                },
            )
        self._sample_apps(now, dt)
        self._last_t = now

    def _sample_apps(self, now: float, dt: float) -> None:
        sim = self.sim
        done = self._ended.read(now)
        st, apps, lat = done.status, done.app, done.end - done.arrival
        for app in sim.apps:
            if not app.active:
                continue
            aid = app.app.id
            mine = apps == app.index
            ok = mine & (st == RequestStatus.OK)
            lats = lat[ok]
            totals = self._totals.setdefault(aid, [0, 0])
            totals[0] += int(mine.sum())
            totals[1] += int((mine & (st != RequestStatus.OK)).sum())
            q = np.percentile(lats, [50, 95, 99]) if len(lats) else [None, None, None]
            metrics: dict[str, Any] = {
                "app_requests_total": totals[0],
                "app_errors_total": totals[1],
                "app_request_rate": int(mine.sum()) / dt,
                "app_latency_p50_seconds": q[0],
                "app_latency_p95_seconds": q[1],
                "app_latency_p99_seconds": q[2],
                "app_replicas": sum(len(rt.live()) for rt in app.components.values()),
            }
            slo = app.app.slo
            if slo is not None and slo.metric:
                metrics[slo.metric] = None if q[1] is None else float(q[1]) * 1000.0
            entry = app.entry.running[0].node.id if app.entry.running else None
            self._emit(now, self._delivery(now, entry), "app", aid, metrics)
            for rt in app.components.values():
                self._sample_component(now, dt, rt)

    def _sample_component(self, now: float, dt: float, rt: ComponentRuntime) -> None:
        key = f"{rt.app}/{rt.id}"
        last = self._last_comp_busy.get(key, 0.0)
        self._last_comp_busy[key] = rt.busy
        requested = sum(r.cpu for r in rt.running)
        # HPA's metric: cpu used over cpu requested by the running replicas (may exceed 1)
        util = (rt.busy - last) / (requested * dt) if requested > 0 else None
        where = rt.running[0].node.id if rt.running else None
        self._emit(
            now,
            self._delivery(now, where),
            "component",
            key,
            {
                "component_replicas": len(rt.live()),
                "component_running_replicas": len(rt.running),
                "component_cpu_utilisation": util,
            },
        )

    # ------------------------------------------------------------------ reading
    def view(self) -> DeliveredTelemetry:
        """What has reached the collector by now."""
        return DeliveredTelemetry(self, self.sim.env.now)

    def frame(self) -> pd.DataFrame:
        """Every sample taken, with its delivery time (NaN: lost)."""
        import pandas as pd

        # whole rows only: an interrupted run may have stopped between two appends
        n = min(
            len(self.time),
            len(self.delivered),
            len(self.kind),
            len(self.id),
            len(self.metric),
            len(self.value),
        )
        return pd.DataFrame(
            {
                "time_s": copy_of(self.time, np.float64, 0, n),
                "delivered_s": copy_of(self.delivered, np.float64, 0, n),
                "kind": pd.Categorical(self.kind[:n]),
                "id": self.id[:n],
                "metric": pd.Categorical(self.metric[:n]),
                "value": copy_of(self.value, np.float64, 0, n),
            }
        )


class DeliveredTelemetry:
    """The telemetry a policy may read at ``now``: only samples already delivered."""

    __slots__ = ("_now", "_s")

    def __init__(self, sampler: TelemetrySampler, now: float) -> None:
        self._s = sampler
        self._now = now

    @property
    def now(self) -> float:
        """The simulated time of this view (read-only)."""
        return self._now

    def window(self, seconds: float) -> pd.DataFrame:
        """Delivered samples taken in the last ``seconds`` (long form: one row per value)."""
        import pandas as pd

        s = self._s
        lo = bisect.bisect_left(s.time, self.now - seconds)
        hi = len(s.time)
        delivered = copy_of(s.delivered, np.float64, lo, hi)
        keep = np.flatnonzero(delivered <= self.now)
        idx = keep + lo
        return pd.DataFrame(
            {
                "time_s": take(s.time, np.float64, idx),
                "delivered_s": delivered[keep],
                "kind": [s.kind[i] for i in idx],
                "id": [s.id[i] for i in idx],
                "metric": [s.metric[i] for i in idx],
                "value": take(s.value, np.float64, idx),
            }
        )

    def latest(self) -> LatestTable:
        """The newest delivered value of every metric: one row per node/app/component, one
        column per metric, plus ``time_s`` (when the newest sample of that row was taken),
        over the last 10 telemetry intervals. A :class:`~simcontinuum.engine.latest.LatestTable`:
        plain rows in microseconds, a DataFrame on demand (``.frame()``)."""
        span = 10 * (self._s.interval or 1.0)
        return latest_table(self._index(), self.now, span)

    def _index(self) -> NewestIndex:
        """The sampler's incremental index, advanced to this view's ``now``; a view older
        than the index gets a fresh index of its own (exact, slower)."""
        s = self._s
        index: NewestIndex | None = getattr(s, "newest_index", None)
        if index is None or index.now > self.now:
            fresh = NewestIndex()
            if index is None:
                s.newest_index = fresh
            index = fresh
        index.advance(s, self.now)
        return index

    def value(self, metric: str, ident: str, default: float | None = None) -> float | None:
        """The newest delivered value of ``metric`` for ``ident``, or ``default``.

        Args:
            metric: a metric name (``simcontinuum metrics`` lists them all), e.g.
                ``"node_cpu_utilisation"`` or ``"app_latency_p95_seconds"``.
            ident: a node id, an application id, or ``"app/component"``, as the metric's
                kind requires.
            default: returned when no sample has been delivered yet, or the newest one is
                NaN (e.g. a latency percentile of an interval in which nothing succeeded).

        Raises:
            TelemetryError: ``metric`` or ``ident`` is one no run of this scenario emits, or
                they do not go together (a node metric of an application); the message
                names the closest known name.
        """
        self.check(metric, ident)
        newest = self._index().newest
        kinds = getattr(self._s, "metric_kinds", {})
        for kind in (kinds[metric],) if metric in kinds else ("node", "app", "component"):
            found = newest.get((kind, ident), {}).get(metric)
            if found is not None:
                return default if math.isnan(found[1]) else found[1]
        return default

    def check(self, metric: str, ident: str | None = None) -> None:
        """Raise :class:`~simcontinuum.errors.TelemetryError` unless ``metric`` (and
        ``ident``, when given) can ever be read in this scenario."""
        s = self._s
        if not hasattr(s, "metric_kinds"):  # a stand-in without the scenario (the boundary)
            return
        kind = s.metric_kinds.get(metric)
        if kind is None:
            raise TelemetryError(_unknown("metric", metric, s.metric_kinds, "simcontinuum metrics"))
        if ident is None:
            return
        id_kind = s.id_kinds.get(ident)
        if id_kind is None:
            ids = [i for i, k in s.id_kinds.items() if k == kind]
            raise TelemetryError(_unknown(f"{kind} id", ident, ids, f"{kind} ids: {_few(ids)}"))
        if id_kind != kind:
            raise TelemetryError(
                f"metric {metric!r} is sampled per {kind}, but {ident!r} is a {id_kind} id; "
                f"give a {kind} id ({_few([i for i, k in s.id_kinds.items() if k == kind])})"
            )


def _few(names: list[str], n: int = 4) -> str:
    shown = ", ".join(repr(x) for x in names[:n])
    return shown + (f", … ({len(names)} in all)" if len(names) > n else "")


def _unknown(what: str, name: object, known: Any, where: str) -> str:
    close = closest(str(name), [str(k) for k in known])
    hint = f"; did you mean {close!r}?" if close else ""
    return f"unknown telemetry {what} {name!r}{hint} (see {where})"


def closest(name: str, known: list[str]) -> str | None:
    """The known name most like ``name``: shared ``_``/``-``/``/`` words first (metric names
    are word lists: ``app_p95_latency_s`` is ``app_latency_p95_seconds``), then spelling.

    >>> closest("app_p95_latency_s", ["app_latency_p99_seconds", "app_latency_p95_seconds"])
    'app_latency_p95_seconds'
    >>> closest("zzz", ["node_up"]) is None
    True
    """
    import difflib
    import re

    def words(text: str) -> set[str]:
        return set(re.split(r"[_\-/.]+", text.lower())) - {""}

    mine = words(name)
    best, best_score = None, 0.0
    for k in known:
        theirs = words(k)
        overlap = len(mine & theirs) / max(len(mine | theirs), 1)
        spelling = difflib.SequenceMatcher(None, name.lower(), k.lower()).ratio()
        score = overlap + spelling
        if score > best_score:
            best, best_score = k, score
    return best if best_score >= 0.6 else None
