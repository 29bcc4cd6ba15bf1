"""Streaks: consecutive ISO weeks with a purchase or a review. Pure: no I/O.

A week is named by its Monday (UTC). The current streak is the run of consecutive weeks ending
this week, or last week when this week has no activity yet (the customer still has until Sunday
to keep it alive); after a whole empty week it is 0. The longest streak is the longest run ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEK = timedelta(days=7)
# Badges for streak lengths (weeks): part of the badge catalogue.
STREAK_BADGES = {4: "streak-4-weeks", 12: "streak-12-weeks", 52: "streak-52-weeks"}


def week_of(at: datetime | date) -> date:
    day = at.date() if isinstance(at, datetime) else at
    return day - timedelta(days=day.isoweekday() - 1)


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    last_week: date | None


def _runs(weeks: list[date]) -> list[tuple[date, int]]:
    """(last week of the run, its length) for each run of consecutive weeks, oldest first."""
    runs: list[tuple[date, int]] = []
    for week in sorted(set(weeks)):
        if runs and week - runs[-1][0] == WEEK:
            runs[-1] = (week, runs[-1][1] + 1)
        else:
            runs.append((week, 1))
    return runs


def streak(weeks: list[date], today: date) -> Streak:
    runs = _runs([w for w in weeks if w <= week_of(today)])
    if not runs:
        return Streak(0, 0, None)
    last, length = runs[-1]
    alive = week_of(today) - last <= WEEK
    return Streak(current=length if alive else 0, longest=max(n for _, n in runs), last_week=last)

