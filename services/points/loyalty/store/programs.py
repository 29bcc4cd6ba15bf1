"""SQL of the program versions: one row per version and shop, the newest in force."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def latest(conn: Executor, shop: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT version, config FROM programs WHERE shop_id = $1 ORDER BY version DESC LIMIT 1", shop)


async def insert_first(conn: Connection, shop: str, config: dict[str, Any]) -> asyncpg.Record | None:
    """Version 1 by 'system'; None when the shop has one already (a concurrent first write, say)."""
    return await conn.fetchrow(
        "INSERT INTO programs (shop_id, version, config, actor) VALUES ($1, 1, $2, 'system')"
        " ON CONFLICT DO NOTHING RETURNING version, config", shop, config)


async def insert_version(conn: Connection, shop: str, version: int, config: dict[str, Any], actor: str) -> None:
    await conn.execute("INSERT INTO programs (shop_id, version, config, actor) VALUES ($1, $2, $3, $4)",
                       shop, version, config, actor)


async def lock_versions(conn: Connection, shop: str) -> None:
    """Serialise writers of the shop's next version until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('points.program:' || $1))", shop)
