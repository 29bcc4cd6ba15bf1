"""All SQL of the points service."""

from __future__ import annotations

import asyncpg

from services.points.ledger import Entry
from shared import events, outbox
from shared.errors import Conflict, InsufficientPoints

SOURCE = "points"


async def account(conn: asyncpg.Connection | asyncpg.Pool, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )


async def post(conn: asyncpg.Connection, shop: str, entry: Entry) -> tuple[asyncpg.Record, bool]:
    """Append an entry and move the account's sums, inside the caller's transaction.

    Returns (account, applied). An entry whose idempotency key was seen before is not applied
    again; the same key with a different delta is a CONFLICT. The account row is locked, so
    concurrent entries serialise and the balance check cannot be raced."""
    await conn.execute(
        "INSERT INTO accounts (shop_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        shop, entry.customer_id,
    )
    acct = await conn.fetchrow(
        "SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE",
        shop, entry.customer_id,
    )
    seen = await conn.fetchrow(
        "SELECT customer_id, delta FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, entry.idempotency_key,
    )
    if seen is not None:
        if seen["customer_id"] != entry.customer_id or seen["delta"] != entry.delta:
            raise Conflict("this idempotency key was already used for a different change")
        return acct, False
    if acct["balance"] + entry.delta < 0:
        raise InsufficientPoints(
            f"balance {acct['balance']} is too low for {entry.delta}", balance=acct["balance"]
        )
    await conn.execute(
        """INSERT INTO ledger_entries (shop_id, customer_id, kind, delta, reason, source_event_id,
               idempotency_key, actor, rule_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        shop, entry.customer_id, entry.kind, entry.delta, entry.reason, entry.source_event_id,
        entry.idempotency_key, entry.actor, entry.rule_version,
    )
    acct = await conn.fetchrow(
        """UPDATE accounts SET balance = balance + $3,
               lifetime_earned = lifetime_earned + greatest($3, 0), updated_at = now()
           WHERE shop_id = $1 AND customer_id = $2
           RETURNING *""",
        shop, entry.customer_id, entry.delta,
    )
    if entry.delta > 0:
        await outbox.add(conn, events.PointsEarned(
            shop=shop, customer_id=entry.customer_id, points=entry.delta, balance=acct["balance"],
            reason=entry.reason, source_id=entry.source_event_id or entry.idempotency_key,
        ), source=SOURCE)
    return acct, True


async def history(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                  before_id: int | None) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT * FROM ledger_entries
           WHERE shop_id = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        shop, customer_id, before_id, size + 1,
    )
