"""Reliability, interrupted runs: Ctrl-C and SIGTERM save what was simulated, marked as such;
a process killed while saving never leaves a folder that loads as complete.

(``bench`` interrupted then resumed is covered by
``tests/test_experiment.py::test_interrupted_sweep_keeps_finished_runs``; folders written
partially by hand — no meta.json, a missing table, a corrupt Parquet file — by
``tests/test_engine_results.py::test_partial_or_corrupt_folders_are_errors``.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from simcontinuum.cli import Exit
from simcontinuum.errors import ResultsError
from simcontinuum.results import TABLES, Results

RATES = {"cam": 150.0, "sensor": 50.0}  # per device, periodic: counts are known exactly

LONG = {
    "version": 1,
    "name": "long",
    "seed": 5,
    "duration": "10h",  # minutes of wall time: always interrupted long before the end
    "infrastructure": {
        "registry": "cloud-0",
        "clusters": [
            {"id": "cloud", "nodes": [{"id": "cloud-0", "tier": "cloud", "cores": 16}]},
            {
                "id": "site",
                "nodes": [{"id": "edge-0", "tier": "edge", "cores": 4}],
                "node_groups": [
                    {"prefix": "cam", "count": 3, "tier": "far_edge"},
                    {"prefix": "sensor", "count": 2, "tier": "far_edge"},
                ],
            },
        ],
        "links": [
            {"a": "cloud-0", "b": "edge-0", "latency": "20ms", "bandwidth": "1Gbps"},
            {"group": "cam", "b": "edge-0", "latency": "2ms", "bandwidth": "100Mbps"},
            {"group": "sensor", "b": "edge-0", "latency": "2ms", "bandwidth": "100Mbps"},
        ],
    },
    "applications": [
        {
            "id": "video",
            "components": [
                {"id": "det", "cpu": 1, "work": {"dist": "exponential", "mean": "5ms"}},
                {"id": "cls", "cpu": 1, "work": {"dist": "constant", "mean": "1ms"}},
            ],
            "calls": [{"from": "det", "to": "cls", "request_size": "10KB"}],
        }
    ],
    "workload": [
        {"app": "video", "from_group": g, "arrival": {"type": "periodic", "rate": r}}
        for g, r in RATES.items()
    ],
    "telemetry": {"interval": "5s"},
}

MARKER_POLICY = """
from pathlib import Path
from simcontinuum.policy.builtins import FirstFit

class Marker(FirstFit):
    name = "marker"

    def place(self, app, view):
        Path({marker!r}).write_text("simulating")  # place() runs inside env.run, at t = 0
        return super().place(app, view)
"""

CHILD = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores it\n"
    "from simcontinuum.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the run never started simulating")
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("sig", "code", "name"),
    [(signal.SIGINT, Exit.INTERRUPTED, "SIGINT"), (signal.SIGTERM, Exit.TERMINATED, "SIGTERM")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_saves_partial_results_marked_interrupted(
    sig: signal.Signals, code: Exit, name: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(yaml.safe_dump(LONG, sort_keys=False))
    marker = tmp_path / "simulating"
    (tmp_path / "marker.py").write_text(textwrap.dedent(MARKER_POLICY.format(marker=str(marker))))
    out = tmp_path / "out"
    argv = [sys.executable, "-c", CHILD, "run", str(scenario), "--out", str(out)]
    argv += ["--policy", f"{tmp_path / 'marker.py'}:Marker", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker, proc)
        time.sleep(1.0)  # well into the run: thousands of requests done, dozens in flight
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"partial results written to {out}/" in stderr

    res = Results.load(out)
    meta = res.meta
    assert (meta["status"], meta["interrupted"], meta["interrupted_by"]) == (
        "interrupted",
        True,
        name,
    )
    horizon = meta["horizon_s"]
    assert 0 < horizon < 36000
    rq = res.requests
    n = len(rq)
    assert n > 1000 and meta["requests"] == n
    # every arrived request is in the table exactly once, with one final status
    assert sorted(rq["request_id"]) == list(range(n))
    counts = rq["status"].value_counts()
    assert set(counts.index[counts > 0]) <= {"ok", "failed", "dropped", "incomplete"}
    assert sum(int(counts.get(s, 0)) for s in ("ok", "failed", "dropped", "incomplete")) == n
    assert (rq["arrival_s"] <= horizon).all()
    # requests in flight at the interruption are incomplete: no end, no latency
    inflight = rq[rq["status"] == "incomplete"]
    assert len(inflight) > 0
    assert inflight["end_s"].isna().all() and inflight["latency_s"].isna().all()
    done = rq[rq["status"] == "ok"]
    assert len(done) > 0.9 * n and (done["end_s"] <= horizon).all()
    # periodic sources: each device sent floor or ceil of horizon x rate requests, all here
    per_source = rq.groupby("source_node", observed=True).size()
    assert len(per_source) == 5
    for node, sent in per_source.items():
        rate = RATES[str(node).split("-")[0]]
        assert abs(sent - horizon * rate) <= 1, (node, sent, horizon * rate)
    # the other tables were closed at the interruption too
    assert (res.replicas["removed_s"].fillna(horizon) <= horizon).all()
    assert (res.telemetry["time_s"] <= horizon).all()
    assert res.summary()["requests"] == n  # no warm-up: every request is scored


SAVER = """
import os, sys, time
import pandas as pd
import simcontinuum

scenario, out, kind, nth, again = sys.argv[1:6]
nth = int(nth)
res = simcontinuum.run(scenario, "first-fit")
res.meta["generation"] = 0
if again == "yes":
    res.save(out)  # one complete save, then a second one over it is killed
    res.meta["generation"] = 1
seen = {"table": 0, "rename": 0}

def hook(what, original):
    def wrapped(*args, **kwargs):
        seen[what] += 1
        if what == kind and seen[what] == nth:
            print("paused", flush=True)  # the parent sends SIGKILL now
            time.sleep(3600)
        return original(*args, **kwargs)
    return wrapped

pd.DataFrame.to_parquet = hook("table", pd.DataFrame.to_parquet)
os.replace = hook("rename", os.replace)  # simcontinuum.io swaps folders with os.replace
res.save(out)
print("finished", flush=True)
"""

KILL_POINTS = [  # (what is paused before its n-th call, n, save once before?, loads as)
    ("table", 1, "no", None),  # first save: nothing written yet
    ("table", 4, "no", None),  # first save: three of six tables written
    ("rename", 1, "no", None),  # first save: every file written, not yet renamed into place
    ("table", 3, "yes", 0),  # second save: the first one is still in place
    ("rename", 2, "yes", None),  # second save: the old folder moved aside, the new not yet in
]


@pytest.mark.parametrize(
    ("kind", "nth", "again", "generation"),
    KILL_POINTS,
    ids=[
        "first-before-tables",
        "first-mid-tables",
        "first-before-rename",
        "second-mid-tables",
        "second-between-renames",
    ],
)
def test_sigkill_while_saving_never_leaves_a_folder_that_loads_as_complete(
    kind: str, nth: int, again: str, generation: int | None, tmp_path: Path
) -> None:
    """A process SIGKILLed at each step of ``Results.save`` leaves a folder that loads as one
    whole save, or none at all (ResultsError) — never a partial folder under the name."""
    scenario = tmp_path / "short.yaml"
    scenario.write_text(yaml.safe_dump({**LONG, "duration": "4s"}, sort_keys=False))
    out = tmp_path / "out"
    argv = [sys.executable, "-c", textwrap.dedent(SAVER), str(scenario), str(out)]
    proc = subprocess.Popen([*argv, kind, str(nth), again], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "paused\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    if generation is None:
        with pytest.raises(ResultsError, match="no such results folder"):
            Results.load(out)
    else:
        res = Results.load(out)
        assert res.meta["complete"] is True and res.meta["generation"] == generation
        assert len(res.requests) == res.meta["requests"] > 0
        assert all(len(getattr(res, t).columns) > 0 for t in TABLES)
    # what is left over is hidden (".out.*") and never taken for the results
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} <= {
        "short.yaml",
        "out",
    }
