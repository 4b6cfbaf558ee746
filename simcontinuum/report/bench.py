"""The bench report: many runs (one row per policy × scenario × seed) compared in one
self-contained HTML file.

Input: a table with columns ``policy, scenario, seed, score`` and the score parts
(``cost, p95_latency_s, slo_violation_rate, failed_rate, migrations, energy_kwh``), optionally
``status`` and ``error``. Rows whose ``status`` is not ``ok``/``complete`` or whose score is
missing are failed runs: left out of every statistic and listed on their own.

Ranking: in each scenario policies are ranked by their mean score over seeds (1 = best,
ties share the mean rank); the leaderboard orders policies by mean rank over scenarios, so a
scenario with large scores does not outweigh the others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from simcontinuum.errors import ResultsError
from simcontinuum.metrics.score import SCORE_PARTS
from simcontinuum.report.html import esc, figure_to_html, table_html, write_page

REQUIRED = ("policy", "scenario", "seed", "score")
GOOD_STATUS = ("ok", "complete", "completed", "done", "cached")


def split_runs(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable runs, failed runs) of a sweep table; raises :class:`ResultsError` when a
    required column is missing."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ResultsError(
            f"bench table: missing column(s) {', '.join(missing)}; expected one row per "
            f"(policy, scenario, seed) with columns {', '.join(REQUIRED)} and the score parts"
        )
    df = table.copy()
    df["policy"] = df["policy"].astype(str)
    df["scenario"] = df["scenario"].astype(str)
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    bad = df["score"].isna()
    if "status" in df.columns:
        status = df["status"].astype(str).str.lower()
        bad |= df["status"].notna() & ~status.isin(GOOD_STATUS)
    return df[~bad], df[bad]


def ranking(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per policy: mean rank over scenarios, wins, mean score and parts, runs.

    >>> t = pd.DataFrame({"policy": ["a", "b", "a", "b"], "scenario": ["s", "s", "t", "t"],
    ...                   "seed": [1, 1, 1, 1], "score": [1.0, 2.0, 5.0, 3.0]})
    >>> ranking(t)[["policy", "mean rank", "wins"]].values.tolist()
    [['b', 1.5, 1], ['a', 1.5, 1]]
    >>> t["score"] = [1.0, 1.0, 2.0, 3.0]  # a tie counts as a win for both
    >>> ranking(t)[["policy", "mean rank", "wins"]].values.tolist()
    [['a', 1.25, 2], ['b', 1.75, 1]]
    """
    if len(runs) == 0:
        return pd.DataFrame(columns=["policy", "mean rank", "wins", "mean score", "runs"])
    means = runs.pivot_table(index="policy", columns="scenario", values="score", aggfunc="mean")
    ranks = means.rank(axis=0, method="average")
    out = pd.DataFrame(
        {
            "mean rank": ranks.mean(axis=1),
            "wins": (means.rank(axis=0, method="min") == 1).sum(axis=1).astype(int),
            "scenarios": means.notna().sum(axis=1).astype(int),
            "runs": runs.groupby("policy").size(),
            "mean score": runs.groupby("policy")["score"].mean(),
        }
    )
    parts = [p for p in SCORE_PARTS if p in runs.columns]
    if parts:
        numeric = runs[["policy", *parts]].copy()
        for p in parts:
            numeric[p] = pd.to_numeric(numeric[p], errors="coerce")
        out = out.join(numeric.groupby("policy")[parts].mean())
    out = out.sort_values(["mean rank", "mean score"], kind="stable")
    return out.rename_axis("policy").reset_index()


def _box_figure(runs: pd.DataFrame, order: list[str], max_panels: int = 12) -> Figure:
    scenarios = sorted(runs["scenario"].unique())
    shown = scenarios[:max_panels]
    longest = max((len(_short(p)) for p in order), default=0)
    # long policy names need the width: fewer panels side by side
    ncols = min(3 if longest <= 18 else 2 if longest <= 30 else 1, len(shown))
    nrows = -(-len(shown) // ncols)
    height = 0.8 + nrows * (0.6 + 0.32 * len(order))
    fig = Figure(figsize=(10.0, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, scenario in zip(axes, shown, strict=False):
        sub = runs[runs["scenario"] == scenario]
        data = [sub.loc[sub["policy"] == p, "score"].to_numpy(dtype=float) for p in order]
        _hbox(ax, [d if len(d) else np.array([np.nan]) for d in data])
        ax.set_yticks(range(1, len(order) + 1), [_short(p) for p in order])
        for y, d in enumerate(data, start=1):
            if len(d):
                jitter = np.linspace(-0.15, 0.15, len(d)) if len(d) > 1 else np.zeros(1)
                ax.plot(d, y + jitter, ls="", marker="o", ms=2.5, color="#0969da", alpha=0.6)
        ax.invert_yaxis()  # best policy (first in order) at the top
        ax.set_title(_short(scenario, 60), fontsize=10)
        ax.set_xlabel("score (lower is better)", fontsize=8.5)
        ax.tick_params(labelsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    title = "Score per policy over seeds, by scenario (red: median; dots: runs)"
    if len(shown) < len(scenarios):
        title += f" — first {len(shown)} of {len(scenarios)} scenarios"
    fig.suptitle(title, fontsize=11)
    return fig


def _hbox(ax: Axes, data: list[np.ndarray]) -> None:
    style: dict[str, Any] = {
        "widths": 0.6,
        "medianprops": {"color": "#cf222e"},
        "flierprops": {"markersize": 3},
    }
    try:
        ax.boxplot(data, orientation="horizontal", **style)  # matplotlib >= 3.10
    except TypeError:
        ax.boxplot(data, vert=False, **style)


def _heatmap_figure(means: pd.DataFrame) -> Figure:
    """Policy × scenario mean score; colour by position between the scenario's best (green)
    and worst (red) policy, because scores of different scenarios are not comparable."""
    n_pol, n_sc = means.shape
    longest = max((len(str(p)) for p in means.index), default=0)
    # room for the policy names and the colour bar even with one scenario
    width = min(max(2.5 + 1.1 * n_sc + 0.07 * min(longest, 60), 6.5), 14.0)
    fig = Figure(figsize=(width, 1.6 + 0.4 * n_pol), layout="constrained")
    ax = fig.add_subplot()
    vals = means.to_numpy(dtype=float)
    lo, hi = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(hi > lo, (vals - lo) / (hi - lo), 0.0)
    rel = np.where(np.isnan(vals), np.nan, rel)
    import matplotlib as mpl

    cmap = mpl.colormaps["RdYlGn_r"].with_extremes(bad="#eaeef2")
    im = ax.imshow(np.ma.masked_invalid(rel), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(n_pol):
        for j in range(n_sc):
            v = vals[i, j]
            text = "—" if np.isnan(v) else f"{v:.3g}"
            r, g, b, _ = cmap(0.5 if np.isnan(rel[i, j]) else rel[i, j])
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # perceived luminance
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "#1f2328")  # fmt: skip
    ax.set_xticks(range(n_sc))
    rotate = n_sc > 3 or any(len(str(c)) > 14 for c in means.columns)
    ax.set_xticklabels(
        [_short(c) for c in means.columns],
        fontsize=8,
        rotation=30 if rotate else 0,
        ha="right" if rotate else "center",
    )
    ax.set_yticks(range(n_pol))
    ax.set_yticklabels([_short(p) for p in means.index], fontsize=8)
    ax.set_title("Mean score by policy and scenario", fontsize=11)
    cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, ticks=[0, 1])
    cbar.ax.set_yticklabels(["best in\nscenario", "worst in\nscenario"], fontsize=8)
    return fig


def _short(label: Any, limit: int = 40) -> str:
    """A figure label of at most ``limit`` characters (the tables keep the whole name)."""
    text = str(label)
    return text if len(text) <= limit else text[: limit - 1] + "…"


PAIRED_NOTE = (
    "Each policy against the baseline on the same scenario and seed: <b>mean_diff</b> is "
    "the mean of (score − baseline score), negative = better than the baseline; "
    "<b>ci_low, ci_high</b> its 95% Student-t interval (a difference may be negative, so it "
    "is not clipped); <b>wins / losses / ties</b> count the pairs where the policy scored "
    "lower / higher / the same. With several scenarios, the rows <i>(all)</i> pool them."
)


def _paired_html(paired: pd.DataFrame) -> str:
    base = str(paired["baseline"].iloc[0]) if len(paired) and "baseline" in paired else ""
    cols = [c for c in paired.columns if c != "baseline"]
    if "scenario" in paired and paired["scenario"].nunique() <= 2:  # one scenario + "(all)"
        paired = paired[paired["scenario"] != "(all)"]
    fmt = {c: ".4g" for c in ("mean_diff", "ci_low", "ci_high")}
    return (
        f"<h2>Paired comparison with the baseline {esc(base)}</h2>"
        f'<p class="note">{PAIRED_NOTE}</p>' + table_html(paired[cols], formats=fmt)
        if len(paired)
        else f"<h2>Paired comparison with the baseline {esc(base)}</h2>"
        '<p class="warn">No pairs: the baseline has no usable run on the same scenario and '
        "seed as another policy.</p>"
    )


def render_bench(table: pd.DataFrame, paired: pd.DataFrame | None = None) -> str:
    """The bench report's body HTML for ``table`` (see the module docstring); with
    ``paired`` (the paired comparison of ``bench --baseline``) a section for it."""
    runs, failed = split_runs(table)
    parts: list[str] = []
    n_pol, n_sc = runs["policy"].nunique(), runs["scenario"].nunique()
    parts.append(
        f'<p class="meta">{len(table):,} runs: {len(runs):,} usable, {len(failed):,} failed · '
        f"{n_pol} policies · {n_sc} scenarios · "
        f"{runs['seed'].nunique() if len(runs) else 0} seeds. Lower scores are better.</p>"
    )
    if len(runs) == 0:
        parts.append('<p class="warn">No usable runs: every run failed or has no score.</p>')
    else:
        rank = ranking(runs)
        order = rank["policy"].tolist()
        fmt = {"mean rank": ".2f"}
        parts.append("<h2>Ranking</h2>")
        parts.append(
            '<p class="note">Per scenario, policies are ranked by their mean score over seeds '
            "(1 = best); the table is ordered by the mean rank over scenarios. <b>wins</b>: "
            "scenarios where the policy has the best mean score (a tie for the best counts "
            "for each, as in ranking.csv). Score parts are means over all usable runs.</p>"
        )
        parts.append(table_html(rank, formats=fmt))
        parts.append("<h2>Score distributions</h2>")
        parts.append(figure_to_html(_box_figure(runs, order)))
        means = runs.pivot_table(
            index="policy", columns="scenario", values="score", aggfunc="mean"
        ).reindex(order)
        parts.append("<h2>By scenario</h2>")
        parts.append(figure_to_html(_heatmap_figure(means)))
        parts.append(table_html(means, index=True, formats={c: ".4g" for c in means.columns}))
    if paired is not None:
        parts.append(_paired_html(paired))
    if len(failed):
        cols = [c for c in ("policy", "scenario", "seed", "status", "error") if c in failed]
        shown = failed[cols].head(100)
        more = f" (first 100 of {len(failed)})" if len(failed) > 100 else ""
        parts.append(f"<h2>Failed runs{more}</h2>" + table_html(shown))
    return "\n".join(parts)


def bench_report(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str = "Benchmark",
    paired: pd.DataFrame | None = None,
) -> Path:
    """Write the bench report of ``table`` (one row per policy × scenario × seed) to ``path``
    as one self-contained HTML file; returns the path.

    Args:
        table: columns ``policy, scenario, seed, score`` and the score parts, optionally
            ``status`` and ``error`` (failed runs are listed, not counted).
        path: the ``.html`` file to write (atomically; its folder is created).
        title: the page title.
        paired: the paired comparison with a baseline (``bench --baseline``), if any.
    """
    return write_page(path, title, render_bench(table, paired))


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A sweep table from ``.csv`` or ``.parquet``."""
    p = Path(path)
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except FileNotFoundError as exc:
        raise ResultsError(f"{p}: no such file") from exc
    except Exception as exc:  # pandas/pyarrow raise many kinds on a bad file
        raise ResultsError(f"{p}: unreadable table ({type(exc).__name__}: {exc})") from exc


__all__ = ["bench_report", "ranking", "read_table", "render_bench", "split_runs"]
