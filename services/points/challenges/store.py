"""All SQL of challenges, badges, streak weeks and the copy of customers' segments. Only SQL: no
transaction is opened here, no rule decided, nothing published.

Lock order as on the loyalty side: the customer's account row first (the use cases take it), then
their challenge_progress rows. Ending a challenge locks the challenge row, then the winners'
accounts (through the ledger); event counting never locks a challenge row.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor

LIST_LIMIT = 200


async def lock_launch_key(conn: Connection, shop: str, idempotency_key: str) -> None:
    """Serialise launches under one idempotency key until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('points.challenge:' || $1 || '|' || $2))",
                       shop, idempotency_key)


async def challenge_by_key(conn: Executor, shop: str, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND idempotency_key = $2",
                               shop, idempotency_key)


async def insert_challenge(conn: Connection, shop: str, *, id: str, title: str, description: str | None,
                           hashtag: str | None, goal_event: str, goal_count: int, goal_with_media: bool,
                           goal_hashtag: str | None, goal_measure: str, starts_at: datetime, ends_at: datetime,
                           audience: str | None, audience_tier: str | None, reward_points: int, badge: str | None,
                           leaderboard_bonus: int, leaderboard_top: int, idempotency_key: str | None,
                           input_hash: str) -> asyncpg.Record:
    return await one(
        conn,
        """INSERT INTO challenges (shop_id, id, title, description, hashtag, goal_event, goal_count, goal_with_media,
               goal_hashtag, starts_at, ends_at, audience, reward_points, badge, leaderboard_bonus, leaderboard_top,
               idempotency_key, input_hash, goal_measure, audience_tier)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
           RETURNING *""",
        shop, id, title, description, hashtag, goal_event, goal_count, goal_with_media, goal_hashtag, starts_at,
        ends_at, audience, reward_points, badge, leaderboard_bonus, leaderboard_top, idempotency_key, input_hash,
        goal_measure, audience_tier)


async def challenge(conn: Executor, shop: str, challenge_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND id = $2", shop, challenge_id)


async def challenges(conn: Executor, shop: str, challenge_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM challenges WHERE shop_id = $1 AND id = ANY($2::text[])",
                            shop, challenge_ids)


async def all_challenges(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM challenges WHERE shop_id = $1 ORDER BY starts_at DESC, id LIMIT $2", shop, LIST_LIMIT)


async def lock_challenge(conn: Connection, shop: str, challenge_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND id = $2 FOR UPDATE",
                               shop, challenge_id)


async def set_ended(conn: Connection, shop: str, challenge_id: str, at: datetime) -> None:
    await conn.execute("UPDATE challenges SET ended_at = $3 WHERE shop_id = $1 AND id = $2", shop, challenge_id, at)


async def mark_bonus_granted(conn: Connection, shop: str, challenge_id: str) -> None:
    await conn.execute("UPDATE challenges SET bonus_granted_at = now() WHERE shop_id = $1 AND id = $2",
                       shop, challenge_id)


async def challenge_badges(conn: Executor, shop: str) -> list[tuple[str, str]]:
    """(badge, challenge title) of the challenges awarding a badge, oldest first."""
    rows = await conn.fetch(
        """SELECT badge, title FROM challenges WHERE shop_id = $1 AND badge IS NOT NULL
           ORDER BY created_at, id LIMIT $2""", shop, LIST_LIMIT)
    return [(r["badge"], r["title"]) for r in rows]


# ---- taking part --------------------------------------------------------------------------


async def segment_of(conn: Executor, shop: str, customer_id: str) -> str | None:
    segment: str | None = await conn.fetchval(
        "SELECT segment FROM customer_segments WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    return segment


async def save_segment(conn: Connection, shop: str, customer_id: str, segment: str) -> None:
    await conn.execute(
        """INSERT INTO customer_segments (shop_id, customer_id, segment) VALUES ($1, $2, $3)
           ON CONFLICT (shop_id, customer_id) DO UPDATE SET segment = EXCLUDED.segment, updated_at = now()""",
        shop, customer_id, segment)


async def add_participant(conn: Connection, shop: str, challenge_id: str, customer_id: str) -> None:
    await conn.execute(
        """INSERT INTO challenge_progress (shop_id, challenge_id, customer_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""", shop, challenge_id, customer_id)


async def progress(conn: Executor, shop: str, challenge_id: str, customer_id: str) -> asyncpg.Record:
    return await one(
        conn, "SELECT * FROM challenge_progress WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3",
        shop, challenge_id, customer_id)


async def progress_of(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT p.* FROM challenge_progress p JOIN challenges c ON c.shop_id = p.shop_id AND c.id = p.challenge_id
           WHERE p.shop_id = $1 AND p.customer_id = $2 ORDER BY c.starts_at DESC, c.id LIMIT $3""",
        shop, customer_id, LIST_LIMIT)


async def standings(conn: Executor, shop: str, challenge_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT customer_id, progress, completed_at, last_progress_at, joined_at FROM challenge_progress
           WHERE shop_id = $1 AND challenge_id = $2""", shop, challenge_id)


async def leaders(conn: Executor, shop: str, challenge_id: str, first: int) -> list[asyncpg.Record]:
    """The top `first` with progress, pre-sorted with the keys of leaderboard.rank."""
    return await conn.fetch(
        """SELECT customer_id, progress, completed_at, last_progress_at, joined_at FROM challenge_progress
           WHERE shop_id = $1 AND challenge_id = $2 AND progress > 0
           ORDER BY progress DESC, completed_at ASC NULLS LAST, last_progress_at ASC NULLS LAST, joined_at,
                    customer_id
           LIMIT $3""", shop, challenge_id, first)


# ---- counting -----------------------------------------------------------------------------


async def joined_challenges_counting(conn: Executor, shop: str, customer_id: str, event: str,
                                     at: datetime) -> list[asyncpg.Record]:
    """The challenges of `event`'s kind the customer had joined by `at`, running at `at`."""
    return await conn.fetch(
        """SELECT c.* FROM challenges c
           JOIN challenge_progress p ON p.shop_id = c.shop_id AND p.challenge_id = c.id
           WHERE c.shop_id = $1 AND p.customer_id = $2 AND c.goal_event = $3
             AND c.starts_at <= $4 AND $4 < c.ends_at AND (c.ended_at IS NULL OR $4 < c.ended_at)
             AND p.joined_at <= $4""",
        shop, customer_id, event, at)


async def add_count(conn: Connection, shop: str, challenge_id: str, source_key: str, customer_id: str,
                    event_id: str, at: datetime, counted: int, amount: Decimal | None) -> bool:
    """True the first time this source (the event's natural key) counts for this challenge."""
    return bool(await conn.fetchval(
        """INSERT INTO challenge_counts (shop_id, challenge_id, source_key, customer_id, event_id, occurred_at,
               counted, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true""",
        shop, challenge_id, source_key, customer_id, event_id, at, counted, amount))


async def lock_progress(conn: Connection, shop: str, challenge_id: str, customer_id: str) -> asyncpg.Record:
    return await one(
        conn,
        """SELECT * FROM challenge_progress WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3
           FOR UPDATE""", shop, challenge_id, customer_id)


async def add_progress(conn: Connection, shop: str, challenge_id: str, customer_id: str, at: datetime,
                       step: int) -> asyncpg.Record:
    return await one(
        conn,
        """UPDATE challenge_progress SET progress = progress + $5,
               last_progress_at = greatest(coalesce(last_progress_at, $4), $4)
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 RETURNING *""",
        shop, challenge_id, customer_id, at, step)


async def counts_of(conn: Executor, shop: str, source_key: str, customer_id: str) -> list[asyncpg.Record]:
    """Where a source (an order) still counts, by challenge id."""
    return await conn.fetch(
        """SELECT challenge_id, counted FROM challenge_counts
           WHERE shop_id = $1 AND source_key = $2 AND customer_id = $3 AND counted > 0 ORDER BY challenge_id""",
        shop, source_key, customer_id)


async def reduce_count(conn: Connection, shop: str, challenge_id: str, source_key: str, counted: int,
                       amount: Decimal) -> None:
    await conn.execute(
        """UPDATE challenge_counts SET counted = $4, amount = least(amount, $5)
           WHERE shop_id = $1 AND challenge_id = $2 AND source_key = $3""",
        shop, challenge_id, source_key, counted, amount)


async def reduce_progress(conn: Connection, shop: str, challenge_id: str, customer_id: str,
                          by: int) -> asyncpg.Record:
    return await one(
        conn,
        """UPDATE challenge_progress SET progress = greatest(progress - $4, 0)
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 RETURNING *""",
        shop, challenge_id, customer_id, by)


async def mark_completed(conn: Connection, shop: str, challenge_id: str, customer_id: str, at: datetime) -> None:
    await conn.execute(
        """UPDATE challenge_progress SET completed_at = $4
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 AND completed_at IS NULL""",
        shop, challenge_id, customer_id, at)


async def clear_completion(conn: Connection, shop: str, challenge_id: str, customer_id: str) -> None:
    """Unmark a completion and count that it was taken back (the next completion's key)."""
    await conn.execute(
        """UPDATE challenge_progress SET completed_at = NULL, revoked = revoked + 1
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3""", shop, challenge_id, customer_id)


# ---- badges and streak weeks --------------------------------------------------------------


async def award_badge(conn: Connection, shop: str, customer_id: str, badge: str, source: str) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO badges (shop_id, customer_id, badge, source) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""", shop, customer_id, badge, source))


async def remove_badge(conn: Connection, shop: str, customer_id: str, badge: str, source: str) -> None:
    await conn.execute(
        "DELETE FROM badges WHERE shop_id = $1 AND customer_id = $2 AND badge = $3 AND source = $4",
        shop, customer_id, badge, source)


async def badges_of(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM badges WHERE shop_id = $1 AND customer_id = $2 ORDER BY awarded_at, badge LIMIT $3",
        shop, customer_id, LIST_LIMIT)


async def add_activity_week(conn: Connection, shop: str, customer_id: str, week: date) -> bool:
    """True the first time the customer is active in this week."""
    return bool(await conn.fetchval(
        """INSERT INTO activity_weeks (shop_id, customer_id, week) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", shop, customer_id, week))


async def activity_weeks(conn: Executor, shop: str, customer_id: str) -> list[date]:
    rows = await conn.fetch(
        "SELECT week FROM activity_weeks WHERE shop_id = $1 AND customer_id = $2 ORDER BY week", shop, customer_id)
    return [r["week"] for r in rows]
