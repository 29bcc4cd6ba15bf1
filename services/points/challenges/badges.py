"""The badge catalogue. Pure: no I/O.

A badge is held once per customer whatever awarded it. Two sources: a challenge's `badge` (on
completion) and streak lengths (streaks.STREAK_BADGES). The catalogue lists every badge a shop's
customers can earn: the streak badges and the badges of its challenges.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.points.challenges.streaks import STREAK_BADGES


@dataclass(frozen=True)
class BadgeDefinition:
    name: str
    description: str


def streak_catalogue() -> list[BadgeDefinition]:
    return [BadgeDefinition(name, f"a purchase or a review in {weeks} consecutive weeks")
            for weeks, name in sorted(STREAK_BADGES.items())]


def catalogue(challenge_badges: list[tuple[str, str]]) -> list[BadgeDefinition]:
    """Streak badges, then each challenge badge once (named after the first challenge awarding it)."""
    out = streak_catalogue()
    seen = {b.name for b in out}
    for badge, title in challenge_badges:
        if badge not in seen:
            seen.add(badge)
            out.append(BadgeDefinition(badge, f"completed the challenge “{title}”"))
    return out


def challenge_source(challenge_id: str) -> str:
    return f"challenge:{challenge_id}"


def streak_source(weeks: int) -> str:
    return f"streak:{weeks}"
