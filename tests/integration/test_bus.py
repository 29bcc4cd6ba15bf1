"""The bus, outbox, inbox (in batches), retries, dead letters and bindings against the real broker and
database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import aio_pika
import pytest

from shared import outbox
from shared.bus import ATTEMPT_HEADER, ERROR_HEADER, Bus, Consumer, QueueTopology
from shared.db import at_end, remembered
from shared.events import PointsEarned, PointsExpired, new_envelope
from shared.handlers import EventHandlers, on
from shared.inbox import Delivered, handle_batch
from shared.outbox import Relay
from tests.integration.conftest import Statements, logged_pool
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


async def test_an_event_the_subscription_is_not_concerned_with_is_acked_without_an_inbox_row(settings, pool, names):
    handlers = EventHandlers(on(PointsEarned, record, when=lambda d: d.customer_id.startswith("mine-")))
    bus = await start(settings, pool, names, handlers)
    try:
        other, mine = (new_envelope(earned(c), source="test") for c in ("theirs-1", "mine-1"))
        await bus.publish(other)
        await bus.publish(mine)
        await eventually(lambda: effects(pool, mine.id), what="the effect of the event it is concerned with")
        assert await effects(pool, other.id) == 0
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2",
                                   names["queue"], other.id) == 0
    finally:
        await bus.close()
    # Acknowledged: with the consumer gone, an unacknowledged message would be back on the queue.
    assert await get_from(settings, names["queue"]) is None
    assert await get_from(settings, f"{names['queue']}.dlq") is None


async def test_an_event_not_concerned_with_is_not_acked_before_the_events_delivered_before_it(settings, pool, names):
    """Acks cover every earlier delivery on the channel (one `multiple` ack per batch): an event the
    subscription ignores, delivered after one still being applied, must wait for that one's commit.
    Here the consumer dies while applying the first: the broker must give the first back."""
    applying, never = asyncio.Event(), asyncio.Event()

    async def stuck(conn, event, data):
        applying.set()
        await never.wait()  # the process dies before this event commits

    handlers = EventHandlers(on(PointsEarned, stuck, when=lambda d: d.customer_id.startswith("mine-")))
    bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test")
    bus.add_consumer(Consumer(bus=bus, pool=pool, handlers=handlers,
                              topology=QueueTopology(names["queue"], retry_delays_ms=(100, 200)),
                              batch_size=2, batch_wait_ms=2000))
    await bus.connect()
    mine, other = (new_envelope(earned(c), source="test") for c in ("mine-1", "theirs-1"))
    try:
        await bus.publish(mine)
        await bus.publish(other)  # the same batch (two, or two seconds), after `mine`
        await asyncio.wait_for(applying.wait(), 10)
    finally:
        await bus.close()
    back = await get_from(settings, names["queue"])
    assert back is not None and back.message_id == mine.id, "the event being applied was acked with the other"


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


# ---- batches ---------------------------------------------------------------------------------------


def delivered(envelope, handler):
    return Delivered(envelope, envelope.payload(), handler)


async def test_a_batch_with_duplicates_of_its_own_events_applies_each_once_within_and_across_batches(pool):
    consumer = f"test.{uuid.uuid4().hex[:8]}"
    a, b = new_envelope(earned("dup-a"), source="test"), new_envelope(earned("dup-b"), source="test")
    outcomes = await handle_batch(pool, consumer, [delivered(e, record) for e in (a, b, a, a)])
    assert [o.applied for o in outcomes] == [True, True, False, False]
    assert all(o.duplicate for o in outcomes[2:])
    again = await handle_batch(pool, consumer, [delivered(e, record) for e in (b, a)])  # a later batch
    assert [o.duplicate for o in again] == [True, True]
    assert (await effects(pool, a.id), await effects(pool, b.id)) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 2


async def test_a_failing_event_is_rolled_back_alone_and_the_rest_of_its_batch_commits(pool):
    consumer = f"test.{uuid.uuid4().hex[:8]}"
    remembered_by: list[str] = []

    async def half_done(conn, event, data):
        await record(conn, event, data)  # rolled back with its savepoint
        await remembered("program", lambda: _value("read by the failed event"))
        raise ValueError("no such tier")

    async def reads_program(conn, event, data):
        remembered_by.append(await remembered("program", lambda: _value(f"read by {data.customer_id}")))
        await record(conn, event, data)

    good, bad, later = (new_envelope(earned(c), source="test") for c in ("ok-1", "bad", "ok-2"))
    outcomes = await handle_batch(pool, consumer, [delivered(good, reads_program), delivered(bad, half_done),
                                                   delivered(later, reads_program)])
    assert [o.applied for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ValueError)
    assert (await effects(pool, good.id), await effects(pool, bad.id), await effects(pool, later.id)) == (1, 0, 1)
    # The failed event's inbox row went with it (it is retried), and what it read is not the batch's.
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2", consumer,
                               bad.id) == 0
    assert remembered_by == ["read by ok-1", "read by ok-1"]


async def _value(value):
    return value


async def test_an_event_alone_needs_no_savepoint_and_its_failure_rolls_back_everything_of_it(scratch_dsn, pool):
    """A batch of one event (events arriving one by one): no SAVEPOINT/RELEASE around its handler. A
    handler that raises takes its effect and its inbox row with it, and the error is the batch's."""
    consumer = f"test.{uuid.uuid4().hex[:8]}"
    statements = Statements()
    async with logged_pool(scratch_dsn, statements) as logged:
        async def half_done(conn, event, data):
            await record(conn, event, data)
            raise ValueError("no such tier")

        ok, bad = new_envelope(earned("alone-ok"), source="test"), new_envelope(earned("alone-bad"), source="test")
        async with statements.counted() as ran:
            assert [o.applied for o in await handle_batch(logged, consumer, [delivered(ok, record)])] == [True]
        assert not [s for s in ran if "SAVEPOINT" in s], ran
        assert ran[0].startswith("BEGIN") and ran[-1].startswith("COMMIT") and len(ran) == 4, ran
        with pytest.raises(ValueError, match="no such tier"):
            await handle_batch(logged, consumer, [delivered(bad, half_done)])
        assert (await effects(pool, ok.id), await effects(pool, bad.id)) == (1, 0)
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) == 1
        again = await handle_batch(pool, consumer, [delivered(ok, record)])  # redelivered: a duplicate
        assert again[0].duplicate and await effects(pool, ok.id) == 1


async def test_events_of_one_customer_keep_their_order_inside_a_batch(pool):
    consumer = f"test.{uuid.uuid4().hex[:8]}"
    applied: list[str] = []

    async def note(conn, event, data):
        applied.append(f"{data.customer_id}:{data.source_id}")

    def of(customer, n):
        return new_envelope(PointsEarned(shop="default", customer_id=customer, points=1, balance=n, reason="t",
                                         source_id=str(n)), source="test")
    sent = [of("c-b", 1), of("c-a", 2), of("c-b", 3), of("c-a", 4), of("c-b", 5)]
    await handle_batch(pool, consumer, [delivered(e, note) for e in sent])
    assert [x for x in applied if x.startswith("c-a")] == ["c-a:2", "c-a:4"]
    assert [x for x in applied if x.startswith("c-b")] == ["c-b:1", "c-b:3", "c-b:5"]


async def test_upkeep_asked_for_by_several_events_runs_once_per_batch_before_the_commit(pool):
    consumer = f"test.{uuid.uuid4().hex[:8]}"

    async def engaged(conn, event, data):
        await record(conn, event, data)

        async def summarise():
            await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, 'summary')",
                               f"{consumer}:{data.customer_id}")
        await at_end(f"summary:{data.customer_id}", summarise)

    sent = [new_envelope(earned(c), source="test") for c in ("u-1", "u-2", "u-1", "u-1")]
    await handle_batch(pool, consumer, [delivered(e, engaged) for e in sent])
    assert await effects(pool, f"{consumer}:u-1") == 1 and await effects(pool, f"{consumer}:u-2") == 1


async def test_a_batch_on_the_broker_survives_a_crash_between_commit_and_ack(settings, pool, names):
    """The first consumer commits its batch and dies before acking: the broker gives the messages to
    the next one, whose inbox finds them all and applies nothing twice."""
    crashed = asyncio.Event()

    class CrashingConsumer(Consumer):
        async def _ack(self, messages):
            crashed.set()
            await self.bus._connection.close()  # type: ignore[union-attr]  # the process dies here

    sent = [new_envelope(earned(f"crash-{i}"), source="test") for i in range(30)]
    first = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test-crashing")
    first.add_consumer(CrashingConsumer(bus=first, pool=pool, handlers=EventHandlers(on(PointsEarned, record)),
                                        topology=QueueTopology(names["queue"], retry_delays_ms=(100, 200)),
                                        batch_size=50, batch_wait_ms=200))
    await first.connect()
    try:
        for envelope in sent:
            await first.publish(envelope)
        await asyncio.wait_for(crashed.wait(), 30)
    finally:
        await first.close()

    committed = await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = ANY($1::text[])",
                                    [e.id for e in sent])
    assert committed > 0  # the crashed consumer's first batch, committed and never acked
    second = await start(settings, pool, names, EventHandlers(on(PointsEarned, record)))
    try:
        async def queue_drained():
            connection = await aio_pika.connect(settings.amqp_url)
            async with connection:
                channel = await connection.channel()
                queue = await channel.declare_queue(names["queue"], passive=True)
                return queue.declaration_result.message_count == 0
        await eventually(queue_drained, what="the redelivered batch acked by the next consumer")
        await asyncio.sleep(0.5)
        counts = await pool.fetch("SELECT event_id, count(*) AS n FROM effects WHERE event_id = ANY($1::text[])"
                                  " GROUP BY 1", [e.id for e in sent])
        assert len(counts) == len(sent) and all(r["n"] == 1 for r in counts)
    finally:
        await second.close()


async def test_a_batch_that_fails_as_a_whole_is_tried_again_event_by_event(settings, pool, names):
    """Upkeep at the end of a batch fails for one event's customer: the batch rolls back, each event is
    tried alone, and only that one is retried and dead-lettered; the others are applied once."""
    async def with_upkeep(conn, event, data):
        await record(conn, event, data)

        async def upkeep():
            if data.customer_id == "upkeep-broken":
                raise RuntimeError("segment rules missing")
        await at_end(f"upkeep:{data.customer_id}", upkeep)

    bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test")
    bus.add_consumer(Consumer(bus=bus, pool=pool, handlers=EventHandlers(on(PointsEarned, with_upkeep)),
                              topology=QueueTopology(names["queue"], retry_delays_ms=(100, 200)),
                              batch_size=20, batch_wait_ms=300))
    await bus.connect()
    try:
        sent = [new_envelope(earned(c), source="test") for c in ("upkeep-1", "upkeep-broken", "upkeep-2")]
        for envelope in sent:
            await bus.publish(envelope)
        dead = await eventually(lambda: get_from(settings, names["queue"] + ".dlq"), what="the broken one in the DLQ")
        assert dead.message_id == sent[1].id and "segment rules missing" in dead.headers[ERROR_HEADER]
        assert [await effects(pool, e.id) for e in sent] == [1, 0, 1]
    finally:
        await bus.close()


# ---- bindings --------------------------------------------------------------------------------------


async def queued(settings, queue_name: str) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        return queue.declaration_result.message_count


async def test_the_queue_is_bound_to_the_handled_types_only_and_loses_bindings_an_earlier_version_left(
        settings, pool, names):
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:  # an earlier version bound the queue to points.expired too
        channel = await connection.channel()
        exchange = await channel.declare_exchange(names["exchange"], aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(names["queue"], durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names["queue"] + ".dlq", "x-delivery-limit": 20})
        await queue.bind(exchange, routing_key="points.expired")
    subscribed: set[str] = set()

    async def also(conn):
        return subscribed

    handlers = EventHandlers(on(PointsEarned, record), on(PointsExpired, record, bind=False), also_bind=also)
    bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test")
    consumer = Consumer(bus=bus, pool=pool, handlers=handlers,
                        topology=QueueTopology(names["queue"], retry_delays_ms=(100, 200)))
    bus.add_consumer(consumer)
    await bus.connect()
    try:
        expired = PointsExpired(shop="default", customer_id="c-x", points=5, balance=0)
        ignored = new_envelope(expired, source="test")
        await bus.publish(ignored)
        good = new_envelope(earned("bound"), source="test")
        await bus.publish(good)
        await eventually(lambda: effects(pool, good.id), what="the bound type")
        assert await effects(pool, ignored.id) == 0
        subscribed.add("points.expired")  # a merchant's endpoint subscribes to it now
        await bus.rebind()
        followed = new_envelope(expired, source="test")
        await bus.publish(followed)
        await eventually(lambda: effects(pool, followed.id), what="the type followed from the data")
        subscribed.clear()
        assert await consumer.rebind() == ["points.earned"]
        await bus.publish(new_envelope(expired, source="test"))
        await asyncio.sleep(0.3)
        assert await queued(settings, names["queue"]) == 0 and await effects(pool, ignored.id) == 0
    finally:
        await bus.close()
