"""Nothing a policy does wrong is silent: the decisions block, --strict on rejections,
policy-frame tracebacks, telemetry reads that name a typo, check-policy and metrics."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import simcontinuum
from simcontinuum.cli import Exit, main
from simcontinuum.engine.metric_catalog import METRIC_NAMES, METRICS
from simcontinuum.errors import TelemetryError
from simcontinuum.metrics.decisions import decisions
from simcontinuum.policy.check import check_policy, explain

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "scenarios" / "quickstart.yaml")
HACK = str(ROOT / "scenarios" / "hackathon.yaml")

POLICIES = textwrap.dedent(
    """\
    from simcontinuum.policy import Deploy

    class BadNode:
        name = "bad-node"

        def place(self, app, view):
            return {c.id: ["edg-0"] for c in app.components}

    class Raises:
        def place(self, app, view):
            return self.helper(app)

        def helper(self, app):
            raise ValueError(f"no room for {app.id}")

    class BreaksPin:
        def place(self, app, view):
            return {c.id: ["group1-node2"] for c in app.components}

    class TypoTelemetry:
        def place(self, app, view):
            return {"detector": ["group1-node1"], "classifier": ["group1-node2"]}

        def plan(self, view, telemetry):
            telemetry.value("app_p95_latency_s", "camera-pipeline")
            return []

    class TypoId(TypoTelemetry):
        def plan(self, view, telemetry):
            telemetry.value("app_latency_p95_seconds", "camera-pipline")
            return []
    """
)


@pytest.fixture
def pol(tmp_path: Path) -> Path:
    path = tmp_path / "pols.py"
    path.write_text(POLICIES)
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_node_is_printed_and_strict_stops(
    pol: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "run", QUICK, "--policy", f"{pol}:BadNode", "--quiet")
    assert code == Exit.OK
    assert "policy decisions: 0 applied, 6 rejected, 0 errors" in err
    assert "unknown node 'edg-0'; did you mean 'edge-0'?" in err
    code, _, err = cli(capsys, "run", QUICK, "--policy", f"{pol}:BadNode", "--strict")
    assert code == Exit.BAD_INPUT
    assert "rejected a decision of place() (--strict)" in err
    assert "did you mean 'edge-0'" in err and "Traceback" not in err


def test_clean_run_prints_the_block_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", QUICK, "--quiet")
    assert code == Exit.OK
    assert "policy decisions: " in out and "0 rejected, 0 errors" in out
    assert "policy decisions" not in err


def test_exception_shows_the_policys_own_frames(
    pol: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "run", QUICK, "--policy", f"{pol}:Raises", "--quiet")
    assert code == Exit.OK
    assert "2 errors" in err
    assert f"ValueError: no room for video (at {pol}:14 in helper)" in err
    assert "first exception:" in err
    assert f'File "{pol}", line 11, in place' in err
    assert 'raise ValueError(f"no room for {app.id}")' in err
    assert "simcontinuum/engine" not in err and "control.py" not in err


def test_a_broken_pin_is_printed(pol: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", HACK, "--policy", f"{pol}:BreaksPin", "--quiet")
    assert code == Exit.OK
    assert "camera-pipeline/detector on 'group1-node2': component is pinned to node" in err


def test_telemetry_typo_names_the_metric(pol: Path) -> None:
    res = simcontinuum.run(HACK, policy=f"{pol}:TypoTelemetry")
    errors = res.actions[res.actions.outcome == "error"]
    assert len(errors) > 0
    reason = errors.reason.iloc[0]
    assert "unknown telemetry metric 'app_p95_latency_s'" in reason
    assert "did you mean 'app_latency_p95_seconds'?" in reason
    assert "in plan)" in reason  # where in the policy


def test_telemetry_typo_names_the_id(pol: Path) -> None:
    res = simcontinuum.run(HACK, policy=f"{pol}:TypoId")
    reason = res.actions[res.actions.outcome == "error"].reason.iloc[0]
    assert "unknown telemetry app id 'camera-pipline'; did you mean 'camera-pipeline'?" in reason


def test_telemetry_value_reads_and_checks_kinds() -> None:
    seen: dict[str, object] = {}

    class Reader:
        def place(self, app, view):  # type: ignore[no-untyped-def]
            return {"detector": ["group1-node1"], "classifier": ["group1-node2"]}

        def plan(self, view, telemetry):  # type: ignore[no-untyped-def]
            seen["util"] = telemetry.value("node_cpu_utilisation", "group1-node1")
            seen["comp"] = telemetry.value("component_replicas", "camera-pipeline/classifier")
            try:
                telemetry.value("node_cpu_utilisation", "camera-pipeline")
            except TelemetryError as exc:
                seen["kind"] = str(exc)
            return []

    simcontinuum.run(HACK, policy=Reader(), seed=1)
    assert isinstance(seen["util"], float) and 0.0 <= seen["util"] <= 1.0
    assert seen["comp"] == 1.0
    assert "sampled per node, but 'camera-pipeline' is a app id" in str(seen["kind"])


def test_catalog_is_what_the_sampler_emits() -> None:
    res = simcontinuum.run(HACK, policy="first-fit", seed=1)
    emitted = set(res.telemetry.metric.astype(str))
    assert emitted == set(METRIC_NAMES)
    for m in METRICS:
        assert m.kind in ("node", "app", "component") and m.unit and m.when and m.help


def test_metrics_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "metrics", "--json")
    assert code == 0
    names = {m["name"] for m in json.loads(out)}
    assert names >= METRIC_NAMES
    code, out, _ = cli(capsys, "metrics", "--kind", "node")
    assert code == 0 and "node_cpu_utilisation" in out and "app_request_rate" not in out


def test_check_policy_command_explains(pol: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "check-policy", QUICK, f"{pol}:BadNode")
    assert code == 1
    assert "problem: app 'video': component 'detector': unknown node 'edg-0'" in out
    assert "-> node ids are the keys of view.nodes" in out
    assert "3 problems" in err
    code, out, _ = cli(capsys, "check-policy", HACK, "examples/my_policy.py:NearestWithRoom")
    assert code == 0 and "conforms" in out
    code, _, err = cli(capsys, "check-policy", QUICK, "frist-fit")
    assert code == Exit.BAD_INPUT and "first-fit" in err
    code, _, err = cli(capsys, "check-policy", "no/such.yaml", "first-fit")
    assert code == Exit.BAD_INPUT and "no/such.yaml" in err


def test_check_policy_accepts_paths(pol: Path) -> None:
    findings = check_policy(f"{pol}:Raises", Path(QUICK))
    assert findings and all("place raised ValueError" in f for f in findings)
    assert f"(at {pol}:14 in helper)" in findings[0]
    assert explain(findings[0])
    assert check_policy(ROOT / "examples" / "my_policy.py", Path(HACK)) == []  # one class
    assert check_policy("first-fit", QUICK) == []


def test_decisions_of_a_saved_run_round_trip(pol: Path, tmp_path: Path) -> None:
    res = simcontinuum.run(QUICK, policy=f"{pol}:Raises")
    res.save(tmp_path / "run")
    again = simcontinuum.results.Results.load(tmp_path / "run")
    d = decisions(again.actions, again.meta)
    assert (d.errors, d.rejected) == (2, 3)
    assert d.first_error is not None and "helper" in d.first_error


def test_latest_equals_the_pivot_of_the_delivered_window() -> None:
    """The incremental index answers as a pandas pivot of the delivered samples would."""
    import pandas as pd

    checked = []

    class Compare:
        def place(self, app, view):  # type: ignore[no-untyped-def]
            return {"detector": ["group1-node1"], "classifier": ["group1-node2"]}

        def plan(self, view, telemetry):  # type: ignore[no-untyped-def]
            table = telemetry.latest()
            df = telemetry.window(10 * 5.0)
            df = df.sort_values("time_s").groupby(["kind", "id", "metric"], sort=False).tail(1)
            wide = df.pivot_table(
                index=["kind", "id"], columns="metric", values="value", aggfunc="last"
            )
            wide["time_s"] = df.groupby(["kind", "id"])["time_s"].max()
            want = wide.reset_index()
            want.columns.name = None
            got = table.frame()
            pd.testing.assert_frame_equal(got, want, check_dtype=False)
            rec = {(r["kind"], r["id"]): r for r in table.to_dict("records")}
            assert rec[("node", "group1-node1")]["node_up"] == 1.0
            assert table.get("node", "group1-node1")["node_up"] == 1.0
            checked.append(view.now)
            return []

    simcontinuum.run(HACK, policy=Compare(), seed=2, strict=True)  # a failed assert stops it
    assert len(checked) >= 25
