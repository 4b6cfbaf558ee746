"""Matplotlib figures of one run: ``results.plot.latency_cdf()``, ``.latency_over_time()``,
``.outcomes()``, ``.utilisation_heatmap()``, ``.placements()``, ``.cost()``, ``.energy()``,
``.timeline()``.

Each method returns a new :class:`matplotlib.figure.Figure` built directly (never pyplot), so
no display and no global state are involved; save it with ``fig.savefig("x.png")`` or show it
in a notebook by leaving it as a cell's value. Time axes mark the warm-up, failures and
policy actions the same way in every figure. Large tables are binned with numpy first
(:mod:`simcontinuum.report.data`), so a million requests plot in about a second.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import ticker as mticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simcontinuum.report import data

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from simcontinuum.model import Scenario
    from simcontinuum.results import Results

STATUS_STYLE = {  # stacking order, bottom first
    "ok": ("#2da44e", "ok"),
    "ok_slo_missed": ("#d4a72c", "ok, slower than SLO"),
    "failed": ("#cf222e", "failed"),
    "dropped": ("#8250df", "dropped"),
    "incomplete": ("#8c959f", "incomplete (at horizon)"),
}
TIER_COLORS = {
    "cloud": "#0969da",
    "edge_infrastructure": "#8250df",
    "edge": "#bf8700",
    "far_edge": "#1a7f37",
    "network": "#bf3989",  # the cost table's tier for egress
}
ITEM_COLORS = {  # neutral, so they are not mistaken for tier colours
    "node_hours": "#424a53",
    "core_hours": "#8c959f",
    "energy": "#e16f24",
    "egress": "#bf3989",  # only ever on the "network" tier, which has this colour
}
OUTCOME_STYLE = {
    "applied": ("#0969da", "v", "action applied"),
    "rejected": ("#bc4c00", "x", "action rejected"),
    "error": ("#cf222e", "X", "policy error"),
}
WIDTH = 10.0  # inches; at 100 dpi a figure is 1000 px wide, readable in the HTML page


def _tier_color(tier: str) -> str:
    return TIER_COLORS.get(tier, "#57606a")


class Plotter:
    """Figures of one run. ``results.plot`` returns one.

    Args:
        results: the run.
        scenario: the scenario it ran, for the SLO lines; by default it is read from
            ``results.meta["scenario_path"]`` when that file is unchanged, else no SLO line.
    """

    def __init__(self, results: Results, scenario: Scenario | None = None) -> None:
        self.results = results
        self.scenario = scenario
        self.horizon = data.horizon_of(results)
        self.edges = data.bin_edges(self.horizon)
        self.axis = data.TimeAxis.for_horizon(self.horizon)
        self._slo: tuple[dict[str, tuple[float, str]], str] | None = None
        self._spans = data.failure_spans(results.events, self.horizon)
        self._tiers = data.node_tiers(results)
        self._app_codes, self._app_names = data.codes_of(results.requests["app"])

    # ------------------------------------------------------------------ shared pieces
    @property
    def slo(self) -> tuple[dict[str, tuple[float, str]], str]:
        """``({app: (target_s, kind)}, note)`` — see :func:`data.slo_targets`."""
        if self._slo is None:
            self._slo = data.slo_targets(self.results, self.scenario)
        return self._slo

    def _t(self, seconds: Any) -> Any:
        return np.asarray(seconds, dtype=float) / self.axis.scale

    def _time_axis(self, ax: Axes) -> None:
        ax.set_xlim(0, self.horizon / self.axis.scale)
        ax.set_xlabel(self.axis.label)

    def _mark(
        self,
        ax: Axes,
        *,
        actions: bool = True,
        warmup: bool = True,
        shade: bool = True,
        app: str | None = None,
    ) -> list[Any]:
        """Shade the warm-up and outages, draw failure starts and policy actions; returns
        legend handles for what was drawn."""
        handles: list[Any] = []
        warm = float(self.results.meta.get("warmup_s") or 0.0)
        if warm > 0 and warmup:
            ax.axvspan(0, warm / self.axis.scale, color="#8c959f", alpha=0.12, lw=0)
            handles.append(Patch(color="#8c959f", alpha=0.25, label="warm-up (not scored)"))
        spans, tiers = self._spans, self._tiers
        if spans:
            many = len(spans) > 40
            for what, target, start, end in spans:
                device = what == "node" and tiers.get(target) == "far_edge"
                if shade and not device and not many:
                    ax.axvspan(*self._t([start, end]), color="#cf222e", alpha=0.08, lw=0)
                ax.axvline(
                    self._t(start), color="#cf222e", lw=0.8, ls=":", alpha=0.5 if many else 0.9
                )
            handles.append(
                Line2D([], [], color="#cf222e", lw=0.8, ls=":", label="failure (shaded: outage)")
            )
        if actions:
            handles += self._mark_actions(ax, app)
        return handles

    def _mark_actions(self, ax: Axes, app: str | None = None) -> list[Any]:
        act = self.results.actions
        if app is not None and len(act):
            act = act[act["app"].astype(str) == app]
        if len(act) == 0:
            return []
        handles = []
        later = act[(act["call"].astype(str) != "place") | (act["outcome"] != "applied")]
        trans = ax.get_xaxis_transform()
        for outcome, (color, marker, label) in OUTCOME_STYLE.items():
            t = later.loc[later["outcome"] == outcome, "time_s"].to_numpy(dtype=float)
            if len(t) == 0:
                continue
            ax.plot(
                self._t(t), np.full(len(t), 0.97), ls="", marker=marker, ms=5, color=color,
                transform=trans, clip_on=False, alpha=0.8,
            )  # fmt: skip
            handles.append(Line2D([], [], ls="", marker=marker, color=color, label=label))
        return handles

    @staticmethod
    def _empty(fig: Figure, ax: Axes, text: str) -> Figure:
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig

    def _apps(self) -> list[str]:
        """Applications that sent requests, by name."""
        present = np.unique(self._app_codes[self._app_codes >= 0])
        return [self._app_names[i] for i in present]

    # ------------------------------------------------------------------ latency
    def latency_cdf(self) -> Figure:
        """CDF of the latency of scored ok requests, one line per application, its SLO target
        as a dashed line of the same colour."""
        fig = Figure(figsize=(WIDTH, 4.6), layout="constrained")
        ax = fig.add_subplot()
        req = self.results.requests
        sel = ((req["status"] == "ok") & req["scored"]).to_numpy(dtype=bool)
        if not sel.any():
            return self._empty(fig, ax, "no successful scored requests")
        targets, note = self.slo
        codes = self._app_codes[sel]
        lat = req["latency_s"].to_numpy(dtype=float)[sel] * 1000.0
        # the far left of a log axis is a few same-node requests: start at the 0.1% quantile
        lo = max(float(np.quantile(lat, 0.001)) / 1.5, 1e-3)
        present = np.unique(codes)
        for i, code in enumerate(present):
            app = self._app_names[code]
            x, y = data.cdf_points(lat[codes == code])
            color = f"C{i % 10}"
            ax.plot(np.maximum(x, lo), y, color=color, lw=1.8, label=app)
            if app in targets:
                ax.axvline(targets[app][0] * 1000.0, color=color, ls="--", lw=1.1, alpha=0.9)
        ax.axhline(0.95, color="#57606a", lw=0.7, ls=":")
        ax.text(lo, 0.95, " p95", va="bottom", fontsize=8, color="#57606a")
        ax.set_xscale("log")
        ax.set_xlim(left=lo)
        # plain "40", "100" rather than 4×10¹ — these are milliseconds people read
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(
            mticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.5))
        )
        ax.tick_params(axis="x", which="minor", labelsize=7.5)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("share of requests ≤ latency")
        ax.grid(True, which="major", alpha=0.3)
        title = "Latency CDF (scored ok requests)"
        if targets:
            title += " — dashed: the application's SLO target"
        ax.set_title(title, fontsize=11)
        ax.legend(loc="lower right", fontsize=8, ncols=2 if len(present) > 6 else 1)
        if not targets:
            fig.supxlabel(note, fontsize=8, color="#57606a")
        return fig

    def latency_over_time(self, *, max_apps: int = 12) -> Figure:
        """p50 and p95 latency of ok requests per arrival-time bin, one panel per application
        (the ``max_apps`` busiest), with the SLO target, failures and actions marked."""
        apps = self._apps()
        req = self.results.requests
        if len(apps) > max_apps:
            counts = np.bincount(self._app_codes[self._app_codes >= 0])
            busiest = np.argsort(-counts, kind="stable")[:max_apps]
            apps = sorted(self._app_names[i] for i in busiest)
        n = max(len(apps), 1)
        ncols = 1 if n == 1 else 2
        nrows = math.ceil(n / ncols)
        fig = Figure(figsize=(WIDTH, 1.0 + 2.3 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        if not apps:
            return self._empty(fig, axes[0], "no requests")
        targets, note = self.slo
        is_ok = (req["status"] == "ok").to_numpy(dtype=bool)
        ok_codes = self._app_codes[is_ok]
        ok_arrival = req["arrival_s"].to_numpy(dtype=float)[is_ok]
        ok_latency = req["latency_s"].to_numpy(dtype=float)[is_ok] * 1000.0
        centers = self._t((self.edges[:-1] + self.edges[1:]) / 2)
        rates = data.app_table(self.results, targets).set_index("app")["SLO violations %"]
        handles: list[Any] = []
        for ax, app in zip(axes, apps, strict=False):
            sel = ok_codes == self._app_names.index(app)
            q = data.binned_quantiles(ok_arrival[sel], ok_latency[sel], self.edges, (0.5, 0.95))
            ax.plot(centers, q[0], color="#54aeff", lw=1.2, label="p50")
            ax.plot(centers, q[1], color="#0550ae", lw=1.6, label="p95")
            top = np.nanmax(q[1]) if np.any(~np.isnan(q[1])) else 1.0
            title = app
            if app in targets:
                target_ms = targets[app][0] * 1000.0
                ax.axhline(target_ms, color="#cf222e", ls="--", lw=1.2, label="SLO target")
                title += f" — SLO {targets[app][1]} ≤ {target_ms:g} ms"
                top = max(top, target_ms)
            rate = rates.get(app, float("nan"))
            if rate == rate:
                title += f", {rate:.1f}% violated"
            ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
            ax.set_title(title, fontsize=9.5, loc="left")
            ax.set_ylabel("latency (ms)", fontsize=8.5)
            ax.tick_params(labelsize=8)
            ax.grid(True, alpha=0.3)
            marks = self._mark(ax, app=app)
            handles = handles if len(handles) >= len(marks) else marks
        for ax in axes[len(apps) :]:
            ax.set_visible(False)
        for ax in axes[-ncols:]:
            self._time_axis(ax)
            ax.xaxis.set_tick_params(labelbottom=True)
        lines = [
            Line2D([], [], color="#54aeff", lw=1.2, label="p50"),
            Line2D([], [], color="#0550ae", lw=1.6, label="p95"),
            Line2D([], [], color="#cf222e", ls="--", lw=1.2, label="SLO target"),
        ]
        fig.legend(handles=lines + handles, loc="outside lower center", ncols=4, fontsize=8)
        title = "Latency of ok requests over time (by arrival)"
        if len(apps) < len(self._apps()):
            title += f" — the {len(apps)} busiest of {len(self._apps())} applications"
        fig.suptitle(title, fontsize=11)
        if not targets:
            fig.supxlabel(note, fontsize=8, color="#57606a")
        return fig

    # ------------------------------------------------------------------ outcomes
    def outcomes(self) -> Figure:
        """Requests per second by outcome (stacked) per arrival-time bin."""
        fig = Figure(figsize=(WIDTH, 4.2), layout="constrained")
        ax = fig.add_subplot()
        req = self.results.requests
        if len(req) == 0:
            return self._empty(fig, ax, "no requests")
        counts = data.outcome_counts(req, self.edges)
        width = np.diff(self.edges)
        left = self._t(self.edges[:-1])
        bottom = np.zeros(len(width))
        for key, (color, label) in STATUS_STYLE.items():
            rate = counts[key] / width
            if not rate.any():
                continue
            ax.bar(
                left, rate, width=self._t(width), bottom=bottom, align="edge", color=color,
                label=f"{label} ({int(counts[key].sum()):,})", lw=0,
            )  # fmt: skip
            bottom += rate
        self._time_axis(ax)
        ax.set_ylabel("requests per second")
        ax.set_ylim(0, max(float(bottom.max()) * 1.12, 1e-9))
        ax.grid(True, axis="y", alpha=0.3)
        marks = self._mark(ax)
        handles, _ = ax.get_legend_handles_labels()
        fig.legend(handles=handles + marks, loc="outside right upper", fontsize=8)
        step = float(width[0])
        ax.set_title(
            f"Request outcomes by arrival time ({_dur(step)} bins, all requests)", fontsize=11
        )
        return fig

    # ------------------------------------------------------------------ nodes
    def utilisation_heatmap(self, *, max_nodes: int = 40) -> Figure:
        """CPU utilisation per node over time (telemetry ``node_cpu_utilisation``), the
        ``max_nodes`` busiest nodes grouped by tier; grey where a node was down."""
        nodes, util = data.node_matrix(self.results.telemetry, "node_cpu_utilisation", self.edges)
        total = len(nodes)
        shown = min(total, max_nodes)
        fig = Figure(figsize=(WIDTH, 1.6 + 0.17 * max(shown, 4)), layout="constrained")
        ax = fig.add_subplot()
        if total == 0:
            return self._empty(fig, ax, "no node telemetry (the run had telemetry off?)")
        _, up = data.node_matrix(self.results.telemetry, "node_up", self.edges)
        tiers = self._tiers
        busy = np.nan_to_num(np.nanmean(np.where(np.isnan(util), 0.0, util), axis=1))
        top = np.argsort(-busy, kind="stable")[:shown]
        order = sorted(top, key=lambda i: (_tier_rank(tiers.get(nodes[i], "")), _natural(nodes[i])))
        mat = util[order]
        if up.shape == util.shape:
            mat = np.where(up[order] < 0.5, np.nan, mat)
        masked = np.ma.masked_invalid(mat)
        import matplotlib as mpl

        cmap = mpl.colormaps["viridis"].with_extremes(bad="#d0d7de")
        # a fixed 0–1 scale would paint a lightly loaded run uniformly dark
        peak = float(np.nanmax(mat)) if np.any(~np.isnan(mat)) else 1.0
        vmax = 1.0 if peak > 0.5 else max(math.ceil(peak * 10) / 10, 0.1)
        t0, t1 = self._t([self.edges[0], self.edges[-1]])
        im = ax.imshow(
            masked, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0.0, vmax=vmax,
            extent=(t0, t1, len(order) - 0.5, -0.5),
        )  # fmt: skip
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([nodes[i] for i in order], fontsize=7 if shown > 25 else 8)
        for label, i in zip(ax.get_yticklabels(), order, strict=True):
            label.set_color(_tier_color(tiers.get(nodes[i], "")))
        self._time_axis(ax)
        self._mark(ax, actions=False, warmup=False, shade=False)
        cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
        cbar.set_label(f"cpu utilisation (scale 0–{vmax:.0%})")
        title = f"CPU utilisation of all {total} nodes"
        if shown < total:
            title = f"CPU utilisation — the {shown} busiest of {total} nodes"
        title += " (grey: down or not yet sampled; label colour: tier)"
        ax.set_title(title, fontsize=11)
        _tier_legend(fig, {tiers.get(nodes[i], "") for i in order})
        return fig

    def placements(self, *, max_rows: int = 80) -> Figure:
        """Replica life per (component, node): light while pending, pulling and starting,
        solid while running, colour by tier; a cross where a failure ended it."""
        reps = self.results.replicas
        fig_h = 1.6
        if len(reps) == 0:
            fig = Figure(figsize=(WIDTH, 3), layout="constrained")
            return self._empty(fig, fig.add_subplot(), "no replicas")
        reps = reps.assign(
            _key=reps["app"].astype(str) + "/" + reps["component"].astype(str),
            _node=reps["node"].astype(str),
        ).sort_values(["_key", "created_s", "_node"], kind="stable")
        keys = list(dict.fromkeys(zip(reps["_key"], reps["_node"], strict=True)))
        total = len(keys)
        keys = keys[:max_rows]
        row = {k: i for i, k in enumerate(keys)}
        fig_h += 0.2 * max(len(keys), 3)
        fig = Figure(figsize=(WIDTH, fig_h), layout="constrained")
        ax = fig.add_subplot()
        y = np.array(
            [row.get(k, -1) for k in zip(reps["_key"], reps["_node"], strict=True)], dtype=int
        )
        keep = y >= 0
        end = reps["removed_s"].fillna(self.horizon).to_numpy(dtype=float)[keep]
        start = reps["created_s"].to_numpy(dtype=float)[keep]
        run = reps["running_s"].to_numpy(dtype=float)[keep]
        ready = np.where(np.isnan(run), end, np.minimum(run, end))
        colors = [_tier_color(t) for t in reps["tier"].astype(str)[keep]]
        s, r, e, y = self._t(start), self._t(ready), self._t(end), y[keep]
        ax.barh(y, r - s, left=s, height=0.6, color=colors, alpha=0.35, lw=0)
        ax.barh(y, e - r, left=r, height=0.6, color=colors, lw=0)
        lost = reps["end_reason"].astype(str).str.contains("fail").to_numpy(dtype=bool)[keep]
        if lost.any():
            ax.plot(e[lost], y[lost], ls="", marker="x", color="#cf222e", ms=7, mew=2)
        ax.set_yticks(range(len(keys)))
        ax.set_yticklabels([f"{k} @ {n}" for k, n in keys], fontsize=7 if len(keys) > 30 else 8)
        ax.set_ylim(len(keys) - 0.5, -0.5)
        ax.grid(True, axis="x", alpha=0.3)
        self._time_axis(ax)
        marks = self._mark(ax)
        title = "Replica placements (light: pending/pulling/starting; solid: running)"
        if total > len(keys):
            title += f" — first {len(keys)} of {total} component@node rows"
        ax.set_title(title, fontsize=11)
        tiers = sorted(set(reps["tier"].astype(str)), key=_tier_rank)
        handles: list[Any] = [Patch(color=_tier_color(t), label=t) for t in tiers]
        if lost.any():
            handles.append(
                Line2D([], [], ls="", marker="x", color="#cf222e", mew=2, label="lost (failure)")
            )
        fig.legend(handles=handles + marks, loc="outside right upper", fontsize=8)
        return fig

    # ------------------------------------------------------------------ cost and energy
    def cost(self) -> Figure:
        """Cost by tier (stacked by item) and cumulative cost over time by tier."""
        fig = Figure(figsize=(WIDTH, 4.2), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=(1, 2))
        cost = self.results.cost
        if len(cost) == 0 or not cost["cost"].abs().sum():
            self._empty(fig, right, "no cost recorded")
            left.set_visible(False)
            return fig
        pivot = cost.pivot_table(
            index="tier", columns="item", values="cost", aggfunc="sum", fill_value=0.0
        )
        pivot = pivot.loc[sorted(pivot.index, key=_tier_rank)]
        bottom = np.zeros(len(pivot))
        for item in [i for i in ITEM_COLORS if i in pivot.columns] + [
            i for i in pivot.columns if i not in ITEM_COLORS
        ]:
            vals = pivot[item].to_numpy(dtype=float)
            if not vals.any():
                continue
            left.bar(pivot.index, vals, bottom=bottom, color=ITEM_COLORS.get(item), label=item)
            bottom += vals
        for x, v in enumerate(bottom):
            left.text(x, v, f"{v:,.3g}", ha="center", va="bottom", fontsize=8)
        left.set_ylim(0, bottom.max() * 1.15)
        left.set_ylabel("cost (currency)")
        left.set_title("Cost by tier and item", fontsize=10.5)
        left.legend(fontsize=8)
        _tilt(left)
        over = data.cost_over_time(self.results, self.edges)
        t = np.concatenate(([0.0], self._t(over.index.to_numpy())))
        ys = [np.concatenate(([0.0], over[c].to_numpy())) for c in over.columns]
        right.stackplot(
            t, ys, colors=[_tier_color(c) for c in over.columns], labels=list(over.columns),
            alpha=0.85,
        )  # fmt: skip
        self._time_axis(right)
        right.set_ylabel("cumulative cost")
        right.grid(True, alpha=0.3)
        marks = self._mark(right)
        total = float(cost["cost"].sum())
        right.set_title(f"Cumulative cost by tier (total {total:,.4g})", fontsize=10.5)
        handles, _ = right.get_legend_handles_labels()
        fig.legend(handles=handles + marks, fontsize=8, loc="outside right upper")
        fig.supxlabel(
            "Over time: each node's billed total spread by replica presence, requested cpu, "
            "sampled power and arrivals (the cost table has totals only).",
            fontsize=8,
            color="#57606a",
        )
        return fig

    def energy(self) -> Figure:
        """Energy by tier (cost table) and sampled power over time by tier (telemetry)."""
        fig = Figure(figsize=(WIDTH, 4.0), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=(1, 2))
        cost = self.results.cost
        if len(cost):
            by_tier = cost.groupby("tier")["energy_kwh"].sum()
            by_tier = by_tier.loc[sorted(by_tier.index, key=_tier_rank)]
            left.bar(
                by_tier.index, by_tier.to_numpy(), color=[_tier_color(t) for t in by_tier.index]
            )
            for x, v in enumerate(by_tier.to_numpy()):
                left.text(x, v, f"{v:,.3g}", ha="center", va="bottom", fontsize=8)
            left.set_ylim(0, max(float(by_tier.max()) * 1.15, 1e-9))
            left.set_title(f"Energy by tier (total {by_tier.sum():,.4g} kWh)", fontsize=10.5)
            left.set_ylabel("energy (kWh)")
            _tilt(left)
        else:
            self._empty(fig, left, "no energy recorded")
        power = data.power_by_tier(self.results, self.edges)
        if power.shape[1] == 0:
            self._empty(fig, right, "no power telemetry")
            return fig
        cols = sorted(power.columns, key=_tier_rank)
        t = self._t(self.edges)
        ys = [np.append(power[c].to_numpy(), power[c].to_numpy()[-1]) / 1000.0 for c in cols]
        right.stackplot(
            t, ys, colors=[_tier_color(c) for c in cols], labels=cols, step="post", alpha=0.85
        )
        self._time_axis(right)
        right.set_ylabel("power (kW)")
        right.grid(True, alpha=0.3)
        marks = self._mark(right)
        right.set_title("Sampled power by tier", fontsize=10.5)
        handles, _ = right.get_legend_handles_labels()
        fig.legend(handles=handles + marks, fontsize=8, loc="outside right upper")
        return fig

    # ------------------------------------------------------------------ actions and events
    def timeline(self) -> Figure:
        """Actions (by kind, marker by outcome), outages (bars) and application arrivals and
        departures on one time axis."""
        rows: list[str] = []
        fig = Figure(figsize=(WIDTH, 3.6), layout="constrained")
        ax = fig.add_subplot()
        act = self.results.actions
        ev = self.results.events
        spans, tiers = self._spans, self._tiers
        handles: list[Any] = []
        if len(act):
            for kind in sorted(set(act["kind"].astype(str))):
                y = len(rows)
                rows.append(f"action: {kind}")
                sel = act[act["kind"].astype(str) == kind]
                for outcome, (color, marker, label) in OUTCOME_STYLE.items():
                    t = sel.loc[sel["outcome"] == outcome, "time_s"].to_numpy(dtype=float)
                    if len(t):
                        ax.plot(self._t(t), np.full(len(t), y), ls="", marker=marker,
                                color=color, ms=6, alpha=0.75, clip_on=False)  # fmt: skip
                        if label not in {h.get_label() for h in handles}:
                            handles.append(
                                Line2D([], [], ls="", marker=marker, color=color, label=label)
                            )
        groups: dict[str, list[tuple[str, float, float]]] = {}
        for what, target, start, end in spans:
            group = what if what != "node" else f"node ({tiers.get(target, '?')})"
            groups.setdefault(group, []).append((target, start, end))
        for group, items in sorted(groups.items()):
            y = len(rows)
            rows.append(f"outage: {group}" + (f" ×{len(items)}" if len(items) > 1 else ""))
            color = _tier_color(group[6:-1]) if group.startswith("node (") else "#cf222e"
            for target, start, end in items:
                s, e = self._t([start, end])
                ax.barh(y, e - s, left=s, height=0.5, color=color, alpha=0.55, lw=0)
                if len(items) <= 8:
                    ax.text(s, y - 0.32, target, fontsize=7, va="bottom", color="#24292f")
        if len(ev):
            kinds = ev["kind"].astype(str)
            for kind, marker, color in (
                ("app_arrived", ">", "#1a7f37"),
                ("app_departed", "<", "#57606a"),
            ):
                sel = ev[kinds == kind]
                if len(sel):
                    y = len(rows)
                    rows.append(kind.replace("_", " "))
                    t = self._t(sel["time_s"].to_numpy(dtype=float))
                    ax.plot(t, np.full(len(t), y), ls="", marker=marker, ms=7, color=color,
                            clip_on=False)  # fmt: skip
                    for x, name in _labels_at(t, sel["target"].astype(str), "apps"):
                        ax.text(x, y - 0.3, name, fontsize=7, va="bottom", color="#24292f")
        if not rows:
            return self._empty(fig, ax, "no actions or events")
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows, fontsize=8)
        ax.set_ylim(len(rows) - 0.4, -0.7)
        ax.grid(True, axis="x", alpha=0.3)
        self._time_axis(ax)
        self._mark(ax, actions=False)
        fig.set_figheight(1.4 + 0.42 * len(rows))
        ax.set_title("Policy actions, outages and application arrivals", fontsize=11)
        if handles:
            fig.legend(handles=handles, fontsize=8, loc="outside right upper")
        return fig

    def all(self) -> dict[str, Figure]:
        """Every figure, by method name."""
        return {name: getattr(self, name)() for name in FIGURES}


FIGURES = (
    "latency_cdf",
    "latency_over_time",
    "outcomes",
    "utilisation_heatmap",
    "placements",
    "cost",
    "energy",
    "timeline",
)

_TIER_ORDER = ("cloud", "edge_infrastructure", "edge", "far_edge", "network")


def _tier_rank(tier: str) -> int:
    return _TIER_ORDER.index(tier) if tier in _TIER_ORDER else len(_TIER_ORDER)


def _tier_legend(fig: Figure, tiers: set[str]) -> None:
    present = sorted((t for t in tiers if t), key=_tier_rank)
    if present:
        handles = [Patch(color=_tier_color(t), label=t) for t in present]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)


def _tilt(ax: Axes) -> None:
    """Slant category labels so long tier names do not overlap."""
    ax.tick_params(axis="x", labelsize=8)
    for label in ax.get_xticklabels():
        label.set_rotation(25)
        label.set_horizontalalignment("right")


def _labels_at(times: np.ndarray, names: Any, plural: str) -> list[tuple[float, str]]:
    """One label per distinct time: the name, two names, or ``"5 apps"``; none when crowded."""
    groups: dict[float, list[str]] = {}
    for t, name in zip(np.round(times, 9), names, strict=True):
        groups.setdefault(float(t), []).append(str(name))
    if len(groups) > 12:
        return []
    return [
        (t, ", ".join(ns) if len(ns) <= 2 else f"{len(ns)} {plural}") for t, ns in groups.items()
    ]


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts ``cam-2`` before ``cam-10``."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _dur(seconds: float) -> str:
    """``5 s``, ``2 min``, ``1 h``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
