"""OTLP JSON Lines, as the OpenTelemetry collector's file exporter writes them.

``metrics.jsonl``: one ``ExportMetricsServiceRequest`` per line, one line per sample time,
holding every family's points at that time (gauges as ``gauge``, counters as cumulative
monotonic ``sum`` starting at t=0); names are the OpenMetrics family names without
``_total`` (a Prometheus exporter adds it back).

``traces.jsonl``: one ``ExportTraceServiceRequest`` per line, up to :data:`TRACES_PER_LINE`
traces each, one resource per application (``service.name`` = the application). One trace
per request: a root span ``request`` (arrival to end, or to the horizon when incomplete;
status error unless ok) and, for every step, a span named after its component from when the
caller sent it to when its answer is back at the caller, with children ``network.request``
(sent to arrival at the replica), ``queue`` (waiting for a core), ``service`` (on the core)
and ``network.response`` (the answer's way back); a step that was not served has only its
``network.request`` child. Attributes: ``simcontinuum.node``, ``simcontinuum.replica``,
``simcontinuum.component``, ``simcontinuum.status``; the root also ``simcontinuum.request_id``
and ``simcontinuum.source``.

IDs follow the OTLP JSON encoding (lower-case hex, not base64); times are nanoseconds since
the Unix epoch as decimal strings. IDs are derived from the run's digest, seed and request
id, so the same run always exports the same bytes. ``sample`` traces a seeded random
fraction of the requests (a Bernoulli draw per request from the ``export/sample`` stream).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.export.series import COUNTER, Family

if TYPE_CHECKING:
    from simcontinuum.results import Results

TRACES_PER_LINE = 500
SCOPE = {"name": "simcontinuum"}
#: OpenMetrics unit -> UCUM, as OTLP carries it
UCUM = {"seconds": "s", "bytes": "By", "watts": "W", "ratio": "1", "cores": "{core}", "": ""}
SPAN_KIND_INTERNAL, SPAN_KIND_SERVER = 1, 2
STATUS_OK, STATUS_ERROR = 1, 2


def _ns(t: float, start_epoch: float = 0.0) -> str:
    """``start_epoch + t`` in nanoseconds, without float64's loss at 1e18 (the offset is
    rounded on its own, at simulated-time scale)."""
    return str(round(start_epoch * 1e9) + round(t * 1e9))


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int | np.integer):
        return {"key": key, "value": {"intValue": str(int(value))}}
    if isinstance(value, float | np.floating):
        return {"key": key, "value": {"doubleValue": float(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _resource(results: Results, service: str) -> dict[str, Any]:
    meta = results.meta
    return {
        "attributes": [
            _attr("service.name", service),
            _attr("simcontinuum.scenario", meta.get("scenario") or ""),
            _attr("simcontinuum.policy", meta.get("policy") or ""),
            _attr("simcontinuum.seed", int(meta.get("seed") or 0)),
        ]
    }


def _scope(results: Results) -> dict[str, Any]:
    return {**SCOPE, "version": str(results.meta.get("simcontinuum_version") or "")}


# ---------------------------------------------------------------------------- metrics


def metric_lines(results: Results, fams: Sequence[Family], start_epoch: float) -> list[str]:
    """``metrics.jsonl``'s lines: one request per sample time."""
    by_time: dict[float, list[dict[str, Any]]] = {}
    start = _ns(0.0, start_epoch)
    for fam in fams:
        m = fam.metric
        points: dict[float, list[dict[str, Any]]] = {}
        for labels, times, values in fam.series():
            attrs = [_attr(k, v) for k, v in labels.items()]
            for t, v in zip(times.tolist(), values.tolist(), strict=True):
                point = {"attributes": attrs, "timeUnixNano": _ns(t, start_epoch), "asDouble": v}
                if m.type == COUNTER:
                    point["startTimeUnixNano"] = start
                points.setdefault(t, []).append(point)
        for t, pts in points.items():
            body: dict[str, Any] = {"name": m.name, "description": m.help, "unit": UCUM[m.unit]}
            if m.type == COUNTER:
                body["sum"] = {
                    "dataPoints": pts,
                    "aggregationTemporality": 2,  # cumulative
                    "isMonotonic": True,
                }
            else:
                body["gauge"] = {"dataPoints": pts}
            by_time.setdefault(t, []).append(body)
    resource = _resource(results, "simcontinuum")
    scope = _scope(results)
    return [
        json.dumps(
            {
                "resourceMetrics": [
                    {"resource": resource, "scopeMetrics": [{"scope": scope, "metrics": ms}]}
                ]
            },
            separators=(",", ":"),
        )
        for _t, ms in sorted(by_time.items())
    ]


# ---------------------------------------------------------------------------- traces


def _id(key: str, size: int) -> str:
    return hashlib.blake2b(key.encode(), digest_size=size).hexdigest()


def answer_times(steps: Any) -> np.ndarray:
    """When each step's answer is back at its caller (``nan``: never answered).

    A step answers when its last callee has answered (or, without callees, when it is done),
    plus the way back. A callee always has a larger step id than its caller (it arrives
    after the caller was served), so one pass from the last step up suffices.
    """
    n = len(steps)
    parent = steps["parent_step"].to_numpy(np.int64)
    done = steps["done_s"].to_numpy(float)
    back = steps["network_out_s"].to_numpy(float)
    served = (steps["status"].astype(str) == "ok").to_numpy()
    latest = np.full(n, -np.inf)  # latest answer among a step's callees
    broken = np.zeros(n, dtype=bool)  # a callee never answered
    answer = np.full(n, np.nan)
    for i in range(n - 1, -1, -1):
        if served[i] and not broken[i]:
            answer[i] = max(done[i], latest[i]) + back[i]
        p = parent[i]
        if p >= 0:
            if np.isnan(answer[i]):
                broken[p] = True
            elif answer[i] > latest[p]:
                latest[p] = answer[i]
    return answer


def trace_lines(
    results: Results,
    start_epoch: float,
    *,
    sample: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[str], int, int]:
    """``traces.jsonl``'s lines, the number of traces and of spans.

    ``progress(done, total)`` is called every :data:`TRACES_PER_LINE` traces.
    """
    from simcontinuum.streams import Streams

    req = results.requests
    steps = results.steps.sort_values("step_id", kind="stable").reset_index(drop=True)
    keep = np.ones(len(req), dtype=bool)
    if sample < 1.0:
        keep = Streams(seed).get("export/sample").random(len(req)) < sample
    horizon = float(results.meta.get("horizon_s") or 0.0)
    run_key = f"{results.meta.get('scenario_digest')}/{results.meta.get('seed')}"
    answer = answer_times(steps)
    by_req: dict[int, list[int]] = {}
    for i, rid in enumerate(steps["request_id"].to_numpy(np.int64).tolist()):
        by_req.setdefault(rid, []).append(i)
    cols = {
        c: steps[c].to_numpy()
        for c in (
            "parent_step",
            "component",
            "node",
            "replica_id",
            "sent_s",
            "arrive_s",
            "queue_wait_s",
            "done_s",
            "network_out_s",
            "status",
        )
    }
    comp = [str(x) for x in cols["component"]]
    node = [str(x) for x in cols["node"]]
    status = [str(x) for x in cols["status"]]
    lines: list[str] = []
    n_traces = n_spans = 0
    batch: dict[str, list[dict[str, Any]]] = {}
    in_batch = 0

    def span(
        trace: str,
        sid: str,
        parent: str | None,
        name: str,
        t0: float,
        t1: float,
        attrs: list[dict[str, Any]],
        ok: bool = True,
        kind: int = SPAN_KIND_INTERNAL,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traceId": trace,
            "spanId": sid,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": _ns(t0, start_epoch),
            "endTimeUnixNano": _ns(max(t0, t1), start_epoch),
            "attributes": attrs,
            "status": {"code": STATUS_OK} if ok else {"code": STATUS_ERROR},
        }
        if parent:
            out["parentSpanId"] = parent
        return out

    def flush() -> None:
        nonlocal batch, in_batch
        if not batch:
            return
        rs = [
            {
                "resource": _resource(results, app),
                "scopeSpans": [{"scope": _scope(results), "spans": spans}],
            }
            for app, spans in batch.items()
        ]
        lines.append(json.dumps({"resourceSpans": rs}, separators=(",", ":")))
        batch, in_batch = {}, 0

    sel = req[keep]
    total = len(sel)
    rows = zip(
        sel["request_id"].astype(int).tolist(),
        sel["status"].astype(str).tolist(),
        sel["arrival_s"].to_numpy(float).tolist(),
        sel["end_s"].to_numpy(float).tolist(),
        sel["app"].astype(str).tolist(),
        sel["source"].astype(str).tolist(),
        sel["reason"].tolist(),
        strict=True,
    )
    for rid, st, arrival, end_s, app, source, reason in rows:
        trace = _id(f"{run_key}/{rid}", 16)
        root = _id(f"{trace}/root", 8)
        end = end_s if st != "incomplete" and end_s == end_s else horizon
        spans = [
            span(
                trace,
                root,
                None,
                "request",
                arrival,
                end,
                [
                    _attr("simcontinuum.request_id", rid),
                    _attr("simcontinuum.app", app),
                    _attr("simcontinuum.source", source),
                    _attr("simcontinuum.status", st),
                    *([_attr("simcontinuum.reason", reason)] if isinstance(reason, str) else []),
                ],
                ok=st == "ok",
                kind=SPAN_KIND_SERVER,
            )
        ]
        ids: dict[int, str] = {}
        for i in by_req.get(rid, []):
            sid = _id(f"{trace}/{i}", 8)
            ids[i] = sid
            p = int(cols["parent_step"][i])
            parent = ids.get(p, root) if p >= 0 else root
            sent, arrive = float(cols["sent_s"][i]), float(cols["arrive_s"][i])
            start_service = arrive + float(cols["queue_wait_s"][i])
            done = float(cols["done_s"][i])
            ans = answer[i]
            served = status[i] in ("ok", "incomplete")
            t_end = ans if ans == ans else (min(done, horizon) if served else arrive)
            attrs = [
                _attr("simcontinuum.component", comp[i]),
                _attr("simcontinuum.node", node[i]),
                _attr("simcontinuum.replica", int(cols["replica_id"][i])),
                _attr("simcontinuum.status", status[i]),
            ]
            spans.append(
                span(trace, sid, parent, comp[i], sent, t_end, attrs, ok=status[i] == "ok")
            )
            spans.append(
                span(trace, _id(f"{sid}/in", 8), sid, "network.request", sent, arrive, attrs[:2])
            )
            if served:
                spans.append(
                    span(trace, _id(f"{sid}/q", 8), sid, "queue", arrive, start_service, attrs[:3])
                )
                spans.append(
                    span(
                        trace,
                        _id(f"{sid}/s", 8),
                        sid,
                        "service",
                        start_service,
                        min(done, horizon),
                        attrs[:3],
                        ok=status[i] == "ok",
                    )
                )
                if ans == ans:
                    back = float(cols["network_out_s"][i])
                    spans.append(
                        span(
                            trace,
                            _id(f"{sid}/out", 8),
                            sid,
                            "network.response",
                            ans - back,
                            ans,
                            attrs[:2],
                        )
                    )
        batch.setdefault(app, []).extend(spans)
        n_traces += 1
        n_spans += len(spans)
        in_batch += 1
        if in_batch >= TRACES_PER_LINE:
            flush()
            if progress:
                progress(n_traces, total)
    flush()
    if progress:
        progress(n_traces, total)
    return lines, n_traces, n_spans


def write_otlp(
    results: Results,
    fams: Sequence[Family],
    directory: str | os.PathLike[str],
    start_epoch: float,
    *,
    sample: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write ``metrics.jsonl`` and ``traces.jsonl`` into ``directory``; return counts."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    mlines = metric_lines(results, fams, start_epoch)
    tlines, n_traces, n_spans = trace_lines(
        results, start_epoch, sample=sample, seed=seed, progress=progress
    )
    from simcontinuum.io import atomic_write

    for name, body in (("metrics.jsonl", mlines), ("traces.jsonl", tlines)):
        atomic_write(d / name, "".join(line + "\n" for line in body))
    points = sum(len(f.frame) for f in fams)
    return {"points": points, "traces": n_traces, "spans": n_spans, "lines": len(tlines)}
