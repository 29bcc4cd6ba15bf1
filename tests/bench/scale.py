"""Scale figures: a large shop and a small one in the same databases, seeded in SQL, then the same
reads timed through the gateway on both, so "does it stay flat" is a measurement.

The shops are seeded straight into the services' tables (generate_series), not through the API:
through the API 5 million orders would take hours on this machine. The seed schedules no jobs and
publishes no events, so nothing in the running services ever works on these shops except the reads
below. Seeding is skipped when a shop already holds its rows, so a second `make bench` starts at once;
`--reseed` drops and recreates them.

Values are deterministic: the i-th order's customer, time, amount and status come from fractional
parts of i times irrational constants (a low-discrepancy sequence), so the customers database and the
points database agree about every order without sharing a random state. Customers are skewed: a few
buy often, most once or twice, as in a real shop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.customers import store as customers_store
from shared.db import Connection
from tests.stack import db

Connect = Callable[[str], Awaitable[Connection]]  # service name -> a connection to its database

COUNTING = "('PAID', 'SHIPPED', 'DELIVERED')"


@dataclass(frozen=True)
class ShopSize:
    shop: str
    customers: int
    orders: int
    ledger_rows: int


LARGE = ShopSize("bench-scale-large", 1_000_000, 5_000_000, 10_000_000)
SMALL = ShopSize("bench-scale-small", 10_000, 50_000, 100_000)

# The i-th order, shared by both databases. frac(x) = x - floor(x).
_ORDER_FIELDS = """
    SELECT g,
           'o' || g AS order_id,
           'c' || (1 + floor({customers} * power(g * 0.6180339887498949 - floor(g * 0.6180339887498949), 2)))::bigint
               AS customer_id,
           now() - (g * 0.7548776662466927 - floor(g * 0.7548776662466927)) * interval '1095 days' AS placed_at,
           round(20 + (g * 0.5698402909980532 - floor(g * 0.5698402909980532)) * 180, 2) AS total,
           g * 0.4142135623730950 - floor(g * 0.4142135623730950) AS status_draw
    FROM generate_series(1, {orders}) g"""


def _status(draw: str) -> str:
    return (f"CASE WHEN {draw} < 0.90 THEN 'DELIVERED' WHEN {draw} < 0.95 THEN 'PAID' "
            f"WHEN {draw} < 0.98 THEN 'CANCELLED' ELSE 'REFUNDED' END")


async def _seeded(service: str, table: str, size: ShopSize, expected: int, connect: Connect = db) -> bool:
    conn = await connect(service)
    try:
        # An estimate over an index would lie for a shop; an exact count of one shop is what we want.
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE shop_id = $1", size.shop) == expected
    finally:
        await conn.close()


async def _drop(size: ShopSize, connect: Connect = db) -> None:
    await _drop_customers(size, connect)
    await _drop_points(size, connect)


async def _drop_customers(size: ShopSize, connect: Connect = db) -> None:
    conn = await connect("customers")
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM order_lines WHERE shop_id = $1", size.shop)
            await conn.execute("DELETE FROM orders WHERE shop_id = $1", size.shop)
            await conn.execute("DELETE FROM customers WHERE shop_id = $1", size.shop)
    finally:
        await conn.close()


async def _drop_points(size: ShopSize, connect: Connect = db) -> None:
    conn = await connect("points")
    try:
        async with conn.transaction():
            # The ledger refuses DELETE by trigger; a bench shop is the one place where whole rows go.
            await conn.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
            await conn.execute("DELETE FROM ledger_entries WHERE shop_id = $1", size.shop)
            await conn.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
            await conn.execute("DELETE FROM order_points WHERE shop_id = $1", size.shop)
            await conn.execute("DELETE FROM order_point_changes WHERE shop_id = $1", size.shop)
            await conn.execute("DELETE FROM accounts WHERE shop_id = $1", size.shop)
    finally:
        await conn.close()


async def _seed_customers(size: ShopSize, connect: Connect = db) -> None:
    fields = _ORDER_FIELDS.format(customers=size.customers, orders=size.orders)
    net = "greatest(total - shipping_total - tax_total - refunded_total, 0)"
    conn = await connect("customers")
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO customers (shop_id, id, email, first_name, accepts_email, created_at)
                   SELECT $1, 'c' || g, 'c' || g || '@scale.bench.example', 'Bench', true,
                          now() - interval '1100 days'
                   FROM generate_series(1, $2::bigint) g""", size.shop, size.customers)
            await conn.execute(
                f"""INSERT INTO orders (shop_id, id, customer_id, currency, status, total, shipping_total,
                                       tax_total, refunded_total, placed_at, paid_at)
                    SELECT $1, order_id, customer_id, 'EUR', {_status('status_draw')}, total, 4.90,
                           round(total * 0.16, 2),
                           CASE WHEN status_draw >= 0.98 THEN total ELSE 0 END,
                           placed_at, placed_at + interval '5 minutes'
                    FROM ({fields}) o""", size.shop)
            # The planner's statistics know nothing of this shop's rows yet (uncommitted; the tables were
            # last analysed without them): estimating 1 customer and 6 orders, it ran the summary below as
            # a nested loop rescanning every order per customer (weeks at 1M). ANALYZE counts the
            # transaction's own rows.
            await conn.execute("ANALYZE customers")
            await conn.execute("ANALYZE orders")
            # The per-customer summary the service keeps current on every order transition.
            await conn.execute(
                f"""WITH o AS (
                        SELECT customer_id, id, placed_at, {net} AS net,
                               row_number() OVER (PARTITION BY customer_id ORDER BY placed_at, id) AS n
                        FROM orders WHERE shop_id = $1 AND status IN {COUNTING}),
                    s AS (
                        SELECT customer_id, count(*) AS n, sum(net) AS spent, max(placed_at) AS last_at,
                               min(placed_at) FILTER (WHERE n = 1) AS first_at,
                               min(id) FILTER (WHERE n = 1) AS first_id,
                               min(placed_at) FILTER (WHERE n = 2) AS second_at
                        FROM o GROUP BY customer_id)
                    UPDATE customers c
                    SET orders_count = s.n, total_spent = s.spent, spent_currency = 'EUR',
                        first_order_id = s.first_id, first_order_at = s.first_at, second_order_at = s.second_at,
                        last_order_at = s.last_at,
                        segment = CASE WHEN s.last_at < now() - interval '180 days' THEN 'CHURNED'
                                       WHEN s.last_at < now() - interval '60 days' THEN 'AT_RISK'
                                       WHEN s.spent >= 1000 THEN 'VIP'
                                       WHEN s.n >= 2 THEN 'REGULAR' ELSE 'NEW' END
                    FROM s WHERE c.shop_id = $1 AND c.id = s.customer_id""", size.shop)
            await conn.execute("SET LOCAL work_mem = '512MB'")
            await customers_store.orders.rebuild_chains(conn, size.shop)
        await conn.execute("VACUUM (ANALYZE) customers")
        await conn.execute("VACUUM (ANALYZE) orders")
    finally:
        await conn.close()


async def _seed_points(size: ShopSize, connect: Connect = db) -> None:
    """Accounts are written once with their final sums (an UPDATE of a million rows would write each
    twice), and ledger rows in index order — customer by customer, keys ascending — so every index
    grows at its right edge instead of at random pages."""
    fields = _ORDER_FIELDS.format(customers=size.customers, orders=size.orders)
    conn = await connect("points")
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL work_mem = '512MB'")
            await conn.execute(
                """CREATE TEMP TABLE seed_ledger ON COMMIT DROP AS
                   SELECT 'c' || (1 + g % $1::bigint) AS customer_id, g, 1 + g % 97 AS delta,
                          now() - (g % 1000) * interval '1 day' AS created_at
                   FROM generate_series(1, $2::bigint) g""", size.customers, size.ledger_rows)
            await conn.execute(
                f"""CREATE TEMP TABLE seed_orders ON COMMIT DROP AS
                    SELECT order_id, customer_id, round(total - 4.90 - round(total * 0.16, 2), 2) AS net,
                           status_draw >= 0.95 AS voided, placed_at
                    FROM ({fields}) o""")
            # Tiers as the service would have stored them: Bronze 0, Silver 500, Gold 1500 on 12 months' spend.
            await conn.execute(
                """INSERT INTO accounts (shop_id, customer_id, balance, lifetime_earned, tier, tier_since,
                                         last_activity_at)
                   SELECT $1, c.customer_id, coalesce(l.total, 0), coalesce(l.total, 0),
                          CASE WHEN o.spend >= 1500 THEN 'Gold' WHEN o.spend >= 500 THEN 'Silver' ELSE 'Bronze' END,
                          now() - interval '30 days', now()
                   FROM (SELECT 'c' || g AS customer_id FROM generate_series(1, $2::bigint) g) c
                   LEFT JOIN (SELECT customer_id, sum(delta) AS total FROM seed_ledger GROUP BY 1) l
                          USING (customer_id)
                   LEFT JOIN (SELECT customer_id, sum(net) AS spend FROM seed_orders
                              WHERE NOT voided AND placed_at > now() - interval '12 months' GROUP BY 1) o
                          USING (customer_id)
                   ORDER BY c.customer_id""", size.shop, size.customers)
            await conn.execute(
                """INSERT INTO ledger_entries (shop_id, customer_id, kind, bucket, delta, reason,
                                               idempotency_key, actor, rule_version, created_at)
                   SELECT $1, customer_id, 'earn', 'available', delta, 'bench seed',
                          'bench:' || lpad((row_number() OVER (ORDER BY customer_id, g))::text, 10, '0'),
                          'bench', 1, created_at
                   FROM seed_ledger ORDER BY customer_id, g""", size.shop)
            # Delivered three days after payment, released 14 days later; the voided ones cancelled after
            # a day (what a simulation replays: migration 0030).
            await conn.execute(
                """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, paid_net, earn_rate,
                                             multiplier, rule_version, earned, taken_back, status, voided, paid_at,
                                             delivered_at, release_at)
                   SELECT $1, order_id, customer_id, 'EUR', CASE WHEN voided THEN 0 ELSE net END, net, 1, 1, 1,
                          floor(net)::bigint, CASE WHEN voided THEN floor(net)::bigint ELSE 0 END,
                          CASE WHEN voided THEN 'REVERSED' WHEN placed_at + interval '17 days' < now()
                               THEN 'AVAILABLE' ELSE 'PENDING' END, voided, placed_at,
                          CASE WHEN NOT voided THEN placed_at + interval '3 days' END,
                          CASE WHEN NOT voided THEN placed_at + interval '17 days' END
                   FROM seed_orders ORDER BY customer_id, placed_at""", size.shop)
            await conn.execute(
                """INSERT INTO order_point_changes (shop_id, order_id, customer_id, at, net_amount, voided)
                   SELECT $1, order_id, customer_id, placed_at + interval '1 day', 0, true
                   FROM seed_orders WHERE voided ORDER BY customer_id, placed_at""", size.shop)
        for table in ("accounts", "ledger_entries", "order_points", "order_point_changes"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()


async def ensure_seeded(size: ShopSize, reseed: bool = False, log=print, connect: Connect = db) -> dict:
    """Seed a shop unless it is already there; returns what was done and how long it took."""
    if reseed:
        await _drop(size, connect)
    done: dict = {"shop": size.shop, "customers": size.customers, "orders": size.orders,
                  "ledger_rows": size.ledger_rows}
    if not await _seeded("customers", "orders", size, size.orders, connect):
        await _drop_customers(size, connect)
        log(f"  seeding {size.shop}: {size.customers:,} customers, {size.orders:,} orders …")
        started = time.perf_counter()
        await _seed_customers(size, connect)
        done["seed_customers_s"] = round(time.perf_counter() - started, 1)
    if not await _seeded("points", "ledger_entries", size, size.ledger_rows, connect):
        await _drop_points(size, connect)
        log(f"  seeding {size.shop}: {size.ledger_rows:,} ledger rows, {size.orders:,} order points …")
        started = time.perf_counter()
        await _seed_points(size, connect)
        done["seed_points_s"] = round(time.perf_counter() - started, 1)
    return done
