"""The protocol's trusted side: every malformed message is refused with a clear reason, views
survive the round trip, texts from a submission are made safe for a table."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from simcontinuum.boundary.protocol import (
    MAX_LINE,
    MAX_REASON,
    ProtocolViolation,
    RemoteError,
    action_wire,
    check_actions,
    check_hello,
    check_placement,
    check_result,
    clean_text,
    decode,
)
from simcontinuum.boundary.views import ViewDecoder, ViewEncoder, from_data, to_data
from simcontinuum.engine.simulation import Simulation
from simcontinuum.model import Application, Scenario
from simcontinuum.policy.api import ChangeSpec, Deploy, Move, Remove, Scale
from simcontinuum.policy.builtins import FirstFit
from simcontinuum.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quickstart() -> Scenario:
    return replace(load_scenario(ROOT / "scenarios" / "quickstart.yaml"), duration=40.0)


HELLO = {"type": "hello", "protocol": 1, "name": "x", "methods": ["place", "plan"]}


def test_hello_is_checked() -> None:
    assert check_hello(dict(HELLO))["methods"] == ("place", "plan")
    bad = [
        ({**HELLO, "protocol": 2}, "protocol 2"),
        ({**HELLO, "methods": ["plan"]}, "lacks place"),
        ({**HELLO, "methods": ["place", "steal"]}, "unknown method"),
        ({**HELLO, "extra": 1}, "unknown field"),
        ({**HELLO, "control_interval": -1}, "positive"),
        ({**HELLO, "name": "n" * 500}, "longer than"),
        ({"type": "row", "row": {"score": 0}}, "hello message first"),
    ]
    for msg, why in bad:
        with pytest.raises(ProtocolViolation, match=why):
            check_hello(msg)


def test_lines_that_are_not_messages() -> None:
    for raw, why in [
        (b"not json\n", "not JSON"),
        (b"[1, 2]\n", "not an object"),
        (b'{"type": "actions", "id": 1, "actions": [], "x": NaN}\n', "finite"),
        (b'{"v": Infinity}\n', "finite"),
        (b"\xff\xfe\n", "UTF-8"),
        (b"{" + b" " * MAX_LINE + b"}\n", "longer than"),
    ]:
        with pytest.raises(ProtocolViolation, match=why):
            decode(raw)


def test_replies_must_answer_the_pending_request() -> None:
    ok = {"type": "placement", "id": 3, "placement": {"a": ["n1", "n2"]}}
    assert check_placement(ok, 3) == {"a": ["n1", "n2"]}
    for msg, why in [
        ({**ok, "id": 2}, "expected 3"),
        ({**ok, "id": True}, "expected"),
        ({**ok, "type": "row"}, "expected a 'placement'"),
        ({**ok, "score": 0.0}, "unknown field"),
        ({**ok, "placement": {"a": "n1"}}, "must be a list"),
        ({**ok, "placement": {"a": [1]}}, "must be a string"),
        ({**ok, "placement": {"a": ["x" * 300]}}, "longer than"),
        ({**ok, "placement": ["a"]}, "must be an object"),
    ]:
        with pytest.raises(ProtocolViolation, match=why):
            check_placement(msg, 3)


def test_actions_round_trip_and_strict_fields() -> None:
    actions = [
        Deploy("a", "c", "n"),
        Remove("a", "c", "n"),
        Move("a", "c", "n", "m"),
        Scale("a", "c", 3),
        ChangeSpec("a", "c", "n", cpu=0.5, image="img:2"),
    ]
    msg = {"type": "actions", "id": 1, "actions": [action_wire(a) for a in actions]}
    assert check_actions(json.loads(json.dumps(msg)), 1) == actions
    for bad, why in [
        ({"kind": "deploy", "app": "a", "component": "c"}, "missing"),
        ({"kind": "nuke", "app": "a"}, "kind must be one of"),
        ({"kind": "scale", "app": "a", "component": "c", "replicas": "3"}, "replicas must be"),
        ({"kind": "scale", "app": "a", "component": "c", "replicas": True}, "replicas must be"),
        ({"kind": "scale", "app": "a", "component": "c", "replicas": 10**9}, "replicas must be"),
        ({"kind": "change_spec", "app": "a", "component": "c", "node": "n", "cpu": "1"}, "number"),
        ({**action_wire(actions[0]), "score": 1}, "unknown field"),
    ]:
        with pytest.raises(ProtocolViolation, match=why):
            check_actions({"type": "actions", "id": 1, "actions": [bad]}, 1)
    with pytest.raises(ProtocolViolation, match="more than"):
        check_actions({"type": "actions", "id": 1, "actions": [{}] * 10_001}, 1)
    with pytest.raises(TypeError, match="not an action"):
        action_wire({"kind": "deploy"})


def test_errors_and_results() -> None:
    err = {"type": "error", "id": 1, "error": {"type": "ValueError", "message": "=1+1 " * 10**5}}
    out = check_actions(err, 1)
    assert isinstance(out, RemoteError) and out.kind == "ValueError"
    assert len(str(out)) <= MAX_REASON and not str(out).startswith("=")
    with pytest.raises(ProtocolViolation, match="identifier"):
        check_actions({**err, "error": {"type": "a b", "message": ""}}, 1)
    assert check_result({"type": "result", "id": 2, "result": [True, {"k": [1]}]}, 2) == [
        True,
        {"k": [1]},
    ]
    deep: list[object] = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ProtocolViolation, match="nested deeper"):
        check_result({"type": "result", "id": 2, "result": deep}, 2)


def test_clean_text() -> None:
    assert clean_text("@SUM(A1)\tx\x00y") == "SUM(A1) x y"
    assert clean_text("-+=cmd|' /C calc'!A0") == "cmd|' /C calc'!A0"
    assert len(clean_text("x" * 10**6)) == MAX_REASON


def test_model_objects_round_trip(quickstart: Scenario) -> None:
    for app in quickstart.applications:
        data = json.loads(json.dumps(to_data(app)))
        assert from_data(Application, data) == app


def test_views_round_trip_with_delivered_telemetry_only(quickstart: Scenario) -> None:
    """The worker's views answer exactly as the engine's, and hold no undelivered sample."""
    enc, dec = ViewEncoder(), ViewDecoder()
    seen: list[tuple[object, object]] = []

    class Spy(FirstFit):
        def plan(self, view, telemetry):  # type: ignore[no-untyped-def]
            data = json.loads(json.dumps(enc.view(view)))
            tel = json.loads(json.dumps(enc.telemetry(telemetry)))
            got, got_tel = dec.view(data), dec.telemetry(tel)
            assert got.now == view.now and dict(got.nodes) == dict(view.nodes)
            assert got.placements == view.placements and got.clusters == view.clusters
            assert {k: v.app for k, v in got.apps.items()} == {
                k: v.app for k, v in view.apps.items()
            }
            ids = list(view.nodes)
            for a in ids[:4]:
                for b in ids:
                    assert got.latency(a, b) == view.latency(a, b) or (
                        math.isinf(got.latency(a, b)) and math.isinf(view.latency(a, b))
                    )
            w, w2 = telemetry.window(1e9), got_tel.window(1e9)
            assert w.equals(w2) and (w2["delivered_s"] <= view.now).all()
            assert telemetry.latest().equals(got_tel.latest())
            seen.append((view.now, len(w2)))
            return []

    Simulation(quickstart, Spy(), seed=3).run()
    assert len(seen) >= 3 and seen[-1][1] > seen[0][1] > 0
