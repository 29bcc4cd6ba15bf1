"""Events the referrals service consumes (ack/retry/dead-letter as in shared/bus.py). Each handler
runs in the inbox transaction (shared/inbox.py) and hands its event to facts.py.

  customer.registered / .updated   profile facts and a code; a sign-up with a code opens the referral
  order.placed                     fingerprints, the order seen (a code opens)
  order.paid / .delivered / .refunded / .cancelled   what the event says of the order
  customer.erased                  forget the person
  offer.issued / .refused          the friend's offer (key "referral:<id>") has its code, or none (offers.py)
  offer.redeemed / .released       the friend's offer used by an order, or given back
                                   (only a friend's offer: the events of other offers are
                                   acknowledged unapplied, offers.concerns)
"""

from __future__ import annotations

from services.referrals import facts, offers
from shared.db import Connection
from shared.events import (
    CustomerErased,
    CustomerRegistered,
    CustomerUpdated,
    Envelope,
    OfferIssued,
    OfferRedeemed,
    OfferRefused,
    OfferReleased,
    OrderCancelled,
    OrderDelivered,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
)
from shared.handlers import EventHandlers, on


async def on_customer_profile(conn: Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated) -> None:
    await facts.profile(conn, data, event.time)


async def on_order_placed(conn: Connection, event: Envelope, data: OrderPlaced) -> None:
    await facts.order_placed(conn, data, event.time)


async def on_order_paid(conn: Connection, event: Envelope, data: OrderPaid) -> None:
    await facts.order(conn, data, event.time, referral_code=data.referral_code, paid_net=data.net_amount)


async def on_order_delivered(conn: Connection, event: Envelope, data: OrderDelivered) -> None:
    await facts.order(conn, data, event.time, delivered=True)


async def on_order_refunded(conn: Connection, event: Envelope, data: OrderRefunded) -> None:
    await facts.order(conn, data, event.time, refunded_net=data.net_amount, fully_refunded=data.fully_refunded)


async def on_order_cancelled(conn: Connection, event: Envelope, data: OrderCancelled) -> None:
    await facts.order(conn, data, event.time, cancelled=True)


async def on_customer_erased(conn: Connection, event: Envelope, data: CustomerErased) -> None:
    await facts.erase(conn, data.shop, data.customer_id)


async def on_offer_issued(conn: Connection, event: Envelope, data: OfferIssued) -> None:
    await offers.issued(conn, data)


async def on_offer_refused(conn: Connection, event: Envelope, data: OfferRefused) -> None:
    await offers.refused(conn, data)


async def on_offer_redeemed(conn: Connection, event: Envelope, data: OfferRedeemed) -> None:
    await offers.redeemed(conn, data)


async def on_offer_released(conn: Connection, event: Envelope, data: OfferReleased) -> None:
    await offers.released(conn, data)


HANDLERS = EventHandlers(
    on(CustomerRegistered, on_customer_profile),
    on(CustomerUpdated, on_customer_profile),
    on(CustomerErased, on_customer_erased),
    on(OrderPlaced, on_order_placed),
    on(OrderPaid, on_order_paid),
    on(OrderDelivered, on_order_delivered),
    on(OrderRefunded, on_order_refunded),
    on(OrderCancelled, on_order_cancelled),
    on(OfferIssued, on_offer_issued, when=offers.concerns),
    on(OfferRefused, on_offer_refused, when=offers.concerns),
    on(OfferRedeemed, on_offer_redeemed, when=offers.concerns),
    on(OfferReleased, on_offer_released, when=offers.concerns),
)
