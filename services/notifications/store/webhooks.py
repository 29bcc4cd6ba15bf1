"""Merchant webhook endpoints and the log of their deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def endpoints(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM webhook_endpoints WHERE shop_id = $1 ORDER BY created_at, id", shop)


async def save_endpoint(conn: Connection, shop: str, endpoint_id: str | None, *, url: str,
                                secret: str | None, event_types: list[str], enabled: bool) -> asyncpg.Record | None:
    if endpoint_id is None:
        return await conn.fetchrow(
            """INSERT INTO webhook_endpoints (shop_id, url, secret, event_types, enabled)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""", shop, url, secret, event_types, enabled)
    return await conn.fetchrow(
        """UPDATE webhook_endpoints SET url = $3, secret = coalesce($4, secret), event_types = $5, enabled = $6
           WHERE shop_id = $1 AND id = $2::uuid RETURNING *""", shop, endpoint_id, url, secret, event_types, enabled)


async def subscribed_endpoints(conn: Connection, shop: str, event_type: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT id::text FROM webhook_endpoints
           WHERE shop_id = $1 AND enabled AND $2 = ANY(event_types) ORDER BY id""", shop, event_type)
    return [r["id"] for r in rows]


async def add_delivery(conn: Connection, shop: str, endpoint_id: str, event_id: str,
                               event_type: str, customer_id: str | None, payload: dict[str, Any]) -> str | None:
    """Log one event for one endpoint; None when it was logged before."""
    delivery_id: str | None = await conn.fetchval(
        """INSERT INTO webhook_deliveries (shop_id, endpoint_id, event_id, event_type, customer_id, payload)
           VALUES ($1, $2::uuid, $3, $4, $5, $6)
           ON CONFLICT (shop_id, endpoint_id, event_id) DO NOTHING RETURNING id::text""",
        shop, endpoint_id, event_id, event_type, customer_id, payload)
    return delivery_id


async def delivery_for_update(conn: Connection, shop: str, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT d.*, e.url, e.secret FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.shop_id = d.shop_id AND e.id = d.endpoint_id
           WHERE d.shop_id = $1 AND d.id = $2::uuid FOR UPDATE OF d""", shop, delivery_id)


async def attempt(conn: Connection, shop: str, delivery_id: str, status: str, error: str | None,
                          response_status: int | None) -> None:
    await conn.execute(
        """UPDATE webhook_deliveries SET status = $3, error = $4, response_status = $5, attempts = attempts + 1,
               delivered_at = CASE WHEN $3 = 'SENT' THEN now() ELSE delivered_at END
           WHERE shop_id = $1 AND id = $2::uuid""", shop, delivery_id, status, error, response_status)


async def deliveries(pool: asyncpg.Pool, shop: str, status: str | None, size: int,
                             after: Sequence[Any] | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM webhook_deliveries WHERE shop_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        shop, status, after[0] if after else None, after[1] if after else None, size + 1)
