"""SQL of the order mirror: orders and their lines, refunds by id, the lock order of every writer
of an order, each order's chain (its neighbours among its customer's counting orders, with the
activity spells and cohort months built on it: migration 0007) and the customer's order summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.customers.store.rows import returned
from shared.db import Connection, Executor

# The statuses that count as a purchase (PAID, SHIPPED, DELIVERED) and an order's net amount (goods
# only: shipping, tax and refunds taken off), as SQL; orders.py holds the same rules in Python.
COUNTING = "('PAID', 'SHIPPED', 'DELIVERED')"
NET = "greatest(total - shipping_total - tax_total - refunded_total, 0)"
# The active window (metrics.ACTIVE_WINDOW, 365 days) in hours: '365 days' would follow the
# session's DST. tests/unit/customers/test_store.py holds the two equal.
WINDOW_SQL = "interval '8760 hours'"


def utc_month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE 'UTC')::date"


def opens_month(first_at: str, prev_at: str) -> str:
    """The order counts and is its customer's first counting order of its UTC month."""
    return f"{first_at} IS NOT NULL AND ({prev_at} IS NULL OR {utc_month(prev_at)} < {utc_month('placed_at')})"


async def get(conn: Executor, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM orders WHERE shop_id = $1 AND id = $2", shop, order_id)


async def get_many(conn: Executor, shop: str, order_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM orders WHERE shop_id = $1 AND id = ANY($2::text[])", shop, order_ids)


async def insert(conn: Connection, shop: str, order: Mapping[str, Any]) -> asyncpg.Record | None:
    """Insert a PLACED order and its lines (`order["lines"]`: product_id, quantity, unit_price
    each); None when the shop has an order with that id already."""
    row = await conn.fetchrow(
        """INSERT INTO orders (shop_id, id, customer_id, currency, status, discount_total,
               shipping_total, tax_total, total, placed_at, referral_code, discount_codes,
               shipping_address_hash, payment_fingerprint, device_id)
           VALUES ($1, $2, $3, $4, 'PLACED', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (shop_id, id) DO NOTHING
           RETURNING *""",
        shop, order["id"], order["customer_id"], order["currency"], order["discount_total"],
        order["shipping_total"], order["tax_total"], order["total"], order["placed_at"], order["referral_code"],
        list(order["discount_codes"]), order["shipping_address_hash"], order["payment_fingerprint"],
        order["device_id"],
    )
    if row is None:
        return None
    await conn.executemany(
        """INSERT INTO order_lines (shop_id, order_id, line_no, product_id, quantity, unit_price)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(shop, order["id"], i, line["product_id"], line["quantity"], line["unit_price"])
         for i, line in enumerate(order["lines"])],
    )
    return row


async def amend(conn: Connection, shop: str, order: Mapping[str, Any]) -> asyncpg.Record:
    """New amounts and lines for an order the transaction holds locked (an edit before payment)."""
    row = returned(await conn.fetchrow(
        """UPDATE orders SET discount_total = $3, shipping_total = $4, tax_total = $5, total = $6, updated_at = now()
           WHERE shop_id = $1 AND id = $2
           RETURNING *""",
        shop, order["id"], order["discount_total"], order["shipping_total"], order["tax_total"], order["total"],
    ))
    await conn.execute("DELETE FROM order_lines WHERE shop_id = $1 AND order_id = $2", shop, order["id"])
    await conn.executemany(
        """INSERT INTO order_lines (shop_id, order_id, line_no, product_id, quantity, unit_price)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(shop, order["id"], i, line["product_id"], line["quantity"], line["unit_price"])
         for i, line in enumerate(order["lines"])],
    )
    return row


async def lines(conn: Executor, shop: str, order_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT product_id, quantity, unit_price FROM order_lines WHERE shop_id = $1 AND order_id = $2"
        " ORDER BY line_no",
        shop, order_id,
    )


async def lines_of_customer(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    """The lines of all the customer's orders (lines carry no customer column of their own)."""
    return await conn.fetch(
        """SELECT l.order_id, l.product_id, l.quantity, l.unit_price FROM order_lines l
           JOIN orders o ON o.shop_id = l.shop_id AND o.id = l.order_id
           WHERE l.shop_id = $1 AND o.customer_id = $2 ORDER BY l.order_id, l.line_no""",
        shop, customer_id,
    )


async def page(conn: Executor, shop: str, customer_id: str, size: int,
               after: Sequence[Any] | None) -> list[asyncpg.Record]:
    """The customer's orders newest first, `size` + 1 of them past the (placed_at, id) key."""
    if after is None:
        return await conn.fetch(
            """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
               ORDER BY placed_at DESC, id DESC LIMIT $3""",
            shop, customer_id, size + 1,
        )
    placed_at, last_id = after
    return await conn.fetch(
        """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
             AND (placed_at, id) < ($3, $4)
           ORDER BY placed_at DESC, id DESC LIMIT $5""",
        shop, customer_id, placed_at, last_id, size + 1,
    )


async def lock_customer(conn: Connection, shop: str, customer_id: str) -> None:
    """Serialise the changes to one customer's orders: the customer's row first, then orders. Every
    writer of an order's status or chain takes them in this order, so they cannot deadlock."""
    await conn.execute("SELECT 1 FROM customers WHERE shop_id = $1 AND id = $2 FOR NO KEY UPDATE",
                       shop, customer_id)


async def lock(conn: Connection, shop: str, order_id: str) -> asyncpg.Record | None:
    """The order, locked after its customer (lock_customer); None for an unknown order."""
    customer_id = await conn.fetchval("SELECT customer_id FROM orders WHERE shop_id = $1 AND id = $2",
                                      shop, order_id)
    if customer_id is None:
        return None
    await lock_customer(conn, shop, customer_id)  # an order never changes customer
    return returned(await conn.fetchrow(
        "SELECT * FROM orders WHERE shop_id = $1 AND id = $2 FOR NO KEY UPDATE", shop, order_id))


_STAMP = {"PAID": "paid_at", "SHIPPED": "shipped_at", "DELIVERED": "delivered_at",
          "CANCELLED": "cancelled_at", "REFUNDED": "refunded_at"}


async def set_status(conn: Connection, shop: str, order_id: str, *, status: str, refunded_total: Decimal,
                     stamp: str, at: datetime | None) -> asyncpg.Record:
    """Write the order's status and refunded total, and the time of the `stamp` update (a partial
    refund keeps the status and stamps refunded_at) as `at`, or now."""
    return returned(await conn.fetchrow(
        f"""UPDATE orders SET status = $3, refunded_total = $4, {_STAMP[stamp]} = coalesce($5, now()),
               updated_at = now()
            WHERE shop_id = $1 AND id = $2
            RETURNING *""",
        shop, order_id, status, refunded_total, at,
    ))


async def add_refund(conn: Connection, shop: str, refund_id: str, order_id: str, amount: Decimal) -> bool:
    """Note a refund by its id; False when it was noted before."""
    inserted = await conn.fetchval(
        """INSERT INTO order_refunds (shop_id, refund_id, order_id, amount) VALUES ($1, $2, $3, $4)
           ON CONFLICT (shop_id, refund_id) DO NOTHING RETURNING true""",
        shop, refund_id, order_id, amount,
    )
    return bool(inserted)


async def mark_referral_converted(conn: Connection, shop: str, order_id: str) -> bool:
    result = await conn.execute(
        "UPDATE orders SET referral_converted = true WHERE shop_id = $1 AND id = $2 AND NOT referral_converted",
        shop, order_id,
    )
    return result.endswith(" 1")


async def changed_since(conn: Executor, since: datetime) -> list[asyncpg.Record]:
    """(shop_id, customer_id) of every customer with an order changed since `since`."""
    return await conn.fetch(
        "SELECT DISTINCT shop_id, customer_id FROM orders WHERE updated_at >= $1 ORDER BY 1, 2", since)


# The chain upkeep of the orders of the customers that {customers} picks (a condition on customer_id):
# each counting order's neighbours among its customer's counting orders (by placed_at, then id), its
# net amount (stored so the period scan is index-only) and whether it starts or ends an activity
# spell. Only orders whose chain moved are written, and the spell and cohort logs get the difference
# between what each order counted for and what it counts for now, so running it again changes nothing.
# Migration 0008 holds a frozen copy for the orders that were there before.
_CHAIN_UPKEEP = f"""
    WITH chain AS (
        SELECT id, {NET} AS counted_net,
               lag(placed_at) OVER w AS prev_at, lag(placed_at, 2) OVER w AS prev2_at,
               lead(placed_at) OVER w AS next_at, first_value(placed_at) OVER w AS first_at,
               lag(placed_at) OVER w IS NULL OR lag(placed_at) OVER w < placed_at - {WINDOW_SQL} AS spell_start,
               lead(placed_at) OVER w IS NULL OR lead(placed_at) OVER w > placed_at + {WINDOW_SQL} AS spell_end
        FROM orders WHERE shop_id = $1 AND {{customers}} AND status IN {COUNTING}
        WINDOW w AS (PARTITION BY customer_id ORDER BY placed_at, id)),
    wanted AS (
        SELECT o.id, o.placed_at, o.spell_start AS was_start, o.spell_end AS was_end,
               o.first_at AS was_first_at, o.prev_at AS was_prev_at,
               c.prev_at, c.prev2_at, c.next_at, c.first_at, c.counted_net,
               coalesce(c.spell_start, false) AS spell_start, coalesce(c.spell_end, false) AS spell_end
        FROM orders o LEFT JOIN chain c ON c.id = o.id
        WHERE o.shop_id = $1 AND {{customers}}),
    moved AS (
        UPDATE orders o SET prev_at = w.prev_at, prev2_at = w.prev2_at, next_at = w.next_at,
               first_at = w.first_at, counted_net = w.counted_net, spell_start = w.spell_start,
               spell_end = w.spell_end
        FROM wanted w
        WHERE o.shop_id = $1 AND o.id = w.id
          AND (o.prev_at, o.prev2_at, o.next_at, o.first_at, o.counted_net, o.spell_start, o.spell_end)
              IS DISTINCT FROM (w.prev_at, w.prev2_at, w.next_at, w.first_at, w.counted_net,
                                w.spell_start, w.spell_end)),
    cohort_moves AS (
        INSERT INTO cohort_months (shop_id, first_month, active_month, customers)
        SELECT $1, first_month, active_month, sum(d) FROM (
            SELECT {utc_month("first_at")} AS first_month, {utc_month("placed_at")} AS active_month, 1 AS d
            FROM wanted WHERE {opens_month("first_at", "prev_at")}
            UNION ALL
            SELECT {utc_month("was_first_at")}, {utc_month("placed_at")}, -1
            FROM wanted WHERE {opens_month("was_first_at", "was_prev_at")}) moves
        GROUP BY 2, 3 HAVING sum(d) <> 0)
    INSERT INTO active_spells (shop_id, day, starts, ends)
    SELECT $1, (placed_at AT TIME ZONE 'UTC')::date,
           sum(spell_start::int - was_start::int), sum(spell_end::int - was_end::int)
    FROM wanted WHERE spell_start <> was_start OR spell_end <> was_end
    GROUP BY 2"""


async def summarise(conn: Connection, shop: str, customer_id: str) -> None:
    """Keep the customer's counting-order summary (stats, first/second/last order), the chain of
    their orders and the shop's activity spells and cohort months current. It holds the customer's
    row lock first (callers that lock an order have taken it already), so no other transaction moves
    the same chain meanwhile and what each order counted for is what the logs say."""
    await lock_customer(conn, shop, customer_id)
    await conn.execute(_CHAIN_UPKEEP.format(customers="customer_id = $2"), shop, customer_id)
    # first_order_id and second_order_at are read by nobody since 0007 (docs/operations.md says
    # why they are still written).
    await conn.execute(
        f"""WITH o AS (
                SELECT id, placed_at, currency, {NET} AS net,
                       row_number() OVER (ORDER BY placed_at, id) AS n
                FROM orders WHERE shop_id = $1 AND customer_id = $2 AND status IN {COUNTING})
            UPDATE customers SET
                orders_count = (SELECT count(*) FROM o),
                total_spent = (SELECT coalesce(sum(net), 0) FROM o),
                spent_currency = coalesce((SELECT currency FROM o ORDER BY n DESC LIMIT 1), spent_currency),
                first_order_id = (SELECT id FROM o WHERE n = 1),
                first_order_at = (SELECT placed_at FROM o WHERE n = 1),
                second_order_at = (SELECT placed_at FROM o WHERE n = 2),
                last_order_at = (SELECT max(placed_at) FROM o)
            WHERE shop_id = $1 AND id = $2""",
        shop, customer_id,
    )


async def rebuild_chains(conn: Connection, shop: str) -> None:
    """Recompute every order chain, activity spell and cohort month of a shop from nothing, in the
    caller's transaction: for orders written straight into the tables (the bench seed), and the
    reference the tests hold the upkeep of many single transitions to."""
    await conn.execute(
        """UPDATE orders SET prev_at = NULL, prev2_at = NULL, next_at = NULL, first_at = NULL, counted_net = NULL,
               spell_start = false, spell_end = false
           WHERE shop_id = $1 AND (first_at IS NOT NULL OR counted_net IS NOT NULL OR spell_start OR spell_end)""",
        shop,
    )
    await conn.execute("DELETE FROM active_spells WHERE shop_id = $1", shop)
    await conn.execute("DELETE FROM cohort_months WHERE shop_id = $1", shop)
    await conn.execute(_CHAIN_UPKEEP.format(customers="true"), shop)
