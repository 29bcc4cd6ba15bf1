"""Whole-system truths the fuzz and chaos tiers check across the services' databases and the broker:
money-like sums equal their ledgers, each paid order earned once, nothing waits unpublished or
undelivered outside a dead-letter queue. Each check returns a list of violations (empty: holds)."""

from __future__ import annotations

import aio_pika

from tests.stack import SERVICES, amqp_url, db

LEDGER_SUMS = """
SELECT a.shop_id, a.customer_id, a.balance, a.pending, a.lifetime_earned,
       coalesce(sum(e.delta) FILTER (WHERE e.bucket = 'available'), 0) AS ledger_balance,
       coalesce(sum(e.delta) FILTER (WHERE e.bucket = 'pending'), 0) AS ledger_pending,
       coalesce(sum(e.delta) FILTER (WHERE e.kind IN ('earn', 'reverse')
                                       OR (e.kind = 'adjust' AND e.delta > 0)), 0) AS ledger_lifetime
  FROM accounts a LEFT JOIN ledger_entries e USING (shop_id, customer_id)
 WHERE ($1::text IS NULL OR a.shop_id = $1) AND ($2::text IS NULL OR a.customer_id = $2)
 GROUP BY a.shop_id, a.customer_id, a.balance, a.pending, a.lifetime_earned
HAVING a.balance <> coalesce(sum(e.delta) FILTER (WHERE e.bucket = 'available'), 0)
    OR a.pending <> coalesce(sum(e.delta) FILTER (WHERE e.bucket = 'pending'), 0)
    OR a.lifetime_earned <> coalesce(sum(e.delta) FILTER (WHERE e.kind IN ('earn', 'reverse')
                                                            OR (e.kind = 'adjust' AND e.delta > 0)), 0)
"""

WALLET_SUMS = """
SELECT a.shop_id, a.customer_id, a.balance, coalesce(sum(e.amount), 0) AS ledger
  FROM credit_accounts a LEFT JOIN credit_entries e USING (shop_id, customer_id)
 WHERE ($1::text IS NULL OR a.shop_id = $1) AND ($2::text IS NULL OR a.customer_id = $2)
 GROUP BY a.shop_id, a.customer_id, a.balance
HAVING a.balance <> coalesce(sum(e.amount), 0)
"""


async def ledger_violations(shop: str | None = None, customer_id: str | None = None) -> list[str]:
    """Every points account (of one customer, one shop, or all) equals the sums of its ledger; every
    store-credit wallet equals its entries."""
    conn = await db("points")
    try:
        points = await conn.fetch(LEDGER_SUMS, shop, customer_id)
        wallets = await conn.fetch(WALLET_SUMS, shop, customer_id)
    finally:
        await conn.close()
    return ([f"points account {dict(r)} differs from its ledger" for r in points]
            + [f"store-credit wallet {dict(r)} differs from its entries" for r in wallets])


async def earn_once_violations(shop: str, order_ids: list[str]) -> list[str]:
    """Each of these paid orders has exactly one earn entry in the ledger."""
    conn = await db("points")
    try:
        rows = await conn.fetch(
            """SELECT k.key, count(e.id) AS n
                 FROM unnest($2::text[]) AS k(key)
                 LEFT JOIN ledger_entries e ON e.shop_id = $1 AND e.idempotency_key = k.key
                GROUP BY k.key HAVING count(e.id) <> 1""",
            shop, [f"order:{o}:earn" for o in order_ids])
    finally:
        await conn.close()
    return [f"{r['key']}: {r['n']} earn entries" for r in rows]


async def unpublished_outbox() -> dict[str, int]:
    """Outbox rows not yet published, per service (all should reach 0 once the stack is quiet)."""
    counts = {}
    for service in SERVICES:
        conn = await db(service)
        try:
            counts[service] = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        finally:
            await conn.close()
    return counts


async def queue_depths() -> dict[str, int]:
    """Ready messages in every service queue, its retry queues and its dead-letter queue."""
    from shared.bus import DEFAULT_RETRY_DELAYS_MS

    depths: dict[str, int] = {}
    connection = await aio_pika.connect(amqp_url())
    async with connection:
        for service in SERVICES:
            names = [f"{service}.events", *(f"{service}.events.retry.{ms}" for ms in DEFAULT_RETRY_DELAYS_MS),
                     f"{service}.events.dlq"]
            for name in names:
                channel = await connection.channel()
                try:  # passive: only look; a queue a service does not have is simply absent
                    queue = await channel.declare_queue(name, passive=True)
                    depths[name] = queue.declaration_result.message_count
                except aio_pika.exceptions.ChannelClosed:
                    pass
                finally:
                    if not channel.is_closed:
                        await channel.close()
    return depths


def stuck(depths: dict[str, int]) -> dict[str, int]:
    """Messages anywhere but a dead-letter queue."""
    return {name: n for name, n in depths.items() if n and not name.endswith(".dlq")}
