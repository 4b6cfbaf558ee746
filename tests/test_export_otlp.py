"""OTLP JSON Lines parse back into the collector's protobuf messages, and match the tables."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import simcontinuum as sc
from simcontinuum.export.otlp import write_otlp
from simcontinuum.export.series import families
from simcontinuum.results import Results

json_format = pytest.importorskip(
    "google.protobuf.json_format", reason="needs protobuf (extra observability)"
)
trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="needs opentelemetry-proto (pip install 'simcontinuum[observability]')",
)
metrics_service = pytest.importorskip(
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
    reason="needs opentelemetry-proto (pip install 'simcontinuum[observability]')",
)

START = 1_767_225_600


def _hex_ids_to_base64(obj: Any) -> Any:
    """OTLP JSON carries trace and span ids in hex; protobuf's JSON mapping wants base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                raw = bytes.fromhex(v)
                assert len(raw) == (16 if k == "traceId" else 8), (k, v)
                out[k] = base64.b64encode(raw).decode()
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(obj, list):
        return [_hex_ids_to_base64(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, Path]:
    doc = yaml.safe_load(Path("scenarios/hackathon.yaml").read_text())
    doc["duration"] = "60s"
    res = sc.run(doc, policy="first-fit", seed=2, reference=False)
    out = tmp_path_factory.mktemp("otlp")
    write_otlp(res, families(res), out, START)
    return res, out


def _traces(path: Path) -> list[Any]:
    msgs = []
    for line in path.read_text().splitlines():
        msg = trace_service.ExportTraceServiceRequest()
        json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(line))), msg)
        msgs.append(msg)
    return msgs


def test_traces_match_the_tables(exported: tuple[Results, Path]) -> None:
    res, out = exported
    spans = [
        s
        for msg in _traces(out / "traces.jsonl")
        for rs in msg.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]
    roots = [s for s in spans if s.name == "request"]
    assert len(roots) == len(res.requests)  # one trace per request
    assert len({s.trace_id for s in spans}) == len(res.requests)
    steps = res.steps
    by_name: dict[str, list[Any]] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    for comp in ("detector", "classifier"):
        assert len(by_name[comp]) == int((steps["component"] == comp).sum())
    served = steps["status"].isin(["ok", "incomplete"])
    assert len(by_name["network.request"]) == len(steps)
    assert len(by_name["service"]) == int(served.sum())
    assert len(by_name["queue"]) == int(served.sum())
    # durations: request spans are the requests' latencies; service spans the service times
    req = res.requests.set_index("request_id")
    ok_roots = [s for s in roots if s.status.code == 1]
    assert len(ok_roots) == int((req["status"] == "ok").sum())
    rid = {s.span_id: s for s in roots}
    lat = np.array([(s.end_time_unix_nano - s.start_time_unix_nano) / 1e9 for s in ok_roots])
    ids = [
        next(a.value.int_value for a in s.attributes if a.key == "simcontinuum.request_id")
        for s in ok_roots
    ]
    assert np.allclose(lat, req.loc[ids, "latency_s"].to_numpy(), atol=2e-9)
    svc = np.sort(
        [(s.end_time_unix_nano - s.start_time_unix_nano) / 1e9 for s in by_name["service"]]
    )
    want = np.sort(steps.loc[steps["status"] == "ok", "service_s"].to_numpy())
    assert np.allclose(svc, want, atol=2e-9)
    # the tree: every step span's parent is the root or another step span of its trace
    step_ids = {s.span_id for c in ("detector", "classifier") for s in by_name[c]}
    for s in by_name["classifier"]:
        assert s.parent_span_id in step_ids
    for s in by_name["detector"]:
        assert s.parent_span_id in rid
    # attributes name the node and replica
    keys = {a.key for a in by_name["classifier"][0].attributes}
    assert {"simcontinuum.node", "simcontinuum.replica", "simcontinuum.status"} <= keys


def test_metrics_parse_and_match(exported: tuple[Results, Path]) -> None:
    res, out = exported
    n_points = 0
    cpu = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        msg = metrics_service.ExportMetricsServiceRequest()
        json_format.Parse(line, msg)
        for rm in msg.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    pts = m.sum.data_points if m.HasField("sum") else m.gauge.data_points
                    n_points += len(pts)
                    if m.name == "simcontinuum_node_cpu_utilisation_ratio":
                        for p in pts:
                            node = next(
                                a.value.string_value for a in p.attributes if a.key == "node"
                            )
                            if node == "group1-node1":
                                cpu.append((p.time_unix_nano, p.as_double))
                    if m.HasField("sum"):
                        assert m.sum.is_monotonic and m.sum.aggregation_temporality == 2
    tel = res.telemetry
    want = tel[(tel["id"] == "group1-node1") & (tel["metric"] == "node_cpu_utilisation")]
    cpu.sort()
    assert [t for t, _ in cpu] == [START * 10**9 + round(t * 1e9) for t in want["time_s"]]
    assert np.allclose([v for _, v in cpu], want["value"].to_numpy())
    assert n_points == sum(len(f.frame) for f in families(res))


def test_sampling_is_seeded(exported: tuple[Results, Path], tmp_path: Path) -> None:
    res, _ = exported
    a = write_otlp(res, [], tmp_path / "a", START, sample=0.2, seed=9)
    b = write_otlp(res, [], tmp_path / "b", START, sample=0.2, seed=9)
    assert (tmp_path / "a" / "traces.jsonl").read_bytes() == (
        tmp_path / "b" / "traces.jsonl"
    ).read_bytes()
    assert a == b
    assert 0.1 * len(res.requests) < a["traces"] < 0.3 * len(res.requests)
