"""GDPR erasure (eraseCustomer): forget the person, keep anonymous aggregates. customer.erased
tells every other service to do the same."""

from __future__ import annotations

import asyncpg

from services.customers import SOURCE, greeting, store
from shared import events, outbox
from shared.db import transaction
from shared.errors import NotFound


async def erase(pool: asyncpg.Pool, shop: str, customer_id: str) -> bool:
    """The profile keeps its id and order summary, orders keep ids and amounts; contact data,
    device and payment traces, pending greetings and the published events that carried them go.
    False when already erased (no second event)."""
    async with transaction(pool) as conn:
        row = await store.personal_data.lock_person(conn, shop, customer_id)
        if row is None:
            raise NotFound(f"unknown customer {customer_id}", field="id")
        if row["erased_at"] is not None:
            return False
        await store.personal_data.erase(conn, shop, customer_id)
        await greeting.cancel(conn, shop, customer_id)
        await store.personal_data.forget_published_events(conn, shop, customer_id)
        await outbox.add(conn, events.CustomerErased(shop=shop, customer_id=customer_id), source=SOURCE)
        return True
