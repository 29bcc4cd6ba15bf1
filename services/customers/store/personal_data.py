"""SQL of erasure: what identifies a person goes, ids and amounts stay. (The export reads with the
other modules and shared/personal_data.py.)"""

from __future__ import annotations

import asyncpg

from shared.db import Connection


async def lock_person(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record | None:
    """The profile's erased_at, then every order of the person, locked: the order in which a status
    change takes its locks. None (nothing locked) for an unknown customer."""
    row = await conn.fetchrow(
        "SELECT erased_at FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, customer_id
    )
    if row is not None:
        await conn.execute("SELECT 1 FROM orders WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE",
                           shop, customer_id)
    return row


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    """The profile keeps its id and order summary, orders keep ids and amounts; contact data,
    consents, device and payment traces, and the keys engagements were counted under go."""
    await conn.execute(
        """UPDATE customers SET email = NULL, first_name = NULL, last_name = NULL, timezone = NULL,
               birthday = NULL, phone = NULL, accepts_email = false, accepts_sms = false,
               accepts_whatsapp = false, referral_code = NULL, device_id = NULL,
               erased_at = now(), updated_at = now()
           WHERE shop_id = $1 AND id = $2""",
        shop, customer_id,
    )
    await conn.execute(
        """UPDATE orders SET referral_code = NULL, discount_codes = '{}', shipping_address_hash = NULL,
               payment_fingerprint = NULL, device_id = NULL, updated_at = now()
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id,
    )
    await conn.execute(
        "UPDATE engagements SET idempotency_key = NULL WHERE shop_id = $1 AND customer_id = $2",
        shop, customer_id,
    )


async def forget_published_events(conn: Connection, shop: str, customer_id: str) -> None:
    """Published events are history only the relay keeps; those about this person carried their profile."""
    await conn.execute(
        """DELETE FROM outbox WHERE shop_id = $1 AND published_at IS NOT NULL
             AND envelope->'data'->>'customer_id' = $2""",
        shop, customer_id,
    )
