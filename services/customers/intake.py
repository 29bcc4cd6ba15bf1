"""Shopify's webhooks as use cases: each delivery, read by shopify.py, runs the same steps as the
GraphQL mutations (registration, ordering, erasure) in one transaction, together with the record of
the delivery's ids, so a redelivery has no second effect. Ids are natural keys too (orders, refunds).

An order topic brings the order to the state its payload describes, step by step (placed or
edited before payment, paid, refunded by each refund's id, cancelled, shipped); a step the order
has moved past is skipped, and the step a topic is named after answers "ignored" when it no longer
applies (orders/paid after a cancellation).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.customers import erasure, ordering, registration, shopify, store
from services.customers.platforms import connecting, privacy
from services.customers.platforms.connecting import Link
from services.customers.profiles import EDITABLE
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound


class Duplicate(Exception):
    """The delivery was applied before (its webhook or event id was seen)."""


@dataclass(frozen=True)
class Effect:
    """What a delivery did, and the steps it named that no longer applied (answered as ignored)."""
    done: str
    ignored: tuple[str, ...] = ()


async def apply(pool: asyncpg.Pool, link: Link, topic: str, payload: dict[str, Any], keys: list[str]) -> Effect:
    """Apply one delivery of a topic of shopify.TOPICS; returns what it did. BadUserInput: a
    payload we cannot map; NotFound: the order is not known yet; Conflict: obsolete (the order
    moved on); Duplicate: applied before."""
    async def effect(conn: Connection) -> Effect:
        if topic in shopify.ORDER_TOPICS:
            return await _sync_order(conn, link.shop, topic, payload)
        return Effect(await _apply(conn, link, topic, payload))
    return await once(pool, link, keys, topic, effect)


async def once(pool: asyncpg.Pool, link: Link, keys: list[str], topic: str,
               effect: Callable[[Connection], Awaitable[Effect]]) -> Effect:
    """Run a delivery's effect in one transaction with the record of its ids (Shopify's and
    Shopware's intake alike): a delivery seen before raises Duplicate and changes nothing."""
    if await store.connections.seen(pool, link.shop, link.id, keys):
        raise Duplicate(topic)
    async with transaction(pool) as conn:
        if not await store.connections.remember(conn, link.shop, link.id, keys, topic):
            raise Duplicate(topic)
        return await effect(conn)


async def _apply(conn: Connection, link: Link, topic: str, payload: dict[str, Any]) -> str:
    shop = link.shop
    if topic in shopify.FULFILLMENT_TOPICS:
        return await _fulfil(conn, shop, payload)
    if topic == "refunds/create":
        return await _refund(conn, shop, payload)
    if topic in ("customers/create", "customers/update"):
        pp = shopify.platform_profile(payload)
        row = await registration.save(conn, shop, pp.profile, keep=set(EDITABLE) - pp.sent)
        return f"customer {row['id']} saved"
    if topic == "customers/delete":
        return await _erase(conn, shop, shopify.deleted_customer(payload))
    if topic == "app/uninstalled":
        return await connecting.uninstalled(conn, link)
    request = shopify.privacy_request(payload, topic)
    if topic == "customers/data_request":
        assert request.customer_id is not None and request.request_id is not None
        return await privacy.note_data_request(conn, link, request.request_id, request.customer_id,
                                               list(request.orders))
    if topic == "customers/redact":
        assert request.customer_id is not None
        return await _erase(conn, shop, request.customer_id)
    return await privacy.redact_shop(conn, link)


async def _erase(conn: Connection, shop: str, customer_id: str) -> str:
    try:
        erased = await erasure.erase_in(conn, shop, customer_id)
    except NotFound:
        return f"nothing held about customer {customer_id}"
    return f"customer {customer_id} erased" if erased else f"customer {customer_id} was erased before"


async def _step(conn: Connection, notes: list[str], action: Callable[[], Awaitable[Any]], *,
                principal: bool) -> None:
    """One step of bringing an order along, in a savepoint: a step the order has moved past leaves
    nothing behind; only the step a topic is named after reports it."""
    try:
        async with conn.transaction():
            await action()
    except Conflict as exc:
        if principal:
            notes.append(exc.message)


async def _sync_order(conn: Connection, shop: str, topic: str, payload: dict[str, Any]) -> Effect:
    order = shopify.new_order(payload)
    await registration.ensure(conn, shop, shopify.customer_profile(shopify.order_customer(payload)))
    row = await store.orders.get(conn, shop, order.id)
    if row is None:
        await ordering.place(conn, shop, order)
    else:
        await ordering.amend(conn, shop, order)
    notes: list[str] = []

    async def pay() -> None:
        current = await store.orders.get(conn, shop, order.id)
        if current is not None and current["status"] == "PLACED":
            await ordering.move(conn, shop, order.id, "PAID", None)
        elif current is not None and current["status"] in ("CANCELLED", "REFUNDED") and topic == "orders/paid":
            raise Conflict(f"order {order.id} is {current['status']}")

    if topic == "orders/paid" or shopify.financially_paid(payload):
        await _step(conn, notes, pay, principal=topic == "orders/paid")
    for refund in shopify.order_refunds(payload):
        await _step(conn, notes, functools.partial(_refund, conn, shop, refund), principal=False)
    if topic == "orders/cancelled" or shopify.cancelled(payload):
        await _step(conn, notes, lambda: ordering.move(conn, shop, order.id, "CANCELLED", None),
                    principal=topic == "orders/cancelled")
    if topic == "orders/fulfilled" or shopify.fulfilled(payload):
        await _step(conn, notes, lambda: _ship(conn, shop, order.id), principal=topic == "orders/fulfilled")
    final = await store.orders.get(conn, shop, order.id)
    return Effect(f"order {final['status'] if final is not None else '?'}", tuple(notes))


async def _ship(conn: Connection, shop: str, order_id: str) -> None:
    current = await store.orders.get(conn, shop, order_id)
    if current is not None and current["status"] in ("SHIPPED", "DELIVERED"):
        return
    await ordering.move(conn, shop, order_id, "SHIPPED", None)


async def _fulfil(conn: Connection, shop: str, payload: dict[str, Any]) -> str:
    f = shopify.fulfillment(payload)
    row = await store.orders.get(conn, shop, f.order_id)
    if row is None:
        raise NotFound(f"unknown order {f.order_id}")
    if not shopify.fulfillment_counts(payload):
        return f"order {row['status']}; the fulfillment is {payload.get('status')}"
    if row["status"] in ("CANCELLED", "REFUNDED"):
        raise Conflict(f"order {f.order_id} is {row['status']}")
    if row["status"] != "DELIVERED":
        if row["status"] != "SHIPPED" and not f.delivered:
            row = await ordering.move(conn, shop, f.order_id, "SHIPPED", None, f.at)
        if f.delivered:
            row = await ordering.move(conn, shop, f.order_id, "DELIVERED", None, f.at)
    return f"order {row['status']}"


async def _refund(conn: Connection, shop: str, payload: dict[str, Any]) -> str:
    order_id = str(payload.get("order_id") or "")
    found = await store.orders.get(conn, shop, order_id) if order_id else None
    if found is None:
        raise NotFound(f"unknown order {order_id or '(none)'}")
    refund = shopify.refund(payload, found["currency"])
    counted = await ordering.refund(conn, shop, refund.id, refund.order_id, refund.amount)
    return "refund recorded" if counted else "refund already recorded"
