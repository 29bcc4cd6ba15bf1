"""All SQL of the customers service. Each write commits its state and its events together."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.customers.orders import NewOrder, change_status, net_amount
from services.customers.profiles import Profile
from shared import events, outbox
from shared.errors import Conflict, NotFound
from shared.money import in_minor_units

SOURCE = "customers"
_PROFILE_FIELDS = ("email", "first_name", "last_name", "locale", "timezone", "birthday", "phone",
                   "accepts_email", "accepts_sms", "accepts_whatsapp")


async def get_customer(conn: asyncpg.Connection | asyncpg.Pool, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customers WHERE shop_id = $1 AND id = $2", shop, customer_id)


async def upsert_customer(pool: asyncpg.Pool, shop: str, p: Profile) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        existing = await conn.fetchrow(
            "SELECT * FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, p.id
        )
        values = asdict(p)
        if existing is None:
            row = await conn.fetchrow(
                """INSERT INTO customers (shop_id, id, email, first_name, last_name, locale, timezone,
                       birthday, phone, accepts_email, accepts_sms, accepts_whatsapp, referral_code, device_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                   RETURNING *""",
                shop, p.id, p.email, p.first_name, p.last_name, p.locale, p.timezone, p.birthday,
                p.phone, p.accepts_email, p.accepts_sms, p.accepts_whatsapp, p.referral_code, p.device_id,
            )
            await outbox.add(conn, events.CustomerRegistered(
                shop=shop, customer_id=p.id,
                **{k: values[k] for k in _PROFILE_FIELDS if k != "phone"},
                referral_code=p.referral_code, device_id=p.device_id,
            ), source=SOURCE)
            return row
        if all(existing[k] == values[k] for k in _PROFILE_FIELDS):
            return existing  # a replay of the same profile: no change, no event
        row = await conn.fetchrow(
            """UPDATE customers SET email = $3, first_name = $4, last_name = $5, locale = $6,
                   timezone = $7, birthday = $8, phone = $9, accepts_email = $10, accepts_sms = $11,
                   accepts_whatsapp = $12, updated_at = now()
               WHERE shop_id = $1 AND id = $2
               RETURNING *""",
            shop, p.id, p.email, p.first_name, p.last_name, p.locale, p.timezone, p.birthday,
            p.phone, p.accepts_email, p.accepts_sms, p.accepts_whatsapp,
        )
        await outbox.add(conn, events.CustomerUpdated(
            shop=shop, customer_id=p.id, **{k: values[k] for k in _PROFILE_FIELDS if k != "phone"},
        ), source=SOURCE)
        return row


async def get_order(conn: asyncpg.Connection | asyncpg.Pool, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM orders WHERE shop_id = $1 AND id = $2", shop, order_id)


async def order_lines(conn: asyncpg.Connection, shop: str, order_id: str, currency: str) -> list[events.OrderLine]:
    rows = await conn.fetch(
        "SELECT product_id, quantity, unit_price FROM order_lines WHERE shop_id = $1 AND order_id = $2"
        " ORDER BY line_no",
        shop, order_id,
    )
    return [events.OrderLine(product_id=r["product_id"], quantity=r["quantity"],
                             unit_price=in_minor_units(r["unit_price"], currency)) for r in rows]


def _order_event_fields(shop: str, row: asyncpg.Record) -> dict[str, Any]:
    currency = row["currency"]
    net = net_amount(row["total"], row["shipping_total"], row["tax_total"], row["refunded_total"])
    return {
        "shop": shop,
        "order_id": row["id"],
        "customer_id": row["customer_id"],
        "currency": currency,
        "total": in_minor_units(row["total"], currency),
        "net_amount": in_minor_units(net, currency),
        "placed_at": row["placed_at"],
    }


async def record_order(pool: asyncpg.Pool, shop: str, o: NewOrder) -> asyncpg.Record:
    """Insert an order once; sending the same order id again returns what is stored."""
    async with pool.acquire() as conn, conn.transaction():
        if await get_customer(conn, shop, o.customer_id) is None:
            raise NotFound(f"unknown customer {o.customer_id}; upsertCustomer first", field="customerId")
        row = await conn.fetchrow(
            """INSERT INTO orders (shop_id, id, customer_id, currency, status, discount_total,
                   shipping_total, tax_total, total, placed_at, referral_code, discount_codes,
                   shipping_address_hash, payment_fingerprint, device_id)
               VALUES ($1, $2, $3, $4, 'PLACED', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (shop_id, id) DO NOTHING
               RETURNING *""",
            shop, o.id, o.customer_id, o.currency, o.discount_total, o.shipping_total, o.tax_total,
            o.total, o.placed_at, o.referral_code, list(o.discount_codes), o.shipping_address_hash,
            o.payment_fingerprint, o.device_id,
        )
        if row is None:
            existing = await get_order(conn, shop, o.id)
            assert existing is not None
            if existing["customer_id"] != o.customer_id or existing["total"] != o.total \
                    or existing["currency"] != o.currency:
                raise Conflict(f"order {o.id} was already recorded with other data")
            return existing
        await conn.executemany(
            """INSERT INTO order_lines (shop_id, order_id, line_no, product_id, quantity, unit_price)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            [(shop, o.id, i, line.product_id, line.quantity, line.unit_price) for i, line in enumerate(o.lines)],
        )
        await outbox.add(conn, events.OrderPlaced(
            **_order_event_fields(shop, row),
            lines=[events.OrderLine(product_id=x.product_id, quantity=x.quantity, unit_price=x.unit_price)
                   for x in o.lines],
            referral_code=o.referral_code, discount_codes=list(o.discount_codes),
            shipping_address_hash=o.shipping_address_hash, payment_fingerprint=o.payment_fingerprint,
            device_id=o.device_id,
        ), source=SOURCE)
        return row


_STAMP = {"PAID": "paid_at", "SHIPPED": "shipped_at", "DELIVERED": "delivered_at",
          "CANCELLED": "cancelled_at", "REFUNDED": "refunded_at"}


async def update_order_status(
    pool: asyncpg.Pool, shop: str, order_id: str, status: str, refunded_amount: Decimal | None,
    at: datetime | None = None,
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM orders WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, order_id
        )
        if row is None:
            raise NotFound(f"unknown order {order_id}", field="id")
        change = change_status(row["status"], status, total=row["total"],
                               refunded_total=row["refunded_total"], refunded_amount=refunded_amount)
        if change.event is None:
            return row
        stamp = _STAMP[status]
        row = await conn.fetchrow(
            f"""UPDATE orders SET status = $3, refunded_total = $4, {stamp} = coalesce($5, now()),
                   updated_at = now()
                WHERE shop_id = $1 AND id = $2
                RETURNING *""",
            shop, order_id, change.status, change.refunded_total, at,
        )
        fields = _order_event_fields(shop, row)
        payload: events.EventData
        if change.event == "order.paid":
            payload = events.OrderPaid(**fields, referral_code=row["referral_code"])
        elif change.event == "order.shipped":
            payload = events.OrderShipped(**fields)
        elif change.event == "order.delivered":
            payload = events.OrderDelivered(**fields, lines=await order_lines(conn, shop, order_id, row["currency"]))
        elif change.event == "order.cancelled":
            payload = events.OrderCancelled(**fields)
        else:
            payload = events.OrderRefunded(**fields, refunded_amount=change.refunded_total,
                                           fully_refunded=change.status == "REFUNDED")
        await outbox.add(conn, payload, source=SOURCE)
        return row


async def list_orders(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                      after: list | None) -> list[asyncpg.Record]:
    if after is None:
        return await pool.fetch(
            """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
               ORDER BY placed_at DESC, id DESC LIMIT $3""",
            shop, customer_id, size + 1,
        )
    placed_at, last_id = after
    return await pool.fetch(
        """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
             AND (placed_at, id) < ($3, $4)
           ORDER BY placed_at DESC, id DESC LIMIT $5""",
        shop, customer_id, placed_at, last_id, size + 1,
    )
