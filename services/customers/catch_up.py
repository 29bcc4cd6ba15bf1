"""`python -m services.customers.catch_up SINCE`: bring the order chains and activity spells
(migration 0007) up to date for every customer whose orders changed since SINCE (an ISO time with
offset), one customer per transaction, while the service runs.

Only this version keeps the chains. During the rolling update that brings it, pods of the previous
version still apply order transitions without them; run this after the rollout with SINCE = when the
migration started, and those customers' chains and the spell counters are exact again."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import asyncpg

from services.customers import store
from shared.db import create_pool
from shared.settings import Settings


async def catch_up(pool: asyncpg.Pool, since: datetime) -> int:
    """Re-summarise each customer with an order changed since `since`; returns how many."""
    customers = await pool.fetch(
        "SELECT DISTINCT shop_id, customer_id FROM orders WHERE updated_at >= $1 ORDER BY 1, 2", since)
    for row in customers:
        async with pool.acquire() as conn, conn.transaction():
            await store.refresh_customer(conn, row["shop_id"], row["customer_id"])
    return len(customers)


async def _main(since: datetime) -> int:
    pool = await create_pool(Settings.from_env("customers").dsn(), max_size=2)
    try:
        return await catch_up(pool, since)
    finally:
        await pool.close()


def main(argv: list[str]) -> int:
    try:
        since = datetime.fromisoformat(argv[0]) if len(argv) == 1 else None
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        print("usage: python -m services.customers.catch_up SINCE  (ISO time with offset)", file=sys.stderr)
        return 2
    print(f"customers re-summarised: {asyncio.run(_main(since))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
