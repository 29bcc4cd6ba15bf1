"""All SQL of the notifications service, and nothing else: the use cases (automation.py,
delivery.py, contacts.py, configuration.py, webhooks.py, engagement.py) decide, queue the jobs and
publish."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Connection, Executor

# ---- contacts: profile, preferences, segment, tier, orders, waiting events, erasure --------------


async def save_contact(conn: Connection, shop: str, customer_id: str, *, email: str,
                       first_name: str | None, locale: str, timezone: str | None, accepts_email: bool,
                       accepts_sms: bool, accepts_whatsapp: bool, phone: str | None) -> None:
    """The profile as the customers service announced it; `phone` is the platform's (profile_phone),
    the customer's own choice (`phone`, preferences) is kept apart and wins."""
    await conn.execute(
        """INSERT INTO contacts (shop_id, customer_id, email, first_name, locale, timezone,
               accepts_email, accepts_sms, accepts_whatsapp, profile_phone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (shop_id, customer_id) DO UPDATE SET
               email = EXCLUDED.email, first_name = EXCLUDED.first_name, locale = EXCLUDED.locale,
               timezone = EXCLUDED.timezone, accepts_email = EXCLUDED.accepts_email,
               accepts_sms = EXCLUDED.accepts_sms, accepts_whatsapp = EXCLUDED.accepts_whatsapp,
               profile_phone = EXCLUDED.profile_phone, updated_at = now()""",
        shop, customer_id, email, first_name, locale, timezone, accepts_email, accepts_sms, accepts_whatsapp,
        phone,
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
               correlation = NULL, offer_key = NULL, dedup_key = 'erased:' || id::text
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


# ---- the delivery log: planned messages, cancellations, cap counts, sending, tracking ------------


async def add_delivery(conn: Connection, shop: str, *, customer_id: str, channel: str,
                       template: str, dedup_key: str, variables: dict[str, Any], due_at: datetime | None = None,
                       flow_key: str | None = None, step_key: str | None = None, correlation: str | None = None,
                       transactional: bool = True, triggered_at: datetime | None = None,
                       offer_key: str | None = None, skipped: str | None = None) -> asyncpg.Record | None:
    """Log a message as SCHEDULED (due now when no time is given); its `id` and `due_at`, or None
    when it was planned before (the dedup key). `triggered_at` is the time of the event that planned
    it (see cancel_pending); `offer_key` the key its offer will be asked under. With `skipped` (the
    reason) it is logged CANCELLED instead: planned, and never to be sent."""
    return await conn.fetchrow(
        """INSERT INTO deliveries (shop_id, customer_id, channel, template, dedup_key, variables, due_at,
                                   flow_key, step_key, correlation, transactional, triggered_at, offer_key,
                                   status, error)
           VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8, $9, $10, $11, $12, $13,
                   CASE WHEN $14::text IS NULL THEN 'SCHEDULED' ELSE 'CANCELLED' END, $14)
           ON CONFLICT (shop_id, dedup_key) DO NOTHING
           RETURNING id::text, due_at""",
        shop, customer_id, channel, template, dedup_key, variables, due_at, flow_key, step_key, correlation,
        transactional, triggered_at, offer_key, skipped,
    )


async def offer_asked(conn: Connection, shop: str, delivery_id: str, key: str, at: datetime) -> datetime:
    """Note that a message asked for its offer under `key`; returns when it first asked."""
    first: datetime = await conn.fetchval(
        """UPDATE deliveries SET offer_key = $3, offer_asked_at = coalesce(offer_asked_at, $4)
           WHERE shop_id = $1 AND id = $2::uuid RETURNING offer_asked_at""",
        shop, delivery_id, key, at,
    )
    return first


async def offer_issued(conn: Connection, shop: str, delivery_id: str, key: str, offer_id: str,
                       offer: dict[str, Any]) -> datetime | None:
    """Give a waiting message the offer issued under its key, due at once; its due time, or None when
    it is not waiting for that (sent, cancelled, another key, or it has its offer already)."""
    due: datetime | None = await conn.fetchval(
        """UPDATE deliveries SET variables = variables || jsonb_build_object('offer', $5::jsonb),
               offer_id = $4, due_at = least(due_at, now()), error = NULL
           WHERE shop_id = $1 AND id = $2::uuid AND status = 'SCHEDULED' AND offer_key = $3 AND offer_id IS NULL
           RETURNING due_at""",
        shop, delivery_id, key, offer_id, offer,
    )
    return due


async def offer_refused(conn: Connection, shop: str, delivery_id: str, key: str, reason: str) -> bool:
    """Cancel a message still waiting for the offer of `key`; False when it is not (any more)."""
    return bool(await conn.fetchval(
        """UPDATE deliveries SET status = 'CANCELLED', error = $4
           WHERE shop_id = $1 AND id = $2::uuid AND status = 'SCHEDULED' AND offer_key = $3 AND offer_id IS NULL
           RETURNING true""",
        shop, delivery_id, key, reason,
    ))


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


async def scheduled_deliveries(conn: Connection, shop: str, customer_id: str) -> list[str]:
    """The ids of the customer's messages still waiting to be sent."""
    rows = await conn.fetch(
        "SELECT id::text FROM deliveries WHERE shop_id = $1 AND customer_id = $2 AND status = 'SCHEDULED'",
        shop, customer_id)
    return [r["id"] for r in rows]


async def failed_deliveries(pool: asyncpg.Pool, shop: str, size: int,
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


async def delivery_for_update(conn: Connection, shop: str, delivery_id: str) -> asyncpg.Record | None:
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


async def deliveries(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
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


# ---- a shop's flow overrides and settings --------------------------------------------------------


async def flow_overrides(conn: Executor, shop: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT flow_key, enabled, steps FROM flow_overrides WHERE shop_id = $1", shop)
    return {r["flow_key"]: {"enabled": r["enabled"], "steps": r["steps"]} for r in rows}


async def save_flow_override(conn: Connection, shop: str, flow_key: str, enabled: bool | None,
                             steps: dict[str, dict[str, Any]]) -> None:
    await conn.execute(
        """INSERT INTO flow_overrides (shop_id, flow_key, enabled, steps) VALUES ($1, $2, $3, $4)
           ON CONFLICT (shop_id, flow_key) DO UPDATE SET
               enabled = coalesce(EXCLUDED.enabled, flow_overrides.enabled),
               steps = flow_overrides.steps || EXCLUDED.steps, updated_at = now()""",
        shop, flow_key, enabled, steps,
    )


# The settings a shop may set (a fixed whitelist for the upsert below).
SETTINGS_COLUMNS = ("storefront_url", "tracking_url", "daily_cap", "weekly_cap", "retry_seconds", "sms_provider_url",
                    "sms_account_sid", "sms_auth_token", "sms_from", "whatsapp_from", "message_webhook_url",
                    "webhook_secret")


async def shop_settings(conn: Executor, shop: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM shop_settings WHERE shop_id = $1", shop)


async def save_shop_settings(conn: Connection, shop: str, values: Mapping[str, Any]) -> asyncpg.Record | None:
    """Set the given settings (absent ones keep their value)."""
    cols = [c for c in SETTINGS_COLUMNS if c in values]
    names = ", ".join(["shop_id", *cols])
    params = ", ".join(f"${i + 1}" for i in range(len(cols) + 1))
    updates = ", ".join([*(f"{c} = EXCLUDED.{c}" for c in cols), "updated_at = now()"])
    return await conn.fetchrow(
        f"""INSERT INTO shop_settings ({names}) VALUES ({params})
            ON CONFLICT (shop_id) DO UPDATE SET {updates} RETURNING *""",
        shop, *(values[c] for c in cols),
    )


# ---- merchant webhook endpoints and their deliveries ---------------------------------------------


async def webhook_endpoints(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM webhook_endpoints WHERE shop_id = $1 ORDER BY created_at, id", shop)


async def save_webhook_endpoint(conn: Connection, shop: str, endpoint_id: str | None, *, url: str,
                                secret: str | None, event_types: list[str], enabled: bool) -> asyncpg.Record | None:
    if endpoint_id is None:
        return await conn.fetchrow(
            """INSERT INTO webhook_endpoints (shop_id, url, secret, event_types, enabled)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""", shop, url, secret, event_types, enabled)
    return await conn.fetchrow(
        """UPDATE webhook_endpoints SET url = $3, secret = coalesce($4, secret), event_types = $5, enabled = $6
           WHERE shop_id = $1 AND id = $2::uuid RETURNING *""", shop, endpoint_id, url, secret, event_types, enabled)


async def enabled_webhook_endpoints(conn: Executor, shop: str) -> list[asyncpg.Record]:
    """(id, event_types) of the shop's enabled endpoints, by id."""
    return await conn.fetch(
        "SELECT id::text, event_types FROM webhook_endpoints WHERE shop_id = $1 AND enabled ORDER BY id", shop)


async def webhook_event_types(conn: Executor) -> list[str]:
    """The event types some enabled endpoint of any shop subscribes to, sorted."""
    rows = await conn.fetch(
        "SELECT DISTINCT unnest(event_types) AS event_type FROM webhook_endpoints WHERE enabled ORDER BY 1")
    return [r["event_type"] for r in rows]


async def subscribed_endpoints(conn: Connection, shop: str, event_type: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT id::text FROM webhook_endpoints
           WHERE shop_id = $1 AND enabled AND $2 = ANY(event_types) ORDER BY id""", shop, event_type)
    return [r["id"] for r in rows]


async def add_webhook_delivery(conn: Connection, shop: str, endpoint_id: str, event_id: str,
                               event_type: str, customer_id: str | None, payload: dict[str, Any]) -> str | None:
    """Log one event for one endpoint; None when it was logged before."""
    delivery_id: str | None = await conn.fetchval(
        """INSERT INTO webhook_deliveries (shop_id, endpoint_id, event_id, event_type, customer_id, payload)
           VALUES ($1, $2::uuid, $3, $4, $5, $6)
           ON CONFLICT (shop_id, endpoint_id, event_id) DO NOTHING RETURNING id::text""",
        shop, endpoint_id, event_id, event_type, customer_id, payload)
    return delivery_id


async def webhook_delivery_for_update(conn: Connection, shop: str, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT d.*, e.url, e.secret FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.shop_id = d.shop_id AND e.id = d.endpoint_id
           WHERE d.shop_id = $1 AND d.id = $2::uuid FOR UPDATE OF d""", shop, delivery_id)


async def webhook_attempt(conn: Connection, shop: str, delivery_id: str, status: str, error: str | None,
                          response_status: int | None) -> None:
    await conn.execute(
        """UPDATE webhook_deliveries SET status = $3, error = $4, response_status = $5, attempts = attempts + 1,
               delivered_at = CASE WHEN $3 = 'SENT' THEN now() ELSE delivered_at END
           WHERE shop_id = $1 AND id = $2::uuid""", shop, delivery_id, status, error, response_status)


async def webhook_deliveries(pool: asyncpg.Pool, shop: str, status: str | None, size: int,
                             after: Sequence[Any] | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM webhook_deliveries WHERE shop_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        shop, status, after[0] if after else None, after[1] if after else None, size + 1)
