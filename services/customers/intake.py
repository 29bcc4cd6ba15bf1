"""Shopify's webhooks as use cases: each delivery, read by shopify.py, runs the same steps as the
GraphQL mutations (registration, ordering) in one transaction. A replay is harmless: ids are
natural keys."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.customers import ordering, registration, shopify, store
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound


async def apply(pool: asyncpg.Pool, shop: str, topic: str, payload: dict[str, Any]) -> str:
    """Apply one delivery of a topic of shopify.TOPICS; returns what it did. BadUserInput: a
    payload we cannot map; NotFound: the order is not known yet; Conflict: obsolete (the order
    moved on)."""
    async with transaction(pool) as conn:
        return await _apply(conn, shop, topic, payload)


async def _apply(conn: Connection, shop: str, topic: str, payload: dict[str, Any]) -> str:
    if topic == "customers/create":
        await registration.save(conn, shop, shopify.customer_profile(payload))
        return "customer saved"
    if topic in ("orders/create", "orders/paid", "orders/fulfilled"):
        order = shopify.new_order(payload)
        await registration.ensure(conn, shop, shopify.customer_profile(shopify.order_customer(payload)))
        row = await ordering.place(conn, shop, order)
        if topic == "orders/create":
            return f"order {row['status']}"
        if row["status"] == "PLACED" and (topic == "orders/paid" or shopify.financially_paid(payload)):
            row = await ordering.move(conn, shop, order.id, "PAID", None)
        elif topic == "orders/paid" and row["status"] in ("CANCELLED", "REFUNDED"):
            raise Conflict(f"order {order.id} is {row['status']}")  # obsolete: the order moved on
        if topic == "orders/fulfilled":
            row = await ordering.move(conn, shop, order.id, "SHIPPED", None)
        return f"order {row['status']}"
    order_id = str(payload.get("order_id") or "")
    found = await store.orders.get(conn, shop, order_id) if order_id else None
    if found is None:
        raise NotFound(f"unknown order {order_id or '(none)'}")
    refund = shopify.refund(payload, found["currency"])
    counted = await ordering.refund(conn, shop, refund.id, refund.order_id, refund.amount)
    return "refund recorded" if counted else "refund already recorded"
