"""All SQL of the notifications service."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared import schedule

SEND_JOB = "delivery.send"


async def save_contact(conn: asyncpg.Connection, shop: str, customer_id: str, *, email: str,
                       first_name: str | None, locale: str, timezone: str | None, accepts_email: bool,
                       accepts_sms: bool, accepts_whatsapp: bool) -> None:
    await conn.execute(
        """INSERT INTO contacts (shop_id, customer_id, email, first_name, locale, timezone,
               accepts_email, accepts_sms, accepts_whatsapp)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (shop_id, customer_id) DO UPDATE SET
               email = EXCLUDED.email, first_name = EXCLUDED.first_name, locale = EXCLUDED.locale,
               timezone = EXCLUDED.timezone, accepts_email = EXCLUDED.accepts_email,
               accepts_sms = EXCLUDED.accepts_sms, accepts_whatsapp = EXCLUDED.accepts_whatsapp,
               updated_at = now()""",
        shop, customer_id, email, first_name, locale, timezone, accepts_email, accepts_sms, accepts_whatsapp,
    )


async def contact(conn: asyncpg.Connection, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contacts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )


async def plan_delivery(conn: asyncpg.Connection, shop: str, *, customer_id: str, channel: str,
                        template: str, dedup_key: str, variables: dict[str, Any]) -> str | None:
    """Log a message as SCHEDULED and queue its sending; None when it was planned before."""
    delivery_id = await conn.fetchval(
        """INSERT INTO deliveries (shop_id, customer_id, channel, template, dedup_key, variables)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (shop_id, dedup_key) DO NOTHING
           RETURNING id::text""",
        shop, customer_id, channel, template, dedup_key, variables,
    )
    if delivery_id is None:
        return None
    due_at = await conn.fetchval("SELECT due_at FROM deliveries WHERE shop_id = $1 AND id = $2::uuid",
                                 shop, delivery_id)
    await schedule.schedule(conn, shop=shop, kind=SEND_JOB, dedup_key=delivery_id, due_at=due_at,
                            payload={"delivery_id": delivery_id})
    return delivery_id


async def delivery_for_update(conn: asyncpg.Connection, shop: str, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM deliveries WHERE shop_id = $1 AND id = $2::uuid FOR UPDATE", shop, delivery_id
    )


async def mark(conn: asyncpg.Connection, shop: str, delivery_id: str, status: str, *,
               recipient: str | None = None, subject: str | None = None, error: str | None = None) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = $3, recipient = coalesce($4, recipient),
               subject = coalesce($5, subject), error = $6,
               sent_at = CASE WHEN $3 = 'SENT' THEN now() ELSE sent_at END
           WHERE shop_id = $1 AND id = $2::uuid""",
        shop, delivery_id, status, recipient, subject, error,
    )


async def deliveries(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                     after: list | None) -> list[asyncpg.Record]:
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
