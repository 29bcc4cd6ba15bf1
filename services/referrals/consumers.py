"""Events the referrals service consumes."""

from __future__ import annotations

import asyncpg

from services.referrals import store
from shared.bus import Handler
from shared.events import CustomerRegistered, CustomerUpdated, Envelope


async def on_customer_profile(
    conn: asyncpg.Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    # Every customer gets a code at sign-up, so the storefront can show it right away; the first
    # name follows profile changes for the friend's landing page.
    await store.ensure_code(conn, data.shop, data.customer_id)
    await store.remember_first_name(conn, data.shop, data.customer_id, data.first_name)


HANDLERS: dict[str, Handler] = {
    "customer.registered": on_customer_profile,  # type: ignore[dict-item]
    "customer.updated": on_customer_profile,  # type: ignore[dict-item]
}
