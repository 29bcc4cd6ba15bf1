"""Codes and what the service knows of people: profile facts for the fraud checks, the facts of
their orders, the per-friend and per-referrer locks, erasure."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from shared.db import Connection, Executor


async def code_of(conn: Executor, shop: str, customer_id: str) -> str | None:
    code: str | None = await conn.fetchval(
        "SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )
    return code


async def codes_of(conn: Executor, shop: str, customer_ids: list[str]) -> dict[str, str]:
    """Customer id -> code, for those of `customer_ids` that have one."""
    rows = await conn.fetch(
        "SELECT customer_id, code FROM referral_codes WHERE shop_id = $1 AND customer_id = ANY($2::text[])",
        shop, customer_ids)
    return {r["customer_id"]: r["code"] for r in rows}


async def add_code(conn: Connection, shop: str, customer_id: str, code: str) -> str:
    """Give the customer `code` unless they have one already (then theirs is returned: the primary
    key picks one winner among concurrent callers). Raises UniqueViolationError when another
    customer of the shop holds `code`."""
    added: str = await conn.fetchval(
        """INSERT INTO referral_codes (shop_id, customer_id, code) VALUES ($1, $2, $3)
           ON CONFLICT (shop_id, customer_id)
           DO UPDATE SET customer_id = EXCLUDED.customer_id
           RETURNING code""",
        shop, customer_id, code,
    )
    return added


async def remember_profile(conn: Connection, shop: str, customer_id: str, *, first_name: str | None,
                           email_key: str | None, device_id: str | None) -> None:
    """The referrer's first name (on their code's row, which must exist) and the fraud checks' facts."""
    await conn.execute(
        "UPDATE referral_codes SET first_name = $3 WHERE shop_id = $1 AND customer_id = $2",
        shop, customer_id, first_name,
    )
    await conn.execute(
        """INSERT INTO customer_facts (shop_id, customer_id, email_key, device_ids)
           VALUES ($1, $2, $3, CASE WHEN $4::text IS NULL THEN '{}'::text[] ELSE ARRAY[$4::text] END)
           ON CONFLICT (shop_id, customer_id) DO UPDATE SET
               email_key = EXCLUDED.email_key,
               device_ids = CASE WHEN $4::text IS NULL OR $4::text = ANY(customer_facts.device_ids)
                                 THEN customer_facts.device_ids
                                 ELSE array_append(customer_facts.device_ids, $4::text) END""",
        shop, customer_id, email_key, device_id,
    )


async def lock_friend(conn: Connection, shop: str, customer_id: str) -> None:
    """Serialise the handlers about one customer (their events may be consumed concurrently)."""
    await conn.execute(
        "INSERT INTO customer_facts (shop_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        shop, customer_id,
    )
    await conn.execute(
        "SELECT 1 FROM customer_facts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE", shop, customer_id
    )


async def remember_order(conn: Connection, shop: str, customer_id: str, *,
                         address: str | None, payment: str | None, device: str | None) -> None:
    """Add an order's fingerprints to the customer's facts (the fraud checks compare them)."""
    await conn.execute(
        "INSERT INTO customer_facts (shop_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        shop, customer_id,
    )
    await conn.execute(
        """UPDATE customer_facts SET
               address_hashes = CASE WHEN $3::text IS NULL OR $3::text = ANY(address_hashes) THEN address_hashes
                                     ELSE array_append(address_hashes, $3::text) END,
               payment_fingerprints = CASE WHEN $4::text IS NULL OR $4::text = ANY(payment_fingerprints)
                                           THEN payment_fingerprints
                                           ELSE array_append(payment_fingerprints, $4::text) END,
               device_ids = CASE WHEN $5::text IS NULL OR $5::text = ANY(device_ids) THEN device_ids
                                 ELSE array_append(device_ids, $5::text) END
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id, address, payment, device,
    )


async def remember_order_fact(conn: Connection, shop: str, customer_id: str, order_id: str, *,
                              seen_at: datetime, currency: str, paid_net: Decimal | None = None,
                              delivered: bool = False, cancelled: bool = False,
                              refunded_net: Decimal | None = None, fully_refunded: bool = False) -> None:
    """Merge what one event says of an order into its facts. Facts only accumulate (a replayed or
    late event changes nothing it should not), so they come out the same in any arrival order."""
    await conn.execute(
        """INSERT INTO friend_orders (shop_id, customer_id, order_id, first_seen, currency, paid_net, delivered,
                                      cancelled, refunded_net, fully_refunded)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (shop_id, customer_id, order_id) DO UPDATE SET
               first_seen = LEAST(friend_orders.first_seen, EXCLUDED.first_seen),
               currency = COALESCE(friend_orders.currency, EXCLUDED.currency),
               paid_net = COALESCE(friend_orders.paid_net, EXCLUDED.paid_net),
               delivered = friend_orders.delivered OR EXCLUDED.delivered,
               cancelled = friend_orders.cancelled OR EXCLUDED.cancelled,
               refunded_net = LEAST(friend_orders.refunded_net, EXCLUDED.refunded_net),
               fully_refunded = friend_orders.fully_refunded OR EXCLUDED.fully_refunded""",
        shop, customer_id, order_id, seen_at, currency, paid_net, delivered, cancelled, refunded_net,
        fully_refunded,
    )


async def friend_orders(conn: Connection, shop: str, customer_id: str) -> list[asyncpg.Record]:
    """The customer's orders seen so far, the first seen first."""
    return await conn.fetch(
        """SELECT * FROM friend_orders WHERE shop_id = $1 AND customer_id = $2
           ORDER BY first_seen, order_id""",
        shop, customer_id,
    )


async def facts_of(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record | None:
    """What the fraud checks compare: mailbox key, devices, addresses, payment fingerprints."""
    return await conn.fetchrow(
        "SELECT * FROM customer_facts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )


async def referrer_by_code(conn: Executor, shop: str, code: str) -> asyncpg.Record | None:
    """`code` as codes.normal() writes it."""
    return await conn.fetchrow(
        "SELECT customer_id, first_name FROM referral_codes WHERE shop_id = $1 AND code = $2", shop, code,
    )


async def lock_referrer(conn: Connection, shop: str, referrer_id: str) -> None:
    """Serialise decisions about one referrer (velocity, monthly cap) across concurrent consumers."""
    await conn.execute(
        "SELECT 1 FROM referral_codes WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE", shop, referrer_id
    )


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    """GDPR: drop what identifies the person (name, mailbox key, fingerprints, offer code); the
    referral rows stay as anonymous counts behind the referrer's stats."""
    await conn.execute("DELETE FROM customer_facts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM friend_orders WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("UPDATE referral_codes SET first_name = NULL WHERE shop_id = $1 AND customer_id = $2",
                       shop, customer_id)
    await conn.execute("DELETE FROM friend_offers WHERE shop_id = $1 AND friend_id = $2", shop, customer_id)
