"""Arrival traces: CSV files of request times replayed by ``arrival: {type: trace, path}``.

A trace file has a header line with a ``time_s`` column (seconds from the start, non-negative)
and optionally ``app`` and ``source`` columns; other columns are ignored. When ``app`` or
``source`` exist, a workload entry keeps only the rows naming its application and its source
node. Paths are relative to the scenario file's folder (or the working folder when the
scenario did not come from a file).

A :class:`TraceReader` belongs to one load: it reads each file once and remembers the rows or
the problem, so a file shared by many sources costs one read, and the sha256 of every file it
read (:meth:`TraceReader.digests`), which goes into the scenario's digest: editing a trace is
editing the scenario. It holds no global state.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from dataclasses import dataclass, field

MAX_TRACE_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One request of a trace."""

    time: float
    app: str | None
    source: str | None


class TraceError(ValueError):
    """A trace file is missing or malformed; the message names the file and line."""


def _parse_rows(name: str, lines: list[str]) -> list[TraceRow]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise TraceError(f"{name} is empty; expected a header line 'time_s[,app,source]'")
    columns = [h.strip() for h in header]
    if "time_s" not in columns:
        shown = ",".join(columns)[:60]
        raise TraceError(
            f"{name} line 1: expected a header with a time_s column "
            f"(and optionally app, source), got '{shown}'"
        )
    t_col = columns.index("time_s")
    a_col = columns.index("app") if "app" in columns else None
    s_col = columns.index("source") if "source" in columns else None
    rows: list[TraceRow] = []
    for cells in reader:
        if not cells or all(not c.strip() for c in cells):
            continue
        line = reader.line_num
        if len(cells) != len(columns):
            raise TraceError(
                f"{name} line {line}: expected {len(columns)} columns, got {len(cells)}"
            )
        rows.append(_row(name, line, cells, t_col, a_col, s_col))
    return rows


def _row(
    name: str, line: int, cells: list[str], t_col: int, a_col: int | None, s_col: int | None
) -> TraceRow:
    raw = cells[t_col].strip()
    try:
        time = float(raw)
    except ValueError:
        time = math.nan
    if not math.isfinite(time) or time < 0:
        raise TraceError(f"{name} line {line}: time_s '{raw[:40]}' is not a non-negative number")
    app = cells[a_col].strip() if a_col is not None else None
    source = cells[s_col].strip() if s_col is not None else None
    return TraceRow(time, app, source)


@dataclass
class TraceReader:
    """Reads trace files relative to ``base_dir``, each at most once per load."""

    base_dir: str
    _cache: dict[str, list[TraceRow] | TraceError] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)  # path as named -> sha256

    def resolve(self, path: str) -> str:
        """The absolute path of a trace named in the scenario."""
        return os.path.abspath(os.path.join(self.base_dir, os.path.expanduser(path)))

    def rows(self, path: str) -> list[TraceRow]:
        """All rows of the trace at ``path``.

        Raises:
            TraceError: the file is missing, unreadable or malformed.
        """
        full = self.resolve(path)
        if full not in self._cache:
            try:
                self._cache[full] = self._read(path, full, self._hashes)
            except TraceError as err:
                self._cache[full] = err
        cached = self._cache[full]
        if isinstance(cached, TraceError):
            raise cached
        return cached

    def times(self, path: str, app: str, source: str) -> tuple[float, ...]:
        """The sorted request times of ``app`` from node ``source`` in the trace."""
        return tuple(
            sorted(
                r.time
                for r in self.rows(path)
                if (r.app is None or r.app == app) and (r.source is None or r.source == source)
            )
        )

    def digests(self) -> dict[str, str]:
        """The sha256 (hex) of every trace file read so far, by its path as the scenario names
        it (so a scenario moved together with its traces keeps its digest)."""
        return dict(sorted(self._hashes.items()))

    @staticmethod
    def _read(path: str, full: str, hashes: dict[str, str]) -> list[TraceRow]:
        try:
            if os.path.getsize(full) > MAX_TRACE_BYTES:
                raise TraceError(f"trace file '{path}' is larger than 256 MiB")
            with open(full, "rb") as fh:
                data = fh.read()
            hashes[path] = hashlib.sha256(data).hexdigest()
            # newline="" semantics of the csv module: only line ends split lines
            lines = data.decode("utf-8").splitlines()
        except FileNotFoundError:
            raise TraceError(f"trace file '{path}' not found (looked for {full})") from None
        except UnicodeDecodeError:
            raise TraceError(f"trace file '{path}' is not UTF-8 text") from None
        except OSError as err:
            raise TraceError(f"cannot read trace file '{path}': {err.strerror}") from None
        try:
            return _parse_rows(os.path.basename(full), lines)
        except csv.Error as err:
            raise TraceError(f"trace file '{path}' is not valid CSV: {err}") from None


__all__ = ["TraceError", "TraceReader", "TraceRow"]
