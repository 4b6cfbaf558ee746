"""Self-contained HTML: one file, figures embedded as base64 PNG, a small CSS, no JavaScript.

Reusable by every writer of HTML in the project (run report, bench report, leaderboard):

- :func:`figure_to_html` turns a matplotlib ``Figure`` into an ``<img>`` with a data URI;
- :func:`table_html` turns a DataFrame into an escaped ``<table>``;
- :func:`page` wraps a body into a complete document that loads nothing from elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simcontinuum.io import atomic_write

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1f2328; background: #fff; line-height: 1.45; overflow-wrap: anywhere; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
@media (max-width: 640px) { main { padding: 1rem .75rem 2rem; } }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
.scroll { max-width: 100%; overflow-x: auto; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
p.note, .meta { color: #59636e; font-size: .9rem; margin: .3rem 0; }
table { border-collapse: collapse; font-size: .88rem; margin: .4rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td:first-child { min-width: 14ch; max-width: 36ch; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 700; background: #f6f8fa; }
figure { margin: .5rem 0 1.2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #59636e; font-size: .85rem; margin-top: .2rem; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.grid > * { min-width: 0; max-width: 100%; }
nav { font-size: .9rem; margin: .6rem 0 0; }
nav a { margin-right: .9rem; color: #0969da; text-decoration: none; }
.warn { color: #9a6700; }
"""


def esc(text: Any) -> str:
    """HTML-escape ``str(text)``."""
    return html.escape(str(text), quote=True)


def figure_to_html(fig: Figure, *, alt: str = "", caption: str = "", dpi: int = 100) -> str:
    """A ``<figure>`` with ``fig`` as an embedded base64 PNG ``<img>`` (and an optional caption).

    The figure is rendered with the Agg canvas it was created with; pyplot is never used.
    """
    buf = io.BytesIO()
    # no bbox_inches="tight": our figures use constrained layout, and "tight" draws twice
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 3})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    label = alt or _title_of(fig) or "figure"
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(label)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _title_of(fig: Figure) -> str:
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        return str(sup.get_text())
    for ax in fig.axes:
        if ax.get_title():
            return str(ax.get_title())
    return ""


def _cell(value: Any, fmt: str | None) -> tuple[str, bool]:
    """(text, numeric?) for one table cell."""
    if value is None:
        return "—", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)):
        return f"{int(value):,}", True
    if isinstance(value, float) or (hasattr(value, "dtype") and "float" in str(value.dtype)):
        v = float(value)
        if math.isnan(v):
            return "—", True
        return (format(v, fmt) if fmt else f"{v:,.4g}"), True
    try:
        import pandas as pd

        if pd.isna(value):
            return "—", False
    except (TypeError, ValueError):
        pass
    return str(value), False


def table_html(
    df: pd.DataFrame,
    *,
    index: bool = False,
    formats: dict[str, str] | None = None,
    right: Collection[str] = (),
    classes: str = "",
) -> str:
    """An escaped HTML ``<table>`` of ``df``; numbers right-aligned, NaN shown as ``—``.

    Args:
        df: the table.
        index: also show the index as the first column.
        formats: per column a format spec (``{"score": ".3f"}``); default 4 significant digits.
        right: columns to right-align even if they hold text (pre-formatted numbers).
        classes: extra CSS classes for the ``<table>``.
    """
    formats = formats or {}
    cols = list(df.columns)
    head = []
    if index:
        head.append(f"<th>{esc(df.index.name or '')}</th>")
    numeric = {
        c: str(df[c].dtype).startswith(("int", "float", "Int", "Float")) or str(c) in right
        for c in cols
    }
    mixed = {c: df[c].dtype == object for c in cols}
    for c in cols:
        cls = ' class="num"' if numeric[c] else ""
        head.append(f"<th{cls}>{esc(c)}</th>")
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False, name=None), strict=True):
        cells = []
        if index:
            cells.append(f"<td>{esc(idx)}</td>")
        for c, v in zip(cols, row, strict=True):
            text, num = _cell(v, formats.get(str(c)))
            cls = ' class="num"' if numeric[c] or (num and mixed[c]) else ""
            cells.append(f"<td{cls}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cls_attr = f' class="{esc(classes)}"' if classes else ""
    # a wide table scrolls inside its box; the page itself never scrolls sideways
    return (
        f'<div class="scroll"><table{cls_attr}><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def page(title: str, body_html: str) -> str:
    """A complete, self-contained HTML document: ``title`` in ``<title>`` and ``<h1>``, the
    small CSS above inline, ``body_html`` inside ``<main>``. It loads no external resource and
    needs no JavaScript."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{esc(title)}</h1>\n{body_html}\n</main></body></html>\n"
    )


def write_page(path: str | os.PathLike[str], title: str, body_html: str) -> Path:
    """Write :func:`page` to ``path`` atomically (a temporary file renamed into place)."""
    return atomic_write(path, page(title, body_html))
