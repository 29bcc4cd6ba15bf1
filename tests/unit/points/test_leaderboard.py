"""The leaderboard's order and who gets the bonus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.points.challenges import leaderboard
from services.points.challenges.leaderboard import Standing

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def standing(cid, progress, completed=None, last=None, joined=0):
    at = lambda h: None if h is None else T0 + timedelta(hours=h)  # noqa: E731
    return Standing(cid, progress, at(completed), at(last), at(joined))


def test_the_leaderboard_ranks_by_progress_then_earlier_completion_then_earlier_progress():
    rows = [standing("late-completer", 3, completed=5, last=5), standing("most", 4, completed=2, last=9),
            standing("early-completer", 3, completed=1, last=8), standing("b-two", 2, last=3),
            standing("a-two", 2, last=3), standing("slow-two", 2, last=4), standing("zero", 0)]
    assert [s.customer_id for s in leaderboard.rank(rows)] == [
        "most", "early-completer", "late-completer", "a-two", "b-two", "slow-two", "zero"]


def test_the_bonus_goes_to_the_top_with_progress_only():
    rows = [standing("a", 2, last=1), standing("b", 0), standing("c", 1, last=1)]
    assert [s.customer_id for s in leaderboard.bonus_winners(rows, 3)] == ["a", "c"]
    assert [s.customer_id for s in leaderboard.bonus_winners(rows, 1)] == ["a"]
