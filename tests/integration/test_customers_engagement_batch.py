"""Customers' upkeep once per customer per batch: a batch of notification events about one customer
records each engagement and summarises the customer's orders and segment once, at the batch's end,
from the state it ends with (the same as a refresh after each event would leave)."""

from __future__ import annotations

import asyncpg

from services.customers import consumers, segmenting
from shared.db import init_connection
from shared.events import NotificationClicked, NotificationOpened, NotificationSent, new_envelope
from shared.inbox import Delivered, handle_batch
from tests.integration.conftest import throwaway_database

SHOP = "engaged-shop"
CHAIN_UPKEEP = "WITH chain AS"  # store.orders.summarise, the first statement of a refresh


async def test_a_batch_of_one_customers_emails_refreshes_them_once_and_each_other_customer_once(settings):
    ran: list[str] = []
    async with throwaway_database(settings, "customers") as dsn:
        async def init(conn: asyncpg.Connection) -> None:
            await init_connection(conn)
            conn.add_query_logger(lambda record: ran.append(record.query))
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, init=init)
        try:
            await pool.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, $3)",
                                   [(SHOP, c, f"{c}@example.com") for c in ("anna", "ben")])

            def email(kind, customer: str, n: int):
                more = {"url": "https://shop.example/"} if kind is NotificationClicked else {}
                return kind(shop=SHOP, notification_id=f"n-{customer}-{n}", customer_id=customer, channel="EMAIL",
                            template="winback", **more)
            events = [email(NotificationSent, "anna", 1), email(NotificationOpened, "anna", 1),
                      email(NotificationSent, "ben", 1), email(NotificationClicked, "anna", 1),
                      email(NotificationSent, "anna", 2)]
            outcomes = await handle_batch(pool, "customers.events", [
                Delivered(new_envelope(e, source="test"), e, consumers.HANDLERS.dispatch) for e in events])
            assert all(o.applied for o in outcomes)
            assert sum(CHAIN_UPKEEP in q for q in ran) == 2  # anna once, ben once
            counted = await pool.fetch("SELECT customer_id, count(*) AS n FROM engagements WHERE shop_id = $1"
                                       " GROUP BY 1 ORDER BY 1", SHOP)
            assert [(r["customer_id"], r["n"]) for r in counted] == [("anna", 4), ("ben", 1)]
            scored = await pool.fetch("SELECT id, engagement_score, segment FROM customers WHERE shop_id = $1"
                                      " ORDER BY id", SHOP)
            # What a refresh after the last event computes: the batch left no stale score behind.
            ran.clear()
            async with pool.acquire() as conn, conn.transaction():
                for row in scored:
                    await segmenting.refresh_customer(conn, SHOP, row["id"])
            again = await pool.fetch("SELECT id, engagement_score, segment FROM customers WHERE shop_id = $1"
                                     " ORDER BY id", SHOP)
            assert [tuple(r) for r in again] == [tuple(r) for r in scored]
        finally:
            await pool.close()
