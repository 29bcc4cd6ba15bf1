"""Events the referrals service consumes (ack/retry/dead-letter as in shared/bus.py)."""

from __future__ import annotations

import asyncpg

from services.referrals import attribution, store
from services.referrals.fraud import email_key
from shared.bus import Handler
from shared.events import (
    CustomerErased,
    CustomerRegistered,
    CustomerUpdated,
    Envelope,
    OrderCancelled,
    OrderDelivered,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
)


async def on_customer_profile(
    conn: asyncpg.Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    # Every customer gets a code at sign-up, so the storefront can show it right away.
    await store.lock_friend(conn, data.shop, data.customer_id)
    await store.remember_profile(conn, data.shop, data.customer_id, first_name=data.first_name,
                                 email_key=email_key(data.email),
                                 device_id=getattr(data, "device_id", None))
    if isinstance(data, CustomerRegistered) and data.referral_code:
        await attribution.attribute(conn, data.shop, data.customer_id, data.referral_code)


async def on_order_placed(conn: asyncpg.Connection, event: Envelope, data: OrderPlaced) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    earlier = await store.remember_order(conn, data.shop, data.customer_id, data.order_id,
                                         address=data.shipping_address_hash, payment=data.payment_fingerprint,
                                         device=data.device_id)
    await attribution.on_first_order(conn, data.shop, friend_id=data.customer_id, order_id=data.order_id,
                                     referral_code=data.referral_code, discount_codes=data.discount_codes,
                                     earlier_orders=earlier)


async def on_order_paid(conn: asyncpg.Connection, event: Envelope, data: OrderPaid) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    await attribution.on_paid(conn, data.shop, friend_id=data.customer_id, order_id=data.order_id,
                              net=data.net_amount, currency=data.currency, referral_code=data.referral_code)


async def on_order_delivered(conn: asyncpg.Connection, event: Envelope, data: OrderDelivered) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    await attribution.on_delivered(conn, data.shop, friend_id=data.customer_id, order_id=data.order_id)


async def on_order_refunded(conn: asyncpg.Connection, event: Envelope, data: OrderRefunded) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    await attribution.on_refund_or_cancel(conn, data.shop, friend_id=data.customer_id, order_id=data.order_id,
                                          remaining_net=None if data.fully_refunded else data.net_amount)


async def on_order_cancelled(conn: asyncpg.Connection, event: Envelope, data: OrderCancelled) -> None:
    await store.lock_friend(conn, data.shop, data.customer_id)
    await attribution.on_refund_or_cancel(conn, data.shop, friend_id=data.customer_id, order_id=data.order_id,
                                          remaining_net=None)


async def on_customer_erased(conn: asyncpg.Connection, event: Envelope, data: CustomerErased) -> None:
    await store.erase(conn, data.shop, data.customer_id)


HANDLERS: dict[str, Handler] = {
    "customer.registered": on_customer_profile,  # type: ignore[dict-item]
    "customer.updated": on_customer_profile,  # type: ignore[dict-item]
    "customer.erased": on_customer_erased,  # type: ignore[dict-item]
    "order.placed": on_order_placed,  # type: ignore[dict-item]
    "order.paid": on_order_paid,  # type: ignore[dict-item]
    "order.delivered": on_order_delivered,  # type: ignore[dict-item]
    "order.refunded": on_order_refunded,  # type: ignore[dict-item]
    "order.cancelled": on_order_cancelled,  # type: ignore[dict-item]
}
