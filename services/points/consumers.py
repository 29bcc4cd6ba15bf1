"""Events the points service consumes, and its scheduled jobs. Each handler runs inside the inbox
transaction (shared/inbox.py): its ledger entries commit together with the record of the event.
Every effect also has a natural key (the order id, the reward's idempotency key), so a replay under
a new event id changes nothing. A handler raises to be retried with backoff (an order event that
overtook the payment it depends on); a payload that can never be handled is dead-lettered by the bus.
"""

from __future__ import annotations

import asyncpg

from services.points import store
from shared.bus import Handler
from shared.events import Envelope, OrderCancelled, OrderDelivered, OrderPaid, OrderRefunded
from shared.schedule import Job, JobHandler


async def on_order_paid(conn: asyncpg.Connection, event: Envelope, data: OrderPaid) -> None:
    await store.earn_for_order(conn, data.shop, data, event.id, event.time)


async def on_order_delivered(conn: asyncpg.Connection, event: Envelope, data: OrderDelivered) -> None:
    await store.schedule_release(conn, data.shop, data.order_id, event.time)


async def on_order_refunded(conn: asyncpg.Connection, event: Envelope, data: OrderRefunded) -> None:
    await store.take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                          voided=data.fully_refunded, event_id=event.id, reason="refund")


async def on_order_cancelled(conn: asyncpg.Connection, event: Envelope, data: OrderCancelled) -> None:
    await store.take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                          voided=True, event_id=event.id, reason="cancellation")


async def release_points(conn: asyncpg.Connection, job: Job) -> None:
    await store.release(conn, job.shop, job.payload["order_id"])


HANDLERS: dict[str, Handler] = {
    "order.paid": on_order_paid,  # type: ignore[dict-item]
    "order.delivered": on_order_delivered,  # type: ignore[dict-item]
    "order.refunded": on_order_refunded,  # type: ignore[dict-item]
    "order.cancelled": on_order_cancelled,  # type: ignore[dict-item]
}

JOBS: dict[str, JobHandler] = {
    store.RELEASE_JOB: release_points,
}
