"""GDPR erasure (eraseCustomer): forget the person, keep anonymous aggregates. customer.erased
tells every other service to do the same."""

from __future__ import annotations

import asyncpg

from services.customers import SOURCE, greeting, store
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import NotFound


async def erase(pool: asyncpg.Pool, shop: str, customer_id: str) -> bool:
    """The profile keeps its id and order summary, orders keep ids and amounts; contact data,
    device and payment traces, pending greetings and the published events that carried them go.
    False when already erased (no second event)."""
    async with transaction(pool) as conn:
        return await erase_in(conn, shop, customer_id)


async def erase_in(conn: Connection, shop: str, customer_id: str) -> bool:
    """erase() inside the caller's transaction (a platform's redaction request, a shop's redaction)."""
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
