"""The idempotent inbox: an event's effect and the record that it happened commit together.

A redelivered event (broker redelivery, relay re-publish after a crash, a replay) finds its id in
the inbox and has no second effect. Money-like effects carry their own natural unique keys too,
so even a replay under a new event id cannot double-grant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from shared.db import Connection, transaction
from shared.events import Envelope, EventData


async def handle_once(
    pool: asyncpg.Pool,
    consumer: str,
    envelope: Envelope,
    payload: EventData,
    handler: Callable[[Connection, Envelope, EventData], Awaitable[None]],
) -> bool:
    """Run the handler unless this consumer already handled the event. True when it ran."""
    async with transaction(pool) as conn:
        first_time = await conn.fetchval(
            """INSERT INTO inbox (consumer, event_id, event_type, shop_id)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING
               RETURNING true""",
            consumer, envelope.id, envelope.type, envelope.shop,
        )
        if not first_time:
            return False
        await handler(conn, envelope, payload)
        return True
