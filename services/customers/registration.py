"""A customer's profile as the platform sends it (upsertCustomer, Shopify's customers/create and
the customer inside an order): registered once with customer.registered, changed with
customer.updated, a replay of the same profile changes nothing."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import UTC, datetime

import asyncpg

from services.customers import SOURCE, greeting, segmenting, store
from services.customers.profiles import EDITABLE, Profile
from services.customers.store.rows import returned
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import Conflict


async def upsert(pool: asyncpg.Pool, shop: str, p: Profile) -> asyncpg.Record:
    async with transaction(pool) as conn:
        return await save(conn, shop, p)


async def save(conn: Connection, shop: str, p: Profile, *, keep: Collection[str] = ()) -> asyncpg.Record:
    """Register or update the customer inside the caller's transaction; an erased customer stays
    erased (Conflict). An update leaves the `keep` fields as stored (a platform's profile carries
    no time zone or birthday, say)."""
    existing = await store.profiles.lock(conn, shop, p.id)
    values = asdict(p)
    if existing is not None:
        values.update({k: existing[k] for k in keep if k in EDITABLE})
    contact = {k: values[k] for k in EDITABLE}  # the phone too: notifications reaches SMS/WhatsApp with it
    if existing is None:
        row = await store.profiles.insert(conn, shop, values)
        await outbox.add(conn, events.CustomerRegistered(
            shop=shop, customer_id=p.id, **contact, referral_code=p.referral_code, device_id=p.device_id,
        ), source=SOURCE)
        await segmenting.schedule_daily(conn, shop, datetime.now(UTC))
        await greeting.schedule_next(conn, shop, row)
        await segmenting.refresh_customer(conn, shop, p.id)  # the engagement score of someone who has done nothing yet
        return returned(await store.profiles.get(conn, shop, p.id))  # with its segment and score
    if existing["erased_at"] is not None:
        raise Conflict(f"customer {p.id} was erased and cannot be changed")
    if all(existing[k] == values[k] for k in EDITABLE):
        return existing  # a replay of the same profile: no change, no event
    row = await store.profiles.update(conn, shop, values)
    await outbox.add(conn, events.CustomerUpdated(shop=shop, customer_id=p.id, **contact), source=SOURCE)
    if (existing["birthday"], existing["timezone"]) != (row["birthday"], row["timezone"]):
        await greeting.cancel(conn, shop, p.id)
        await greeting.schedule_next(conn, shop, row)
    return row


async def ensure(conn: Connection, shop: str, p: Profile) -> None:
    """Register the customer an order names when we do not know them yet; an order's copy of the
    profile is partial, so it never overwrites one we have."""
    if await store.profiles.get(conn, shop, p.id) is None:
        await save(conn, shop, p)
