"""The policy worker starts light: no pandas, no engine, no registry for a submission class.

A worker is started for every submission (and again after a kill), so its imports are part of
the boundary's cost per run (``benchmarks/boundary.py``). These tests run a real worker (no
sandbox: what is measured is the interpreter's module table, not the isolation) through a
short simulation of an adaptive policy, so that ``place`` and ``plan`` with delivered
telemetry both cross, and then read which modules the worker had imported.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from simcontinuum.boundary.isolation import Isolation
from simcontinuum.boundary.proxy import Program, RemotePolicy, Submission
from simcontinuum.engine.simulation import Simulation
from simcontinuum.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

# what the worker must not import for a policy that does not import them itself
HEAVY = (
    "pandas",
    "simpy",
    "matplotlib",
    "simcontinuum.engine.traffic",
    "simcontinuum.results",
    "simcontinuum.policy.registry",
    "simcontinuum.k8s.policy",
    "simcontinuum.boundary.evaluate",
)

# the worker's own entry point, writing its module table after every reply (the organizer
# stops a worker with a signal, so there is no exit hook to rely on)
PROBE = (
    "import sys\n"
    "report_path = sys.argv.pop(1)\n"
    "import simcontinuum.boundary.worker as w\n"
    "send = w._send\n"
    "def _send(out, msg):\n"
    "    with open(report_path, 'w') as f:\n"
    "        f.write('\\n'.join(sorted(sys.modules)))\n"
    "    send(out, msg)\n"
    "w._send = _send\n"
    "raise SystemExit(w.main())\n"
)


def _modules_after_run(tmp_path: Path, policy_source: str) -> set[str]:
    team = tmp_path / "team.py"
    team.write_text(policy_source)
    report = tmp_path / "modules.txt"
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    program = Program(
        (os.path.abspath(sys.executable), "-s", str(probe), str(report), str(team)),
        tmp_path,
        "team.py",
    )
    scenario = load_scenario(ROOT / "scenarios" / "hackathon.yaml")
    scenario = replace(scenario, duration=60.0, warmup=0.0)
    with Submission(program, Isolation("none")) as sub:
        policy = RemotePolicy(sub, scenario.control.policy_timeout)
        results = Simulation(scenario, policy, seed=3).run()
    assert results.meta["policy_errors"] == 0
    return set(report.read_text().split())


@pytest.mark.parametrize(
    ("source", "used"),
    [
        (
            "from simcontinuum.policy.builtins import FirstFit\n\n"
            "class Team(FirstFit):\n    pass\n",
            "simcontinuum.boundary.views",  # it decoded views
        ),
        (
            "from simcontinuum.policy.adaptive import ThresholdAutoscaler\n\n"
            "class Team(ThresholdAutoscaler):\n    pass\n",
            "simcontinuum.engine.telemetry",  # plan() read delivered telemetry
        ),
    ],
    ids=["first-fit", "threshold-autoscaler"],
)
def test_worker_imports_only_what_the_policy_needs(tmp_path: Path, source: str, used: str) -> None:
    modules = _modules_after_run(tmp_path, source)
    assert used in modules
    heavy = sorted(m for m in HEAVY if m in modules)
    assert heavy == [], f"the worker imported {heavy}: import them lazily (see module doc)"


@pytest.mark.parametrize("package", ["simcontinuum.policy", "simcontinuum.boundary"])
def test_lazy_packages_still_give_every_name(package: str) -> None:
    import importlib

    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None, name
    assert set(pkg.__all__) <= set(dir(pkg))
    assert getattr(pkg, "api" if package.endswith("policy") else "protocol").__name__.startswith(
        package
    )
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = pkg.no_such_name


def test_a_worker_started_ahead_imports_the_submission_only_at_its_turn(tmp_path: Path) -> None:
    """prepare_submission starts the sandbox and the interpreter early; the team's own code
    runs only at its first call, and its wall-clock budget starts then, not at the spawn."""
    import time

    from simcontinuum.boundary import EvalLimits, IsolationError, evaluate_submission, probe
    from simcontinuum.boundary.evaluate import prepare_submission

    try:
        iso = probe()
    except IsolationError:
        iso = Isolation("none")
    team = tmp_path / "team.py"
    team.write_text(
        "import time\n"
        "from simcontinuum.policy.builtins import FirstFit\n"
        "IMPORTED_AT = time.monotonic()  # CLOCK_MONOTONIC: the same clock inside the sandbox\n"
        "class Team(FirstFit):\n"
        "    def place(self, app, view):\n"
        "        raise RuntimeError(f'imported at {IMPORTED_AT!r}')\n"
    )
    scenario = replace(load_scenario(ROOT / "scenarios" / "quickstart.yaml"), duration=5.0)
    limits = EvalLimits(wall_s=2.0)
    prepared = prepare_submission(team, limits, iso)
    assert prepared is not None and prepared.worker is not None  # running already
    time.sleep(2.5)  # longer than the budget: waiting for its turn does not count
    turn = time.monotonic()
    rows = evaluate_submission(
        team, [("s1", scenario)], [1], limits, iso, staged=True, strict=True, prepared=prepared
    )
    assert rows[0]["status"] == "failed"
    reason = str(rows[0]["reason"])
    assert "wall-clock" not in reason, reason
    imported_at = float(reason.split("imported at ")[1].split()[0].rstrip(")"))
    assert imported_at >= turn, (imported_at, turn)
    assert prepared.starts == 1  # the worker spawned ahead is the one that ran
