"""The bus, outbox, inbox, retries and dead letters against the real broker and database."""

from __future__ import annotations

import uuid
from collections import Counter

import aio_pika

from shared import outbox
from shared.bus import ATTEMPT_HEADER, ERROR_HEADER, Bus, Consumer, QueueTopology
from shared.events import PointsEarned, new_envelope
from shared.handlers import EventHandlers, on
from shared.outbox import Relay
from tests.support import eventually


def earned(customer: str = "c-1") -> PointsEarned:
    return PointsEarned(shop="default", customer_id=customer, points=5, balance=5, reason="test",
                        source_id="x")


async def start(settings, pool, names, handlers, retry=(100, 200)) -> Bus:
    bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test")
    bus.add_consumer(Consumer(bus=bus, pool=pool, handlers=handlers,
                              topology=QueueTopology(names["queue"], retry_delays_ms=retry)))
    await bus.connect()
    return bus


async def effects(pool, event_id: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event_id)


async def record(conn, event, data):
    await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, $2)", event.id, data.customer_id)


async def get_from(settings, queue_name: str):
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
        return message


async def test_the_same_event_delivered_twice_has_one_effect(settings, pool, names):
    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, record)))
    try:
        envelope = new_envelope(earned(), source="test")
        await bus.publish(envelope)
        await bus.publish(envelope)
        await eventually(lambda: effects(pool, envelope.id), what="the effect")
        await eventually(lambda: pool.fetchval(
            "SELECT count(*) = 1 FROM inbox WHERE consumer = $1 AND event_id = $2", names["queue"], envelope.id))
        # Give the second copy every chance to be (wrongly) applied.
        second = new_envelope(earned(), source="test")
        await bus.publish(second)
        await eventually(lambda: effects(pool, second.id))
        assert await effects(pool, envelope.id) == 1
    finally:
        await bus.close()


async def test_outbox_publishes_committed_events_only(settings, pool, scratch_dsn, names):
    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, record)))
    relay = Relay(pool, bus, scratch_dsn, poll_seconds=0.2)
    try:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            rolled_back = await outbox.add(conn, earned("rolled-back"), source="test")
            await tx.rollback()
            async with conn.transaction():
                committed = await outbox.add(conn, earned("committed"), source="test")
        relay.start()
        await eventually(lambda: effects(pool, committed.id), what="the committed event")
        assert await effects(pool, rolled_back.id) == 0
        # The consumer may apply the event before the relay has recorded the broker's confirm.
        await eventually(lambda: pool.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1",
                                               uuid.UUID(committed.id)), what="the relay to mark it published")
    finally:
        await relay.stop()
        await bus.close()


async def test_a_batch_of_events_is_recorded_in_order_and_each_published_once(settings, pool, scratch_dsn, names):
    """outbox.add_many, for jobs announcing thousands of changes: one statement, the same rows as
    `add` would write, in order; nothing for an empty batch."""
    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, record)))
    relay = Relay(pool, bus, scratch_dsn, poll_seconds=0.2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            assert await outbox.add_many(conn, [], source="test") == []
            batch = await outbox.add_many(conn, [earned(f"many-{i}") for i in range(50)], source="test")
            stored = await conn.fetch("SELECT id::text, envelope FROM outbox WHERE id = ANY($1::uuid[]) ORDER BY seq",
                                      [uuid.UUID(e.id) for e in batch])
        assert [r["id"] for r in stored] == [e.id for e in batch]
        assert [r["envelope"]["data"]["customer_id"] for r in stored] == [f"many-{i}" for i in range(50)]
        relay.start()

        async def applied():
            return await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = ANY($1::text[])",
                                       [e.id for e in batch]) == 50
        await eventually(applied, what="all 50 events applied")
    finally:
        await relay.stop()
        await bus.close()


async def test_a_transient_failure_is_retried_with_backoff_then_succeeds(settings, pool, names):
    calls: Counter[str] = Counter()

    async def flaky(conn, event, data):
        calls[event.id] += 1
        if calls[event.id] < 3:
            raise ConnectionError("downstream not ready")
        await record(conn, event, data)

    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, flaky)))
    try:
        envelope = new_envelope(earned(), source="test")
        await bus.publish(envelope)
        await eventually(lambda: effects(pool, envelope.id), what="the effect after retries")
        assert calls[envelope.id] == 3
        assert await effects(pool, envelope.id) == 1
        assert await get_from(settings, names["queue"] + ".dlq") is None
    finally:
        await bus.close()


async def test_poison_goes_to_the_dead_letter_queue_and_the_queue_keeps_flowing(settings, pool, names):
    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, record)))
    try:
        channel = await bus._connection.channel()  # type: ignore[union-attr]
        exchange = await channel.get_exchange(names["exchange"])
        await exchange.publish(aio_pika.Message(b"{not json", message_id="poison-1"), routing_key="points.earned")
        good = new_envelope(earned(), source="test")
        await bus.publish(good)
        await eventually(lambda: effects(pool, good.id), what="the good event behind the poison")
        dead = await eventually(lambda: get_from(settings, names["queue"] + ".dlq"), what="the poison in the DLQ")
        assert dead.message_id == "poison-1"
        assert "not a Flywheel CloudEvent" in dead.headers[ERROR_HEADER]
    finally:
        await bus.close()


async def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue_with_its_reason(settings, pool, names):
    async def broken(conn, event, data):
        await record(conn, event, data)  # rolled back with the failure
        raise ValueError("no such tier")

    bus = await start(settings, pool, names, EventHandlers(on(PointsEarned, broken)))
    try:
        envelope = new_envelope(earned(), source="test")
        await bus.publish(envelope)
        dead = await eventually(lambda: get_from(settings, names["queue"] + ".dlq"), what="the DLQ")
        assert dead.message_id == envelope.id
        assert dead.headers[ATTEMPT_HEADER] == 2 and "no such tier" in dead.headers[ERROR_HEADER]
        assert await effects(pool, envelope.id) == 0
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", envelope.id) == 0
    finally:
        await bus.close()
