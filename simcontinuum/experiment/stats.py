"""Statistics of a sweep: means with Student-t confidence intervals, rankings, paired tests.

Pure functions from DataFrames to DataFrames. The t quantile is computed here (regularised
incomplete beta by continued fraction, then bisection) so scipy is not a dependency.

Conventions: lower scores are better; a confidence interval over ``n`` values is
``mean ± t(1 - α/2, n - 1) · s / √n`` with the sample standard deviation ``s`` (NaN when
``n < 2``); only runs with ``status == "ok"`` enter the statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from simcontinuum.metrics.score import SCORE_PARTS

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("score", *SCORE_PARTS)
"""What the bench table summarises: the score and each of its parts."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b).

    >>> round(betainc(2.0, 3.0, 0.4), 6)  # 1 - (0.6**4 + 4*0.4*0.6**3) = 0.5248
    0.5248
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom.

    >>> t_cdf(0.0, 5)
    0.5
    """
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom.

    >>> [round(t_quantile(0.975, df), 4) for df in (1, 4, 10, 30)]
    [12.7062, 2.7764, 2.2281, 2.0423]
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its two-sided Student-t confidence interval.

    NaN values are ignored; with fewer than two values the interval is ``(nan, nan)``.

    >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> m, round(hi - m, 4)                     # t(0.975, 4) * sqrt(2.5) / sqrt(5)
    (3.0, 1.9632)
    """
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = math.fsum(xs) / n
    if n < 2:
        return (mean, math.nan, math.nan)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * math.sqrt(var / n)
    return (mean, mean - half, mean + half)


def clip_low(low: float, floor: float = 0.0) -> float:
    """A confidence bound clipped to the range of a quantity that cannot go below
    ``floor`` (a score, a cost, a rate): a Student-t interval is symmetric and would
    otherwise reach below 0 for a skewed, non-negative quantity. NaN stays NaN.

    >>> clip_low(-0.4), clip_low(1.5), clip_low(float("nan")) != clip_low(float("nan"))
    (0.0, 1.5, True)
    """
    return low if math.isnan(low) else max(low, floor)


def _metric_column(runs: pd.DataFrame, metric: str) -> pd.Series:
    """The score, or a part of it as scored (``part_<name>``: p95 is the horizon when no
    request succeeded), falling back to the plain summary column."""
    if metric != "score" and f"part_{metric}" in runs:
        return runs[f"part_{metric}"].astype(float)
    return runs[metric].astype(float)


def ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that finished (``status == "ok"``)."""
    return runs[runs["status"] == "ok"]


def bench_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (policy, scenario): ``n`` (ok runs), ``errors``, and for the score and each
    part ``<metric>_mean``, ``<metric>_ci_low``, ``<metric>_ci_high``. Rows keep the order in
    which policies and scenarios first appear in ``runs``."""
    import pandas as pd

    rows = []
    for (policy, scenario), group in runs.groupby(["policy", "scenario"], sort=False):
        ok = ok_runs(group)
        row: dict[str, object] = {
            "policy": policy,
            "scenario": scenario,
            "n": len(ok),
            "errors": len(group) - len(ok),
        }
        for metric in METRICS:
            mean, low, high = mean_ci(_metric_column(ok, metric).tolist(), confidence)
            low = clip_low(low)  # the score and its parts are never negative
            row[f"{metric}_mean"] = mean
            row[f"{metric}_ci_low"] = low
            row[f"{metric}_ci_high"] = high
        rows.append(row)
    return pd.DataFrame(rows)


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Overall ranking from a :func:`bench_table`: per scenario, policies are ranked by mean
    score (1 = best, ties share the average rank); a policy's ``mean_rank`` is the mean over
    scenarios. Columns: ``rank, policy, mean_rank, mean_score, wins`` (scenarios where the
    policy has the best mean score; a tie for the best counts for each), ``scenarios``;
    sorted best first (ties broken by mean score, then name).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"policy": ["a", "b", "a", "b"], "scenario": ["s", "s", "t", "t"],
    ...                   "score_mean": [1.0, 2.0, 5.0, 3.0]})
    >>> ranking(t)[["rank", "policy", "mean_rank"]].to_dict("list")
    {'rank': [1, 1], 'policy': ['b', 'a'], 'mean_rank': [1.5, 1.5]}
    """
    import pandas as pd

    t = table.dropna(subset=["score_mean"]).copy()
    if t.empty:
        return pd.DataFrame(columns=["rank", "policy", "mean_rank", "mean_score", "wins"])
    t["scenario_rank"] = t.groupby("scenario")["score_mean"].rank(method="average")
    # a win: the best mean score of a scenario; a tie for the best is a win for each (as in
    # bench.html)
    t["best"] = (t.groupby("scenario")["score_mean"].rank(method="min") == 1).astype(int)
    out = (
        t.groupby("policy", sort=False)
        .agg(
            mean_rank=("scenario_rank", "mean"),
            mean_score=("score_mean", "mean"),
            wins=("best", "sum"),
            scenarios=("scenario", "nunique"),
        )
        .reset_index()
    )
    out = out.sort_values(["mean_rank", "mean_score", "policy"], kind="stable")
    out.insert(0, "rank", out["mean_rank"].rank(method="min").astype(int))
    return out.reset_index(drop=True)


def paired(runs: pd.DataFrame, baseline: str, confidence: float = 0.95) -> pd.DataFrame:
    """Each policy against ``baseline`` on the same (scenario, seed): the paired difference
    ``score - baseline score`` (negative: better than the baseline), its mean and confidence
    interval, and ``wins``/``losses``/``ties`` counted over pairs. One row per policy and
    scenario, plus a row per policy with ``scenario == "(all)"`` pooling every pair.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"policy": ["b", "b", "p", "p"], "scenario": ["s"] * 4,
    ...                      "seed": [1, 2, 1, 2], "score": [3.0, 5.0, 2.0, 6.0],
    ...                      "status": ["ok"] * 4})
    >>> row = paired(runs, "b").iloc[0]
    >>> int(row["n"]), float(row["mean_diff"]), int(row["wins"]), int(row["losses"])
    (2, 0.0, 1, 1)
    """
    import pandas as pd

    ok = ok_runs(runs)
    base = ok[ok["policy"] == baseline][["scenario", "seed", "score"]]
    base = base.rename(columns={"score": "baseline_score"})
    rows = []
    for policy in [p for p in dict.fromkeys(ok["policy"]) if p != baseline]:
        mine = ok[ok["policy"] == policy][["scenario", "seed", "score"]]
        pairs = mine.merge(base, on=["scenario", "seed"], how="inner")
        pairs["diff"] = pairs["score"] - pairs["baseline_score"]
        groups = [(s, g) for s, g in pairs.groupby("scenario", sort=False)]
        for scenario, group in [*groups, ("(all)", pairs)]:
            diffs = group["diff"].tolist()
            mean, low, high = mean_ci(diffs, confidence)
            rows.append(
                {
                    "policy": policy,
                    "baseline": baseline,
                    "scenario": scenario,
                    "n": len(diffs),
                    "mean_diff": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "wins": sum(d < 0 for d in diffs),
                    "losses": sum(d > 0 for d in diffs),
                    "ties": sum(d == 0 for d in diffs),
                }
            )
    return pd.DataFrame(rows)


__all__ = [
    "METRICS",
    "bench_table",
    "betainc",
    "clip_low",
    "mean_ci",
    "ok_runs",
    "paired",
    "ranking",
    "t_cdf",
    "t_quantile",
]
