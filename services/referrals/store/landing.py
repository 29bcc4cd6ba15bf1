"""Unknown codes looked up on the landing page, counted per client and window."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def misses(pool: asyncpg.Pool, shop: str, client: str, window_start: datetime) -> int:
    misses: int = await pool.fetchval(
        "SELECT coalesce(max(misses), 0) FROM landing_lookups WHERE shop_id = $1 AND client = $2 AND window_start = $3",
        shop, client, window_start,
    )
    return misses


async def count_miss(pool: asyncpg.Pool, shop: str, client: str, window_start: datetime) -> int:
    """Count a failed code lookup of one client in the window; return the window's misses."""
    misses: int = await pool.fetchval(
        """INSERT INTO landing_lookups (shop_id, client, window_start, misses) VALUES ($1, $2, $3, 1)
           ON CONFLICT (shop_id, client, window_start) DO UPDATE SET misses = landing_lookups.misses + 1
           RETURNING misses""",
        shop, client, window_start,
    )
    return misses
