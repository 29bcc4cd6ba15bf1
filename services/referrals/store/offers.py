"""The friend's single-use offer: asked of the points service, its code and terms once issued, the
order that used it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg

from shared.db import Connection, Executor


async def add(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, percent: int) -> bool:
    """The friend's offer, asked for now (its code comes with offer.issued); once per friend: False
    when the friend has one already."""
    return bool(await conn.fetchval(
        """INSERT INTO friend_offers (shop_id, friend_id, referral_id, percent_off, asked_at)
           VALUES ($1, $2, $3, $4, now()) ON CONFLICT (shop_id, friend_id) DO NOTHING RETURNING true""",
        shop, friend_id, referral_id, percent,
    ))


async def issued(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, *, offer_id: str,
                 code: str, expires_at: datetime | None, min_order: Decimal | None, currency: str | None) -> bool:
    """Keep the issued offer of the friend's referral (again: no change); False when there is no such
    offer (the friend was erased) or it holds another offer."""
    return bool(await conn.fetchval(
        """UPDATE friend_offers SET offer_id = $4, code = $5, expires_at = $6, min_order = $7, currency = $8,
               refused = NULL, asked_at = coalesce(asked_at, now())
           WHERE shop_id = $1 AND friend_id = $2 AND referral_id = $3 AND (offer_id IS NULL OR offer_id = $4)
           RETURNING true""",
        shop, friend_id, referral_id, offer_id, code, expires_at, min_order, currency,
    ))


async def refused(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """UPDATE friend_offers SET refused = $4
           WHERE shop_id = $1 AND friend_id = $2 AND referral_id = $3 AND offer_id IS NULL""",
        shop, friend_id, referral_id, reason,
    )


async def use(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, offer_id: str,
              order_id: str) -> None:
    """The order that redeemed the offer (the first one stays)."""
    await conn.execute(
        """UPDATE friend_offers SET used_order = $5
           WHERE shop_id = $1 AND friend_id = $2 AND referral_id = $3 AND offer_id = $4 AND used_order IS NULL""",
        shop, friend_id, referral_id, offer_id, order_id,
    )


async def give_back(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, offer_id: str,
                    order_id: str) -> None:
    """That order no longer uses the offer (its redemption was released)."""
    await conn.execute(
        """UPDATE friend_offers SET used_order = NULL
           WHERE shop_id = $1 AND friend_id = $2 AND referral_id = $3 AND offer_id = $4 AND used_order = $5""",
        shop, friend_id, referral_id, offer_id, order_id,
    )


async def to_hand_over(conn: Connection, shop: str, limit: int) -> list[asyncpg.Record]:
    """Codes minted here before offers were the points service's, never asked for, still unused, of
    a referral that is open or converted (the ones Customer.friendOffer shows)."""
    return await conn.fetch(
        """SELECT o.* FROM friend_offers o JOIN referrals r ON r.shop_id = o.shop_id AND r.id = o.referral_id
           WHERE o.shop_id = $1 AND o.asked_at IS NULL AND o.code IS NOT NULL AND o.used_order IS NULL
             AND r.status IN ('PENDING', 'CONVERTED')
           ORDER BY o.created_at, o.friend_id LIMIT $2""",
        shop, limit,
    )


async def handed_over(conn: Connection, shop: str, friend_ids: list[str]) -> None:
    await conn.execute(
        "UPDATE friend_offers SET asked_at = now() WHERE shop_id = $1 AND friend_id = ANY($2::text[])",
        shop, friend_ids,
    )


async def shops_to_hand_over(conn: Executor) -> list[str]:
    """The shops with codes to_hand_over()."""
    rows = await conn.fetch(
        """SELECT DISTINCT o.shop_id FROM friend_offers o
           JOIN referrals r ON r.shop_id = o.shop_id AND r.id = o.referral_id
           WHERE o.asked_at IS NULL AND o.code IS NOT NULL AND o.used_order IS NULL
             AND r.status IN ('PENDING', 'CONVERTED')
           ORDER BY o.shop_id""")
    return [r["shop_id"] for r in rows]


async def of_friend(pool: asyncpg.Pool, shop: str, friend_id: str) -> asyncpg.Record | None:
    """The friend's issued offer while their referral is open or converted."""
    return await pool.fetchrow(
        """SELECT o.* FROM friend_offers o JOIN referrals r ON r.shop_id = o.shop_id AND r.id = o.referral_id
           WHERE o.shop_id = $1 AND o.friend_id = $2 AND o.code IS NOT NULL
             AND r.status IN ('PENDING', 'CONVERTED')""",
        shop, friend_id,
    )
