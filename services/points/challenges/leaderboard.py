"""A challenge's leaderboard, in the domain's words. Pure: no I/O.

Tie rule: more progress first; on equal progress the earlier completion wins, then the earlier last
progress, then the earlier join, then the customer id (a stable, total order).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Standing:
    customer_id: str
    progress: int
    completed_at: datetime | None
    last_progress_at: datetime | None
    joined_at: datetime


def _far(at: datetime | None) -> tuple[int, datetime | None]:
    return (0, at) if at is not None else (1, None)


def rank(rows: list[Standing]) -> list[Standing]:
    """The leaderboard order (see the module's tie rule)."""
    return sorted(rows, key=lambda s: (-s.progress, _far(s.completed_at)[0], s.completed_at or s.joined_at,
                                       _far(s.last_progress_at)[0], s.last_progress_at or s.joined_at,
                                       s.joined_at, s.customer_id))


def bonus_winners(rows: list[Standing], top: int) -> list[Standing]:
    """Who gets the leaderboard bonus at the end: the first `top` with any progress."""
    return [s for s in rank(rows) if s.progress > 0][:top]
