"""The people messages go to: their contact (from the customers service's profile events), their
own preferences (channels, phone, locale, timezone, quiet hours), unsubscribing from a message's
link, and erasure."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.notifications import automation, delivery, policy, store, validation
from shared.db import Connection, transaction
from shared.errors import NotFound
from shared.events import CustomerProfile

UNSUBSCRIBE_COLUMNS = {"EMAIL": "email_opt", "SMS": "sms_opt", "WHATSAPP": "whatsapp_opt"}


async def save_profile(conn: Connection, data: CustomerProfile) -> None:
    """Keep the profile (not of an erased customer), then plan the events that waited for it, in
    the order they arrived. Under the customer's lock, as automation.handle parks events."""
    if await store.is_erased(conn, data.shop, policy.id_hash(data.customer_id)):
        return
    await store.lock_customer(conn, data.shop, data.customer_id)
    await store.save_contact(
        conn, data.shop, data.customer_id, email=data.email, first_name=data.first_name,
        locale=data.locale, timezone=data.timezone, accepts_email=data.accepts_email,
        accepts_sms=data.accepts_sms, accepts_whatsapp=data.accepts_whatsapp, phone=data.phone,
    )
    for waiting in await store.take_waiting_events(conn, data.shop, data.customer_id):
        await automation.resume(conn, data.shop, waiting["event_type"], waiting["data"], waiting["happened_at"])


async def update_preferences(pool: asyncpg.Pool, shop: str, customer_id: str, given: dict[str, Any]
                             ) -> asyncpg.Record:
    """The customer's own choices (None: keep); SMS and WhatsApp need a phone number."""
    async with transaction(pool) as conn:
        current = await store.contact(conn, shop, customer_id)
        if current is None:
            raise NotFound("no notification profile for this customer yet")
        changes = validation.preferences(given, policy.phone(current))
        row = await store.save_preferences(conn, shop, customer_id, changes)
    if row is None:  # erased meanwhile
        raise NotFound("no notification profile for this customer yet")
    return row


async def unsubscribe(pool: asyncpg.Pool, shop: str, customer_id: str, channel: str) -> None:
    """The customer's "no" to marketing on one channel, from a message's signed link."""
    async with transaction(pool) as conn:
        await store.save_preferences(conn, shop, customer_id, {UNSUBSCRIBE_COLUMNS[channel]: False})


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    """Forget the person: waiting events and messages go, sent ones stay as anonymous counts, and
    only the hash of the id is kept so later events about them plan nothing."""
    await store.take_waiting_events(conn, shop, customer_id)
    await delivery.unqueue(conn, shop, await store.scheduled_deliveries(conn, shop, customer_id))
    await store.erase_customer(conn, shop, customer_id, policy.id_hash(customer_id))
