"""Events the points service consumes, each mapped onto its use cases. Each handler runs inside the
inbox transaction (shared/inbox.py): its ledger entries commit together with the record of the event.
Every effect also has a natural key (the order id, the reward's idempotency key, an offer's key, an
order's use of a code), so a replay under a new event id changes nothing. A handler raises to be
retried with backoff (an order event that overtook the payment it depends on); a payload that can
never be handled is dead-lettered by the bus.

`customer.erased` is deliberately not consumed: this service stores no personal data, only the
commerce platform's customer id next to points, credit and codes. The ledger and its sums stay, so
the program's liability and history remain exact after an erasure.
"""

from __future__ import annotations

from services.points.challenges import counting
from services.points.loyalty import actions, earning
from services.points.offers import checkout, issuing
from shared.db import Connection
from shared.events import (
    CustomerBirthday,
    CustomerRegistered,
    CustomerSegmentChanged,
    Envelope,
    OfferRequested,
    OrderCancelled,
    OrderDelivered,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    ReferralConverted,
    ReviewPublished,
    UgcSubmitted,
)
from shared.handlers import EventHandlers, on


async def on_order_paid(conn: Connection, event: Envelope, data: OrderPaid) -> None:
    await earning.order_paid(conn, data, event.id, event.time)
    await counting.order_paid(conn, data, event.id, event.time)


async def on_order_delivered(conn: Connection, event: Envelope, data: OrderDelivered) -> None:
    # the return window counts from when the order was delivered, not from when the event is handled
    await earning.order_delivered(conn, data, data.delivered_at or event.time)


async def on_order_refunded(conn: Connection, event: Envelope, data: OrderRefunded) -> None:
    await earning.order_refunded(conn, data, event.id)
    await counting.order_refunded(conn, data, event.id)
    if data.fully_refunded:
        await checkout.order_voided(conn, data.shop, data.order_id, data.customer_id, "refunded")


async def on_order_cancelled(conn: Connection, event: Envelope, data: OrderCancelled) -> None:
    await earning.order_cancelled(conn, data, event.id)
    await counting.order_cancelled(conn, data, event.id)
    await checkout.order_voided(conn, data.shop, data.order_id, data.customer_id, "cancelled")


async def on_order_placed(conn: Connection, event: Envelope, data: OrderPlaced) -> None:
    await checkout.order_placed(conn, data)


async def on_offer_requested(conn: Connection, event: Envelope, data: OfferRequested) -> None:
    await issuing.requested(conn, data)


async def on_review_published(conn: Connection, event: Envelope, data: ReviewPublished) -> None:
    await actions.review_published(conn, data, event.id)
    await counting.review_published(conn, data, event.id, event.time)


async def on_referral_converted(conn: Connection, event: Envelope, data: ReferralConverted) -> None:
    await actions.referral_converted(conn, data, event.id)
    await counting.referral_converted(conn, data, event.id, event.time)


async def on_ugc_submitted(conn: Connection, event: Envelope, data: UgcSubmitted) -> None:
    await counting.ugc_submitted(conn, data, event.id, event.time)


async def on_segment_changed(conn: Connection, event: Envelope, data: CustomerSegmentChanged) -> None:
    await counting.segment_changed(conn, data)


async def on_customer_birthday(conn: Connection, event: Envelope, data: CustomerBirthday) -> None:
    await actions.birthday(conn, data, event.id)


async def on_customer_registered(conn: Connection, event: Envelope, data: CustomerRegistered) -> None:
    await actions.registered(conn, data, event.id)


HANDLERS = EventHandlers(
    on(OrderPlaced, on_order_placed),
    on(OrderPaid, on_order_paid),
    on(OrderDelivered, on_order_delivered),
    on(OrderRefunded, on_order_refunded),
    on(OrderCancelled, on_order_cancelled),
    on(ReviewPublished, on_review_published),
    on(ReferralConverted, on_referral_converted),
    on(CustomerBirthday, on_customer_birthday),
    on(CustomerRegistered, on_customer_registered),
    on(UgcSubmitted, on_ugc_submitted),
    on(CustomerSegmentChanged, on_segment_changed),
    on(OfferRequested, on_offer_requested),
)
