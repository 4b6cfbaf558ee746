"""Reliability, broken and hostile policies, through :func:`simcontinuum.run` and the CLI.

A policy that raises, returns the wrong type, names unknown things, violates capacity or runs
too long gets one row per call in ``results.actions`` (kind, outcome, reason) and the run goes
on to the horizon; ``strict=True`` / ``--strict`` stops at the first with the policy's
traceback. ``control.policy_timeout`` bounds every call in wall time (SIGALRM, main thread).

Limits (by design, see :mod:`simcontinuum.engine.control`): the time limit interrupts Python
code between bytecodes, so one long C call (a huge ``sum(range(...))``) overruns it until it
returns, and a policy that catches ``BaseException`` in a loop can swallow it; only the
leaderboard's separate process with CPU limits bounds those.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import simcontinuum
from simcontinuum.cli import Exit, main
from simcontinuum.errors import PolicyError
from simcontinuum.policy import ChangeSpec, Deploy, Move, Scale
from simcontinuum.results import Results

TIMEOUT = 0.2
TIMEOUT_REASON = (
    "policy call exceeded control.policy_timeout = 0.2 s wall time; counted as no action"
)


def doc() -> dict[str, Any]:
    """6 s, plan every 2 s, edge-0 fails at 3 s for 1 s; ``det`` may have up to 20 replicas."""
    return {
        "version": 1,
        "name": "hostile",
        "seed": 2,
        "duration": "6s",
        "infrastructure": {
            "registry": "cloud-0",
            "clusters": [
                {
                    "id": "cloud",
                    "nodes": [{"id": "cloud-0", "tier": "cloud", "cores": 8, "memory": "16Gi"}],
                },
                {
                    "id": "site",
                    "nodes": [{"id": "edge-0", "tier": "edge", "cores": 4, "memory": "8Gi"}],
                    "node_groups": [{"prefix": "cam", "count": 2, "tier": "far_edge"}],
                },
            ],
            "links": [
                {"a": "cloud-0", "b": "edge-0", "latency": "20ms", "bandwidth": "1Gbps"},
                {"group": "cam", "b": "edge-0", "latency": "2ms", "bandwidth": "100Mbps"},
            ],
        },
        "applications": [
            {
                "id": "video",
                "components": [
                    {
                        "id": "det",
                        "cpu": 1,
                        "memory": "512Mi",
                        "work": {"dist": "constant", "mean": "5ms"},
                        "replicas": {"min": 1, "max": 20},
                    },
                    {"id": "cls", "cpu": "250m", "work": {"dist": "constant", "mean": "1ms"}},
                ],
                "calls": [{"from": "det", "to": "cls"}],
            }
        ],
        "workload": [
            {"app": "video", "from_group": "cam", "arrival": {"type": "periodic", "rate": "10/s"}}
        ],
        "control": {"interval": "2s", "policy_timeout": f"{TIMEOUT}s"},
        "telemetry": {"interval": "1s"},
        "failures": [{"at": "3s", "node": "edge-0", "for": "1s"}],
    }


GOOD_PLACEMENT = {"det": ["edge-0"], "cls": ["edge-0"]}


class Hostile:
    """``place`` / ``plan`` / ``on_event`` do what the test says (return or raise)."""

    name = "hostile"

    def __init__(
        self,
        place: Callable[[], Any] = lambda: GOOD_PLACEMENT,
        plan: Callable[[], Any] = list,
        on_event: Callable[[], Any] = list,
    ) -> None:
        self._place, self._plan, self._on_event = place, plan, on_event

    def place(self, app: Any, view: Any) -> Any:
        return self._place()

    def plan(self, view: Any, telemetry: Any) -> Any:
        return self._plan()

    def on_event(self, event: Any, view: Any) -> Any:
        return self._on_event()


def raise_(exc: BaseException) -> Callable[[], Any]:
    def fn() -> Any:
        raise exc

    return fn


def sleep_forever() -> Any:
    time.sleep(3600)


def loop_forever() -> Any:
    n = 0
    while True:
        n += 1


def run(policy: Any, **kw: Any) -> Results:
    return simcontinuum.run(doc(), policy, **kw)


def rows(res: Results, call: str, kind: str | None = None) -> list[tuple[Any, ...]]:
    """``(time_s, kind, outcome, reason)`` of the actions rows of one call (and kind)."""
    a = res.actions
    a = a[a["call"] == call]
    if kind is not None:
        a = a[a["kind"] == kind]
    return [tuple(r) for r in a[["time_s", "kind", "outcome", "reason"]].itertuples(index=False)]


def assert_ran_to_the_end(res: Results) -> None:
    assert res.meta["status"] == "complete" and res.meta["horizon_s"] == 6.0
    rq = res.requests
    assert len(rq) == 2 * 10 * 6  # two cameras at 10/s for 6 s: nothing lost from the table
    assert set(rq["status"]) <= {"ok", "failed", "dropped", "incomplete"}
    assert sorted(rq["request_id"]) == list(range(len(rq)))


# ----------------------------------------------------------------------------- raising


@pytest.mark.parametrize("where", ["place", "plan", "on_event"])
def test_a_raising_policy_is_recorded_per_call_and_the_run_goes_on(where: str) -> None:
    res = run(Hostile(**{where: raise_(ValueError(f"broken {where}"))}))
    assert_ran_to_the_end(res)
    errors = rows(res, where, "error")
    assert errors and all(
        r[2] == "error" and r[3].startswith(f"ValueError: broken {where} (at tests/")
        for r in errors
    )
    calls = {"place": 1, "plan": 2, "on_event": 3}[where]  # plan at 2, 4 s; events: arrival,
    # failure, recovery
    assert len(errors) == calls == res.meta["policy_errors"]
    if where == "place":  # nothing was placed: every request is dropped, and it says why
        assert (
            rows(res, "place", "unplaced")
            == [(0.0, "unplaced", "rejected", "no replica placed: requests to it are dropped")] * 2
        )
        assert (res.requests["reason"] == "no_replica:video/det").all()
    else:
        assert (res.requests["status"] == "ok").sum() > 50


# ----------------------------------------------------------------------------- wrong results

WRONG: list[tuple[str, dict[str, Callable[[], Any]], str, list[tuple[str, str, str]]]] = [
    (
        "place-returns-a-list",
        {"place": lambda: ["edge-0"]},
        "place",
        [("error", "error", "place() must return a dict {component: [node, ...]}, got list")],
    ),
    (
        "place-returns-a-number-for-nodes",
        {"place": lambda: {"det": 42, "cls": ["edge-0"]}},
        "place",
        [("deploy", "rejected", "expected a list of node ids, got int")],
    ),
    (
        "place-names-unknown-node-and-component",
        {"place": lambda: {"det": ["edge-9"], "clss": ["edge-0"]}},
        "place",
        [
            ("deploy", "rejected", "unknown node 'edge-9'; did you mean 'edge-0'?"),
            ("deploy", "rejected", "unknown component 'clss'; did you mean 'cls'?"),
        ],
    ),
    (
        "place-over-capacity",
        {"place": lambda: {"det": ["edge-0"] * 6, "cls": ["edge-0"]}},
        "place",
        [("deploy", "applied", None)] * 4
        + [("deploy", "rejected", "over capacity on 'edge-0': needs 1 cpu / 512Mi, free 0 cpu")]
        * 2,
    ),
    (
        "plan-returns-a-string",
        {"plan": lambda: "move everything"},
        "plan",
        [("error", "error", "plan() must return a list of actions, got str")],
    ),
    (
        "plan-returns-junk-items",
        {"plan": lambda: [None, {"app": "video"}]},
        "plan",
        [
            ("error", "error", "not an action: None (use Deploy, Remove, Move, Scale, ChangeSpec"),
            ("error", "error", "not an action: {'app': 'video'} (use Deploy, Remove, Move,"),
        ],
    ),
    (
        "plan-names-unknown-things",
        {
            "plan": lambda: [
                Deploy("vidoe", "det", "edge-0"),
                Deploy("video", "dett", "edge-0"),
                Move("video", "det", "edge-0", "cloud-9"),
                Scale("video", "det", 10**9),
            ]
        },
        "plan",
        [
            ("deploy", "rejected", "unknown application 'vidoe'; did you mean 'video'?"),
            ("deploy", "rejected", "unknown component 'dett'; did you mean 'det'?"),
            ("move", "rejected", "unknown node 'cloud-9'; did you mean 'cloud-0'?"),
            ("scale", "rejected", "outside replicas range [1, 20]"),
        ],
    ),
    (
        "plan-over-capacity",
        {"plan": lambda: [Deploy("video", "det", "edge-0")] * 3},  # 2.75 of 4 cores free
        "plan",
        [("deploy", "applied", None)] * 2
        + [("deploy", "rejected", "over capacity on 'edge-0': needs 1 cpu / 512Mi, free 0.75")],
    ),
]


@pytest.mark.parametrize(
    ("policy", "call", "expected"),
    [pytest.param(kw, call, exp, id=name) for name, kw, call, exp in WRONG],
)
def test_wrong_results_are_rejected_with_a_reason(
    policy: dict[str, Callable[[], Any]], call: str, expected: list[tuple[str, str, str]]
) -> None:
    res = run(Hostile(**policy), telemetry=False)
    assert_ran_to_the_end(res)
    got = [r[1:] for r in rows(res, call) if r[1] != "unplaced"][: len(expected)]
    assert len(got) == len(expected), got
    for (kind, outcome, reason), want in zip(got, expected, strict=True):
        assert (kind, outcome) == want[:2], reason
        if want[2] is None:
            assert not isinstance(reason, str), reason  # applied: no reason (None or NaN)
        else:
            assert reason.startswith(want[2]), reason
    # capacity is never exceeded, whatever was asked
    reps = res.replicas
    for node, cores in (("edge-0", 4), ("cloud-0", 8)):
        live = reps[(reps["node"] == node) & reps["removed_s"].isna()]
        assert live["cpu"].sum() <= cores


# ----------------------------------------------------------------------------- time-outs


@pytest.mark.parametrize(
    ("where", "body"),
    [("place", sleep_forever), ("plan", loop_forever), ("on_event", sleep_forever)],
    ids=["place-sleeps", "plan-loops", "on_event-sleeps"],
)
def test_a_call_that_runs_too_long_is_a_timeout_row(where: str, body: Callable[[], Any]) -> None:
    started = time.perf_counter()
    res = run(Hostile(**{where: body}), telemetry=False)
    wall = time.perf_counter() - started
    assert_ran_to_the_end(res)
    timeouts = rows(res, where, "timeout")
    calls = {"place": 1, "plan": 2, "on_event": 3}[where]
    assert [r[2:] for r in timeouts] == [("error", TIMEOUT_REASON)] * calls
    assert res.meta["policy_errors"] == calls
    assert wall < calls * TIMEOUT + 10  # each call cut at ~0.2 s, then the run went on
    if where == "place":  # counted as no action: nothing placed
        assert len(res.replicas) == 0 and (res.requests["status"] == "dropped").all()
    else:
        assert (res.requests["status"] == "ok").sum() > 50


def test_a_policy_cannot_catch_its_own_timeout_with_except_exception() -> None:
    def stubborn() -> Any:
        while True:
            with contextlib.suppress(Exception):  # the time-out is a BaseException: not caught
                time.sleep(3600)

    res = run(Hostile(plan=stubborn), telemetry=False)
    assert [r[2:] for r in rows(res, "plan")] == [("error", TIMEOUT_REASON)] * 2


# ----------------------------------------------------------------------------- strict


def test_strict_stops_at_the_first_error_with_the_policy_traceback() -> None:
    def deep() -> Any:
        return {"det": ["edge-0"]}["cls"]  # KeyError inside the policy

    with pytest.raises(PolicyError) as info:
        run(Hostile(plan=deep), strict=True)
    text = str(info.value)
    assert text.startswith("policy raised in plan() (--strict):\nTraceback (most recent call")
    assert "in deep" in text and "KeyError: 'cls'" in text
    with pytest.raises(PolicyError, match=r"policy place\(\) exceeded 0\.2 s \(--strict\)"):
        run(Hostile(place=sleep_forever), strict=True)
    with pytest.raises(PolicyError, match=r"invalid result from plan\(\) \(--strict\): plan\(\)"):
        run(Hostile(plan=lambda: "x"), strict=True)


def test_cli_strict_exits_2_with_the_traceback_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(yaml.safe_dump(doc()))
    pol = tmp_path / "team_policy.py"
    pol.write_text(
        textwrap.dedent(
            """
            class Flaky:
                def place(self, app, view):
                    return {"det": ["edge-0"], "cls": ["edge-0"]}

                def plan(self, view, telemetry):
                    return self.helper()

                def helper(self):
                    raise RuntimeError("flaky at plan time")
            """
        )
    )
    out = tmp_path / "out"
    argv = ["run", str(scenario), "--policy", f"{pol}:Flaky", "--out", str(out), "--quiet"]
    assert main([*argv, "--strict"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert "error: policy raised in plan() (--strict):\nTraceback" in err
    assert f'File "{pol}", line 10, in helper' in err
    assert "RuntimeError: flaky at plan time" in err
    assert not out.exists()
    # without --strict the same policy is recorded, the run ends normally and is saved
    assert main(argv) == Exit.OK
    err = capsys.readouterr().err
    assert "warning: the policy failed 2 time(s); see the 'error' rows" in err
    assert Results.load(out).meta["policy_errors"] == 2


# ----------------------------------------------------------------------------- known holes


@pytest.mark.parametrize(
    "spec",
    [{"cpu": -100.0}, {"cpu": math.nan}, {"memory": -1e12}],
    ids=["cpu-negative", "cpu-nan", "memory-negative"],
)
def test_change_spec_with_impossible_requests_is_rejected(spec: dict[str, float]) -> None:
    change = ChangeSpec("video", "det", "edge-0", **spec)  # type: ignore[arg-type]
    plans = iter([[change, *[Deploy("video", "det", "edge-0")] * 8]])
    res = run(Hostile(plan=lambda: next(plans, [])), telemetry=False)
    first = rows(res, "plan")[0]
    assert (first[1], first[2]) == ("change_spec", "rejected"), first
    reps = res.replicas  # today: 8 more 1-cpu replicas join at 2 s on the 4-core node
    at_2s = reps[(reps["node"] == "edge-0") & (reps["created_s"] <= 2.0) & (reps["cpu"] > 0)]
    at_2s = at_2s[~(at_2s["removed_s"] <= 2.0)]
    assert at_2s["cpu"].sum() <= 4


@pytest.mark.parametrize(
    "spec", [{"cpu": "lots"}, {"image": ["x"]}], ids=["cpu-text", "image-list"]
)
def test_change_spec_with_wrong_field_types_is_rejected(spec: dict[str, Any]) -> None:
    res = run(Hostile(plan=lambda: [ChangeSpec("video", "det", "edge-0", **spec)]))
    assert_ran_to_the_end(res)
    assert {r[2] for r in rows(res, "plan")} <= {"rejected", "error"}


def test_a_policy_calling_sys_exit_is_recorded() -> None:
    res = run(Hostile(plan=raise_(SystemExit(3))), telemetry=False)
    assert_ran_to_the_end(res)
    assert [r[1:3] for r in rows(res, "plan")] == [("error", "error")] * 2
