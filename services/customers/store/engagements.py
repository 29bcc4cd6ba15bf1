"""SQL of engagements: site visits and email sends, opens and clicks, each counted once under its
idempotency key."""

from __future__ import annotations

from datetime import datetime

from shared.db import Connection


async def add(conn: Connection, shop: str, customer_id: str, kind: str, at: datetime, *,
              notification_id: str | None, key: str | None, offer: bool) -> bool:
    """Insert an engagement; False when its key was seen before."""
    inserted = await conn.fetchval(
        """INSERT INTO engagements (shop_id, customer_id, kind, at, notification_id, idempotency_key, offer)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shop_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
           RETURNING true""",
        shop, customer_id, kind, at, notification_id, key, offer,
    )
    return bool(inserted)
