"""Referral rows: opening, the order followed, decisions, conversion, and their reading."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def of_friend(conn: Connection, shop: str, friend_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE shop_id = $1 AND friend_id = $2 FOR UPDATE", shop, friend_id
    )


async def by_id(conn: Connection, shop: str, referral_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE shop_id = $1 AND id = $2::uuid FOR UPDATE", shop, referral_id
    )


async def signups_last_hour(conn: Connection, shop: str, referrer_id: str) -> int:
    count: int = await conn.fetchval(
        """SELECT count(*) FROM referrals
           WHERE shop_id = $1 AND referrer_id = $2 AND created_at > now() - interval '1 hour'""",
        shop, referrer_id,
    )
    return count


async def create(conn: Connection, shop: str, *, referrer_id: str, friend_id: str, code: str,
                 started_at: datetime, order_id: str | None, rejection: str | None) -> asyncpg.Record | None:
    """The friend's referral, PENDING or already REJECTED; None when the friend has one."""
    row = await conn.fetchrow(
        """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, order_id, status, rejection_reason,
                                  decided_at, started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, $8)
           ON CONFLICT (shop_id, friend_id) DO NOTHING
           RETURNING *""",
        shop, referrer_id, friend_id, code, order_id, "REJECTED" if rejection else "PENDING", rejection,
        started_at,
    )
    return row


async def reject(conn: Connection, shop: str, referral_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """UPDATE referrals SET status = 'REJECTED', rejection_reason = $3, decided_at = now()
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, reason,
    )


async def set_order(conn: Connection, shop: str, referral_id: uuid.UUID, order_id: str) -> None:
    """Follow this order from now on; what was noted of another order (its return window, and a
    payment noted on the referral: docs/operations.md, referrals 0003) is dropped."""
    await conn.execute(
        """UPDATE referrals SET order_id = $3, order_paid = false, order_net = NULL, currency = NULL,
               convert_due = NULL
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, order_id)


async def set_convert_due(conn: Connection, shop: str, referral_id: uuid.UUID, due: datetime) -> None:
    await conn.execute("UPDATE referrals SET convert_due = $3 WHERE shop_id = $1 AND id = $2", shop, referral_id, due)


async def converted_count(conn: Connection, shop: str, referrer_id: str, *, since: datetime | None = None) -> int:
    """The referrer's conversions (decided at or after `since`, when given)."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM referrals
           WHERE shop_id = $1 AND referrer_id = $2 AND status = 'CONVERTED'
             AND ($3::timestamptz IS NULL OR decided_at >= $3)""",
        shop, referrer_id, since,
    )
    return count


async def convert(conn: Connection, shop: str, referral_id: uuid.UUID, *, reward_kind: str,
                  reward_amount: Decimal | None, reward_points: int | None, currency: str) -> None:
    await conn.execute(
        """UPDATE referrals SET status = 'CONVERTED', decided_at = now(), reward_kind = $3, reward_amount = $4,
               reward_points = $5, currency = $6
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, reward_kind, reward_amount, reward_points, currency,
    )


async def reverse(conn: Connection, shop: str, referral_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE referrals SET status = 'REVERSED', decided_at = now() WHERE shop_id = $1 AND id = $2",
        shop, referral_id,
    )


async def of_referrer(pool: asyncpg.Pool, shop: str, referrer_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM referrals WHERE shop_id = $1 AND referrer_id = $2 ORDER BY created_at DESC LIMIT 500",
        shop, referrer_id,
    )


async def stats(pool: Executor, shop: str, referrer_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Counts and rewards per referrer, for those of `referrer_ids` with any referral."""
    return await pool.fetch(
        """SELECT referrer_id,
                  count(*) AS invited,
                  count(*) FILTER (WHERE status = 'CONVERTED') AS converted,
                  count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
                  count(*) FILTER (WHERE status = 'REVERSED') AS reversed,
                  coalesce(sum(reward_amount) FILTER (WHERE status = 'CONVERTED'), 0) AS earned,
                  coalesce(sum(reward_points) FILTER (WHERE status = 'CONVERTED'), 0) AS earned_points
           FROM referrals WHERE shop_id = $1 AND referrer_id = ANY($2::text[])
           GROUP BY referrer_id""",
        shop, list(referrer_ids),
    )


async def list_all(pool: asyncpg.Pool, shop: str, status: str | None, size: int,
                   after: Sequence[Any] | None) -> list[asyncpg.Record]:
    created, last_id = after if after else (None, None)
    return await pool.fetch(
        """SELECT * FROM referrals
           WHERE shop_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        shop, status, created, last_id, size + 1,
    )
