"""Streaks over ISO weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.points.challenges import streaks


def test_a_week_is_named_by_its_monday():
    assert streaks.week_of(date(2026, 11, 23)) == date(2026, 11, 23)  # a Monday
    assert streaks.week_of(date(2026, 11, 29)) == date(2026, 11, 23)  # the Sunday after
    assert streaks.week_of(datetime(2027, 1, 1, 12, tzinfo=UTC)) == date(2026, 12, 28)  # across years


def weeks(*mondays_ago, today=date(2026, 11, 25)):
    this = streaks.week_of(today)
    return [this - timedelta(weeks=n) for n in mondays_ago]


def test_the_current_streak_runs_up_to_this_week_or_last_week():
    today = date(2026, 11, 25)
    assert streaks.streak(weeks(0, 1, 2), today).current == 3
    assert streaks.streak(weeks(1, 2), today).current == 2  # this week still open
    assert streaks.streak(weeks(2, 3), today).current == 0  # a whole empty week broke it
    assert streaks.streak([], today) == streaks.Streak(0, 0, None)


def test_the_longest_streak_survives_a_gap_and_duplicates_do_not_count_twice():
    today = date(2026, 11, 25)
    got = streaks.streak(weeks(0, 5, 6, 7, 8, 8), today)
    assert (got.current, got.longest, got.last_week) == (1, 4, streaks.week_of(today))


def test_future_weeks_are_ignored():
    today = date(2026, 11, 25)
    assert streaks.streak(weeks(-1, 0), today).current == 1
