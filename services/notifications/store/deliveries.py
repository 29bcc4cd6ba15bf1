"""The delivery log: planned messages, their cancellation (and its memory for late events), the
frequency cap's counts, sending marks, opens and clicks, the pages of the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Connection


async def add(conn: Connection, shop: str, *, customer_id: str, channel: str,
                       template: str, dedup_key: str, variables: dict[str, Any], due_at: datetime | None = None,
                       flow_key: str | None = None, step_key: str | None = None, correlation: str | None = None,
                       transactional: bool = True, triggered_at: datetime | None = None) -> asyncpg.Record | None:
    """Log a message as SCHEDULED (due now when no time is given); its `id` and `due_at`, or None
    when it was planned before (the dedup key). `triggered_at` is the time of the event that planned
    it (see cancel_pending)."""
    return await conn.fetchrow(
        """INSERT INTO deliveries (shop_id, customer_id, channel, template, dedup_key, variables, due_at,
                                   flow_key, step_key, correlation, transactional, triggered_at)
           VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8, $9, $10, $11, $12)
           ON CONFLICT (shop_id, dedup_key) DO NOTHING
           RETURNING id::text, due_at""",
        shop, customer_id, channel, template, dedup_key, variables, due_at, flow_key, step_key, correlation,
        transactional, triggered_at,
    )


async def postpone(conn: Connection, shop: str, delivery_id: str, due_at: datetime, *, reason: str,
                   count_attempt: bool = False) -> int:
    """Move a message to a later time (quiet hours, a retry); it stays SCHEDULED. Returns its attempts."""
    attempts: int = await conn.fetchval(
        """UPDATE deliveries SET due_at = $3, error = $4, attempts = attempts + $5::int
           WHERE shop_id = $1 AND id = $2::uuid RETURNING attempts""",
        shop, delivery_id, due_at, reason, 1 if count_attempt else 0,
    )
    return attempts


async def cancel_pending(conn: Connection, shop: str, customer_id: str, flow_key: str,
                         correlation: str | None, reason: str, at: datetime) -> list[str]:
    """Cancel a flow's messages still waiting for a customer (optionally only one correlation)
    that events older than `at` planned, and remember the cancellation for older events still to
    come (cancelled_after). Returns the ids of the cancelled messages."""
    rows = await conn.fetch(
        """UPDATE deliveries SET status = 'CANCELLED', error = $5
           WHERE shop_id = $1 AND customer_id = $2 AND flow_key = $3 AND status = 'SCHEDULED'
             AND ($4::text IS NULL OR correlation = $4)
             AND (triggered_at IS NULL OR triggered_at < $6)
           RETURNING id::text""",
        shop, customer_id, flow_key, correlation, reason, at,
    )
    await conn.execute(
        """INSERT INTO flow_cancellations (shop_id, customer_id, flow_key, correlation, at)
           VALUES ($1, $2, $3, coalesce($4, ''), $5)
           ON CONFLICT (shop_id, customer_id, flow_key, correlation)
           DO UPDATE SET at = greatest(flow_cancellations.at, EXCLUDED.at)""",
        shop, customer_id, flow_key, correlation, at,
    )
    return [r["id"] for r in rows]


async def cancelled_after(conn: Connection, shop: str, customer_id: str, flow_key: str,
                          correlation: str | None, at: datetime) -> bool:
    """Whether an event that happened after `at` already cancelled this flow for the customer (for
    the whole flow, or for this correlation)."""
    return bool(await conn.fetchval(
        """SELECT true FROM flow_cancellations
           WHERE shop_id = $1 AND customer_id = $2 AND flow_key = $3
             AND correlation IN ('', coalesce($4, '')) AND at > $5
           LIMIT 1""",
        shop, customer_id, flow_key, correlation, at,
    ))


async def marketing_sent(conn: Connection, shop: str, customer_id: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE sent_at > now() - interval '1 day') AS day,
                  count(*) AS week
           FROM deliveries
           WHERE shop_id = $1 AND customer_id = $2 AND status = 'SENT' AND NOT transactional
             AND sent_at > now() - interval '7 days'""",
        shop, customer_id,
    )
    if row is None:  # an aggregate always has its row
        return 0, 0
    return row["day"], row["week"]


async def scheduled(conn: Connection, shop: str, customer_id: str) -> list[str]:
    """The ids of the customer's messages still waiting to be sent."""
    rows = await conn.fetch(
        "SELECT id::text FROM deliveries WHERE shop_id = $1 AND customer_id = $2 AND status = 'SCHEDULED'",
        shop, customer_id)
    return [r["id"] for r in rows]


async def failed(pool: asyncpg.Pool, shop: str, size: int,
                            after: Sequence[Any] | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM deliveries WHERE shop_id = $1 AND status = 'FAILED'
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $4""",
        shop, after[0] if after else None, after[1] if after else None, size + 1,
    )


async def mark_tracked(conn: Connection, shop: str, delivery_id: str, column: str) -> asyncpg.Record | None:
    """Stamp the first open or click; None when it was stamped before (or the delivery is unknown)."""
    assert column in ("opened_at", "clicked_at")
    return await conn.fetchrow(
        f"""UPDATE deliveries SET {column} = now()
            WHERE shop_id = $1 AND id = $2::uuid AND {column} IS NULL AND customer_id IS NOT NULL
            RETURNING *""",
        shop, delivery_id,
    )


async def for_update(conn: Connection, shop: str, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM deliveries WHERE shop_id = $1 AND id = $2::uuid FOR UPDATE", shop, delivery_id
    )


async def mark(conn: Connection, shop: str, delivery_id: str, status: str, *,
               recipient: str | None = None, subject: str | None = None, error: str | None = None) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = $3, recipient = coalesce($4, recipient),
               subject = coalesce($5, subject), error = $6,
               sent_at = CASE WHEN $3 = 'SENT' THEN now() ELSE sent_at END,
               attempts = attempts + CASE WHEN $3 IN ('SENT', 'FAILED') THEN 1 ELSE 0 END
           WHERE shop_id = $1 AND id = $2::uuid""",
        shop, delivery_id, status, recipient, subject, error,
    )


async def of_customer(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                     after: Sequence[Any] | None) -> list[asyncpg.Record]:
    if after is None:
        return await pool.fetch(
            """SELECT * FROM deliveries WHERE shop_id = $1 AND customer_id = $2
               ORDER BY created_at DESC, id DESC LIMIT $3""",
            shop, customer_id, size + 1,
        )
    return await pool.fetch(
        """SELECT * FROM deliveries WHERE shop_id = $1 AND customer_id = $2
             AND (created_at, id) < ($3::timestamptz, $4::uuid)
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        shop, customer_id, after[0], after[1], size + 1,
    )
