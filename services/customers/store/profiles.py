"""SQL of customer profiles: the customers row as the platform sends it, and the birthday
greeting's year."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from services.customers.store.rows import returned
from shared.db import Connection, Executor


async def get(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customers WHERE shop_id = $1 AND id = $2", shop, customer_id)


async def get_many(conn: Executor, shop: str, customer_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM customers WHERE shop_id = $1 AND id = ANY($2::text[])",
                            shop, customer_ids)


async def lock(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, customer_id
    )


async def insert(conn: Connection, shop: str, profile: Mapping[str, Any]) -> asyncpg.Record:
    """A new customer from the profile's fields (id, contact data, consents, referral_code, device_id)."""
    p = profile
    return returned(await conn.fetchrow(
        """INSERT INTO customers (shop_id, id, email, first_name, last_name, locale, timezone,
               birthday, phone, accepts_email, accepts_sms, accepts_whatsapp, referral_code, device_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           RETURNING *""",
        shop, p["id"], p["email"], p["first_name"], p["last_name"], p["locale"], p["timezone"], p["birthday"],
        p["phone"], p["accepts_email"], p["accepts_sms"], p["accepts_whatsapp"], p["referral_code"],
        p["device_id"],
    ))


async def update(conn: Connection, shop: str, profile: Mapping[str, Any]) -> asyncpg.Record:
    """Overwrite the contact data and consents of a customer the transaction holds locked (the
    referral code and device stay as registered)."""
    p = profile
    return returned(await conn.fetchrow(
        """UPDATE customers SET email = $3, first_name = $4, last_name = $5, locale = $6,
               timezone = $7, birthday = $8, phone = $9, accepts_email = $10, accepts_sms = $11,
               accepts_whatsapp = $12, updated_at = now()
           WHERE shop_id = $1 AND id = $2
           RETURNING *""",
        shop, p["id"], p["email"], p["first_name"], p["last_name"], p["locale"], p["timezone"], p["birthday"],
        p["phone"], p["accepts_email"], p["accepts_sms"], p["accepts_whatsapp"],
    ))


async def mark_greeted(conn: Connection, shop: str, customer_id: str, year: int) -> None:
    await conn.execute(
        "UPDATE customers SET birthday_greeted_year = $3 WHERE shop_id = $1 AND id = $2", shop, customer_id, year
    )


async def unerased(conn: Executor, shop: str, limit: int) -> list[str]:
    """Ids of the shop's customers not erased yet (a shop redaction's next batch)."""
    rows = await conn.fetch(
        "SELECT id FROM customers WHERE shop_id = $1 AND erased_at IS NULL ORDER BY id LIMIT $2", shop, limit)
    return [r["id"] for r in rows]
