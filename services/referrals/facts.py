"""What the referrals service learns from the customers service's events, recorded in the consumer's
inbox transaction: a profile (first name for the landing page, mailbox key and device for the fraud
checks, and a referral code right away), an order's fingerprints and facts, an erasure. Each takes
the person's lock first (events about one person are consumed concurrently), records, and lets
attribution work the referral out from everything known so far."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.referrals import attribution, store
from services.referrals.fraud import email_key
from services.referrals.referring import code_of
from shared.db import Connection
from shared.events import CustomerProfile, CustomerRegistered, OrderEvent, OrderPlaced


async def profile(conn: Connection, data: CustomerProfile, at: datetime) -> None:
    """A sign-up or profile change; a sign-up with a code opens the referral."""
    await store.people.lock_friend(conn, data.shop, data.customer_id)
    await code_of(conn, data.shop, data.customer_id)  # every customer has a code from sign-up on
    device_id = data.device_id if isinstance(data, CustomerRegistered) else None
    await store.people.remember_profile(conn, data.shop, data.customer_id, first_name=data.first_name,
                                        email_key=email_key(data.email), device_id=device_id)
    if isinstance(data, CustomerRegistered) and data.referral_code:
        await attribution.attribute(conn, data.shop, data.customer_id, data.referral_code, started_at=at)
        await attribution.advance(conn, data.shop, data.customer_id)


async def order_placed(conn: Connection, data: OrderPlaced, at: datetime) -> None:
    """The order's address, card and device join the customer's fingerprints. (Its discount codes are
    the points service's to redeem: the friend's offer is marked used from offer.redeemed.)"""
    await store.people.lock_friend(conn, data.shop, data.customer_id)
    await store.people.remember_order(conn, data.shop, data.customer_id, address=data.shipping_address_hash,
                                      payment=data.payment_fingerprint, device=data.device_id)
    await _order_seen(conn, data, at, referral_code=data.referral_code)


async def order(conn: Connection, data: OrderEvent, at: datetime, *, referral_code: str | None = None,
                paid_net: Decimal | None = None, delivered: bool = False, cancelled: bool = False,
                refunded_net: Decimal | None = None, fully_refunded: bool = False) -> None:
    """Record what one event says of an order, open the referral if the order brings a code, and move
    the referral on from everything known so far."""
    await store.people.lock_friend(conn, data.shop, data.customer_id)
    await _order_seen(conn, data, at, referral_code=referral_code, paid_net=paid_net, delivered=delivered,
                      cancelled=cancelled, refunded_net=refunded_net, fully_refunded=fully_refunded)


async def _order_seen(conn: Connection, data: OrderEvent, at: datetime, *, referral_code: str | None,
                      paid_net: Decimal | None = None, delivered: bool = False, cancelled: bool = False,
                      refunded_net: Decimal | None = None, fully_refunded: bool = False) -> None:
    await store.people.remember_order_fact(
        conn, data.shop, data.customer_id, data.order_id, seen_at=at, currency=data.currency, paid_net=paid_net,
        delivered=delivered, cancelled=cancelled, refunded_net=refunded_net, fully_refunded=fully_refunded)
    if referral_code:
        await attribution.attribute(conn, data.shop, data.customer_id, referral_code, started_at=at,
                                    order_id=data.order_id)
    await attribution.advance(conn, data.shop, data.customer_id)


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    """GDPR: drop what identifies the person (name, mailbox key, fingerprints, order facts, offer
    code); the referral rows stay as anonymous counts behind the referrer's stats. (The offer itself
    is the points service's, which keeps no personal data.)"""
    await store.people.erase(conn, shop, customer_id)
