"""Several instances of one service on one database: two outbox relays and two schedulers, each
with its own pool and broker connection as separate processes have, share the work without
publishing an event twice, running a job twice, or leaving one behind."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import aio_pika

from shared import outbox, schedule
from shared.bus import Bus
from shared.db import create_pool
from shared.events import PointsEarned
from shared.outbox import Relay
from shared.schedule import Scheduler
from tests.integration.conftest import throwaway_database
from tests.support import eventually

EVENTS = 400
JOBS = 200


def earned(n: int) -> PointsEarned:
    return PointsEarned(shop="default", customer_id=f"c-{n}", points=n, balance=n, reason="test", source_id=str(n))


async def write_events(dsn: str, count: int, writers: int = 8) -> list[str]:
    """Many small committed transactions, as request handlers write them, while the relays run."""
    pool = await create_pool(dsn, max_size=writers)
    ids: list[str] = []

    async def writer(start: int) -> None:
        for n in range(start, count, writers):
            async with pool.acquire() as conn, conn.transaction():
                ids.append((await outbox.add(conn, earned(n), source="test")).id)

    try:
        await asyncio.gather(*(writer(w) for w in range(writers)))
    finally:
        await pool.close()
    return ids


async def test_two_relays_publish_every_event_exactly_once(settings, names):
    async with throwaway_database(settings) as dsn:
        received: Counter[str] = Counter()
        connection = await aio_pika.connect(settings.amqp_url)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(names["exchange"], aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(names["queue"], durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(exchange, "#")

        async def count(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            received[message.message_id] += 1
            await message.ack()

        await queue.consume(count)
        instances = []
        for i in range(2):
            pool = await create_pool(dsn, max_size=4)
            bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name=f"relay-{i}")
            await bus.connect()
            # A small batch so both relays take turns on the same backlog many times.
            relay = Relay(pool, bus, dsn, batch_size=7, poll_seconds=0.05)
            relay.start()
            instances.append((pool, bus, relay))
        try:
            ids = await write_events(dsn, EVENTS)
            await eventually(lambda: len(received) == EVENTS, timeout=60, what="every event on the broker")
            await asyncio.sleep(1)  # give a duplicate every chance to arrive
            assert set(received) == set(ids)
            assert [i for i, n in received.items() if n > 1] == []
            pool = instances[0][0]
            assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        finally:
            for pool, bus, relay in instances:
                await relay.stop()
                await bus.close()
                await pool.close()
            await connection.close()


async def test_two_schedulers_run_every_due_job_exactly_once(settings):
    async with throwaway_database(settings) as dsn:
        setup = await create_pool(dsn, max_size=2)
        await setup.execute("CREATE TABLE effects (job text NOT NULL, instance int NOT NULL)")
        kind = "test.scale"
        keys = [f"job-{uuid.uuid4().hex[:8]}-{n}" for n in range(JOBS)]
        now = datetime.now(UTC)
        async with setup.acquire() as conn:
            for n, key in enumerate(keys):
                # Half due now, half falling due while the schedulers run.
                due = now if n % 2 else now + timedelta(seconds=1 + n % 3)
                await schedule.schedule(conn, shop="default", kind=kind, dedup_key=key, due_at=due)

        def handler(instance: int):
            async def run(conn, job):
                await conn.execute("INSERT INTO effects (job, instance) VALUES ($1, $2)", job.dedup_key, instance)
                await asyncio.sleep(0.002)  # a little work, so claims overlap
            return run

        instances = []
        for i in range(2):
            pool = await create_pool(dsn, max_size=4)
            scheduler = Scheduler(pool, {kind: handler(i)}, workers=3, poll_seconds=0.05)
            scheduler.start()
            instances.append((pool, scheduler))
        try:
            async def all_done():
                return await setup.fetchval(
                    "SELECT count(*) = $1 FROM scheduled_jobs WHERE kind = $2 AND status = 'done'", JOBS, kind)
            await eventually(all_done, timeout=60, what="every job done")
            await asyncio.sleep(0.5)
            runs = await setup.fetch("SELECT job, count(*) AS n FROM effects GROUP BY job")
            assert {r["job"] for r in runs} == set(keys)
            assert [r["job"] for r in runs if r["n"] > 1] == []
            # Both instances took a share: the work really was spread, not serialised on one.
            by_instance = await setup.fetch("SELECT instance, count(*) AS n FROM effects GROUP BY instance")
            assert {r["instance"] for r in by_instance} == {0, 1}
        finally:
            for pool, scheduler in instances:
                await scheduler.stop()
                await pool.close()
            await setup.close()
