"""Events the reviews service consumes. Each handler runs inside the inbox transaction
(shared/inbox.py), so a redelivered event has no second effect; the purchase and request rows
have natural keys too, so even a replay under a new event id changes nothing.

  order.placed     purchase record per line (makes the product known, the buyer verified)
  order.delivered  purchase record marked delivered; D+7 review request per unreviewed product, due
                   from when the delivery happened (the event's delivered_at, else its time)
  order.cancelled  the order's purchases no longer make a verified buyer
  order.refunded   a full refund likewise (a partial one changes nothing)
  review.rewarded  the review was paid for (points or credit): it is incentivized
  customer.erased  forget the person (see reviewing.erase)
A database error raises, so the bus retries with backoff and then dead-letters.
"""

from __future__ import annotations

from services.reviews import reviewing
from shared.db import Connection
from shared.events import (
    CustomerErased,
    Envelope,
    OrderCancelled,
    OrderDelivered,
    OrderPlaced,
    OrderRefunded,
    ReviewRewarded,
)
from shared.handlers import EventHandlers, on


async def on_order_placed(conn: Connection, event: Envelope, data: OrderPlaced) -> None:
    await reviewing.record_order(conn, data.shop, data.customer_id, data.order_id,
                                 [line.product_id for line in data.lines])


async def on_order_delivered(conn: Connection, event: Envelope, data: OrderDelivered) -> None:
    await reviewing.record_delivery(conn, data.shop, data.customer_id, data.order_id,
                                    [line.product_id for line in data.lines],
                                    delivered_at=data.delivered_at or event.time)


async def on_order_cancelled(conn: Connection, event: Envelope, data: OrderCancelled) -> None:
    await reviewing.record_cancellation(conn, data.shop, data.order_id)


async def on_order_refunded(conn: Connection, event: Envelope, data: OrderRefunded) -> None:
    if data.fully_refunded:
        await reviewing.record_cancellation(conn, data.shop, data.order_id)


async def on_review_rewarded(conn: Connection, event: Envelope, data: ReviewRewarded) -> None:
    await reviewing.record_reward(conn, data.shop, data.review_id)


async def on_customer_erased(conn: Connection, event: Envelope, data: CustomerErased) -> None:
    await reviewing.erase(conn, data.shop, data.customer_id)


HANDLERS = EventHandlers(
    on(OrderPlaced, on_order_placed),
    on(OrderDelivered, on_order_delivered),
    on(OrderCancelled, on_order_cancelled),
    on(OrderRefunded, on_order_refunded),
    on(ReviewRewarded, on_review_rewarded),
    on(CustomerErased, on_customer_erased),
)
