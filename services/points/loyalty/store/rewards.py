"""SQL of the rewards catalog and the redemptions (single-use codes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor


async def catalog(conn: Executor, shop: str, *, everything: bool = False) -> list[asyncpg.Record]:
    """Listed rewards (the active ones, or all of them), cheapest first."""
    return await conn.fetch(
        "SELECT * FROM rewards WHERE shop_id = $1 AND listed AND ($2 OR active) ORDER BY points_cost, id",
        shop, everything)


async def add_missing(conn: Connection, shop: str, rows: list[tuple[str, str, str, int, Decimal | None]]) -> None:
    """(id, name, kind, points_cost, value) rows the shop does not have yet."""
    await conn.executemany(
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        [(shop, *r) for r in rows])


async def upsert(conn: Connection, shop: str, *, id: str, name: str, kind: str, points_cost: int,
                 value: Decimal | None, min_tier: str | None, limit_per_customer: int | None,
                 limit_total: int | None, active: bool) -> asyncpg.Record:
    return await one(
        conn,
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value, min_tier, limit_per_customer,
               limit_total, active)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (shop_id, id) DO UPDATE SET name = $3, kind = $4, points_cost = $5, value = $6,
               min_tier = $7, limit_per_customer = $8, limit_total = $9, active = $10, updated_at = now(),
               redeemed_count = (SELECT count(*) FROM redemptions d WHERE d.shop_id = $1 AND d.reward_id = $2)
           RETURNING *""",
        shop, id, name, kind, points_cost, value, min_tier, limit_per_customer, limit_total, active)


async def reward(conn: Executor, shop: str, reward_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rewards WHERE shop_id = $1 AND id = $2", shop, reward_id)


async def rewards(conn: Executor, shop: str, reward_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM rewards WHERE shop_id = $1 AND id = ANY($2::text[])", shop, reward_ids)


async def listed_reward(conn: Executor, shop: str, reward_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rewards WHERE shop_id = $1 AND id = $2 AND listed", shop, reward_id)


async def lock_reward(conn: Connection, shop: str, reward_id: str) -> asyncpg.Record:
    return await one(conn, "SELECT * FROM rewards WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, reward_id)


async def upsert_unlisted(conn: Connection, shop: str, reward_id: str, name: str, kind: str,
                          value: Decimal) -> asyncpg.Record:
    """A reward granted by rules, never bought (the punch card): created, or its value updated."""
    return await one(
        conn,
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value, listed)
           VALUES ($1, $2, $3, $4, 0, $5, false)
           ON CONFLICT (shop_id, id) DO UPDATE SET value = $5
           RETURNING *""",
        shop, reward_id, name, kind, value)


async def add_unlisted(conn: Connection, shop: str, reward_id: str, name: str, kind: str) -> None:
    """A reward without a fixed value (store credit: each code carries its amount), once."""
    await conn.execute(
        """INSERT INTO rewards (shop_id, id, name, kind, points_cost, listed)
           VALUES ($1, $2, $3, $4, 0, false) ON CONFLICT DO NOTHING""",
        shop, reward_id, name, kind)


async def count_redeemed(conn: Connection, shop: str, reward_id: str) -> None:
    await conn.execute(
        "UPDATE rewards SET redeemed_count = redeemed_count + 1 WHERE shop_id = $1 AND id = $2", shop, reward_id)


# ---- redemptions --------------------------------------------------------------------------


async def redemption_by_key(conn: Executor, shop: str, customer_id: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND idempotency_key = $3",
        shop, customer_id, key)


async def redeemed_by(conn: Executor, shop: str, customer_id: str, reward_id: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM redemptions WHERE shop_id = $1 AND customer_id = $2 AND reward_id = $3",
        shop, customer_id, reward_id))


async def add_redemption(conn: Connection, shop: str, *, id: str, customer_id: str, reward_id: str, key: str,
                         code: str, kind: str, points: int, value: Any, currency: str,
                         expires_at: datetime) -> asyncpg.Record:
    return await one(
        conn,
        """INSERT INTO redemptions (shop_id, id, customer_id, reward_id, idempotency_key, code, kind, points_spent,
               value, currency, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           RETURNING *""",
        shop, id, customer_id, reward_id, key, code, kind, points, value, currency, expires_at)


async def redemptions(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM redemptions WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id LIMIT 200",
        shop, customer_id)


async def redemption_by_code(conn: Executor, shop: str, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM redemptions WHERE shop_id = $1 AND code = $2", shop, code)
