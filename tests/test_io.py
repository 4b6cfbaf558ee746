"""One atomic write and one JSON conversion for the whole package (simcontinuum.io, .jsonutil)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simcontinuum.io import atomic_directory, atomic_path, atomic_write
from simcontinuum.jsonutil import dumps, jsonable


def _strict_loads(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_atomic_write_gives_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        target = atomic_write(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644
    assert atomic_write(tmp_path / "b", "x", mode=0o600).stat().st_mode & 0o777 == 0o600


def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "a.csv", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_concurrent_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Each writer has its own temporary name, so a reader always sees one whole version
    (with a fixed ``.tmp`` name two writers interleave into one file)."""
    target = tmp_path / "runs.json"
    seen: list[str] = []
    names: set[str] = set()
    barrier = threading.Barrier(8)

    def writer(i: int) -> None:
        barrier.wait()
        for _ in range(20):
            with atomic_path(target) as tmp:
                names.add(tmp.name)
                with open(tmp, "w") as fh:
                    for _ in range(50):
                        fh.write(str(i))
            seen.append(target.read_text())

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(names) == 8 * 20
    assert all(len(set(text)) == 1 and len(text) == 50 for text in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.json"]


def test_atomic_directory_swaps_whole_folders(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(KeyError), atomic_directory(target) as tmp:
        (tmp / "b").write_text("2")
        raise KeyError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_directory(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_jsonable_is_valid_json_only() -> None:
    value = {
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "minf": -np.inf,
        "i": np.int64(3),
        "b": np.bool_(True),
        "arr": np.array([1.0, np.nan]),
        "path": Path("a/b"),
        "set": {"y", "x"},
        (1, 2): (0.5,),
        "na": pd.NA,
        "nat": pd.NaT,
    }
    out = jsonable(value)
    assert out == {
        "nan": None,
        "inf": None,
        "minf": None,
        "i": 3,
        "b": True,
        "arr": [1.0, None],
        "path": "a/b",
        "set": ["x", "y"],
        "(1, 2)": [0.5],
        "na": None,
        "nat": None,
    }
    assert type(out["i"]) is int and type(out["b"]) is bool
    _strict_loads(dumps(value))
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_saved_results_are_strict_json(tmp_path: Path) -> None:
    """meta.json used to carry ``Infinity`` when a summary value was infinite."""
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy
    from simcontinuum.scenario import load_scenario

    scenario = load_scenario(Path(__file__).parents[1] / "scenarios" / "quickstart.yaml")
    results = Simulation(scenario, load_policy("first-fit"), telemetry=False).run()
    results.meta["reference"] = {"score": float("inf"), "p95_latency_s": float("nan")}
    out = results.save(tmp_path / "r")
    meta = _strict_loads((out / "meta.json").read_text())
    assert isinstance(meta, dict) and meta["reference"] == {"score": None, "p95_latency_s": None}
