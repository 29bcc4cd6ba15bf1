"""`python -m services.customers.catch_up SINCE`: bring the order chains and activity spells
(migration 0007) up to date for every customer whose orders changed since SINCE (an ISO time with
offset), one customer per transaction, while the service runs. docs/operations.md says when."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import asyncpg

from services.customers import segmenting, store
from shared.db import create_pool
from shared.settings import Settings


async def catch_up(pool: asyncpg.Pool, since: datetime) -> int:
    """Re-summarise each customer with an order changed since `since`; returns how many."""
    customers = await store.orders.changed_since(pool, since)
    for row in customers:
        await segmenting.resummarise(pool, row["shop_id"], row["customer_id"])
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
