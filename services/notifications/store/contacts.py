"""The people messages go to: contacts (profile, preferences, segment, tier), their orders, the
events waiting for a profile, the per-customer lock, erasure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def save_contact(conn: Connection, shop: str, customer_id: str, *, email: str,
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


async def contact(conn: Executor, shop: str, customer_id: str, *, lock: bool = False
                  ) -> asyncpg.Record | None:
    """With lock, two messages to one customer are decided one after the other (the frequency cap)."""
    return await conn.fetchrow(
        "SELECT * FROM contacts WHERE shop_id = $1 AND customer_id = $2" + (" FOR UPDATE" if lock else ""),
        shop, customer_id,
    )


async def contacts(conn: Executor, shop: str, customer_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The contacts of those of `customer_ids` the service knows."""
    return await conn.fetch("SELECT * FROM contacts WHERE shop_id = $1 AND customer_id = ANY($2::text[])",
                            shop, list(customer_ids))


async def audience(conn: Connection, shop: str, segment: str | None,
                   tier: str | None = None) -> list[asyncpg.Record]:
    """The shop's contacts, only those of a segment and/or only those whose current tier (the last
    tier.changed seen) is exactly `tier` when given."""
    return await conn.fetch(
        """SELECT * FROM contacts WHERE shop_id = $1 AND ($2::text IS NULL OR segment = $2)
             AND ($3::text IS NULL OR tier = $3)
           ORDER BY customer_id""",
        shop, segment, tier,
    )


async def save_tier(conn: Connection, shop: str, customer_id: str, tier: str, at: datetime) -> bool:
    """Keep the tier announced at `at` unless a later announcement is already kept (points announces a
    customer's tier changes in order, but a delivery may be retried past a newer one). False when the
    contact is not known (yet)."""
    return bool(await conn.fetchval(
        """UPDATE contacts SET tier = CASE WHEN tier_at IS NULL OR tier_at <= $4 THEN $3 ELSE tier END,
               tier_at = greatest(tier_at, $4)
           WHERE shop_id = $1 AND customer_id = $2 RETURNING true""",
        shop, customer_id, tier, at))


async def save_segment(conn: Connection, shop: str, customer_id: str, segment: str) -> bool:
    """False when the contact is not known (yet)."""
    result = await conn.execute("UPDATE contacts SET segment = $3 WHERE shop_id = $1 AND customer_id = $2",
                                shop, customer_id, segment)
    return result != "UPDATE 0"


async def save_preferences(conn: Connection, shop: str, customer_id: str, changes: Mapping[str, Any]
                           ) -> asyncpg.Record | None:
    """Apply the given columns (only known preference columns) and return the contact."""
    allowed = ("email_opt", "sms_opt", "whatsapp_opt", "phone", "pref_locale", "pref_timezone", "quiet_start",
               "quiet_end")
    cols = [c for c in allowed if c in changes]
    assignments = ", ".join(f"{c} = ${i + 3}" for i, c in enumerate(cols)) or "updated_at = updated_at"
    return await conn.fetchrow(
        f"UPDATE contacts SET {assignments} WHERE shop_id = $1 AND customer_id = $2 RETURNING *",
        shop, customer_id, *(changes[c] for c in cols),
    )


async def lock_customer(conn: Connection, shop: str, customer_id: str) -> None:
    """A transaction lock per customer, for handlers that must not interleave about one person."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))", shop, customer_id)


async def wait_for_contact(conn: Connection, shop: str, customer_id: str, event_type: str,
                           data: dict[str, Any], happened_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO waiting_events (shop_id, customer_id, event_type, data, happened_at)
           VALUES ($1, $2, $3, $4, $5)""",
        shop, customer_id, event_type, data, happened_at,
    )
    await conn.execute("DELETE FROM waiting_events WHERE received_at < now() - interval '7 days'")


async def take_waiting_events(conn: Connection, shop: str, customer_id: str) -> list[asyncpg.Record]:
    rows = await conn.fetch(
        """DELETE FROM waiting_events WHERE shop_id = $1 AND customer_id = $2
           RETURNING event_type, data, happened_at, id""",
        shop, customer_id,
    )
    return sorted(rows, key=lambda r: r["id"])  # in the order they arrived


async def save_order(conn: Connection, shop: str, *, order_id: str, customer_id: str, currency: str,
                     total: Any, status: str, placed_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO orders (shop_id, order_id, customer_id, currency, total, status, placed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shop_id, order_id) DO UPDATE SET status = EXCLUDED.status, total = EXCLUDED.total""",
        shop, order_id, customer_id, currency, total, status, placed_at,
    )


async def order(conn: Executor, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM orders WHERE shop_id = $1 AND order_id = $2", shop, order_id)


async def erase_customer(conn: Connection, shop: str, customer_id: str, id_hash: str) -> None:
    """Forget the person; keep each delivery's channel, template, status and times (anonymous counts);
    remember only the hash of their id (is_erased)."""
    await conn.execute(
        """UPDATE deliveries SET customer_id = NULL, recipient = NULL, subject = NULL, variables = '{}',
               error = CASE WHEN status = 'SCHEDULED' THEN 'customer erased' ELSE NULL END,
               status = CASE WHEN status = 'SCHEDULED' THEN 'CANCELLED' ELSE status END,
               correlation = NULL, dedup_key = 'erased:' || id::text
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id,
    )
    await conn.execute(
        """UPDATE webhook_deliveries SET customer_id = NULL, payload = '{}'
           WHERE shop_id = $1 AND customer_id = $2""", shop, customer_id)
    await conn.execute("DELETE FROM contacts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM orders WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM flow_cancellations WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("INSERT INTO erased_customers (shop_id, id_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       shop, id_hash)


async def is_erased(conn: Connection, shop: str, id_hash: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM erased_customers WHERE shop_id = $1 AND id_hash = $2",
                                    shop, id_hash))
