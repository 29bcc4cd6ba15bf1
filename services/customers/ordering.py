"""Orders as the platform reports them (recordOrder, updateOrderStatus, Shopify's order and refund
webhooks): recorded once with order.placed, moved along their statuses by orders.change_status
with one event per change, refunds counted once by id. The customer's summary and segment follow
in the same transaction.

Lock order, everywhere: the customer's row, then the order (store.orders.lock)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.customers import SOURCE, orders, segmenting, store
from services.customers.orders import NewOrder, StatusChange
from services.customers.store.rows import returned
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound
from shared.money import in_minor_units, parse_amount


def _event_fields(shop: str, row: asyncpg.Record) -> dict[str, Any]:
    currency = row["currency"]
    net = orders.net_amount(row["total"], row["shipping_total"], row["tax_total"], row["refunded_total"])
    return {
        "shop": shop,
        "order_id": row["id"],
        "customer_id": row["customer_id"],
        "currency": currency,
        "total": in_minor_units(row["total"], currency),
        "net_amount": in_minor_units(net, currency),
        "placed_at": row["placed_at"],
    }


async def record(pool: asyncpg.Pool, shop: str, o: NewOrder) -> asyncpg.Record:
    """Record an order once; sending the same order id again returns what is stored."""
    async with transaction(pool) as conn:
        return await place(conn, shop, o)


async def place(conn: Connection, shop: str, o: NewOrder) -> asyncpg.Record:
    """record() inside the caller's transaction."""
    if await store.profiles.get(conn, shop, o.customer_id) is None:
        raise NotFound(f"unknown customer {o.customer_id}; upsertCustomer first", field="customerId")
    row = await store.orders.insert(conn, shop, asdict(o))
    if row is None:
        existing = returned(await store.orders.get(conn, shop, o.id))
        if existing["customer_id"] != o.customer_id or existing["total"] != o.total \
                or existing["currency"] != o.currency:
            raise Conflict(f"order {o.id} was already recorded with other data")
        return existing
    await outbox.add(conn, events.OrderPlaced(
        **_event_fields(shop, row),
        lines=[events.OrderLine(product_id=x.product_id, quantity=x.quantity, unit_price=x.unit_price)
               for x in o.lines],
        referral_code=o.referral_code, discount_codes=list(o.discount_codes),
        shipping_total=o.shipping_total, discount_total=o.discount_total,
        shipping_address_hash=o.shipping_address_hash, payment_fingerprint=o.payment_fingerprint,
        device_id=o.device_id,
    ), source=SOURCE)
    return row


async def amend(conn: Connection, shop: str, o: NewOrder) -> asyncpg.Record:
    """An order edited on the platform (Shopify's orders/updated): before payment it takes the new
    amounts and lines (no event: order.paid carries them); once paid, an edit reaches us as refunds
    and the amounts stay. Another customer or currency under the same id is a Conflict."""
    row = await _lock(conn, shop, o.id)
    if row["customer_id"] != o.customer_id or row["currency"] != o.currency:
        raise Conflict(f"order {o.id} was already recorded with another customer or currency")
    if row["status"] != "PLACED":
        return row
    amounts = (o.total, o.shipping_total, o.tax_total, o.discount_total)
    lines = [(x.product_id, x.quantity, x.unit_price) for x in o.lines]
    stored = [(r["product_id"], r["quantity"], r["unit_price"]) for r in await store.orders.lines(conn, shop, o.id)]
    if amounts == (row["total"], row["shipping_total"], row["tax_total"], row["discount_total"]) and lines == stored:
        return row
    return await store.orders.amend(conn, shop, asdict(o))


async def _lock(conn: Connection, shop: str, order_id: str) -> asyncpg.Record:
    row = await store.orders.lock(conn, shop, order_id)
    if row is None:
        raise NotFound(f"unknown order {order_id}", field="id")
    return row


async def update_status(pool: asyncpg.Pool, shop: str, order_id: str, status: str, refunded_amount: str | None,
                        at: datetime | None = None) -> asyncpg.Record:
    """updateOrderStatus: `refunded_amount` (cumulative) is read in the order's currency; `at` is when the
    change happened on the platform (a delivery reported late), now when not given."""
    async with transaction(pool) as conn:
        row = await _lock(conn, shop, order_id)
        if at is not None:
            orders.check_status_time(at, row["placed_at"], datetime.now(UTC))
        amount = None if refunded_amount is None else parse_amount(refunded_amount, "refundedAmount", row["currency"])
        return await _apply(conn, shop, row, status, amount, at)


async def move(conn: Connection, shop: str, order_id: str, status: str, refunded_amount: Decimal | None,
               at: datetime | None = None) -> asyncpg.Record:
    """A status update inside the caller's transaction."""
    return await _apply(conn, shop, await _lock(conn, shop, order_id), status, refunded_amount, at)


async def refund(conn: Connection, shop: str, refund_id: str, order_id: str, amount: Decimal) -> bool:
    """Add one refund (by its id, once) to the order's cumulative refunded amount; False when it
    was counted before."""
    if not await store.orders.add_refund(conn, shop, refund_id, order_id, amount):
        return False
    if amount > 0:
        row = await _lock(conn, shop, order_id)
        await _apply(conn, shop, row, "REFUNDED", row["refunded_total"] + amount, None)
    return True


async def note_referral(conn: Connection, shop: str, order_id: str) -> bool:
    """The order converted a referral (referral.converted): counted in the referral rate."""
    return await store.orders.mark_referral_converted(conn, shop, order_id)


async def _apply(conn: Connection, shop: str, row: asyncpg.Record, status: str, refunded_amount: Decimal | None,
                 at: datetime | None) -> asyncpg.Record:
    """Apply a status update to the locked order; the customer's summary and segment follow."""
    change = orders.change_status(row["status"], status, total=row["total"],
                                  refunded_total=row["refunded_total"], refunded_amount=refunded_amount)
    if change.event is None:
        return row
    row = await store.orders.set_status(conn, shop, row["id"], status=change.status,
                                        refunded_total=change.refunded_total, stamp=status, at=at)
    await outbox.add(conn, await _status_event(conn, shop, row, change), source=SOURCE)
    await segmenting.refresh_customer_at_end(conn, shop, row["customer_id"])
    return row


async def _status_event(conn: Connection, shop: str, row: asyncpg.Record, change: StatusChange) -> events.EventData:
    fields = _event_fields(shop, row)
    if change.event == "order.paid":
        return events.OrderPaid(**fields, referral_code=row["referral_code"])
    if change.event == "order.shipped":
        return events.OrderShipped(**fields)
    if change.event == "order.delivered":
        lines = await store.orders.lines(conn, shop, row["id"])
        return events.OrderDelivered(**fields, delivered_at=row["delivered_at"], lines=[
            events.OrderLine(product_id=r["product_id"], quantity=r["quantity"],
                             unit_price=in_minor_units(r["unit_price"], row["currency"])) for r in lines])
    if change.event == "order.cancelled":
        return events.OrderCancelled(**fields)
    return events.OrderRefunded(**fields, refunded_amount=change.refunded_total,
                                fully_refunded=change.status == "REFUNDED")
