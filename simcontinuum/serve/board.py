"""The boards: what the leaderboard shows for each phase, as plain rows.

- public phase: every team's score through the Ladder (:mod:`simcontinuum.serve.ladder`) over
  its submissions in order; the interval shown is that of the submission that moved the board,
  its half-width rounded to the margin too (an exact interval would leak the exact score);
- private phase: nothing until the organizer reveals it; then, as on Kaggle, each team's
  best private score among its *final* submissions — those it selected (up to
  ``final_submissions``, before anyone saw a private score), or, where it selected none, its
  ``final_submissions`` best by public score (the latest ones where there is none) — with
  its exact mean and 95% Student-t interval over every hidden scenario × seed.

Ranks: lower is better, ties share a rank; teams without a score follow, unranked.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

from simcontinuum.serve.config import Phase
from simcontinuum.serve.ladder import ladder, round_to
from simcontinuum.serve.store import SCORED

COLUMNS = (
    "rank",
    "team",
    "score",
    "ci_low",
    "ci_high",
    "submissions",
    "scored",
    "submission",
    "final",
)


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def public_rows(jobs: Sequence[dict[str, Any]], margin: float) -> list[dict[str, Any]]:
    """One row per team from its finished jobs (in submission order), through the Ladder."""
    by_team: dict[str, list[dict[str, Any]]] = {}
    for j in jobs:
        by_team.setdefault(str(j["team"]), []).append(j)
    rows = []
    for team, js in by_team.items():
        steps = ladder([_num(j["score"]) if j["state"] == SCORED else math.nan for j in js], margin)
        shown, low, high, which = math.inf, math.nan, math.nan, None
        for j, step in zip(js, steps, strict=True):
            if step.released:
                shown = step.shown
                half = (_num(j["ci_high"]) - _num(j["ci_low"])) / 2.0
                half = round_to(half, margin) if not math.isnan(half) else math.nan
                low, high, which = shown - half, shown + half, j["submission"]
        rows.append(_row(team, shown, low, high, js, which))
    return _ranked(rows)


def final_jobs(
    js: Sequence[dict[str, Any]],
    selected: set[int] | None,
    public: dict[int, float],
    limit: int,
) -> tuple[list[dict[str, Any]], str]:
    """The jobs of one team's final submissions and how they were chosen: ``selected`` (the
    team's marks) or ``auto`` (its ``limit`` best by public score ``public`` — submission id
    to score — the latest first among equals and where there is no public score)."""
    if selected:
        return [j for j in js if j["submission"] in selected], "selected"
    ranked = sorted(
        js, key=lambda j: (public.get(int(j["submission"]), math.inf), -int(j["submission"]))
    )
    return ranked[:limit], "auto"


def private_rows(
    jobs: Sequence[dict[str, Any]],
    finals: dict[str, set[int]] | None = None,
    public: dict[int, float] | None = None,
    limit: int = 2,
) -> list[dict[str, Any]]:
    """One row per team: the best scored job of its final submissions (see
    :func:`final_jobs`), exact."""
    by_team: dict[str, list[dict[str, Any]]] = {}
    for j in jobs:
        by_team.setdefault(str(j["team"]), []).append(j)
    rows = []
    for team, js in by_team.items():
        chosen, how = final_jobs(js, (finals or {}).get(team), public or {}, limit)
        scored = [j for j in chosen if j["state"] == SCORED and j["score"] is not None]
        best = min(scored, key=lambda j: (float(j["score"]), j["submission"])) if scored else None
        if best is None:
            row = _row(team, math.inf, math.nan, math.nan, js, None)
        else:
            row = _row(
                team,
                float(best["score"]),
                _num(best["ci_low"]),
                _num(best["ci_high"]),
                js,
                best["submission"],
            )
        row["final"] = how
        rows.append(row)
    return _ranked(rows)


def _row(
    team: str, score: float, low: float, high: float, js: Sequence[dict[str, Any]], which: Any
) -> dict[str, Any]:
    return {
        "team": team,
        "score": None if math.isinf(score) else score,
        "ci_low": None if math.isnan(low) else low,
        "ci_high": None if math.isnan(high) else high,
        "submissions": len(js),
        "scored": sum(1 for j in js if j["state"] == SCORED),
        "submission": which,
        "final": None,
    }


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scored = sorted(
        (r for r in rows if r["score"] is not None), key=lambda r: (r["score"], r["team"])
    )
    rank, previous = 0, None
    for i, r in enumerate(scored):
        if r["score"] != previous:
            rank, previous = i + 1, r["score"]
        r["rank"] = rank
    others = sorted((r for r in rows if r["score"] is None), key=lambda r: r["team"])
    for r in others:
        r["rank"] = None
    return scored + others


def public_scores(jobs: Sequence[dict[str, Any]]) -> dict[int, float]:
    """``{submission id: exact score}`` of a public phase's scored jobs (what chooses a
    team's final submissions when it selected none)."""
    return {
        int(j["submission"]): float(j["score"])
        for j in jobs
        if j["state"] == SCORED and j["score"] is not None
    }


def phase_board(
    phase: Phase,
    state: dict[str, Any],
    jobs: Sequence[dict[str, Any]],
    finals: dict[str, set[int]] | None = None,
    public: dict[int, float] | None = None,
    limit: int = 2,
) -> dict[str, Any]:
    """The board of one phase: ``{name, kind, state, visible, rows, margin}``; ``rows`` is
    empty while a private phase is not revealed (only the count of evaluations shows).
    ``finals``, ``public`` and ``limit``: see :func:`private_rows`."""
    visible = phase.public or bool(state.get("revealed"))
    if not visible:
        rows: list[dict[str, Any]] = []
    elif phase.public:
        rows = public_rows(jobs, phase.spec.ladder_margin)
    else:
        rows = private_rows(jobs, finals, public, limit)
    return {
        "name": phase.name,
        "kind": phase.spec.kind,
        "state": state.get("state", "pending"),
        "revealed": bool(state.get("revealed")),
        "visible": visible,
        "rows": rows,
        "evaluated": len(jobs),
        "margin": phase.spec.ladder_margin,
        "description": phase.spec.description,
    }


def board_csv(board: dict[str, Any]) -> str:
    """A board as CSV text (the columns of :data:`COLUMNS`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in board["rows"]:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    return out.getvalue()


__all__ = [
    "COLUMNS",
    "board_csv",
    "final_jobs",
    "phase_board",
    "private_rows",
    "public_rows",
    "public_scores",
]
