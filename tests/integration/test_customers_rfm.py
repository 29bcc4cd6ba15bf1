"""The daily pass on a throwaway database: RFM scores (store.segments.refresh_rfm), quintiles of the active
base written in one statement that also clears those who left it, and the pass's batches, each a job
of its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.customers import metrics, ordering, predicting, store
from services.customers.orders import new_order
from services.customers.segmenting import DAILY_JOB, daily_pass, refresh_batch
from shared.db import create_pool
from shared.schedule import Job
from tests.integration.conftest import throwaway_database

SHOP = "rfm-shop"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_scores_follow_the_active_base_and_leave_with_it(settings):
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=2)
        try:
            await pool.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, 'x')",
                                   [(SHOP, f"c{i}") for i in range(10)])
            for i in range(10):  # c0 bought 300 days ago, c9 10 days ago; c9 spent the most, c0 the least
                for k in range(1 + i // 3):
                    oid = f"o{i}-{k}"
                    await ordering.record(pool, SHOP, new_order(
                        id=oid, customer_id=f"c{i}", currency="EUR", lines=[("p", 1, f"{10 + 10 * i}.00")],
                        discount_total=None, shipping_total=None, tax_total=None, total=f"{10 + 10 * i}.00",
                        placed_at=NOW - timedelta(days=300 - 32 * i, hours=k)))
                    await ordering.update_status(pool, SHOP, oid, "PAID", None)
            async with pool.acquire() as conn:
                await store.segments.refresh_rfm(conn, SHOP, NOW, NOW - metrics.ACTIVE_WINDOW)
            scores = await _scores(pool)
            assert [scores[f"c{i}"][0] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
            assert [scores[f"c{i}"][2] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
            assert [scores[f"c{i}"][1] for i in range(10)] == [1, 1, 1, 2, 2, 2, 4, 4, 4, 5]  # ties: the lower rank
            assert {s[3] for s in scores.values()} == {NOW}

            later = NOW + timedelta(days=140)  # c0-c2 last bought more than 365 days before: out of the base
            async with pool.acquire() as conn:
                await store.segments.refresh_rfm(conn, SHOP, later, later - metrics.ACTIVE_WINDOW)
            scores = await _scores(pool)
            for i in range(3):
                assert scores[f"c{i}"] is None
            assert [scores[f"c{i}"][0] for i in range(3, 10)] == [1, 1, 2, 3, 3, 4, 5]
            assert {scores[f"c{i}"][3] for i in range(3, 10)} == {later}
            assert await pool.fetchval("SELECT count(*) FROM rfm_scores WHERE shop_id = $1", SHOP) == 7
        finally:
            await pool.close()


async def _scores(pool) -> dict[str, tuple | None]:
    """What the Customer.rfm field reads, for every customer of the shop."""
    ids = [c["id"] for c in await pool.fetch("SELECT id FROM customers WHERE shop_id = $1", SHOP)]
    rows = {r["customer_id"]: r for r in await store.segments.rfm_scores(pool, SHOP, ids)}
    return {i: (rows[i]["recency"], rows[i]["frequency"], rows[i]["monetary"], rows[i]["computed_at"])
            if i in rows else None for i in ids}


async def test_scoring_never_makes_an_order_wait(settings):
    """The scoring statement runs ~30 s on a 1M-customer shop. While it is uncommitted, a scored
    customer's order moves on at once: the scores live apart from the customer rows that order
    transitions lock."""
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=3)
        try:
            await pool.execute("INSERT INTO customers (shop_id, id, email) VALUES ($1, 'c1', 'x')", SHOP)
            for oid in ("o1", "o2"):
                await ordering.record(pool, SHOP, new_order(
                    id=oid, customer_id="c1", currency="EUR", lines=[("p", 1, "20.00")], discount_total=None,
                    shipping_total=None, tax_total=None, total="20.00", placed_at=NOW - timedelta(days=3)))
            await ordering.update_status(pool, SHOP, "o1", "PAID", None)
            async with pool.acquire() as scoring, scoring.transaction():
                await store.segments.refresh_rfm(scoring, SHOP, NOW, NOW - metrics.ACTIVE_WINDOW)
                async with pool.acquire() as other, other.transaction():
                    await other.execute("SET LOCAL lock_timeout = '2s'")  # waiting would fail the test
                    await ordering.move(other, SHOP, "o2", "PAID", None)
            assert (await _scores(pool))["c1"][0] == 1
        finally:
            await pool.close()


async def test_the_daily_pass_runs_in_batches_each_its_own_job(settings):
    """A shop larger than one batch: each job moves one batch and schedules the next, due at once;
    the last scores RFM and schedules the next day. Batches of 3 over 7 customers: three jobs."""
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=2)
        try:
            await pool.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, 'x')",
                                   [(SHOP, f"c{i}") for i in range(7)])
            for i in range(7):
                await ordering.record(pool, SHOP, new_order(
                    id=f"o{i}", customer_id=f"c{i}", currency="EUR", lines=[("p", 1, "20.00")], discount_total=None,
                    shipping_total=None, tax_total=None, total="20.00", placed_at=NOW - timedelta(days=100 + i)))
                await ordering.update_status(pool, SHOP, f"o{i}", "PAID", None)
            # As if every customer had been NEW when their order came in and 100 days had passed since.
            await pool.execute("UPDATE customers SET segment = 'NEW' WHERE shop_id = $1", SHOP)
            job = Job(id=0, shop=SHOP, kind=DAILY_JOB, dedup_key="2026-06-01", due_at=NOW,
                      payload={"batch": 3}, attempts=0, final_attempt=False)
            ran = []
            while job is not None:
                async with pool.acquire() as conn, conn.transaction():
                    await daily_pass(conn, job)
                ran.append(job.payload.get("after"))
                row = await pool.fetchrow(
                    """SELECT * FROM scheduled_jobs WHERE shop_id = $1 AND kind = $2 AND status = 'pending'
                         AND dedup_key LIKE '2026-06-01>%' AND NOT (dedup_key = ANY($3::text[]))""",
                    SHOP, DAILY_JOB, [f"2026-06-01>{a}" for a in ran if a])
                job = None if row is None else Job(
                    id=row["id"], shop=SHOP, kind=row["kind"], dedup_key=row["dedup_key"], due_at=row["due_at"],
                    payload=row["payload"], attempts=0, final_attempt=False)
            assert ran == [None, "c2", "c5"]
            rows = await pool.fetch("SELECT segment FROM customers WHERE shop_id = $1", SHOP)
            assert {r["segment"] for r in rows} == {"AT_RISK"}
            assert all(s is not None for s in (await _scores(pool)).values())
            next_day = await pool.fetch("SELECT kind, dedup_key FROM scheduled_jobs WHERE shop_id = $1 AND status = "
                                        "'pending' AND dedup_key NOT LIKE '%>%'", SHOP)
            # The next day's pass, and the night's prediction fit before it (services/customers/predicting.py).
            assert sorted(r["kind"] for r in next_day) == sorted([DAILY_JOB, predicting.JOB])
            moved = await pool.fetchval("SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = "
                                        "'customer.segment_changed' AND envelope->'data'->>'from_segment' = 'NEW'",
                                        SHOP)
            assert moved == 7  # each customer announced once, by the batch that moved them
        finally:
            await pool.close()


async def eventually_waiting(pool, timeout: float) -> None:
    """Until another connection of this database waits for a lock (the batch behind the payment)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await pool.fetchval(
            """SELECT count(*) > 0 FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"""):
        assert asyncio.get_running_loop().time() < deadline, "the batch never waited for the payment's lock"
        await asyncio.sleep(0.02)


async def test_a_batch_never_writes_a_segment_from_before_an_order_in_flight(settings):
    """c1 last bought 100 days ago, so the daily pass would make them AT_RISK; but a payment of a
    new order is in flight when the batch starts. The batch waits for it and sees the new order,
    instead of reading the old facts and writing AT_RISK over what the payment set."""
    now = datetime.now(UTC)
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=3)
        try:
            await pool.execute("INSERT INTO customers (shop_id, id, email) VALUES ($1, 'c1', 'x')", SHOP)
            for oid, days in (("o1", 100), ("o2", 0)):
                await ordering.record(pool, SHOP, new_order(
                    id=oid, customer_id="c1", currency="EUR", lines=[("p", 1, "20.00")], discount_total=None,
                    shipping_total=None, tax_total=None, total="20.00", placed_at=now - timedelta(days=days)))
            await ordering.update_status(pool, SHOP, "o1", "PAID", None, now - timedelta(days=100))
            await pool.execute("UPDATE customers SET segment = 'NEW' WHERE shop_id = $1", SHOP)  # a day ago's
            before = await pool.fetchval("SELECT max(seq) FROM outbox")
            async with pool.acquire() as paying:
                payment = paying.transaction()
                await payment.start()
                await ordering.move(paying, SHOP, "o2", "PAID", None)

                async def batch():
                    async with pool.acquire() as conn, conn.transaction():
                        return await refresh_batch(conn, SHOP, now + timedelta(seconds=1), "", 10)

                running = asyncio.create_task(batch())
                # The race is exercised every time: the payment commits only once the batch is seen
                # waiting for the customer's row lock (not after a guessed sleep, which a slow start
                # of the batch could outrun).
                await eventually_waiting(pool, timeout=10)
                await payment.commit()
                await running
            assert await pool.fetchval("SELECT segment FROM customers WHERE shop_id = $1", SHOP) != "AT_RISK"
            announced = await pool.fetch(
                """SELECT envelope->'data'->>'from_segment' AS f, envelope->'data'->>'to_segment' AS t FROM outbox
                   WHERE shop_id = $1 AND type = 'customer.segment_changed' AND seq > $2 ORDER BY seq""",
                SHOP, before)
            assert [(a["f"], a["t"]) for a in announced] == [("NEW", "OCCASIONAL")]  # by the payment alone
        finally:
            await pool.close()
