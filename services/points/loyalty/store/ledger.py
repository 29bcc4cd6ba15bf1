"""SQL of the points ledger: accounts, their entries and their sums."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor


async def account(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )


_LOCK = "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE"


async def lock_account(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record:
    """The account row, created when missing, locked until the transaction ends. The lock first: an
    account that exists (nearly every call) costs one statement, not an insert that does nothing too.
    A row this transaction inserts is as good as locked: another one inserting it waits for the commit
    on the key, then finds it and locks it."""
    row = await conn.fetchrow(_LOCK, shop, customer_id)
    if row is not None:
        return row
    created = await conn.fetchrow(
        "INSERT INTO accounts (shop_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING *",
        shop, customer_id)
    return created if created is not None else await one(conn, _LOCK, shop, customer_id)


async def entry_by_key(conn: Executor, shop: str, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT customer_id, delta, rule_version FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, idempotency_key,
    )


async def insert_entry(conn: Connection, shop: str, *, customer_id: str, kind: str, bucket: str, delta: int,
                       reason: str, source_event_id: str | None, idempotency_key: str, actor: str,
                       rule_version: int | None, fx_currency: str | None = None, fx_rate: Decimal | None = None,
                       fx_date: date | None = None) -> bool:
    """Append the entry; False when its idempotency key is taken (nothing written)."""
    return bool(await conn.fetchval(
        """INSERT INTO ledger_entries (shop_id, customer_id, kind, bucket, delta, reason, source_event_id,
               idempotency_key, actor, rule_version, fx_currency, fx_rate, fx_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (shop_id, idempotency_key) DO NOTHING
           RETURNING true""",
        shop, customer_id, kind, bucket, delta, reason, source_event_id, idempotency_key, actor, rule_version,
        fx_currency, fx_rate, fx_date,
    ))


async def move_sums(conn: Connection, shop: str, customer_id: str, *, balance: int, pending: int,
                    lifetime_earned: int, activity: bool) -> asyncpg.Record:
    """Move the account's sums by one entry; `activity` also stamps last_activity_at."""
    return await one(
        conn,
        """UPDATE accounts SET balance = balance + $3, pending = pending + $4,
               lifetime_earned = lifetime_earned + $5, updated_at = now(),
               last_activity_at = CASE WHEN $6 THEN now() ELSE last_activity_at END
           WHERE shop_id = $1 AND customer_id = $2
           RETURNING *""",
        shop, customer_id, balance, pending, lifetime_earned, activity,
    )


async def add_shortfall(conn: Connection, shop: str, customer_id: str, points: int) -> asyncpg.Record:
    """Record points taken back after they were spent (negative `points` settle some)."""
    return await one(
        conn, "UPDATE accounts SET shortfall = shortfall + $3 WHERE shop_id = $1 AND customer_id = $2 RETURNING *",
        shop, customer_id, points)


async def history(conn: Executor, shop: str, customer_id: str, size: int,
                  before_id: int | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM ledger_entries
           WHERE shop_id = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        shop, customer_id, before_id, size + 1,
    )


async def count_since(conn: Executor, shop: str, customer_id: str, key_prefix: str, since: datetime) -> int:
    """The customer's entries whose key starts with `key_prefix`, made at or after `since`."""
    return int(await conn.fetchval(
        """SELECT count(*) FROM ledger_entries
           WHERE shop_id = $1 AND customer_id = $2 AND starts_with(idempotency_key, $3) AND created_at >= $4""",
        shop, customer_id, key_prefix, since))


async def outstanding_points(conn: Executor, shop: str) -> int:
    """Available and pending points of every account of the shop."""
    return int(await conn.fetchval(
        "SELECT coalesce(sum(balance + pending), 0) FROM accounts WHERE shop_id = $1", shop))


# ---- many accounts at once (bulk adjustments) ---------------------------------------------


async def lock_balances(conn: Connection, shop: str, customer_ids: list[str]) -> dict[str, int]:
    """Create the missing accounts, lock them all (in customer id order) and answer their balances."""
    await conn.execute(
        """INSERT INTO accounts (shop_id, customer_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
        shop, customer_ids)
    return {r["customer_id"]: r["balance"] for r in await conn.fetch(
        """SELECT customer_id, balance FROM accounts WHERE shop_id = $1 AND customer_id = ANY($2::text[])
           ORDER BY customer_id FOR UPDATE""", shop, customer_ids)}


async def entries_by_keys(conn: Executor, shop: str, keys: list[str]) -> dict[str, asyncpg.Record]:
    return {r["idempotency_key"]: r for r in await conn.fetch(
        """SELECT idempotency_key, customer_id, delta FROM ledger_entries
           WHERE shop_id = $1 AND idempotency_key = ANY($2::text[])""", shop, keys)}


async def insert_adjustments(conn: Connection, shop: str, customer_ids: list[str], deltas: list[int],
                             reasons: list[str], keys: list[str]) -> None:
    """Admin adjustments into the available bucket, one row per position of the lists."""
    await conn.execute(
        """INSERT INTO ledger_entries (shop_id, customer_id, kind, bucket, delta, reason, idempotency_key, actor)
           SELECT $1, c, 'adjust', 'available', d, r, k, 'admin'
           FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS t(c, d, r, k)""",
        shop, customer_ids, deltas, reasons, keys)


async def add_to_sums(conn: Connection, shop: str, customer_ids: list[str], balances: list[int],
                      lifetime_earned: list[int]) -> None:
    """Move many accounts' balance and lifetime sums at once, one row per position of the lists."""
    await conn.execute(
        """UPDATE accounts a SET balance = a.balance + t.b, lifetime_earned = a.lifetime_earned + t.l,
               updated_at = now()
           FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(c, b, l)
           WHERE a.shop_id = $1 AND a.customer_id = t.c""",
        shop, customer_ids, balances, lifetime_earned)

