"""Views as plain data: the organizer encodes what a policy may see, the worker rebuilds it.

The trusted side keeps one :class:`ViewEncoder` per run. It sends what does not change (the
nodes' static attributes, the clusters) once, an application's definition the first time
it is present, the latency matrix over all nodes whenever the routes change, and per call
only what moves: time, each node's up/allocation/replicas, placements, the ids of the
present applications, and the telemetry samples *delivered* since the previous call (a
sample still in flight never leaves the organizer). The worker keeps one :class:`ViewDecoder`
per run that turns this back into :class:`~simcontinuum.policy.api.ClusterView`,
:class:`~simcontinuum.policy.api.AppView` and a telemetry view with the same methods and
the same answers as in-process (``latest()``, ``window()``, ``value()`` run the engine's own
code over the delivered samples).

Model objects (applications, components, SLOs, prices...) are frozen dataclasses; they go
as objects of their fields and come back through their type hints (:func:`to_data`,
:func:`from_data`). Non-finite floats travel as ``null`` only where the protocol says so
(latency: no route; telemetry values: NaN).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from simcontinuum.model import Application
from simcontinuum.policy.api import AppView, ClusterView, Event, NodeView

NODE_STATIC = ("id", "tier", "cluster", "cores", "speed", "memory", "labels", "location")
NODE_MODEL = ("gpu", "price", "power")


def to_data(obj: Any) -> Any:
    """A dataclass tree as JSON data (frozensets sorted, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_data(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.compare  # ``extra`` and other non-model fields stay home
        }
    if isinstance(obj, frozenset | set):
        return sorted(to_data(v) for v in obj)
    if isinstance(obj, tuple | list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    return obj


def from_data(tp: Any, data: Any) -> Any:
    """The object of type ``tp`` that :func:`to_data` made ``data`` from."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_data(options[0], data) if len(options) == 1 else data
    if origin is typing.Literal:
        return data
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v) for v in data)
        return tuple(from_data(a, v) for a, v in zip(args, data, strict=True))
    if origin is frozenset:
        return frozenset(from_data(typing.get_args(tp)[0], v) for v in data)
    if origin is dict:
        vt = typing.get_args(tp)[1]
        return {k: from_data(vt, v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: from_data(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    if tp is float and isinstance(data, int):
        return float(data)
    return data


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    # resolved type hints are a pure function of the class: cached, not run state
    return typing.get_type_hints(tp)


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


class ViewEncoder:
    """The trusted side of one run: views, events and telemetry as messages."""

    def __init__(self) -> None:
        self._topology_sent = False
        self._apps_sent: set[str] = set()
        self._routes: Any = None
        self._routes_known = False
        self._tel_next = 0
        self._tel_pending: list[int] = []

    def view(self, view: ClusterView) -> dict[str, Any]:
        """``view`` as the ``view`` field of a request."""
        nodes = list(view.nodes.values())
        out: dict[str, Any] = {
            "now": view.now,
            "nodes": [
                [n.up, n.cpu_allocated, n.memory_allocated, [list(r) for r in n.replicas]]
                for n in nodes
            ],
            "placements": {
                a: {c: list(ns) for c, ns in comps.items()} for a, comps in view.placements.items()
            },
            "apps": list(view.apps),
        }
        if not self._topology_sent:
            out["topology"] = {
                "nodes": [self._node_static(n) for n in nodes],
                "clusters": {c: list(ns) for c, ns in view.clusters.items()},
            }
            self._topology_sent = True
        new = {aid: self.app(av) for aid, av in view.apps.items() if aid not in self._apps_sent}
        if new:
            out["new_apps"] = new
            self._apps_sent.update(new)
        # the routes object behind view.latency changes only when a link or node fails or
        # recovers: send the matrix again only then
        routes = getattr(view._latency, "__self__", None)
        if not self._routes_known or routes is None or routes is not self._routes:
            ids = [n.id for n in nodes]
            matrix = getattr(routes, "latency_matrix", None)
            if matrix is not None:  # the engine's routes: one search per node
                rows = matrix(ids)
            else:
                lat = view.latency
                rows = [[lat(a, b) for b in ids] for a in ids]
            out["latency"] = [[_finite_or_none(x) for x in row] for row in rows]
            self._routes, self._routes_known = routes, True
        return out

    @staticmethod
    def _node_static(n: NodeView) -> dict[str, Any]:
        d = {f: to_data(getattr(n, f)) for f in NODE_STATIC}
        d.update({f: to_data(getattr(n, f)) for f in NODE_MODEL})
        return d

    @staticmethod
    def app(av: AppView) -> dict[str, Any]:
        """One application view (its model and sources)."""
        return {"app": to_data(av.app), "sources": [[n, r] for n, r in av.sources]}

    @staticmethod
    def event(event: Event) -> dict[str, Any]:
        """An event as data."""
        return {
            "time": event.time,
            "kind": event.kind,
            "target": event.target,
            "lost": [list(p) for p in event.lost],
        }

    def telemetry(self, telemetry: Any) -> dict[str, Any] | None:
        """The samples delivered since the last call, column-wise, with their index in the
        organizer's log (so the worker keeps them in the same order); ``None`` stays None."""
        if telemetry is None:
            return None
        s = getattr(telemetry, "_s", None)
        cols: dict[str, list[Any]] = {k: [] for k in ("i", "t", "d", "kind", "id", "metric", "v")}
        if s is None:  # not the engine's telemetry: nothing the worker could rebuild
            return {"now": getattr(telemetry, "now", 0.0), "interval": None, "samples": cols}
        now = telemetry.now
        n = len(s.time)
        candidates = self._tel_pending + list(range(self._tel_next, n))
        self._tel_next = n
        pending = []
        for i in candidates:
            d = s.delivered[i]
            if d != d:  # NaN: lost, never visible
                continue
            if d > now:
                pending.append(i)
                continue
            v = s.value[i]
            cols["i"].append(i)
            cols["t"].append(s.time[i])
            cols["d"].append(d)
            cols["kind"].append(s.kind[i])
            cols["id"].append(s.id[i])
            cols["metric"].append(s.metric[i])
            cols["v"].append(v if math.isfinite(v) else None)
        self._tel_pending = pending
        return {"now": now, "interval": s.interval, "samples": cols}


class _Samples:
    """The worker's copy of the delivered samples, shaped like the engine's sampler so that
    the engine's own reading code answers the policy."""

    def __init__(self) -> None:
        from array import array

        self.index: list[int] = []
        self.time = array("d")
        self.delivered = array("d")
        self.kind: list[str] = []
        self.id: list[str] = []
        self.metric: list[str] = []
        self.value = array("d")
        self.interval: float | None = None
        self.newest_index: Any = None  # the readers' index; rebuilt when rows are merged

    def add(self, cols: Mapping[str, list[Any]]) -> None:
        idx = cols["i"]
        if not idx:
            return
        values = [math.nan if v is None else float(v) for v in cols["v"]]
        rows = list(
            zip(
                idx,
                cols["t"],
                cols["d"],
                cols["kind"],
                cols["id"],
                cols["metric"],
                values,
                strict=False,
            )
        )
        rows.sort(key=lambda r: r[0])
        if self.index and rows[0][0] < self.index[-1]:
            # a slow sample arrived after a later one: merge by the organizer's order
            old = list(
                zip(
                    self.index,
                    self.time,
                    self.delivered,
                    self.kind,
                    self.id,
                    self.metric,
                    self.value,
                    strict=False,
                )
            )
            rows = sorted(old + rows, key=lambda r: r[0])
            interval = self.interval
            self.__init__()  # type: ignore[misc]
            self.interval = interval
            # rows moved: the engine's incremental index of the newest values (kept on its
            # sampler, here on this copy) must start again from the first row
            self.newest_index = None
        from array import array

        self.index += [r[0] for r in rows]
        self.time.extend(array("d", [r[1] for r in rows]))
        self.delivered.extend(array("d", [r[2] for r in rows]))
        self.kind += [r[3] for r in rows]
        self.id += [r[4] for r in rows]
        self.metric += [r[5] for r in rows]
        self.value.extend(array("d", [r[6] for r in rows]))


class ViewDecoder:
    """The worker side of one run: messages back into views."""

    def __init__(self) -> None:
        self._static: list[dict[str, Any]] = []
        self._ids: list[str] = []
        self._clusters: dict[str, tuple[str, ...]] = {}
        self._apps: dict[str, AppView] = {}
        self._index: dict[str, int] = {}
        self._latency: list[list[float | None]] = []
        self._samples = _Samples()
        # node views are frozen: one whose state did not change is reused as it is
        self._node_cache: list[tuple[Any, NodeView] | None] = []

    def view(self, data: Mapping[str, Any]) -> ClusterView:
        """The :class:`ClusterView` of a request's ``view`` field."""
        from simcontinuum.model import Gpu, Power, Price

        topo = data.get("topology")
        if topo is not None:
            self._static = []
            for d in topo["nodes"]:
                s = dict(d)
                s["labels"] = frozenset(s["labels"])
                s["location"] = tuple(s["location"]) if s["location"] is not None else None
                s["gpu"] = from_data(Gpu, s["gpu"])
                s["price"] = from_data(Price, s["price"])
                s["power"] = from_data(Power, s["power"])
                self._static.append(s)
            self._ids = [s["id"] for s in self._static]
            self._index = {nid: i for i, nid in enumerate(self._ids)}
            self._clusters = {c: tuple(ns) for c, ns in topo["clusters"].items()}
        for aid, a in (data.get("new_apps") or {}).items():
            self._apps[aid] = AppView(
                from_data(Application, a["app"]), tuple((n, float(r)) for n, r in a["sources"])
            )
        if "latency" in data:
            self._latency = data["latency"]
        nodes = {}
        cache = self._node_cache
        if topo is not None or len(cache) != len(self._static):
            cache[:] = [None] * len(self._static)
        for i, (s, dyn) in enumerate(zip(self._static, data["nodes"], strict=True)):
            hit = cache[i]
            if hit is not None and hit[0] == dyn:  # unchanged since the last call: reuse
                nodes[s["id"]] = hit[1]
                continue
            up, cpu, mem, reps = dyn
            node = NodeView(
                **s,
                up=up,
                cpu_allocated=cpu,
                memory_allocated=mem,
                replicas=tuple((a, c) for a, c in reps),
            )
            cache[i] = (dyn, node)
            nodes[s["id"]] = node
        placements = {
            a: {c: tuple(ns) for c, ns in comps.items()} for a, comps in data["placements"].items()
        }
        return ClusterView(
            now=data["now"],
            nodes=nodes,
            clusters=self._clusters,
            placements=placements,
            apps={aid: self._apps[aid] for aid in data["apps"]},
            _latency=self._latency_of,
        )

    def _latency_of(self, a: str, b: str) -> float:
        v = self._latency[self._index[a]][self._index[b]]
        return math.inf if v is None else float(v)

    def app(self, data: Mapping[str, Any]) -> AppView:
        """The :class:`AppView` of a ``place`` request."""
        aid = data["id"]
        av = self._apps.get(aid)
        if av is None:
            raise KeyError(f"application {aid!r} was never described")
        return av

    @staticmethod
    def event(data: Mapping[str, Any]) -> Event:
        """An :class:`Event`."""
        return Event(
            data["time"], data["kind"], data["target"], tuple((a, c) for a, c in data["lost"])
        )

    def telemetry(self, data: Mapping[str, Any] | None) -> Any:
        """A telemetry view over every sample delivered so far (``None`` stays None)."""
        from simcontinuum.engine.telemetry import DeliveredTelemetry

        if data is None:
            return None
        self._samples.interval = data.get("interval")
        self._samples.add(data["samples"])
        return DeliveredTelemetry(self._samples, data["now"])  # type: ignore[arg-type]


__all__ = ["ViewDecoder", "ViewEncoder", "from_data", "to_data"]
