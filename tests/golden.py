"""Behaviour pins: a digest of every result table for every shipped scenario × built-in policy.

A refactor that keeps behaviour keeps every digest. The digests were generated from the code
before the architecture refactor (issue 12); a change that is meant to change behaviour (a bug
fix) regenerates them and says which cases changed and why in its commit message::

    .venv/bin/python tests/golden.py            # compare, print the cases that differ
    .venv/bin/python tests/golden.py --write    # regenerate tests/data/golden_digests.json

Each scenario runs seed 0 on a shortened horizon (:data:`HORIZONS`) so the whole matrix stays
inside a few tens of seconds; the horizons still cover an application arrival, a scripted
failure (smart-city at 120 s) and every policy's control loop.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DIGESTS = HERE / "data" / "golden_digests.json"
SCENARIOS = REPO / "scenarios"
MLSYSOPS = SCENARIOS / "mlsysops-hackathon"
#: Shortened horizons (seconds) per shipped scenario.
HORIZONS = {"quickstart": 40.0, "hackathon": 100.0, "smart-city": 125.0, "mlsysops-hackathon": 60.0}
#: The MLSysOps policy file shipped with its scenario, run as one more "policy" there.
MLSYSOPS_POLICY = "policy-latencyMover.py"
TABLE_NAMES = ("requests", "telemetry", "actions", "replicas", "cost", "events")
#: meta keys that depend on the machine or the clock, not on the simulation.
VOLATILE_META = frozenset({"wall_s", "decision_s", "python", "scenario_path"})


def load_shipped(name: str) -> Any:
    """The shipped scenario ``name`` on its shortened horizon."""
    import simcontinuum

    if name == "mlsysops-hackathon":
        from simcontinuum.mlsysops import load_descriptions

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_descriptions(MLSYSOPS / "descriptions", MLSYSOPS / "overlay.yaml")
    else:
        sc = simcontinuum.load(SCENARIOS / f"{name}.yaml")
    return replace(sc, duration=HORIZONS[name])


def cases() -> list[tuple[str, str]]:
    """Every (scenario, policy) pair that is pinned."""
    from simcontinuum.policy.registry import available_policies

    out = [(s, p) for s in HORIZONS for p in sorted(available_policies())]
    out.append(("mlsysops-hackathon", MLSYSOPS_POLICY))
    return out


def make_policy(policy: str) -> Any:
    from simcontinuum.policy.registry import load_policy

    if policy == MLSYSOPS_POLICY:
        from simcontinuum.mlsysops import load_policy_file

        return load_policy_file(MLSYSOPS / MLSYSOPS_POLICY)
    return load_policy(policy)


def table_digest(df: pd.DataFrame) -> str:
    """sha256 over column names, dtypes, length and every value (stable across runs)."""
    h = hashlib.sha256()
    h.update(json.dumps([list(map(str, df.columns)), [str(t) for t in df.dtypes]]).encode())
    h.update(str(len(df)).encode())
    for col in df.columns:
        h.update(pd.util.hash_pandas_object(df[col], index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _canon(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canon(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_canon(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float):
        return "nan" if math.isnan(obj) else repr(obj)
    return obj


def json_digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_canon(obj), sort_keys=True).encode()).hexdigest()[:16]


def digest_case(scenario: str, policy: str) -> dict[str, Any]:
    """Run one case with seed 0 and digest every table, the summary and the meta."""
    from simcontinuum.engine.simulation import Simulation

    res = Simulation(load_shipped(scenario), make_policy(policy), seed=0).run()
    out: dict[str, Any] = {name: table_digest(getattr(res, name)) for name in TABLE_NAMES}
    out["summary"] = json_digest(res.summary())
    meta = {k: v for k, v in res.meta.items() if k not in VOLATILE_META and k != "events"}
    out["meta"] = json_digest(meta)
    out["events"] = int(res.meta["events"])
    out["requests_n"] = len(res.requests)
    return out


def key(scenario: str, policy: str) -> str:
    return f"{scenario}/{policy}"


def load_digests() -> dict[str, dict[str, Any]]:
    return json.loads(DIGESTS.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate the digests file")
    args = ap.parse_args(argv)
    got = {key(s, p): digest_case(s, p) for s, p in cases()}
    if args.write:
        DIGESTS.parent.mkdir(parents=True, exist_ok=True)
        DIGESTS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(got)} cases to {DIGESTS}")
        return 0
    want = load_digests()
    bad = 0
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            bad += 1
            diff = {
                f: (want.get(k, {}).get(f), got.get(k, {}).get(f))
                for f in sorted(set(got.get(k, {})) | set(want.get(k, {})))
                if got.get(k, {}).get(f) != want.get(k, {}).get(f)
            }
            print(f"{k}: {diff}")
    print(f"{len(got) - bad}/{len(got)} cases identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
