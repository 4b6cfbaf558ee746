"""The boards: what the leaderboard shows for each phase, as plain rows.

- public phase: every team's score through the Ladder (:mod:`simcontinuum.serve.ladder`) over
  its submissions in order; the interval shown is that of the submission that moved the board,
  its half-width rounded to the margin too (an exact interval would leak the exact score);
- private phase: nothing until the organizer reveals it; then each team's *last* scored
  submission (what the team had at the end, chosen before anyone saw a private score), with
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

COLUMNS = ("rank", "team", "score", "ci_low", "ci_high", "submissions", "scored", "submission")


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


def private_rows(jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per team: its last scored job, exact."""
    by_team: dict[str, list[dict[str, Any]]] = {}
    for j in jobs:
        by_team.setdefault(str(j["team"]), []).append(j)
    rows = []
    for team, js in by_team.items():
        scored = [j for j in js if j["state"] == SCORED and j["score"] is not None]
        last = scored[-1] if scored else None
        if last is None:
            rows.append(_row(team, math.inf, math.nan, math.nan, js, None))
        else:
            rows.append(
                _row(
                    team,
                    float(last["score"]),
                    _num(last["ci_low"]),
                    _num(last["ci_high"]),
                    js,
                    last["submission"],
                )
            )
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


def phase_board(
    phase: Phase, state: dict[str, Any], jobs: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The board of one phase: ``{name, kind, state, visible, rows, margin}``; ``rows`` is
    empty while a private phase is not revealed (only the count of evaluations shows)."""
    visible = phase.public or bool(state.get("revealed"))
    if not visible:
        rows: list[dict[str, Any]] = []
    elif phase.public:
        rows = public_rows(jobs, phase.spec.ladder_margin)
    else:
        rows = private_rows(jobs)
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


__all__ = ["COLUMNS", "board_csv", "phase_board", "private_rows", "public_rows"]
