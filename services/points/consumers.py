"""Events the points service consumes. Each handler runs inside the inbox transaction
(shared/inbox.py): its ledger entries commit together with the record of the event."""

from __future__ import annotations

import asyncpg

from services.points import ledger, store
from shared.bus import Handler
from shared.events import Envelope, OrderPaid


async def on_order_paid(conn: asyncpg.Connection, event: Envelope, data: OrderPaid) -> None:
    entry = ledger.purchase_entry(data.customer_id, data.order_id, data.net_amount, event.id)
    if entry is not None:
        await store.post(conn, data.shop, entry)


HANDLERS: dict[str, Handler] = {
    "order.paid": on_order_paid,  # type: ignore[dict-item]
}
