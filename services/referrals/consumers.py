"""Events the referrals service consumes (ack/retry/dead-letter as in shared/bus.py)."""

from __future__ import annotations

from services.referrals import attribution, store
from services.referrals.fraud import email_key
from shared.db import Connection
from shared.events import (
    CustomerErased,
    CustomerRegistered,
    CustomerUpdated,
    Envelope,
    OrderCancelled,
    OrderDelivered,
    OrderEvent,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
)
from shared.handlers import EventHandlers, on


async def on_customer_profile(
    conn: Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    # Every customer gets a code at sign-up, so the storefront can show it right away.
    await store.lock_friend(conn, data.shop, data.customer_id)
    await store.remember_profile(conn, data.shop, data.customer_id, first_name=data.first_name,
                                 email_key=email_key(data.email),
                                 device_id=getattr(data, "device_id", None))
    if isinstance(data, CustomerRegistered) and data.referral_code:
        await attribution.attribute(conn, data.shop, data.customer_id, data.referral_code, started_at=event.time)
        await attribution.advance(conn, data.shop, data.customer_id)


async def _on_order(conn: Connection, event: Envelope, data: OrderEvent, *,
                    referral_code: str | None = None, **fact) -> None:
    """Record what the event says of the order, open the referral if the order brings a code, and
    move the referral on from everything known so far."""
    await store.lock_friend(conn, data.shop, data.customer_id)
    await store.remember_order_fact(conn, data.shop, data.customer_id, data.order_id, seen_at=event.time,
                                    currency=data.currency, **fact)
    if referral_code:
        await attribution.attribute(conn, data.shop, data.customer_id, referral_code, started_at=event.time,
                                    order_id=data.order_id)
    await attribution.advance(conn, data.shop, data.customer_id)


async def on_order_placed(conn: Connection, event: Envelope, data: OrderPlaced) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    await store.remember_order(conn, data.shop, data.customer_id, address=data.shipping_address_hash,
                               payment=data.payment_fingerprint, device=data.device_id)
    if data.discount_codes:  # the friend's offer is single-use, whichever order used it
        await store.use_friend_offer(conn, data.shop, data.customer_id, data.discount_codes, data.order_id)
    await _on_order(conn, event, data, referral_code=data.referral_code)


async def on_order_paid(conn: Connection, event: Envelope, data: OrderPaid) -> None:
    await _on_order(conn, event, data, referral_code=data.referral_code, paid_net=data.net_amount)


async def on_order_delivered(conn: Connection, event: Envelope, data: OrderDelivered) -> None:
    await _on_order(conn, event, data, delivered=True)


async def on_order_refunded(conn: Connection, event: Envelope, data: OrderRefunded) -> None:
    await _on_order(conn, event, data, refunded_net=data.net_amount, fully_refunded=data.fully_refunded)


async def on_order_cancelled(conn: Connection, event: Envelope, data: OrderCancelled) -> None:
    await _on_order(conn, event, data, cancelled=True)


async def on_customer_erased(conn: Connection, event: Envelope, data: CustomerErased) -> None:
    await store.erase(conn, data.shop, data.customer_id)


HANDLERS = EventHandlers(
    on(CustomerRegistered, on_customer_profile),
    on(CustomerUpdated, on_customer_profile),
    on(CustomerErased, on_customer_erased),
    on(OrderPlaced, on_order_placed),
    on(OrderPaid, on_order_paid),
    on(OrderDelivered, on_order_delivered),
    on(OrderRefunded, on_order_refunded),
    on(OrderCancelled, on_order_cancelled),
)
