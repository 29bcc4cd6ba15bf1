"""SQL of the points each paid order earned (order_points), and deliveries seen before payment."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg

from shared.db import Connection, Executor


async def order_points(conn: Executor, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM order_points WHERE shop_id = $1 AND order_id = $2", shop, order_id)


async def many_order_points(conn: Executor, shop: str, order_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM order_points WHERE shop_id = $1 AND order_id = ANY($2::text[])",
                            shop, order_ids)


async def lock_order(conn: Connection, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM order_points WHERE shop_id = $1 AND order_id = $2 FOR UPDATE", shop, order_id)


async def record_earning(conn: Connection, shop: str, order_id: str, customer_id: str, currency: str,
                         net_amount: Decimal, earn_rate: Decimal, multiplier: Decimal, rule_version: int,
                         earned: int, paid_at: datetime, *, base_currency: str, fx_rate: Decimal | None,
                         fx_date: date | None, note: str | None) -> None:
    """What a paid order earned, with the rate that turned its currency into the program's (1 for
    the program's own; none, NOT_ELIGIBLE and `note` saying why, when there was no rate)."""
    await conn.execute(
        """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, paid_net, earn_rate,
               multiplier, rule_version, earned, paid_at, base_currency, fx_rate, fx_date, status, points_note)
           VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                   CASE WHEN $12::numeric IS NULL THEN 'NOT_ELIGIBLE' ELSE 'PENDING' END, $14)""",
        shop, order_id, customer_id, currency, net_amount, earn_rate, multiplier, rule_version, earned, paid_at,
        base_currency, fx_rate, fx_date, note)


async def record_void_before_payment(conn: Connection, shop: str, order_id: str, customer_id: str) -> None:
    """A tombstone for an order cancelled before its payment was seen: it earns nothing later."""
    await conn.execute(
        """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, earn_rate, multiplier,
               rule_version, earned, status, voided, paid_at)
           VALUES ($1, $2, $3, '', 0, 0, 1, 0, 0, 'REVERSED', true, now())""",
        shop, order_id, customer_id)


async def record_takeback(conn: Connection, shop: str, order_id: str, points: int, net_amount: Decimal,
                          voided: bool, status: str) -> None:
    """The order's new net amount and takeback, and the change kept in order_point_changes (what a
    simulation replays: when the order shrank and to what)."""
    await conn.execute(
        """WITH o AS (
               UPDATE order_points SET taken_back = taken_back + $3, net_amount = $4, voided = $5, status = $6
               WHERE shop_id = $1 AND order_id = $2 RETURNING customer_id)
           INSERT INTO order_point_changes (shop_id, order_id, customer_id, at, net_amount, voided)
           SELECT $1, $2, customer_id, now(), $4, $5 FROM o""",
        shop, order_id, points, net_amount, voided, status)


async def set_release_at(conn: Connection, shop: str, order_id: str, due: datetime, delivered_at: datetime) -> None:
    await conn.execute(
        "UPDATE order_points SET release_at = $3, delivered_at = $4 WHERE shop_id = $1 AND order_id = $2",
        shop, order_id, due, delivered_at)


async def mark_available(conn: Connection, shop: str, order_id: str) -> None:
    await conn.execute("UPDATE order_points SET status = 'AVAILABLE' WHERE shop_id = $1 AND order_id = $2",
                       shop, order_id)


async def paid_orders(conn: Executor, shop: str, customer_id: str) -> int:
    """Orders paid and not voided (cancelled or fully refunded)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM order_points WHERE shop_id = $1 AND customer_id = $2 AND NOT voided",
        shop, customer_id))


async def qualifying_spend(conn: Executor, shop: str, customer_id: str, currency: str, since: datetime,
                           until: datetime | None = None) -> Decimal:
    """Net spend in `currency` (the program's) of the orders paid after `since` (and at or before
    `until`) and not voided, each at the rate it earned at; orders without a rate count for nothing."""
    return Decimal(await conn.fetchval(
        """SELECT coalesce(sum(net_amount * fx_rate), 0) FROM order_points
           WHERE shop_id = $1 AND customer_id = $2 AND base_currency = $3 AND fx_rate IS NOT NULL
             AND NOT voided AND paid_at > $4 AND ($5::timestamptz IS NULL OR paid_at <= $5)""",
        shop, customer_id, currency, since, until))


async def not_eligible(conn: Executor, shop: str) -> list[asyncpg.Record]:
    """Paid orders that earned nothing for want of an exchange rate, per currency."""
    return await conn.fetch(
        """SELECT currency, count(*) AS orders, max(paid_at) AS last_paid_at FROM order_points
           WHERE shop_id = $1 AND status = 'NOT_ELIGIBLE' GROUP BY currency ORDER BY currency""",
        shop)


async def remember_early_delivery(conn: Connection, shop: str, order_id: str, delivered_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO early_deliveries (shop_id, order_id, delivered_at) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        shop, order_id, delivered_at)


async def take_early_delivery(conn: Connection, shop: str, order_id: str) -> datetime | None:
    """The delivery seen before the order's payment, forgotten as it is answered."""
    delivered_at: datetime | None = await conn.fetchval(
        "DELETE FROM early_deliveries WHERE shop_id = $1 AND order_id = $2 RETURNING delivered_at", shop, order_id)
    return delivered_at
