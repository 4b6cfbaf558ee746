"""Fit a scenario's parameters to observed measurements, and say how close the fit is.

Observed series are mapped to the scenario by their labels and names — the names
``simcontinuum export`` writes, which follow the MLSysOps collector (:mod:`.targets`) — into
*statistics*: per node CPU utilisation, per application request rate and p95 latency, per
component mean service time and mean network time. Each fitted parameter is a multiplier of
what the scenario says, matched to one statistic over the scored window (after warm-up):

========== ============================================ =========================================
parameter  multiplies                                   matched to
========== ============================================ =========================================
``rates``  each application's arrival rates             its request rate
``work``   each component's work (mean, or values)      its mean service time per step; without
                                                        that series, one factor for every
                                                        component, to the busy nodes' mean
                                                        CPU utilisation
``latency`` every link's latency                        the components' mean network time
========== ============================================ =========================================

Each statistic depends (nearly) linearly on its multiplier, so the fit is a secant search per
parameter over a few simulations with the scenario's seed (:func:`calibrate`). Parameters the
data cannot identify stay as given and are named in :attr:`Calibration.not_fitted`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from simcontinuum.calibrate.targets import Stats, extract, long_frame
from simcontinuum.errors import SimContinuumError
from simcontinuum.scenario.units import parse_duration, parse_rate

if TYPE_CHECKING:
    from simcontinuum.model import Scenario
    from simcontinuum.results import Results

PARAMETERS = ("work", "rates", "latency")
KS_C_ALPHA = 1.358  # the two-sample Kolmogorov-Smirnov coefficient at alpha = 0.05
TOLERANCE = 0.05  # a fitted statistic within 5 % counts as matched


class CalibrationError(SimContinuumError):
    """Calibration cannot start (bad arguments, nothing to fit); the message says why."""


@dataclass
class Calibration:
    """What :func:`calibrate` found."""

    document: dict[str, Any]  # the fitted scenario document
    factors: dict[str, float]  # parameter key ("work:app/comp", "rates:app", "latency") -> x
    not_fitted: list[str]  # parameters left as given, each with why
    metrics: list[dict[str, Any]]  # per observed series: MAPE, mean error, points
    ks: list[dict[str, Any]]  # latency distributions: D, n, m, critical value
    notes: list[str]  # conflicts and caveats, in words
    iterations: int
    history: list[dict[str, float]] = field(default_factory=list)
    observed: Any = None  # the observed statistics' series (for figures)
    simulated: Any = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "factors": self.factors,
            "not_fitted": self.not_fitted,
            "metrics": self.metrics,
            "ks": self.ks,
            "notes": self.notes,
            "iterations": self.iterations,
            "history": self.history,
        }


# ---------------------------------------------------------------------------- the document


def _fmt_duration(seconds: float) -> str:
    return f"{seconds * 1000.0:.9g}ms"


def _fmt_rate(per_s: float) -> str:
    return f"{per_s:.9g}/s"


def apply_factors(doc: Mapping[str, Any], factors: Mapping[str, float]) -> dict[str, Any]:
    """A copy of scenario ``doc`` with every factor applied (see the module docstring)."""
    out = copy.deepcopy(dict(doc))
    for app in out.get("applications", []):
        for comp in app.get("components", []):
            f = factors.get(f"work:{app['id']}/{comp['id']}")
            work = comp.get("work")
            if f is None or not isinstance(work, dict):
                continue
            if work.get("mean") is not None:
                work["mean"] = _fmt_duration(parse_duration(work["mean"]) * f)
            if work.get("values"):
                work["values"] = [_fmt_duration(parse_duration(v) * f) for v in work["values"]]
    for src in out.get("workload", []):
        f = factors.get(f"rates:{src.get('app')}")
        arr = src.get("arrival") or {}
        if f is None:
            continue
        for key in ("rate", "mean_rate"):
            if arr.get(key) is not None:
                arr[key] = _fmt_rate(parse_rate(arr[key]) * f)
    f = factors.get("latency")
    if f is not None:
        for link in (out.get("infrastructure") or {}).get("links", []):
            if link.get("latency") is not None:
                link["latency"] = _fmt_duration(parse_duration(link["latency"]) * f)
    return out


def fittable(doc: Mapping[str, Any], scenario: Scenario) -> dict[str, list[str]]:
    """Per parameter, the keys the document lets us scale (and the why-nots)."""
    keys: dict[str, list[str]] = {"work": [], "rates": [], "latency": [], "why_not": []}
    for app in doc.get("applications", []):
        for comp in app.get("components", []):
            work = comp.get("work")
            if isinstance(work, dict) and (work.get("mean") is not None or work.get("values")):
                keys["work"].append(f"work:{app['id']}/{comp['id']}")
            else:
                keys["why_not"].append(
                    f"work {app['id']}/{comp['id']}: the scenario gives it no work mean to scale"
                )
    for a in scenario.applications:
        srcs = [s for s in doc.get("workload", []) if s.get("app") == a.id]
        arr = [s.get("arrival") or {} for s in srcs]
        if srcs and all(x.get("rate") is not None or x.get("mean_rate") is not None for x in arr):
            keys["rates"].append(f"rates:{a.id}")
        elif srcs:
            keys["why_not"].append(
                f"rates {a.id}: a trace arrival has no rate to scale (replace the trace)"
            )
    if any(lk.get("latency") for lk in (doc.get("infrastructure") or {}).get("links", [])):
        keys["latency"].append("latency")
    return keys


# ---------------------------------------------------------------------------- the fit


def _window(series: pd.Series, warmup: float) -> pd.Series:
    return series[series.index >= warmup]


def _targets_for(key: str, obs: Stats, warmup: float) -> tuple[str, Any] | None:
    """Which observed statistic a factor is matched to: (kind, stat key), or None."""
    kind, _, rest = key.partition(":")
    if kind == "rates" and rest in obs.requests:
        return "requests", rest
    if kind == "work":
        app, _, comp = rest.partition("/")
        if (app, comp) in obs.service:
            return "service", (app, comp)
        return None
    if kind == "latency" and any(
        _window(s, warmup).mean() > 0 for s in obs.network.values() if len(s)
    ):
        return "network", None
    return None


def _statistic(st: Stats, kind: str, key: Any, warmup: float, busy: Sequence[str] = ()) -> float:
    """A window mean: the request rate, mean service, pooled network time, or utilisation."""
    if kind == "requests":
        return float(_window(st.requests[key], warmup).mean())
    if kind == "service":
        return float(_window(st.service[key], warmup).mean())
    if kind == "network":
        vals = [_window(s, warmup) for s in st.network.values()]
        vals = [v for v in vals if len(v) and v.mean() > 0]
        return float(np.mean([v.mean() for v in vals])) if vals else math.nan
    if kind == "util":
        means = [float(_window(st.util[n], warmup).mean()) for n in busy if n in st.util]
        return float(np.mean(means)) if means else math.nan
    raise ValueError(kind)


class _Secant:
    """Solve ``y(x) = target`` for a positive ``x`` from successive evaluations."""

    def __init__(self, target: float) -> None:
        self.target = target
        self.seen: list[tuple[float, float]] = []

    def next(self, x: float, y: float) -> float:
        self.seen.append((x, y))
        if not (y > 0 and math.isfinite(y)):
            return x
        if len(self.seen) >= 2:
            (x0, y0), (x1, y1) = self.seen[-2], self.seen[-1]
            if abs(y1 - y0) > 1e-12 * max(abs(y1), 1e-12) and x1 != x0:
                guess = x1 + (self.target - y1) * (x1 - x0) / (y1 - y0)
                return float(min(max(guess, x1 / 4.0), x1 * 4.0))
        return x * self.target / y  # the first step: assume proportional

    def error(self) -> float:
        _x, y = self.seen[-1]
        return abs(y / self.target - 1.0) if self.target else 0.0


def calibrate(
    doc: Mapping[str, Any],
    scenario: Scenario,
    observed: pd.DataFrame,
    fit: Sequence[str],
    *,
    policy: str = "first-fit",
    start_epoch: float | None = None,
    max_iter: int = 8,
    progress: Callable[[int, int, str], None] | None = None,
    simulate: Callable[[dict[str, Any]], tuple[Results, Scenario]] | None = None,
) -> Calibration:
    """Fit the parameters named in ``fit`` to ``observed`` (see the module docstring).

    Args:
        doc: the scenario document (as parsed YAML) to scale.
        scenario: the same scenario, loaded (for names, warm-up, telemetry interval).
        observed: :func:`~simcontinuum.calibrate.observed.read_observed`'s table.
        fit: a subset of :data:`PARAMETERS`.
        policy: the policy the scenario runs under.
        start_epoch: the Unix time of simulated t=0 in ``observed`` (default: one telemetry
            interval before its first sample).
        max_iter: simulations at most.
        progress: called as ``progress(done, total, message)`` after each simulation.
        simulate: run a document (default: :func:`simcontinuum.run` with the scenario's seed).
    """
    bad = [p for p in fit if p not in PARAMETERS]
    if bad:
        raise CalibrationError(
            f"--fit: unknown parameter(s) {', '.join(bad)}; choose from {', '.join(PARAMETERS)}"
        )
    interval = scenario.telemetry.interval or 5.0
    if start_epoch is None:
        start_epoch = float(observed["t"].min()) - interval
    obs = extract(observed.assign(t=observed["t"] - start_epoch), scenario)
    if obs.empty():
        raise CalibrationError(
            "no observed series maps to this scenario: expected names like "
            "simcontinuum_node_cpu_utilisation_ratio{node=...}, node_cpu_seconds_total, "
            "simcontinuum_app_requests_total{app=...} (see docs/observability.md), with labels "
            "naming the scenario's nodes and applications"
        )
    warmup = scenario.warmup
    if simulate is None:
        simulate = _default_simulate(policy, scenario.seed)
    keys = fittable(doc, scenario)
    factors: dict[str, float] = {}
    solvers: dict[str, tuple[_Secant, str, Any]] = {}
    not_fitted = list(keys["why_not"])
    util_work: list[str] = []  # work factors fitted together, from utilisation
    for param in PARAMETERS:
        if param not in fit:
            not_fitted.append(f"{param}: not asked for (--fit {','.join(fit) or '-'})")
            continue
        for key in keys[param]:
            tgt = _targets_for(key, obs, warmup)
            if tgt is None:
                if param == "work":
                    util_work.append(key)
                    continue
                not_fitted.append(_why_not(key))
                continue
            target = _statistic(obs, tgt[0], tgt[1], warmup)
            if not (target > 0 and math.isfinite(target)):
                not_fitted.append(f"{key}: the observed statistic is zero or missing")
                continue
            factors[key] = 1.0
            solvers[key] = (_Secant(target), tgt[0], tgt[1])
        if param == "latency" and not keys["latency"]:
            not_fitted.append("latency: the scenario has no link latencies")
    busy = [n for n, s in obs.util.items() if len(s) and _window(s, warmup).mean() > 0.01]
    if util_work:
        if busy:
            target = _statistic(obs, "util", None, warmup, busy)
            for key in util_work:
                factors[key] = 1.0
            solvers["work:*"] = (_Secant(target), "util", None)
        else:
            not_fitted += [
                f"{k}: no service-time series for it and no busy node's CPU utilisation"
                for k in util_work
            ]
            util_work = []
    if not solvers:
        raise CalibrationError(
            "nothing to fit: " + "; ".join(not_fitted) if not_fitted else "nothing to fit"
        )
    history: list[dict[str, float]] = []
    results: Results | None = None
    fitted_scn: Scenario = scenario
    it = 0
    for it in range(1, max_iter + 1):
        current = apply_factors(doc, factors)
        results, fitted_scn = simulate(current)
        sim = extract(long_frame(results, fitted_scn), fitted_scn)
        worst = 0.0
        row = dict(factors)
        for key, (solver, kind, skey) in solvers.items():
            y = _statistic(sim, kind, skey, warmup, busy)
            x = factors[util_work[0]] if key == "work:*" else factors[key]
            new = solver.next(x, y)
            worst = max(worst, solver.error())
            if key == "work:*":
                for k in util_work:
                    factors[k] = new
            else:
                factors[key] = new
        history.append({**row, "worst_error": worst})
        if progress:
            progress(it, max_iter, f"worst statistic off by {worst:.2%}")
        if worst < 1e-3:
            break
        if it == max_iter:
            break
    else:  # pragma: no cover - the loop always breaks
        pass
    # the factors of the last simulation are the ones validated
    last = history[-1]
    final = {k: float(last[k]) for k in factors}
    assert results is not None
    sim = extract(long_frame(results, fitted_scn), fitted_scn)
    metrics = compare(obs, sim, warmup, interval)
    ks = ks_tests(obs, sim, warmup)
    notes = conflicts(metrics)
    if util_work:
        notes.append(
            "work was fitted as one factor for "
            + ", ".join(k[5:] for k in util_work)
            + " from the busy nodes' CPU utilisation (no per-component service-time series)"
        )
    if len(history) == max_iter and history[-1]["worst_error"] >= 1e-3:
        notes.append(
            f"the fit did not converge in {max_iter} simulations "
            f"(worst statistic off by {history[-1]['worst_error']:.2%})"
        )
    return Calibration(
        document=apply_factors(doc, final),
        factors=final,
        not_fitted=not_fitted,
        metrics=metrics,
        ks=ks,
        notes=notes,
        iterations=it,
        history=history,
        observed=obs,
        simulated=sim,
    )


def _why_not(key: str) -> str:
    kind, _, rest = key.partition(":")
    if kind == "latency":
        return (
            "latency: no observed series measures the network "
            "(simcontinuum_component_network_in_seconds_total / _steps_total), so link "
            "latency stays as given"
        )
    if kind == "rates":
        return f"rates {rest}: no request counter or rate for it (simcontinuum_app_requests_total)"
    return f"{key}: no series identifies it"


def _default_simulate(policy: str, seed: int) -> Callable[[dict[str, Any]], tuple[Any, Any]]:
    from simcontinuum.engine.simulation import Simulation
    from simcontinuum.policy.registry import load_policy
    from simcontinuum.scenario import load_scenario

    def run(document: dict[str, Any]) -> tuple[Any, Any]:
        scn = load_scenario(document, seed=seed)
        return Simulation(scn, load_policy(policy), seed=seed, telemetry=True).run(), scn

    return run


# ---------------------------------------------------------------------------- validation


def _aligned(o: pd.Series, s: pd.Series, warmup: float, interval: float) -> pd.DataFrame:
    a = o[o.index >= warmup].rename("obs")
    b = s[s.index >= warmup].rename("sim")
    a.index = np.round(a.index.to_numpy(float) / interval).astype(np.int64)
    b.index = np.round(b.index.to_numpy(float) / interval).astype(np.int64)
    a = a[~a.index.duplicated(keep="last")]
    b = b[~b.index.duplicated(keep="last")]
    return pd.concat([a, b], axis=1, join="inner").dropna()


def compare(obs: Stats, sim: Stats, warmup: float, interval: float) -> list[dict[str, Any]]:
    """Per observed statistic: MAPE over the aligned sample times and the window-mean error."""
    out = []
    for kind, unit in (
        ("util", "ratio"),
        ("p95", "s"),
        ("requests", "1/s"),
        ("service", "s"),
        ("network", "s"),
    ):
        o_all, s_all = getattr(obs, kind), getattr(sim, kind)
        for key, o in sorted(o_all.items(), key=lambda kv: str(kv[0])):
            s = s_all.get(key)
            name = key if isinstance(key, str) else "/".join(key)
            if s is None or not len(s):
                out.append(
                    {
                        "metric": kind,
                        "key": name,
                        "unit": unit,
                        "points": 0,
                        "mape": None,
                        "mean_error": None,
                        "note": "not simulated",
                    }
                )
                continue
            df = _aligned(o, s, warmup, interval)
            nz = df[df["obs"].abs() > 1e-12]
            mape = (
                float((nz["sim"] - nz["obs"]).abs().div(nz["obs"].abs()).mean())
                if len(nz)
                else None
            )
            om, sm = (
                float(df["obs"].mean()) if len(df) else math.nan,
                float(df["sim"].mean()) if len(df) else math.nan,
            )
            out.append(
                {
                    "metric": kind,
                    "key": name,
                    "unit": unit,
                    "points": len(df),
                    "observed_mean": om,
                    "simulated_mean": sm,
                    "mean_error": (sm / om - 1.0) if om else None,
                    "mape": mape,
                }
            )
    return out


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov distance ``sup |F_a - F_b|``."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def ks_tests(obs: Stats, sim: Stats, warmup: float) -> list[dict[str, Any]]:
    """KS distance of each latency distribution observed vs simulated, with its critical value.

    The distributions are of the per-interval p95 latencies of each application (what a
    metrics backend keeps), and of the per-interval mean service time of each component.
    """
    out = []
    for kind in ("p95", "service"):
        for key, o in getattr(obs, kind).items():
            s = getattr(sim, kind).get(key)
            if s is None:
                continue
            a = _window(o, warmup).dropna().to_numpy(float)
            b = _window(s, warmup).dropna().to_numpy(float)
            if len(a) < 2 or len(b) < 2:
                continue
            d = ks_distance(a, b)
            crit = KS_C_ALPHA * math.sqrt((len(a) + len(b)) / (len(a) * len(b)))
            out.append(
                {
                    "distribution": f"{kind} {key if isinstance(key, str) else '/'.join(key)}",
                    "D": d,
                    "n": len(a),
                    "m": len(b),
                    "critical_0.05": crit,
                    "rejected": bool(d > crit),
                }
            )
    return out


def conflicts(metrics: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where latency and utilisation are not both matched: both errors, in words."""

    def worst(kind: str) -> float | None:
        vals = [m["mape"] for m in metrics if m["metric"] == kind and m.get("mape") is not None]
        return max(vals) if vals else None

    lat, util = worst("p95"), worst("util")
    if lat is None or util is None:
        return []
    if (lat > TOLERANCE) != (util > TOLERANCE) or (lat > TOLERANCE and util > TOLERANCE):
        return [
            f"latency and CPU utilisation are not both matched by the model: p95 latency MAPE "
            f"{lat:.1%}, utilisation MAPE {util:.1%} (tolerance {TOLERANCE:.0%}); both are "
            "reported rather than traded off. A multi-threaded step (several cores per step) "
            "or a different queueing discipline may explain it; the simulator runs a step on "
            "one core"
        ]
    return []
