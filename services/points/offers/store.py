"""All SQL of offers and their uses. Store functions only run SQL: no transaction, no rule, no event.

Lock order: an offer row is locked after the customer's account (when a use case holds one), and
several offers in the order of their code keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor

# Every read of an offer shows the order of its latest use that still stands (Offer.redeemedOrderId).
_OFFER = """SELECT o.*, (SELECT u.order_id FROM offer_uses u WHERE u.shop_id = o.shop_id AND u.offer_id = o.id
                     AND u.released_at IS NULL ORDER BY u.redeemed_at DESC LIMIT 1) AS redeemed_order_id
            FROM offers o"""


async def insert(conn: Connection, shop: str, *, id: str, key: str, code: str, code_key: str, source: str,
                 kind: str, value: Decimal | None, currency: str, min_order: Decimal | None,
                 starts_at: datetime, expires_at: datetime, customer_id: str | None, usage_limit: int,
                 reward_id: str | None, redemption_id: str | None) -> asyncpg.Record | None:
    """The new offer, as `by_id` reads it (a new offer has no use, so no redeeming order); None when
    its key or its code is taken (the caller looks which)."""
    return await conn.fetchrow(
        """INSERT INTO offers (shop_id, id, key, code, code_key, source, kind, value, currency, min_order,
                               starts_at, expires_at, customer_id, usage_limit, reward_id, redemption_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
           ON CONFLICT DO NOTHING RETURNING *, NULL::text AS redeemed_order_id""",
        shop, id, key, code, code_key, source, kind, value, currency, min_order, starts_at, expires_at,
        customer_id, usage_limit, reward_id, redemption_id)


async def by_id(conn: Executor, shop: str, offer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_OFFER} WHERE o.shop_id = $1 AND o.id = $2", shop, offer_id)


async def by_key(conn: Executor, shop: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_OFFER} WHERE o.shop_id = $1 AND o.key = $2", shop, key)


async def by_code(conn: Executor, shop: str, code_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_OFFER} WHERE o.shop_id = $1 AND o.code_key = $2", shop, code_key)


async def by_redemption(conn: Executor, shop: str, redemption_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_OFFER} WHERE o.shop_id = $1 AND o.redemption_id = $2", shop, redemption_id)


async def lock_by_code(conn: Connection, shop: str, code_key: str) -> asyncpg.Record | None:
    """The offer, locked until the transaction ends: its uses are counted one checkout at a time."""
    return await conn.fetchrow(f"{_OFFER} WHERE o.shop_id = $1 AND o.code_key = $2 FOR UPDATE OF o", shop, code_key)


async def lock(conn: Connection, shop: str, offer_id: str) -> asyncpg.Record:
    return await one(conn, f"{_OFFER} WHERE o.shop_id = $1 AND o.id = $2 FOR UPDATE OF o", shop, offer_id)


async def use(conn: Executor, shop: str, offer_id: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM offer_uses WHERE shop_id = $1 AND offer_id = $2 AND order_id = $3", shop, offer_id, order_id)


async def add_use(conn: Connection, shop: str, offer_id: str, order_id: str, *, discount: Decimal | None,
                  free_shipping: bool, currency: str | None, subtotal: Decimal | None) -> asyncpg.Record:
    """A use by the order (or the order's released use taken up again)."""
    return await one(
        conn,
        """INSERT INTO offer_uses (shop_id, offer_id, order_id, discount, free_shipping, currency, subtotal)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shop_id, offer_id, order_id) DO UPDATE SET discount = $4, free_shipping = $5, currency = $6,
               subtotal = $7, redeemed_at = now(), released_at = NULL, release_reason = NULL
           RETURNING *""",
        shop, offer_id, order_id, discount, free_shipping, currency, subtotal)


async def release_use(conn: Connection, shop: str, offer_id: str, order_id: str, reason: str) -> bool:
    """Release the order's standing use; False when there was none."""
    done = await conn.fetchval(
        """UPDATE offer_uses SET released_at = now(), release_reason = $4
           WHERE shop_id = $1 AND offer_id = $2 AND order_id = $3 AND released_at IS NULL RETURNING true""",
        shop, offer_id, order_id, reason)
    return bool(done)


async def count_use(conn: Connection, shop: str, offer_id: str, delta: int) -> asyncpg.Record:
    """Move the offer's count of standing uses; REDEEMED when none is left, ACTIVE again when one is."""
    await conn.execute(
        """UPDATE offers SET used_count = used_count + $3,
               status = CASE WHEN status = 'REVOKED' THEN status
                             WHEN used_count + $3 >= usage_limit THEN 'REDEEMED' ELSE 'ACTIVE' END
           WHERE shop_id = $1 AND id = $2""", shop, offer_id, delta)
    return await one(conn, f"{_OFFER} WHERE o.shop_id = $1 AND o.id = $2", shop, offer_id)


async def standing_uses_of_order(conn: Executor, shop: str, order_id: str) -> list[asyncpg.Record]:
    """The offers an order uses now (not released), in lock order."""
    return await conn.fetch(
        """SELECT o.id, o.code_key FROM offer_uses u JOIN offers o ON o.shop_id = u.shop_id AND o.id = u.offer_id
           WHERE u.shop_id = $1 AND u.order_id = $2 AND u.released_at IS NULL ORDER BY o.code_key""",
        shop, order_id)


async def mark_redemption(conn: Connection, shop: str, redemption_id: str, used: bool) -> None:
    """Keep the redemption's used_at (Redemption.usedAt) in step with its offer."""
    await conn.execute(
        "UPDATE redemptions SET used_at = CASE WHEN $3 THEN coalesce(used_at, now()) END"
        " WHERE shop_id = $1 AND id = $2", shop, redemption_id, used)


async def revoke(conn: Connection, shop: str, offer_id: str, reason: str) -> asyncpg.Record:
    await conn.execute(
        """UPDATE offers SET status = 'REVOKED', revoked_at = now(), revoke_reason = $3
           WHERE shop_id = $1 AND id = $2""", shop, offer_id, reason)
    return await one(conn, f"{_OFFER} WHERE o.shop_id = $1 AND o.id = $2", shop, offer_id)


async def of_customer(conn: Executor, shop: str, customer_id: str, status: str | None,
                      now: datetime) -> list[asyncpg.Record]:
    """A customer's offers, newest first, optionally of one status (EXPIRED read from expires_at)."""
    return await conn.fetch(
        f"""{_OFFER} WHERE o.shop_id = $1 AND o.customer_id = $2 AND (
                $3::text IS NULL
             OR ($3 = 'EXPIRED' AND o.status = 'ACTIVE' AND o.expires_at <= $4)
             OR ($3 = 'ACTIVE' AND o.status = 'ACTIVE' AND o.expires_at > $4)
             OR ($3 NOT IN ('ACTIVE', 'EXPIRED') AND o.status = $3))
            ORDER BY o.created_at DESC, o.id LIMIT 200""",
        shop, customer_id, status, now)


async def issued_by_source(conn: Executor, shop: str, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """Per source, the offers issued in [start, end) and how many of them an order uses."""
    return await conn.fetch(
        """SELECT o.source, count(*) AS issued,
                  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM offer_uses u WHERE u.shop_id = o.shop_id
                                                   AND u.offer_id = o.id AND u.released_at IS NULL)) AS redeemed
           FROM offers o WHERE o.shop_id = $1 AND o.created_at >= $2 AND o.created_at < $3
           GROUP BY o.source""", shop, start, end)


async def money_by_source(conn: Executor, shop: str, start: datetime, end: datetime,
                          currency: str) -> list[asyncpg.Record]:
    """Per source, for the offers issued in [start, end): the net revenue (after refunds) of the paid
    orders in `currency` that use them, each order once, and the discounts those orders got. (A
    validateRewardCode use names no order: it counts in neither.)"""
    return await conn.fetch(
        """WITH used AS (
               SELECT o.source, u.order_id, coalesce(u.discount, 0) AS discount
               FROM offers o JOIN offer_uses u ON u.shop_id = o.shop_id AND u.offer_id = o.id
               JOIN order_points p ON p.shop_id = u.shop_id AND p.order_id = u.order_id
               WHERE o.shop_id = $1 AND o.created_at >= $2 AND o.created_at < $3 AND u.released_at IS NULL
                 AND NOT p.voided AND p.currency = $4)
           SELECT u.source, sum(u.discount) AS cost,
                  (SELECT coalesce(sum(p.net_amount), 0) FROM order_points p
                    WHERE p.shop_id = $1 AND p.order_id IN (SELECT order_id FROM used v WHERE v.source = u.source))
                      AS revenue
           FROM used u GROUP BY u.source""", shop, start, end, currency)
