"""SQL of the store-credit wallet: its accounts and entries."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor


async def credit_account(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credit_accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)


async def lock_credit_account(conn: Connection, shop: str, customer_id: str, currency: str) -> asyncpg.Record:
    """The wallet, opened in `currency` when missing, locked until the transaction ends."""
    await conn.execute(
        """INSERT INTO credit_accounts (shop_id, customer_id, currency) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""", shop, customer_id, currency)
    return await one(conn, "SELECT * FROM credit_accounts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE",
                     shop, customer_id)


async def entry_by_key(conn: Executor, shop: str, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT customer_id, amount FROM credit_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, idempotency_key)


async def insert_entry(conn: Connection, shop: str, *, customer_id: str, kind: str, amount: Decimal, currency: str,
                       reason: str, source_event_id: str | None, idempotency_key: str, actor: str) -> None:
    await conn.execute(
        """INSERT INTO credit_entries (shop_id, customer_id, kind, amount, currency, reason, source_event_id,
               idempotency_key, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        shop, customer_id, kind, amount, currency, reason, source_event_id, idempotency_key, actor)


async def move_balance(conn: Connection, shop: str, customer_id: str, amount: Decimal) -> asyncpg.Record:
    return await one(
        conn,
        """UPDATE credit_accounts SET balance = balance + $3, updated_at = now()
           WHERE shop_id = $1 AND customer_id = $2 RETURNING *""", shop, customer_id, amount)


async def rewarded_before(conn: Executor, shop: str, points_key: str, credit_key: str) -> bool:
    """Whether an action was already rewarded, in points (ledger) or in credit (wallet)."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2)
               OR EXISTS (SELECT 1 FROM credit_entries WHERE shop_id = $1 AND idempotency_key = $3)""",
        shop, points_key, credit_key))
