"""What became of a policy's decisions: the "policy decisions" block printed after every run.

:func:`decisions` is a pure function of a run's ``actions`` table (and its ``meta``): how many
decisions were applied, rejected by the engine, or were errors of the policy itself (it
raised, timed out or returned something that is not a decision), the most frequent reasons
of each, and the first exception the policy raised, as the policy's own frames. Nothing a
policy does wrong stays in the table alone: the CLI prints this block after every run.

>>> import pandas as pd
>>> actions = pd.DataFrame({
...     "time_s": [0.0, 0.0, 5.0], "call": ["place", "place", "plan"],
...     "kind": ["deploy", "deploy", "error"], "app": ["a", "a", None],
...     "component": ["x", "y", None], "node": ["n0", "n9", None], "target": [None] * 3,
...     "outcome": ["applied", "rejected", "error"],
...     "reason": [None, "unknown node 'n9'; did you mean 'n0'?", "ValueError: boom"]})
>>> d = decisions(actions)
>>> d.applied, d.rejected, d.errors
(1, 1, 1)
>>> d.first_reasons("rejected")[0]
("place: deploy a/y on 'n9': unknown node 'n9'; did you mean 'n0'?", 1)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SHOWN = 3  # reasons listed per outcome


@dataclass(frozen=True)
class Decisions:
    """Counts and reasons of one run's policy decisions.

    Attributes:
        applied: decisions the engine carried out.
        rejected: decisions the engine refused (unknown node, no room, a pin broken, ...).
        errors: policy calls that raised, timed out or returned something unusable.
        reasons: outcome -> Counter of "call: what: reason" lines.
        first_error: the first exception raised by the policy, its own frames only.
    """

    applied: int
    rejected: int
    errors: int
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    first_error: str | None = None

    @property
    def clean(self) -> bool:
        """Nothing was rejected and the policy never failed."""
        return self.rejected == 0 and self.errors == 0

    def first_reasons(self, outcome: str, n: int = SHOWN) -> list[tuple[str, int]]:
        """The ``n`` most frequent reasons of ``outcome`` (first seen first on ties)."""
        return self.reasons.get(outcome, Counter()).most_common(n)

    def lines(self) -> list[str]:
        """The block as plain text lines (what the CLI prints)."""
        head = (
            f"policy decisions: {self.applied:,} applied, {self.rejected:,} rejected, "
            f"{self.errors:,} error{'s' if self.errors != 1 else ''}"
        )
        out = [head]
        for outcome, label in (("rejected", "rejected"), ("error", "errors")):
            counted = self.reasons.get(outcome, Counter())
            if not counted:
                continue
            out.append(f"  {label} — first reasons:")
            for text, count in self.first_reasons(outcome):
                out.append(f"    {text}" + (f"  (×{count:,})" if count > 1 else ""))
            more = len(counted) - SHOWN
            if more > 0:
                out.append(f"    … and {more:,} other reason(s) in the actions table")
        if self.first_error:
            out.append("  first exception:")
            out += ["    " + line for line in self.first_error.splitlines()]
        return out


def decisions(actions: pd.DataFrame, meta: dict[str, Any] | None = None) -> Decisions:
    """Summarise a run's ``actions`` table (see :class:`Decisions`).

    Args:
        actions: the ``actions`` table of :class:`~simcontinuum.results.Results`.
        meta: the run's ``meta``; its ``policy_first_error`` becomes ``first_error``.
    """
    outcome = actions["outcome"].astype(str) if len(actions) else actions.get("outcome")
    counts = Counter(outcome) if outcome is not None else Counter()
    reasons: dict[str, Counter[str]] = {}
    for kind in ("rejected", "error"):
        rows = actions[outcome == kind] if outcome is not None else actions.iloc[0:0]
        counter: Counter[str] = Counter()
        for row in rows.itertuples(index=False):
            counter[_line(row)] += 1
        if counter:
            reasons[kind] = counter
    first = (meta or {}).get("policy_first_error")
    return Decisions(
        applied=counts.get("applied", 0),
        rejected=counts.get("rejected", 0),
        errors=counts.get("error", 0),
        reasons=reasons,
        first_error=first if isinstance(first, str) and first else None,
    )


def _line(row: Any) -> str:
    """``call: kind app/component on 'node' -> 'target': reason``."""
    what = [] if row.kind in ("error", "timeout") else [str(row.kind)]
    if _set(row.app):
        what.append(f"{row.app}/{row.component}" if _set(row.component) else str(row.app))
    if _set(row.node):
        what.append(f"on '{row.node}'")
    if _set(row.target):
        what.append(f"-> '{row.target}'")
    subject = " ".join(what)
    reason = str(row.reason) if _set(row.reason) else "(no reason recorded)"
    return f"{row.call}: {subject}: {reason}" if subject else f"{row.call}: {reason}"


def _set(value: Any) -> bool:
    return value is not None and value == value and str(value) != ""


__all__ = ["Decisions", "decisions"]
