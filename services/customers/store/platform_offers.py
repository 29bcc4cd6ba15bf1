"""SQL of offers pushed to platforms: what Flywheel wants at each connection, and what is there."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def want(conn: Connection, shop: str, connection_id: str, offer_id: str, facts: dict[str, Any],
               active: bool) -> int:
    """Record what the offer should be at the connection; the version of that wish (new or changed
    facts or state bump it)."""
    return int(await conn.fetchval(
        """INSERT INTO platform_offers (shop_id, connection_id, offer_id, facts, wanted_active)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (shop_id, connection_id, offer_id) DO UPDATE
               SET facts = excluded.facts, wanted_active = excluded.wanted_active,
                   version = platform_offers.version + 1, updated_at = now()
           RETURNING version""",
        shop, connection_id, offer_id, facts, active))


async def lock(conn: Connection, shop: str, connection_id: str, offer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT * FROM platform_offers WHERE shop_id = $1 AND connection_id = $2 AND offer_id = $3
           FOR UPDATE""",
        shop, connection_id, offer_id)


async def get(conn: Executor, shop: str, connection_id: str, offer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM platform_offers WHERE shop_id = $1 AND connection_id = $2 AND offer_id = $3",
        shop, connection_id, offer_id)


async def record_remote(conn: Connection, shop: str, connection_id: str, offer_id: str, *,
                        remote_id: str | None, active: bool | None, skipped: str | None = None) -> None:
    await conn.execute(
        """UPDATE platform_offers SET remote_id = coalesce($4, remote_id), remote_active = $5, skipped = $6,
               updated_at = now()
           WHERE shop_id = $1 AND connection_id = $2 AND offer_id = $3""",
        shop, connection_id, offer_id, remote_id, active, skipped)
