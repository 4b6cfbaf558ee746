"""The newest delivered telemetry, kept up to date incrementally: reads in microseconds.

A policy reads telemetry inside its charged decision time, so a read must not build a
DataFrame. :class:`NewestIndex` follows the sampler's columnar buffers (or any object with
the same ``time, delivered, kind, id, metric, value`` columns, such as the boundary's copy
of them): samples are consumed once, each becomes visible when the clock reaches its
``delivered_s`` (a min-heap holds those still on their way), and the newest value of every
``(kind, id, metric)`` is one dict lookup away. :class:`LatestTable` is what ``latest()``
returns: the rows as plain dicts, with a pandas DataFrame built only if a caller asks for
one (``.frame()``, or any DataFrame attribute).

Invariant: for a read at ``now`` the index answers exactly as a scan of the buffers for
samples with ``delivered_s <= now`` would; reads go forward in time (a read at an earlier
``now`` than the index has reached is answered by that scan instead).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

Key = tuple[str, str]  # (kind, id)


class NewestIndex:
    """The newest delivered ``(time_s, value)`` of every ``(kind, id, metric)``."""

    __slots__ = ("_heap", "_pos", "newest", "now")

    def __init__(self) -> None:
        self._pos = 0  # buffer rows consumed so far
        self._heap: list[tuple[float, int]] = []  # (delivered_s, row) not yet delivered
        self.newest: dict[Key, dict[str, tuple[float, float]]] = {}
        self.now = -math.inf

    def advance(self, s: Any, now: float) -> None:
        """Make every sample of ``s`` delivered by ``now`` visible."""
        n = min(len(s.time), len(s.delivered), len(s.kind), len(s.id), len(s.metric), len(s.value))
        delivered = s.delivered
        heap = self._heap
        for row in range(self._pos, n):
            d = delivered[row]
            if d <= now:
                self._apply(s, row)
            elif d < math.inf:  # NaN (lost) and inf (unreachable) never arrive
                heapq.heappush(heap, (d, row))
        self._pos = n
        while heap and heap[0][0] <= now:
            self._apply(s, heapq.heappop(heap)[1])
        self.now = now

    def _apply(self, s: Any, row: int) -> None:
        key = (s.kind[row], s.id[row])
        metrics = self.newest.get(key)
        if metrics is None:
            metrics = self.newest[key] = {}
        t = s.time[row]
        old = metrics.get(s.metric[row])
        if old is None or t >= old[0]:
            metrics[s.metric[row]] = (t, s.value[row])


class LatestTable:
    """``telemetry.latest()``: one row per ``(kind, id)``, one column per metric, plus
    ``time_s`` — as plain Python, with pandas only on demand.

    ``rows`` maps ``(kind, id)`` to ``{metric: value}`` (NaN where the newest sample is NaN);
    ``get(kind, id)`` is one row; ``to_dict("records")``, ``len()``, ``empty`` and
    ``columns`` need no pandas. Anything else (``table[...]``, ``.loc``, ``.equals``, ...) is
    answered by :meth:`frame`, the same table as a DataFrame.
    """

    __slots__ = ("_frame", "rows", "times")

    def __init__(self, rows: dict[Key, dict[str, float]], times: dict[Key, float]) -> None:
        self.rows = rows
        self.times = times
        self._frame: pd.DataFrame | None = None

    def get(self, kind: str, ident: str) -> dict[str, float]:
        """The newest values of one node / app / component (empty when none arrived)."""
        return self.rows.get((kind, ident), {})

    @property
    def metrics(self) -> list[str]:
        """The metric columns, sorted."""
        names: set[str] = set()
        for values in self.rows.values():
            names.update(values)
        return sorted(names)

    @property
    def columns(self) -> list[str]:
        return ["kind", "id", *self.metrics, "time_s"] if self.rows else ["kind", "id", "time_s"]

    @property
    def empty(self) -> bool:
        return not self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def to_dict(self, orient: str = "records") -> Any:
        """``"records"``: one dict per row, as ``DataFrame.to_dict("records")``."""
        if orient != "records":
            return self.frame().to_dict(orient)  # type: ignore[call-overload]
        metrics = self.metrics
        nan = math.nan
        return [
            {
                "kind": k,
                "id": i,
                **{m: values.get(m, nan) for m in metrics},
                "time_s": self.times[(k, i)],
            }
            for (k, i), values in self.rows.items()
        ]

    def frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (built once)."""
        if self._frame is None:
            import pandas as pd

            records = self.to_dict("records")
            self._frame = pd.DataFrame(records, columns=self.columns)
            if self.rows:
                self._frame.columns.name = None
        return self._frame

    def equals(self, other: Any) -> bool:
        """Same table (as ``DataFrame.equals``)."""
        mine = self.frame()
        return bool(mine.equals(other.frame() if isinstance(other, LatestTable) else other))

    def __getitem__(self, key: Any) -> Any:
        return self.frame()[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.frame(), name)

    def __repr__(self) -> str:
        return repr(self.frame())


def latest_table(index: NewestIndex, now: float, span: float) -> LatestTable:
    """The rows of ``index`` with samples taken in the last ``span`` seconds, sorted by
    ``(kind, id)``; metrics whose newest sample is older are left out of their row, rows
    whose every value is NaN are left out (as ``pivot_table`` would)."""
    cutoff = now - span
    rows: dict[Key, dict[str, float]] = {}
    times: dict[Key, float] = {}
    names: set[str] = set()  # the metrics of the rows kept
    alive: set[str] = set()  # ... of them, those with a value (not NaN) in some row
    newest = index.newest
    for key in sorted(newest):
        fresh: dict[str, float] = {}
        newest_t = -math.inf
        valued = False
        for m, (t, v) in newest[key].items():
            if t >= cutoff:
                fresh[m] = v
                if t > newest_t:
                    newest_t = t
                if v == v:  # not NaN
                    alive.add(m)
                    valued = True
        if not valued:  # nothing fresh, or only NaN
            continue
        rows[key] = fresh
        times[key] = newest_t
        names.update(fresh)
    # a metric column that is NaN in every row is dropped, as pivot_table drops it
    dead = names - alive
    if dead:
        rows = {k: {m: v for m, v in values.items() if m not in dead} for k, values in rows.items()}
    return LatestTable(rows, times)


__all__ = ["LatestTable", "NewestIndex", "latest_table"]
