"""The badge catalogue."""

from __future__ import annotations

from services.points.challenges import badges


def test_the_catalogue_lists_streak_badges_then_each_challenge_badge_once():
    got = badges.catalogue([("photographer", "Three photo reviews"), ("photographer", "Again"),
                            ("streak-4-weeks", "clash")])
    assert [b.name for b in got] == ["streak-4-weeks", "streak-12-weeks", "streak-52-weeks", "photographer"]
    assert "Three photo reviews" in got[-1].description
