"""Run the reference performance benchmark: plain SimPy vs simcontinuum.

Every (case, engine, repeat) runs in a fresh subprocess, so peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, measured inside the child) is per run and one
run cannot warm caches for another. The child prints one ``BENCH_RESULT {json}`` line.

    python benchmarks/run.py                 # x1, x10, 10k (+ chain3, telemetry with the engine)
    python benchmarks/run.py --quick         # x1 and x10 with a 2 s horizon: under a minute
    python benchmarks/run.py --cases x1,chain3 --repeat 3 --json out.json

``make bench`` and ``make bench-quick`` call this script.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from reference import SCALES, reference_scenario, reference_topology_params  # noqa: E402

ENGINES = ("plain", "simcontinuum")
#: Rows of a table: the two engines, plus simcontinuum with telemetry switched off, which the
#: ``telemetry`` case runs as its baseline (the engine samples telemetry by default).
TELEMETRY_OFF = "simcontinuum-telemetry-off"
#: simcontinuum without the per-step timing table (``--steps-overhead`` adds this row).
STEPS_OFF = "simcontinuum-steps-off"
ROWS = ("plain", TELEMETRY_OFF, STEPS_OFF, "simcontinuum")
LABELS = {TELEMETRY_OFF: "simcontinuum, telemetry off", STEPS_OFF: "simcontinuum, steps off"}
MAIN_CASES = ("x1", "x10", "10k")
EXTRA_CASES = ("chain3", "telemetry")  # only run with the engine unless named in --cases
QUICK_CASES: tuple[tuple[str, float | None], ...] = (("x1", None), ("x10", 2.0))
#: The plain-SimPy run a case's "× plain" ratio uses (the plain model has no telemetry).
PLAIN_REFERENCE = {"telemetry": "x10"}
#: chain3 reports its wall time per request relative to x1 (same engine, same invocation).
COST_BASE = {"chain3": "x1"}
UNAVAILABLE = "simcontinuum.run not available yet"
RESULT_TAG = "BENCH_RESULT "


# ---------------------------------------------------------------------------- child side


def _peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, B on macOS)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def _import_simcontinuum() -> Any:
    """Import simcontinuum (installed, or from the repository checkout); None if unusable."""
    try:
        import simcontinuum
    except ImportError:
        sys.path.insert(0, str(REPO))
        try:
            import simcontinuum
        except ImportError:
            return None
    return simcontinuum


def _child_plain(case: str, seed: int, horizon_s: float | None) -> dict[str, Any]:
    from plain_simpy import run_plain

    c0 = time.process_time()
    params = reference_topology_params(case)
    if horizon_s is not None:
        params["horizon_s"] = horizon_s
    out = run_plain(params, seed=seed)
    out["cpu_total_s"] = time.process_time() - c0
    return out


def _child_simcontinuum(
    case: str,
    seed: int,
    horizon_s: float | None,
    telemetry_off: bool = False,
    steps_off: bool = False,
) -> dict[str, Any]:
    simcontinuum = _import_simcontinuum()
    run = getattr(simcontinuum, "run", None) if simcontinuum is not None else None
    if not callable(run):
        return {"skipped": UNAVAILABLE}
    kwargs: dict[str, Any] = {}
    if telemetry_off:
        if "telemetry" not in inspect.signature(run).parameters:
            return {"skipped": "simcontinuum.run has no telemetry switch"}
        kwargs["telemetry"] = False
    if steps_off:
        if "steps" not in inspect.signature(run).parameters:
            return {"skipped": "simcontinuum.run has no steps switch"}
        kwargs["steps"] = False
    t0, c0 = time.perf_counter(), time.process_time()
    scenario = reference_scenario(case, horizon_s=horizon_s)
    res = run(scenario, policy="first-fit", seed=seed, **kwargs)
    total_s, cpu_total_s = time.perf_counter() - t0, time.process_time() - c0
    df = res.requests
    meta = dict(getattr(res, "meta", {}) or {})
    status = df["status"].astype(str)
    ok = df.loc[status == "ok", "latency_s"]
    wall = meta.get("wall_s")
    return {
        "requests": len(df),
        "completed": int((status == "ok").sum()),
        "status_counts": {str(k): int(v) for k, v in status.value_counts().items()},
        "mean_latency_s": float(ok.mean()) if len(ok) else float("nan"),
        "p95_latency_s": float(ok.quantile(0.95)) if len(ok) else float("nan"),
        "wall_s": float(wall) if wall is not None else total_s,
        "wall_s_from_meta": wall is not None,
        "total_s": total_s,
        "cpu_total_s": cpu_total_s,
        "telemetry": not telemetry_off,
        "steps": not steps_off,
        "version": meta.get("simcontinuum_version"),
    }


def child_main(engine: str, case: str, seed: int, horizon_s: float | None) -> int:
    """Run one (engine, case) in this process and print the ``BENCH_RESULT`` line."""
    if engine == "plain":
        out = _child_plain(case, seed, horizon_s)
    else:
        out = _child_simcontinuum(
            case,
            seed,
            horizon_s,
            telemetry_off=engine == TELEMETRY_OFF,
            steps_off=engine == STEPS_OFF,
        )
    out["peak_rss_mib"] = _peak_rss_mib()
    print(RESULT_TAG + json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------------------- parent side


def run_child(engine: str, case: str, seed: int, horizon_s: float | None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its figures (or an error)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", engine, "--cases", case]
    cmd += ["--seed", str(seed)]
    if horizon_s is not None:
        cmd += ["--horizon", repr(horizon_s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result: dict[str, Any] = json.loads(line[len(RESULT_TAG) :])
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
    return {"error": f"exit code {proc.returncode}", "stderr_tail": tail}


def measure_case(
    case: str,
    engines: list[str],
    seed: int,
    horizon_s: float | None,
    repeat: int,
    console: Any,
) -> dict[str, dict[str, Any]]:
    """Best of ``repeat`` runs (by run wall time) per engine.

    The engines alternate within each repeat, so a burst of load from other processes hits
    both sides of a ratio alike. Every wall time is kept in ``walls_s``; a failed run is
    reported and the others still count (``errors`` counts the failures).
    """
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    last: dict[str, dict[str, Any]] = {}
    skipped: set[str] = set()
    for i in range(repeat):
        for engine in engines:
            if engine in skipped:
                continue
            label = f"[dim]{case:>9} {engine:<26} run {i + 1}/{repeat} …[/dim]"
            console.print(label, end=" ")
            r = run_child(engine, case, seed, horizon_s)
            if "skipped" in r or "error" in r:
                console.print(f"[yellow]{r.get('skipped') or r.get('error')}[/yellow]")
                if "stderr_tail" in r:
                    console.print("\n".join(r["stderr_tail"]), markup=False, highlight=False)
                last[engine] = r
                if "skipped" in r:
                    skipped.add(engine)
                continue
            console.print(f"{r['wall_s']:.2f} s (CPU {r.get('cpu_total_s', 0.0):.2f} s total)")
            runs[engine].append(r)
    out: dict[str, dict[str, Any]] = {}
    for engine in engines:
        ok_runs = runs[engine]
        if not ok_runs:
            out[engine] = last.get(engine, {"error": "no run"})
            continue
        best = dict(min(ok_runs, key=lambda r: r["wall_s"]))
        best["walls_s"] = [r["wall_s"] for r in ok_runs]
        best["runs"] = len(ok_runs)
        best["errors"] = repeat - len(ok_runs)
        best["requests_per_s"] = best["requests"] / best["wall_s"] if best["wall_s"] > 0 else None
        out[engine] = best
    return out


def _fmt(x: Any, spec: str) -> str:
    return "–" if x is None or (isinstance(x, float) and x != x) else format(x, spec)


def print_case(console: Any, case: str, entry: dict[str, Any]) -> None:
    """One rich table for a case."""
    from rich.table import Table

    horizon = entry["horizon_s"]
    table = Table(title=f"case {case} (horizon {horizon:g} s, seed {entry['seed']})")
    table.add_column("engine", no_wrap=True)
    for col in ("requests", "wall s (run)", "wall s (total)", "requests/s"):
        table.add_column(col, justify="right")
    for col in ("CPU s (total)", "peak RSS MiB", "mean latency ms", "× plain"):
        table.add_column(col, justify="right")
    table.add_column("vs base", no_wrap=True)
    for engine in ROWS:
        r = entry.get(engine)
        if r is None:
            continue
        if "skipped" in r or "error" in r:
            msg = r.get("skipped") or r.get("error")
            table.add_row(LABELS.get(engine, engine), f"[yellow]{msg}[/yellow]", *[""] * 8)
            continue
        mean_ms = r["mean_latency_s"] * 1000.0 if r.get("mean_latency_s") is not None else None
        table.add_row(
            LABELS.get(engine, engine),
            f"{r['requests']:,}",
            _fmt(r["wall_s"], ".2f"),
            _fmt(r["total_s"], ".2f"),
            _fmt(r.get("requests_per_s"), ",.0f"),
            _fmt(r.get("cpu_total_s"), ".2f"),
            _fmt(r["peak_rss_mib"], ".0f"),
            _fmt(mean_ms, ".2f"),
            _fmt(r.get("ratio_to_plain"), ".2f"),
            r.get("vs_base", ""),
        )
    console.print(table)


def derive(results: dict[str, dict[str, Any]]) -> None:
    """Add ratios: requests/s to the plain model; chain3 and telemetry relative to a base."""

    def ok(r: dict[str, Any] | None) -> bool:
        return bool(r) and "requests_per_s" in r and bool(r["requests_per_s"])

    for case, entry in results.items():
        plain = results.get(PLAIN_REFERENCE.get(case, case), {}).get("plain")
        for engine in ROWS:
            r = entry.get(engine)
            if r is None or not ok(r):
                continue
            if ok(plain):
                r["ratio_to_plain"] = r["requests_per_s"] / plain["requests_per_s"]  # type: ignore[index]
            base_case = COST_BASE.get(case)
            base = results.get(base_case, {}).get(engine) if base_case else None
            if base_case and ok(base):
                cost = (r["wall_s"] / r["requests"]) / (base["wall_s"] / base["requests"])  # type: ignore[index]
                r["cost_per_request_vs_base"] = cost
                r["vs_base"] = f"cost/req ×{cost:.2f} vs {base_case}"
            off = entry.get(TELEMETRY_OFF)
            if engine == "simcontinuum" and case == "telemetry" and ok(off):
                over = r["wall_s"] / off["wall_s"] - 1.0  # type: ignore[index]
                r["telemetry_overhead"] = over
                r["vs_base"] = f"{over:+.1%} wall vs telemetry off"
            no_steps = entry.get(STEPS_OFF)
            if engine == "simcontinuum" and ok(no_steps):
                over = r["wall_s"] / no_steps["wall_s"] - 1.0  # type: ignore[index]
                r["steps_overhead"] = over
                r["vs_base"] = f"{over:+.1%} wall vs steps off"


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for mod in ("simpy", "numpy", "networkx", "pandas"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - informative only
            out[mod] = "?"
    return out


def _git_rev() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=str(REPO),
            check=False,
        )
    except OSError:
        return None
    return proc.stdout.strip() or None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="simcontinuum reference performance benchmark")
    parser.add_argument("--quick", action="store_true", help="x1 and x10 at 2 s: under a minute")
    parser.add_argument(
        "--cases",
        default=None,
        help=f"comma-separated cases from {', '.join(SCALES)} (default: all)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="take the best of N runs")
    parser.add_argument("--horizon", type=float, default=None, help="override every horizon (s)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated: plain,simcontinuum"
    )
    parser.add_argument(
        "--steps-overhead",
        action="store_true",
        help="also run every case without the per-step timing table and report the overhead",
    )
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"), help="output")
    parser.add_argument("--child", choices=ROWS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the cases, print tables, write the JSON file."""
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.cases, args.seed, args.horizon)

    from rich.console import Console

    console = Console() if sys.stdout.isatty() else Console(width=150)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := [e for e in engines if e not in ENGINES]:
        raise SystemExit(f"unknown engine(s) {unknown}; expected {ENGINES}")
    engine_ok = callable(getattr(_import_simcontinuum(), "run", None))
    if "simcontinuum" in engines and not engine_ok:
        console.print(f"[yellow]{UNAVAILABLE}: measuring the plain-SimPy model only[/yellow]")

    plan: list[tuple[str, float | None]]
    if args.cases:
        names = [c.strip() for c in args.cases.split(",") if c.strip()]
        if bad := [c for c in names if c not in SCALES]:
            raise SystemExit(f"unknown case(s) {bad}; expected {', '.join(SCALES)}")
        quick_h = dict(QUICK_CASES)
        plan = [(c, quick_h.get(c) if args.quick else None) for c in names]
    elif args.quick:
        plan = list(QUICK_CASES)
    else:
        plan = [(c, None) for c in MAIN_CASES]
        if engine_ok and "simcontinuum" in engines:
            plan += [(c, None) for c in EXTRA_CASES]
    if args.horizon is not None:
        plan = [(c, args.horizon) for c, _ in plan]

    results: dict[str, dict[str, Any]] = {}
    t_start = time.perf_counter()
    for case, horizon in plan:
        horizon_s = horizon if horizon is not None else reference_topology_params(case)["horizon_s"]
        entry: dict[str, Any] = {"horizon_s": horizon_s, "seed": args.seed}
        rows = list(engines)
        if case in PLAIN_REFERENCE:  # the plain model has no telemetry: its x10 run is the floor
            rows = [TELEMETRY_OFF, "simcontinuum"] if "simcontinuum" in engines else []
        if args.steps_overhead and "simcontinuum" in rows:
            rows.insert(rows.index("simcontinuum"), STEPS_OFF)
        if not engine_ok:
            entry.update({e: {"skipped": UNAVAILABLE} for e in rows if e != "plain"})
            rows = [e for e in rows if e == "plain"]
        entry.update(measure_case(case, rows, args.seed, horizon, args.repeat, console))
        results[case] = entry
    derive(results)
    for case, entry in results.items():
        print_case(console, case, entry)
    console.print(f"[dim]total benchmark time {time.perf_counter() - t_start:.1f} s[/dim]")

    doc = {
        "meta": {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv,
            "quick": args.quick,
            "seed": args.seed,
            "repeat": args.repeat,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "versions": _versions(),
            "git_rev": _git_rev(),
            "engine_available": engine_ok,
        },
        "cases": results,
    }
    out = Path(args.json)
    text = json.dumps(doc, indent=2, default=str) + "\n"
    try:  # the package's one atomic write; the pure-SimPy floor also runs without it
        from simcontinuum.io import atomic_write
    except ImportError:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    else:
        atomic_write(out, text)
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
