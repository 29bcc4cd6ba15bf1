"""The friend's single-use offer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from shared.db import Connection


async def add(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, code: str,
                           percent: int) -> None:
    """The friend's single-use discount, once per friend. Raises UniqueViolationError when another
    offer of the shop holds `code`."""
    await conn.execute(
        """INSERT INTO friend_offers (shop_id, friend_id, referral_id, code, percent_off)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (shop_id, friend_id) DO NOTHING""",
        shop, friend_id, referral_id, code, percent,
    )


async def use(conn: Connection, shop: str, friend_id: str, codes: Sequence[str],
                           order_id: str) -> None:
    """`codes` as codes.normal() writes them."""
    await conn.execute(
        """UPDATE friend_offers SET used_order = $4
           WHERE shop_id = $1 AND friend_id = $2 AND code = ANY($3::text[]) AND used_order IS NULL""",
        shop, friend_id, list(codes), order_id,
    )


async def of_friend(pool: asyncpg.Pool, shop: str, friend_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT o.* FROM friend_offers o JOIN referrals r ON r.shop_id = o.shop_id AND r.id = o.referral_id
           WHERE o.shop_id = $1 AND o.friend_id = $2 AND r.status IN ('PENDING', 'CONVERTED')""",
        shop, friend_id,
    )
