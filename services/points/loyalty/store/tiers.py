"""SQL of an account's tier columns and the once-per-period 'almost there' nudges."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection


async def set_tier(conn: Connection, shop: str, customer_id: str, tier: str, since: datetime | None
                   ) -> asyncpg.Record:
    return await one(
        conn, "UPDATE accounts SET tier = $3, tier_since = $4 WHERE shop_id = $1 AND customer_id = $2 RETURNING *",
        shop, customer_id, tier, since)


async def set_override(conn: Connection, shop: str, customer_id: str, tier: str, until: datetime,
                       reason: str) -> None:
    await conn.execute(
        """UPDATE accounts SET tier_override = $3, tier_override_until = $4, tier_override_reason = $5
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id, tier, until, reason)


async def set_announced(conn: Connection, shop: str, customer_id: str, tier: str) -> None:
    await conn.execute("UPDATE accounts SET announced_tier = $3 WHERE shop_id = $1 AND customer_id = $2",
                       shop, customer_id, tier)


async def add_nudge(conn: Connection, shop: str, customer_id: str, tier: str, period: str) -> bool:
    """True the first time for this customer, tier and period."""
    return bool(await conn.fetchval(
        """INSERT INTO tier_nudges (shop_id, customer_id, tier, period) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        shop, customer_id, tier, period))
