"""The Ladder: what a public leaderboard shows, so that probing the public set does not pay.

Blum & Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning Competitions" (ICML
2015). A team's shown score changes only when a new submission beats the shown one by at
least the margin ``eta``, and then it is the new score rounded to a multiple of ``eta``:

    shown_0 = +inf;  shown_t = round_eta(s_t)  if s_t < shown_{t-1} - eta  else shown_{t-1}

Lower scores are better here. A team that resubmits small variations learns nothing from
them: below the margin the board does not move, and above it only the rounded value shows.

Pure functions of the scores in submission order (the store keeps that order), so the board
is the same after any restart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def round_to(value: float, margin: float) -> float:
    """``value`` rounded to the nearest multiple of ``margin``.

    >>> round_to(0.1234, 0.01)
    0.12
    >>> round_to(7.0, 2.5)
    7.5
    """
    steps = round(value / margin)
    # Print-friendly: as many decimals as the margin has, never float noise like 0.12000001.
    decimals = max(0, -math.floor(math.log10(margin))) + 2
    return round(steps * margin, decimals)


@dataclass(frozen=True)
class Step:
    """One submission's effect on the board: its score, what the board shows after it, and
    whether it moved the board."""

    score: float
    shown: float
    released: bool


def ladder(scores: Iterable[float], margin: float) -> list[Step]:
    """The Ladder over a team's scores in submission order (NaN: a failed submission, which
    never moves the board).

    >>> [s.shown for s in ladder([0.50, 0.495, 0.42, 0.419, 0.30], 0.01)]
    [0.5, 0.5, 0.42, 0.42, 0.3]
    >>> [s.released for s in ladder([0.50, 0.495, 0.42], 0.01)]
    [True, False, True]
    """
    if not margin > 0:
        raise ValueError(f"the ladder margin must be > 0, got {margin!r}")
    best = math.inf
    steps = []
    for s in scores:
        released = not math.isnan(s) and s < best - margin
        if released:
            best = round_to(s, margin)
        steps.append(Step(s, best, released))
    return steps


def shown_score(scores: Iterable[float], margin: float) -> float:
    """What the public board shows for a team after all of ``scores`` (inf: nothing yet).

    >>> shown_score([0.5, float("nan"), 0.3049], 0.01)
    0.3
    """
    steps = ladder(scores, margin)
    return steps[-1].shown if steps else math.inf


__all__ = ["Step", "ladder", "round_to", "shown_score"]
