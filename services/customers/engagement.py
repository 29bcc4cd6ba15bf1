"""Engagement: site visits and email sends, opens and clicks (recordEngagement, and the
notification events). Each counts once under its key and moves the customer's score and segment
in the same transaction (once per customer per batch of events, at its end); nothing is recorded
about an unknown or erased customer."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.customers import segmenting, store
from shared.db import Connection, transaction
from shared.errors import NotFound


async def record(pool: asyncpg.Pool, shop: str, customer_id: str, kind: str, at: datetime,
                 key: str | None) -> bool:
    """recordEngagement: True when recorded (now, or before under the same key); False for an
    erased customer; NotFound for an unknown one."""
    async with transaction(pool) as conn:
        row = await store.profiles.get(conn, shop, customer_id)
        if row is None:
            raise NotFound(f"unknown customer {customer_id}", field="customerId")
        if row["erased_at"] is not None:
            return False
        await add(conn, shop, customer_id, kind, at, key=key)
        return True


async def add(conn: Connection, shop: str, customer_id: str, kind: str, at: datetime, *,
              notification_id: str | None = None, key: str | None = None, offer: bool = False) -> bool:
    """Record an engagement inside the caller's transaction and move the segment; False when the
    key was seen before or the customer is unknown to this service (or erased)."""
    customer = await store.profiles.lock(conn, shop, customer_id)
    if customer is None or customer["erased_at"] is not None:
        return False
    inserted = await store.engagements.add(conn, shop, customer_id, kind, at, notification_id=notification_id,
                                           key=key, offer=offer)
    if inserted:
        await segmenting.refresh_customer_at_end(conn, shop, customer_id)
    return inserted
