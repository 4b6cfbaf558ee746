"""The validation report of a calibration: printed tables, JSON, a PNG figure and an HTML page.

The figure has one panel per statistic kind (utilisation, p95 latency, request rate, service
time, network time), observed against simulated over time, for the busiest series of each.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from simcontinuum.calibrate.fit import Calibration

KINDS = (
    ("util", "CPU utilisation", 1.0, ""),
    ("p95", "p95 latency", 1000.0, "ms"),
    ("requests", "request rate", 1.0, "/s"),
    ("service", "service time per step", 1000.0, "ms"),
    ("network", "network time per step", 1000.0, "ms"),
)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x:.2%}"


def print_report(
    cal: Calibration, console: Console, original: dict[str, Any] | None = None
) -> None:
    """The report as rich tables."""
    from rich.table import Table

    t = Table(title="Fitted parameters (multipliers of the scenario's values)")
    t.add_column("parameter")
    t.add_column("factor", justify="right")
    for name, v in cal.factors.items():
        t.add_row(name, f"{v:.4f}")
    console.print(t)
    m = Table(title="Validation: observed vs simulated (after warm-up)")
    for col in (
        "metric",
        "series",
        "points",
        "observed mean",
        "simulated mean",
        "mean error",
        "MAPE",
    ):
        m.add_column(col, justify="right" if col not in ("metric", "series") else "left")
    for r in cal.metrics:
        if r.get("mape") is None and not r.get("observed_mean"):
            continue
        m.add_row(
            r["metric"],
            r["key"],
            str(r["points"]),
            f"{r.get('observed_mean', float('nan')):.6g}",
            f"{r.get('simulated_mean', float('nan')):.6g}",
            _pct(r.get("mean_error")),
            _pct(r.get("mape")),
        )
    console.print(m)
    if cal.ks:
        k = Table(title="Kolmogorov-Smirnov distance of latency distributions (alpha = 0.05)")
        for col in ("distribution", "D", "n", "m", "critical value", "same distribution?"):
            k.add_column(col)
        for r in cal.ks:
            k.add_row(
                r["distribution"],
                f"{r['D']:.4f}",
                str(r["n"]),
                str(r["m"]),
                f"{r['critical_0.05']:.4f}",
                "rejected" if r["rejected"] else "not rejected",
            )
        console.print(k)
    if cal.not_fitted:
        console.print("[bold]Not fitted[/bold] (left as the scenario gives them):")
        for line in cal.not_fitted:
            console.print(f"  - {line}")
    for note in cal.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"{cal.iterations} simulations")


def figure(cal: Calibration, path: Path) -> Path:
    """Observed vs simulated over time, one panel per statistic kind; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (k, title, scale, unit) for k, title, scale, unit in KINDS if getattr(cal.observed, k)
    ]
    fig, axes = plt.subplots(
        len(panels) or 1, 1, figsize=(9, 2.4 * max(1, len(panels))), squeeze=False
    )
    for ax, (kind, title, scale, unit) in zip(axes[:, 0], panels, strict=False):
        obs, sim = getattr(cal.observed, kind), getattr(cal.simulated, kind)
        key = max(obs, key=lambda k: float(obs[k].abs().mean()) if len(obs[k]) else 0.0)
        name = key if isinstance(key, str) else "/".join(key)
        ax.plot(obs[key].index, obs[key].to_numpy() * scale, label="observed", lw=1.4)
        if key in sim:
            ax.plot(
                sim[key].index,
                sim[key].to_numpy() * scale,
                label="simulated (fitted)",
                lw=1.0,
                ls="--",
            )
        ax.set_title(f"{title}: {name}", fontsize=9)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("simulated time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_report(cal: Calibration, prefix: Path, scenario_out: Path) -> list[Path]:
    """Write ``PREFIX.json``, ``PREFIX.png`` and ``PREFIX.html``; return the paths."""
    prefix.parent.mkdir(parents=True, exist_ok=True)

    def sibling(ext: str) -> Path:
        return prefix.parent / f"{prefix.name}{ext}"

    js = sibling(".json")
    doc = {**cal.as_dict(), "fitted_scenario": str(scenario_out)}
    from simcontinuum.io import atomic_write
    from simcontinuum.jsonutil import dumps

    atomic_write(js, dumps(doc, indent=2, sort_keys=False) + "\n")  # strict JSON: NaN as null
    png = figure(cal, sibling(".png"))
    img = base64.b64encode(png.read_bytes()).decode()

    def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>"
            for r in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    factors = [{"parameter": k, "factor": v} for k, v in cal.factors.items()]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Calibration report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}}</style></head><body>
<h1>Calibration report</h1><p>Fitted scenario: <code>{html.escape(str(scenario_out))}</code>,
{cal.iterations} simulations.</p>
<h2>Fitted parameters</h2>{table(factors, ["parameter", "factor"])}
<h2>Validation</h2>{table(cal.metrics, METRIC_COLS)}
<h2>Kolmogorov–Smirnov</h2>{table(cal.ks, KS_COLS)}
<h2>Not fitted</h2><ul>{_items(cal.not_fitted)}</ul>
<h2>Notes</h2><ul>{_items(cal.notes)}</ul>
<h2>Observed vs simulated</h2>
<img alt="observed vs simulated" src="data:image/png;base64,{img}" style="max-width:100%">
</body></html>"""
    page_path = sibling(".html")
    page_path.write_text(page, encoding="utf-8")
    return [js, png, page_path]


METRIC_COLS = ["metric", "key", "points", "observed_mean", "simulated_mean", "mean_error", "mape"]
KS_COLS = ["distribution", "D", "n", "m", "critical_0.05", "rejected"]


def _items(lines: list[str]) -> str:
    return "".join(f"<li>{html.escape(x)}</li>" for x in lines) or "<li>none</li>"


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
