"""The competition server's evaluations on a Dask cluster (``--executor dask --address``),
through the same executor interface as ``bench``: a real scheduler and worker on loopback,
started here. Skipped where Dask is not installed (``pip install 'simcontinuum[dask]'``)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

pytest.importorskip(
    "distributed",
    reason="Dask is not installed: pip install 'simcontinuum[dask]' (in the dev extra)",
)
pytest.importorskip("starlette", reason="the serve extra is not installed")

from serve_support import (
    FIRST_FIT,
    SECRET,
    cli,
    server,
    token_of,
    upload,
    wait_done,
    write_competition,
)


def test_evaluations_on_a_dask_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    from simcontinuum.experiment.leaderboard import strip_paths
    from simcontinuum.scenario import load_scenario
    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.evaluate import EvalLimits, evaluate

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    cli("serve", str(path), "--create")
    token = token_of(cli("serve", str(path), "--add-team", "alpha").stdout)
    cli("serve", str(path), "--open", "public")
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        server(path, "--executor", "dask", "--address", cluster.scheduler_address) as srv,
    ):
        for name in ("a.py", "b.py"):
            assert upload(srv.url, token, name, FIRST_FIT)[0] == 202
        jobs = wait_done(srv.url, token, 2)
        log = srv.log.read_text()
    assert [j["state"] for j in jobs] == ["scored", "scored"], jobs
    assert "dask executor, 2 worker(s)" in log
    # the same numbers as an evaluation in this process
    comp = load_competition(path)
    phase = comp.phase("public")
    scenarios = [(phase.labels[0], strip_paths(load_scenario(phase.files[0])))]
    rows = evaluate(
        textwrap.dedent(FIRST_FIT).encode(),
        scenarios,
        comp.seeds("public"),
        EvalLimits(wall_s=120, cpu_s=30, memory_mib=1024),
    )
    expected = math.fsum(r["score"] for r in rows) / len(rows)
    assert all(j["score"] == pytest.approx(expected, rel=1e-12) for j in jobs)
