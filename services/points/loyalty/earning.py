"""Points for orders, inside the caller's transaction (the inbox's or the scheduler's): a paid order
earns pending points, its delivery starts the return window, the window's end releases them, and a
refund or a cancellation takes back what the order may no longer keep.

Every step has a natural key (the order's row in order_points), so a replay under a new event id
changes nothing; the customer's account is locked first, so the steps of one customer serialise.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from services.points.loyalty import accounts, configuration, ledger, posting, redemption, store, tiering
from shared import events, schedule
from shared.db import Connection

log = logging.getLogger(__name__)
RELEASE_JOB = "points.release"  # the return window has passed: pending points become available


async def order_paid(conn: Connection, data: events.OrderPaid, event_id: str, paid_at: datetime) -> None:
    """Pending points for a paid order, on its net amount times the customer's tier multiplier; then
    the tier, the punch card, and a delivery that arrived before the payment."""
    shop = data.shop
    prog = await configuration.seeded(conn, shop)
    acct = await posting.lock(conn, shop, data.customer_id)
    if await store.orders.order_points(conn, shop, data.order_id) is not None:
        return  # already earned, or cancelled before this event arrived: a natural key, not only the inbox
    st, _ = await accounts.standing(conn, shop, acct, data.customer_id, prog, paid_at)
    multiplier = accounts.applied(acct, st, prog, paid_at).multiplier
    fx = prog.rate_for(data.currency)
    note = None if fx is not None else f"no exchange rate from {data.currency} to the program currency {prog.currency}"
    if fx is None:  # recorded, earns nothing, and says so (Order.pointsNote, notEligibleOrders)
        log.warning("order %s of shop %s earns no points: %s", data.order_id, shop, note)
    points = ledger.order_points(data.net_amount, fx.rate if fx else None, prog.earn_rate, multiplier)
    converted = fx is not None and data.currency != prog.currency
    await store.orders.record_earning(conn, shop, data.order_id, data.customer_id, data.currency, data.net_amount,
                                      prog.earn_rate, multiplier, prog.version, points, paid_at,
                                      base_currency=prog.currency, fx_rate=fx.rate if fx else None,
                                      fx_date=fx.date if converted and fx else None, note=note)
    entry = ledger.purchase_entry(data.customer_id, data.order_id, points, event_id, prog.version,
                                  fx=(data.currency, fx.rate, fx.date) if converted and fx else None)
    if entry is not None:
        await posting.post(conn, shop, entry)
    await tiering.refresh(conn, shop, data.customer_id, prog)
    await redemption.grant_punch_card(conn, shop, data.customer_id, prog)
    delivered_at = await store.orders.take_early_delivery(conn, shop, data.order_id)
    if delivered_at is not None:
        await _start_return_window(conn, shop, data.order_id, delivered_at)


async def order_delivered(conn: Connection, data: events.OrderDelivered, delivered_at: datetime) -> None:
    await posting.hold(conn, data.shop, data.customer_id)  # the same lock as the payment's handler
    await _start_return_window(conn, data.shop, data.order_id, delivered_at)


async def _start_return_window(conn: Connection, shop: str, order_id: str, delivered_at: datetime) -> None:
    row = await store.orders.order_points(conn, shop, order_id)
    if row is None:
        # Delivered before its payment was handled: remember the delivery for order_paid. Both
        # handlers hold the customer's account lock, so one of them always sees the other's row.
        await store.orders.remember_early_delivery(conn, shop, order_id, delivered_at)
        return
    if row["status"] != "PENDING" or row["release_at"] is not None:
        return
    prog = await configuration.seeded(conn, shop)
    due = ledger.release_at(delivered_at, prog.pending_days)
    await store.orders.set_release_at(conn, shop, order_id, due, delivered_at)
    await schedule.schedule(conn, shop=shop, kind=RELEASE_JOB, dedup_key=order_id, due_at=due,
                            payload={"order_id": order_id})


async def release(conn: Connection, shop: str, order_id: str) -> None:
    """The return window has passed: the order's remaining pending points become available."""
    peek = await store.orders.order_points(conn, shop, order_id)
    if peek is None:
        return
    await posting.hold(conn, shop, peek["customer_id"])
    row = await store.orders.lock_order(conn, shop, order_id)
    if row is None or row["status"] != "PENDING":
        return
    remaining = row["earned"] - row["taken_back"]
    for entry in ledger.release_entries(row["customer_id"], order_id, remaining, row["rule_version"]):
        if entry.bucket == ledger.PENDING:
            await posting.post(conn, shop, entry, announce=False)
        else:
            await posting.credit_available(conn, shop, entry)
    await store.orders.mark_available(conn, shop, order_id)


async def take_back(conn: Connection, shop: str, order_id: str, customer_id: str,
                    net_remaining: Decimal, voided: bool, event_id: str, reason: str) -> None:
    """Refund or cancellation: take back what the order may no longer keep, by the rule that earned it."""
    await posting.hold(conn, shop, customer_id)
    row = await store.orders.lock_order(conn, shop, order_id)
    if row is None:
        if not voided:
            raise LookupError(f"order {order_id} refunded before its payment was handled; retry")
        # Cancelled before payment (or before we saw it): a tombstone, so a late order.paid earns nothing.
        await store.orders.record_void_before_payment(conn, shop, order_id, customer_id)
        return
    keep = ledger.order_points_to_keep(net_remaining, row["fx_rate"], row["earn_rate"], row["multiplier"],
                                       voided=voided)
    points = ledger.takeback(row["earned"], row["taken_back"], keep)
    status = "REVERSED" if voided and row["status"] != "NOT_ELIGIBLE" else row["status"]
    await store.orders.record_takeback(conn, shop, order_id, points, min(net_remaining, row["net_amount"]), voided,
                                       status)
    # A release job planned for a voided order finds it REVERSED and does nothing; cancelling it by
    # prefix could also hit another order whose id starts with this one.
    if points == 0:
        return
    bucket = ledger.takeback_bucket(row["status"])
    await posting.reverse(conn, shop, customer_id, points, bucket=bucket, reason=f"{reason} {order_id}",
                          key=f"order:{order_id}:reverse:{row['taken_back'] + points}", event_id=event_id,
                          rule_version=row["rule_version"])


async def order_refunded(conn: Connection, data: events.OrderRefunded, event_id: str) -> None:
    await take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                    voided=data.fully_refunded, event_id=event_id, reason="refund")


async def order_cancelled(conn: Connection, data: events.OrderCancelled, event_id: str) -> None:
    await take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                    voided=True, event_id=event_id, reason="cancellation")
