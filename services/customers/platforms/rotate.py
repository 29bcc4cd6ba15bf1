"""`python -m services.customers.platforms.rotate`: re-encrypt every connection's secrets under the
newest key of PLATFORM_SECRET_KEYS (the first one), then print how many. Run it after putting a new
key in front and restarting the services; once it has run, the old key can be dropped
(docs/operations.md, "Rotating the connection key"). Running it again changes nothing that matters.
"""

from __future__ import annotations

import asyncio
import sys

from services.customers import store
from services.customers.platforms.secrets import vault_from_env
from shared.db import create_pool, transaction
from shared.settings import Settings


async def rotate() -> int:
    vault = vault_from_env()
    pool = await create_pool(Settings.from_env("customers").dsn(), max_size=2)
    try:
        rows = await store.connections.all_sealed(pool)
        for row in rows:
            async with transaction(pool) as conn:
                await store.connections.set_secrets(conn, row["shop_id"], row["id"], vault.reseal(row["secrets"]))
        return len(rows)
    finally:
        await pool.close()


def main() -> int:
    count = asyncio.run(rotate())
    print(f"{count} connection(s) re-encrypted under the newest key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
