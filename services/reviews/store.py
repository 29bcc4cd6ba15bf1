"""All SQL of the reviews service."""

from __future__ import annotations

import asyncpg


async def reviews_by_customer(pool: asyncpg.Pool, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM reviews WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at DESC",
        shop, customer_id,
    )
