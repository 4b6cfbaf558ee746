"""Observed measurements: a Prometheus ``query_range`` answer, an OpenMetrics file, or a
Grafana CSV export ("series joined by time"), read into one long table.

:func:`read_observed` returns a DataFrame with ``name`` (the metric name as exported: a
counter keeps its ``_total``), ``labels`` (a sorted tuple of ``(key, value)`` pairs),
``t`` (Unix seconds) and ``value``.

- Prometheus: ``{"status": "success", "data": {"resultType": "matrix", "result": [...]}}``
  as ``/api/v1/query_range`` answers, a JSON list of such answers, or a JSON object mapping a
  metric name to an answer (for computed queries whose series have no ``__name__``).
- OpenMetrics (or the Prometheus text format with timestamps): ``name{labels} value ts``.
- Grafana CSV: a ``Time`` column (ISO date-time or Unix ms/s) and one column per series,
  headed ``name{label="value",...}`` (Grafana's default series name) or a bare name.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from simcontinuum.errors import SimContinuumError


class ObservedError(SimContinuumError):
    """The observed file cannot be read; the message names the place and the fix."""


_SERIES = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{(.*)\})?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+(\S+))?(?:\s+#.*)?$")


def _labels(text: str | None, where: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    out = []
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ObservedError(f"{where}: cannot read the labels {{{text}}}")
        value = m.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        out.append((m.group(1), value))
        pos = m.end()
    return tuple(sorted(out))


def _frame(rows: list[tuple[str, tuple[tuple[str, str], ...], float, float]]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=["name", "labels", "t", "value"])
    df = df[df["value"].map(lambda v: not math.isnan(v))]
    return df.sort_values(["name", "t"], kind="stable").reset_index(drop=True)


def read_prometheus_json(text: str, where: str) -> pd.DataFrame:
    """A ``query_range`` answer (or a list of them, or ``{name: answer}``)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ObservedError(f"{where}: not JSON ({exc})") from exc
    answers: list[tuple[str | None, Any]] = []
    if isinstance(doc, list):
        answers = [(None, a) for a in doc]
    elif isinstance(doc, dict) and "data" in doc:
        answers = [(None, doc)]
    elif isinstance(doc, dict):
        answers = list(doc.items())
    rows = []
    for i, (name, ans) in enumerate(answers):
        here = f"{where}[{name if name is not None else i}]"
        if not isinstance(ans, dict) or ans.get("status", "success") != "success":
            raise ObservedError(f"{here}: not a successful Prometheus answer")
        data = ans.get("data") or {}
        if data.get("resultType") not in ("matrix", "vector"):
            raise ObservedError(
                f"{here}: resultType {data.get('resultType')!r}; export a query_range "
                "(matrix) answer"
            )
        for series in data.get("result", []):
            metric = dict(series.get("metric", {}))
            sname = metric.pop("__name__", None) or name
            if not sname:
                raise ObservedError(
                    f"{here}: a series without __name__; give the file as "
                    '{"metric_name": <answer>, ...}'
                )
            labels = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
            values = series.get("values") or ([series["value"]] if "value" in series else [])
            for t, v in values:
                rows.append((str(sname), labels, float(t), float(v)))
    return _frame(rows)


def read_openmetrics(text: str, where: str) -> pd.DataFrame:
    """OpenMetrics / Prometheus text exposition with timestamps."""
    rows = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ObservedError(f"{where}:{n}: not a sample line: {line[:80]!r}")
        if m.group(5) is None:
            raise ObservedError(
                f"{where}:{n}: a sample without a timestamp; calibration needs a time series "
                "(export with timestamps, or use a query_range answer)"
            )
        value = float(m.group(4).replace("+Inf", "inf").replace("-Inf", "-inf"))
        labels = _labels(m.group(3), f"{where}:{n}")
        rows.append((m.group(1), labels, float(m.group(5)), value))
    return _frame(rows)


def _time(value: str, where: str) -> float:
    v = value.strip()
    try:
        x = float(v)
    except ValueError:
        try:
            ts = pd.Timestamp(v)
        except ValueError as exc:
            raise ObservedError(f"{where}: cannot read the time {value!r}") from exc
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return float(ts.timestamp())
    return x / 1000.0 if x > 1e11 else x  # Grafana writes Unix milliseconds


def read_grafana_csv(text: str, where: str) -> pd.DataFrame:
    """A Grafana CSV export, series joined by time."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ObservedError(f"{where}: empty file") from exc
    if not header or header[0].strip().lower() not in ("time", "timestamp", "date"):
        raise ObservedError(
            f"{where}: the first column must be Time (Grafana: Inspect > Data > "
            "'Series joined by time')"
        )
    series = []
    for col in header[1:]:
        m = _SERIES.match(col)
        if not m:
            raise ObservedError(
                f"{where}: column {col!r} is not a series name like "
                'name{label="value"}; rename it in Grafana (Overrides > display name)'
            )
        series.append((m.group(1), _labels(m.group(3), f"{where}: {col}")))
    rows = []
    for n, rec in enumerate(reader, 2):
        if not rec:
            continue
        t = _time(rec[0], f"{where}:{n}")
        for (name, labels), cell in zip(series, rec[1:], strict=False):
            if cell.strip() in ("", "null", "NaN"):
                continue
            try:
                rows.append((name, labels, t, float(cell)))
            except ValueError as exc:
                raise ObservedError(f"{where}:{n}: {cell!r} is not a number") from exc
    return _frame(rows)


def read_observed(path: str | Path) -> pd.DataFrame:
    """Read ``path``, telling the format by its content (see the module docstring)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ObservedError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    head = text.lstrip()[:1]
    if head in ("{", "["):
        df = read_prometheus_json(text, str(p))
    elif text.lstrip().lower().startswith(("time,", '"time"', "timestamp,", "date,")):
        df = read_grafana_csv(text, str(p))
    else:
        df = read_openmetrics(text, str(p))
    if df.empty:
        raise ObservedError(f"{p}: no samples found")
    return df
