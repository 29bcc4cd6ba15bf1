"""Shopware 6's webhooks as use cases, like intake.py for Shopify: each delivery runs the same
steps as the GraphQL mutations in one transaction, with the record of its event id.

Order events carry the order: an order not seen yet is recorded from it first (placed, with its
customer), then moved along (paid, refunded in full or in part, cancelled, shipped, delivered); a
step the order has moved past answers "ignored". customer.written names only ids: a job reads
each customer back through the Admin API and saves the profile; customer.deleted erases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.customers import erasure, intake, ordering, registration, shopware, store
from services.customers.intake import Effect
from services.customers.platforms import connecting, connections, pushing
from services.customers.platforms.adapters import PlatformError
from services.customers.platforms.connecting import Link, link
from services.customers.platforms.shopware_admin import ShopwareAdmin
from services.customers.profiles import EDITABLE
from shared import schedule
from shared.db import Connection
from shared.errors import BadUserInput, Conflict, NotFound
from shared.money import in_minor_units
from shared.schedule import Job

CUSTOMER_JOB = "platforms.shopware_customer"  # read a written customer back and save it

_MOVES = {shopware.PAID: "PAID", shopware.CANCELLED: "CANCELLED", shopware.SHIPPED: "SHIPPED",
          shopware.DELIVERED: "DELIVERED"}


async def apply(pool: asyncpg.Pool, link_: Link, d: shopware.Delivery, keys: list[str]) -> Effect:
    async def effect(conn: Connection) -> Effect:
        return Effect(await _apply(conn, link_, d))
    return await intake.once(pool, link_, keys, d.event, effect)


async def _apply(conn: Connection, link_: Link, d: shopware.Delivery) -> str:
    shop = link_.shop
    if d.event == shopware.APP_DELETED:
        return await connecting.uninstalled(conn, link_)
    if d.event == shopware.CUSTOMER_WRITTEN:
        ids = shopware.entity_ids(d.payload, "customer")
        for customer_id in ids:
            await schedule.schedule(conn, shop=shop, kind=CUSTOMER_JOB,
                                    dedup_key=f"{link_.id}:{customer_id}:{d.event_id}", due_at=datetime.now(UTC),
                                    payload={"connection_id": link_.id, "customer_id": customer_id, "attempt": 1})
        return f"{len(ids)} customer(s) to read back"
    if d.event in shopware.CUSTOMER_DELETED:
        notes = []
        for customer_id in shopware.entity_ids(d.payload, "customer"):
            try:
                erased = await erasure.erase_in(conn, shop, customer_id)
                notes.append(f"customer {customer_id} " + ("erased" if erased else "was erased before"))
            except NotFound:
                notes.append(f"nothing held about customer {customer_id}")
        return "; ".join(notes)
    return await _order(conn, shop, d.event, shopware.order_of(d.payload))


async def _order(conn: Connection, shop: str, event: str, order: dict[str, Any]) -> str:
    order_id = shopware.order_id(order)
    row = await store.orders.get(conn, shop, order_id)
    if row is None:
        customer = shopware.order_customer(order)
        await registration.ensure(conn, shop, customer.profile)
        row = await ordering.place(conn, shop, shopware.new_order(order))
    if event == shopware.ORDER_PLACED:
        return f"order {row['status']}"
    if event in (shopware.REFUNDED, shopware.REFUNDED_PARTIALLY):
        amount = None if event == shopware.REFUNDED else shopware.refunded_so_far(order, row["currency"])
        if row["status"] == "PLACED":
            raise Conflict(f"order {order_id} was never paid")
        row = await ordering.move(conn, shop, order_id, "REFUNDED", amount)
        return f"order {row['status']}, refunded {in_minor_units(row['refunded_total'], row['currency'])}"
    target = _MOVES[event]
    if row["status"] == target:
        return f"order {target}"
    if target == "DELIVERED" and row["status"] == "PAID":
        row = await ordering.move(conn, shop, order_id, "SHIPPED", None)
    row = await ordering.move(conn, shop, order_id, target, None)
    return f"order {row['status']}"


async def read_customer(conn: Connection, job: Job) -> None:
    """customer.written: the customer as the Admin API answers it, saved like upsertCustomer
    (fields Shopware does not hold keep what is stored)."""
    row = await store.connections.get(conn, job.shop, str(job.payload["connection_id"]))
    if row is None or row["status"] not in connections.TAKES_EVENTS:
        return
    target = link(row)
    try:
        entity = await ShopwareAdmin(target).customer(str(job.payload["customer_id"]))
    except PlatformError as exc:
        error = connections.error_text(f"customer {job.payload['customer_id']}: {exc}")
        await store.connections.note_error(conn, job.shop, target.id, error, connections.FAILING if exc.auth else None)
        await pushing.retry_later(conn, job, error)
        return
    try:
        pp = shopware.customer_profile(entity)
        await registration.save(conn, job.shop, pp.profile, keep=set(EDITABLE) - pp.sent)
    except (BadUserInput, Conflict) as exc:
        await store.connections.count(conn, job.shop, target.id, "events_refused",
                                      error=connections.error_text(f"customer {job.payload['customer_id']}: {exc}"))
