"""Opens and clicks of a sent message (from the tracking pixel and the click redirect): stamped
once each, announced once as `notification.opened` / `notification.clicked` (engagement scores in
the customers service count them). A message of an erased customer is not tracked."""

from __future__ import annotations

import asyncpg

from services.notifications import store
from shared import events, outbox
from shared.db import transaction

SOURCE = "notifications"
COLUMNS = {"open": "opened_at", "click": "clicked_at"}


async def track(pool: asyncpg.Pool, shop: str, delivery_id: str, action: str, url: str | None = None) -> None:
    """`action` is "open" or "click" (then `url` is where the link pointed)."""
    async with transaction(pool) as conn:
        row = await store.mark_tracked(conn, shop, delivery_id, COLUMNS[action])
        if row is None:
            return  # tracked before, or unknown
        fields = dict(shop=shop, notification_id=delivery_id, customer_id=row["customer_id"],
                      channel=row["channel"], template=row["template"])
        data = (events.NotificationOpened(**fields) if action == "open"
                else events.NotificationClicked(**fields, url=url or ""))
        await outbox.add(conn, data, source=SOURCE)
