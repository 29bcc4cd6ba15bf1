"""SQL of privacy data requests a platform sent on a person's behalf."""

from __future__ import annotations

import asyncpg

from shared.db import Connection, Executor


async def add(conn: Connection, shop: str, request: str, connection_id: str, platform_request_id: str,
              customer_id: str, orders: list[str], known: bool) -> asyncpg.Record | None:
    """The request, once per platform request id; None when it was noted before."""
    return await conn.fetchrow(
        """INSERT INTO data_requests (shop_id, id, connection_id, request_id, customer_id, orders_requested, known)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shop_id, connection_id, request_id) DO NOTHING
           RETURNING *""",
        shop, request, connection_id, platform_request_id, customer_id, orders, known)


async def of_shop(conn: Executor, shop: str, limit: int = 200) -> list[asyncpg.Record]:
    """The shop's requests with the platform of their connection, newest first."""
    return await conn.fetch(
        """SELECT r.*, c.platform, c.domain FROM data_requests r
           JOIN commerce_connections c ON c.shop_id = r.shop_id AND c.id = r.connection_id
           WHERE r.shop_id = $1 ORDER BY r.received_at DESC, r.id LIMIT $2""",
        shop, limit)


async def forget_shop(conn: Connection, shop: str) -> None:
    await conn.execute("DELETE FROM data_requests WHERE shop_id = $1", shop)
