"""Events the notifications service consumes."""

from __future__ import annotations

import asyncpg

from services.notifications import store
from shared.bus import Handler
from shared.events import CustomerRegistered, CustomerUpdated, Envelope, OrderPlaced


class ContactNotYetKnown(Exception):
    """The order arrived before the customer's profile event: retry (with backoff) until it has."""


async def on_customer_profile(
    conn: asyncpg.Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    await store.save_contact(
        conn, data.shop, data.customer_id, email=data.email, first_name=data.first_name,
        locale=data.locale, timezone=data.timezone, accepts_email=data.accepts_email,
        accepts_sms=data.accepts_sms, accepts_whatsapp=data.accepts_whatsapp,
    )


async def on_order_placed(conn: asyncpg.Connection, event: Envelope, data: OrderPlaced) -> None:
    # Order confirmations are transactional: they go out without marketing consent.
    if await store.contact(conn, data.shop, data.customer_id) is None:
        raise ContactNotYetKnown(f"no contact for customer {data.customer_id} yet")
    await store.plan_delivery(
        conn, data.shop, customer_id=data.customer_id, channel="EMAIL", template="order_thank_you",
        dedup_key=f"order_thank_you:{data.order_id}",
        variables={
            "order_id": data.order_id,
            "total": str(data.total),
            "currency": data.currency,
            "item_count": sum(line.quantity for line in data.lines),
        },
    )


HANDLERS: dict[str, Handler] = {
    "customer.registered": on_customer_profile,  # type: ignore[dict-item]
    "customer.updated": on_customer_profile,  # type: ignore[dict-item]
    "order.placed": on_order_placed,  # type: ignore[dict-item]
}
