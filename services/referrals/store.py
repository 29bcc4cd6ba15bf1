"""All SQL of the referrals service, and nothing else: the use cases (referring.py, facts.py,
attribution.py) decide, lock in their order and publish."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from shared.db import Connection, Executor

# The columns of `programs` a merchant may change (a fixed whitelist for the UPDATE below).
PROGRAM_COLUMNS = ("friend_discount_percent", "minimum_order", "reward_kind", "reward_amount", "reward_points",
                   "ambassador_threshold", "ambassador_reward_amount", "ambassador_reward_points",
                   "return_window_days", "signups_per_hour", "rewards_per_month", "shared_address_rejects",
                   "currency")


def _one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (an aggregate, an upsert)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row


# ---- codes and what we know of people ------------------------------------------------------


async def code_of(conn: Executor, shop: str, customer_id: str) -> str | None:
    code: str | None = await conn.fetchval(
        "SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )
    return code


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


# ---- the program ---------------------------------------------------------------------------


async def program(conn: Executor, shop: str) -> dict[str, Any]:
    """The shop's program; a shop that never configured one gets the table's defaults (as a row)."""
    await conn.execute("INSERT INTO programs (shop_id) VALUES ($1) ON CONFLICT DO NOTHING", shop)
    return dict(_one(await conn.fetchrow("SELECT * FROM programs WHERE shop_id = $1", shop)))


async def save_program(conn: Connection, shop: str, changes: Mapping[str, Any]) -> None:
    """Set the given columns of the shop's program row (which program() has created)."""
    names = [name for name in PROGRAM_COLUMNS if name in changes]
    if names:
        assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
        await conn.execute(f"UPDATE programs SET {assignments}, updated_at = now() WHERE shop_id = $1",
                           shop, *(changes[n] for n in names))


# ---- referrals -----------------------------------------------------------------------------


async def referral_of_friend(conn: Connection, shop: str, friend_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE shop_id = $1 AND friend_id = $2 FOR UPDATE", shop, friend_id
    )


async def signups_last_hour(conn: Connection, shop: str, referrer_id: str) -> int:
    count: int = await conn.fetchval(
        """SELECT count(*) FROM referrals
           WHERE shop_id = $1 AND referrer_id = $2 AND created_at > now() - interval '1 hour'""",
        shop, referrer_id,
    )
    return count


async def create(conn: Connection, shop: str, *, referrer_id: str, friend_id: str, code: str,
                 started_at: datetime, order_id: str | None, rejection: str | None) -> asyncpg.Record | None:
    """The friend's referral, PENDING or already REJECTED; None when the friend has one."""
    row = await conn.fetchrow(
        """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, order_id, status, rejection_reason,
                                  decided_at, started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, $8)
           ON CONFLICT (shop_id, friend_id) DO NOTHING
           RETURNING *""",
        shop, referrer_id, friend_id, code, order_id, "REJECTED" if rejection else "PENDING", rejection,
        started_at,
    )
    return row


async def reject(conn: Connection, shop: str, referral_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """UPDATE referrals SET status = 'REJECTED', rejection_reason = $3, decided_at = now()
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, reason,
    )


async def set_order(conn: Connection, shop: str, referral_id: uuid.UUID, order_id: str) -> None:
    """Follow this order from now on; what was noted of another order (its return window, and a
    payment noted on the referral: docs/operations.md, referrals 0003) is dropped."""
    await conn.execute(
        """UPDATE referrals SET order_id = $3, order_paid = false, order_net = NULL, currency = NULL,
               convert_due = NULL
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, order_id)


async def set_convert_due(conn: Connection, shop: str, referral_id: uuid.UUID, due: datetime) -> None:
    await conn.execute("UPDATE referrals SET convert_due = $3 WHERE shop_id = $1 AND id = $2", shop, referral_id, due)


async def add_friend_offer(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, code: str,
                           percent: int) -> None:
    """The friend's single-use discount, once per friend. Raises UniqueViolationError when another
    offer of the shop holds `code`."""
    await conn.execute(
        """INSERT INTO friend_offers (shop_id, friend_id, referral_id, code, percent_off)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (shop_id, friend_id) DO NOTHING""",
        shop, friend_id, referral_id, code, percent,
    )


async def use_friend_offer(conn: Connection, shop: str, friend_id: str, codes: Sequence[str],
                           order_id: str) -> None:
    """`codes` as codes.normal() writes them."""
    await conn.execute(
        """UPDATE friend_offers SET used_order = $4
           WHERE shop_id = $1 AND friend_id = $2 AND code = ANY($3::text[]) AND used_order IS NULL""",
        shop, friend_id, list(codes), order_id,
    )


async def friend_offer(pool: asyncpg.Pool, shop: str, friend_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT o.* FROM friend_offers o JOIN referrals r ON r.shop_id = o.shop_id AND r.id = o.referral_id
           WHERE o.shop_id = $1 AND o.friend_id = $2 AND r.status IN ('PENDING', 'CONVERTED')""",
        shop, friend_id,
    )


async def converted_count(conn: Connection, shop: str, referrer_id: str, *, since: datetime | None = None) -> int:
    """The referrer's conversions (decided at or after `since`, when given)."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM referrals
           WHERE shop_id = $1 AND referrer_id = $2 AND status = 'CONVERTED'
             AND ($3::timestamptz IS NULL OR decided_at >= $3)""",
        shop, referrer_id, since,
    )
    return count


async def convert(conn: Connection, shop: str, referral_id: uuid.UUID, *, reward_kind: str,
                  reward_amount: Decimal | None, reward_points: int | None, currency: str) -> None:
    await conn.execute(
        """UPDATE referrals SET status = 'CONVERTED', decided_at = now(), reward_kind = $3, reward_amount = $4,
               reward_points = $5, currency = $6
           WHERE shop_id = $1 AND id = $2""",
        shop, referral_id, reward_kind, reward_amount, reward_points, currency,
    )


async def reverse(conn: Connection, shop: str, referral_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE referrals SET status = 'REVERSED', decided_at = now() WHERE shop_id = $1 AND id = $2",
        shop, referral_id,
    )


async def referral_by_id(conn: Connection, shop: str, referral_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM referrals WHERE shop_id = $1 AND id = $2::uuid FOR UPDATE", shop, referral_id
    )


# ---- reading -------------------------------------------------------------------------------


async def referrals_of(pool: asyncpg.Pool, shop: str, referrer_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM referrals WHERE shop_id = $1 AND referrer_id = $2 ORDER BY created_at DESC LIMIT 500",
        shop, referrer_id,
    )


async def stats(pool: Executor, shop: str, referrer_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Counts and rewards per referrer, for those of `referrer_ids` with any referral."""
    return await pool.fetch(
        """SELECT referrer_id,
                  count(*) AS invited,
                  count(*) FILTER (WHERE status = 'CONVERTED') AS converted,
                  count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
                  count(*) FILTER (WHERE status = 'REVERSED') AS reversed,
                  coalesce(sum(reward_amount) FILTER (WHERE status = 'CONVERTED'), 0) AS earned,
                  coalesce(sum(reward_points) FILTER (WHERE status = 'CONVERTED'), 0) AS earned_points
           FROM referrals WHERE shop_id = $1 AND referrer_id = ANY($2::text[])
           GROUP BY referrer_id""",
        shop, list(referrer_ids),
    )


async def list_all(pool: asyncpg.Pool, shop: str, status: str | None, size: int,
                   after: Sequence[Any] | None) -> list[asyncpg.Record]:
    created, last_id = after if after else (None, None)
    return await pool.fetch(
        """SELECT * FROM referrals
           WHERE shop_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        shop, status, created, last_id, size + 1,
    )


async def count_landing_miss(pool: asyncpg.Pool, shop: str, client: str, window_start: datetime) -> int:
    """Count a failed code lookup of one client in the window; return the window's misses."""
    misses: int = await pool.fetchval(
        """INSERT INTO landing_lookups (shop_id, client, window_start, misses) VALUES ($1, $2, $3, 1)
           ON CONFLICT (shop_id, client, window_start) DO UPDATE SET misses = landing_lookups.misses + 1
           RETURNING misses""",
        shop, client, window_start,
    )
    return misses


async def landing_misses(pool: asyncpg.Pool, shop: str, client: str, window_start: datetime) -> int:
    misses: int = await pool.fetchval(
        "SELECT coalesce(max(misses), 0) FROM landing_lookups WHERE shop_id = $1 AND client = $2 AND window_start = $3",
        shop, client, window_start,
    )
    return misses


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    """GDPR: drop what identifies the person (name, mailbox key, fingerprints, offer code); the
    referral rows stay as anonymous counts behind the referrer's stats."""
    await conn.execute("DELETE FROM customer_facts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM friend_orders WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("UPDATE referral_codes SET first_name = NULL WHERE shop_id = $1 AND customer_id = $2",
                       shop, customer_id)
    await conn.execute("DELETE FROM friend_offers WHERE shop_id = $1 AND friend_id = $2", shop, customer_id)
