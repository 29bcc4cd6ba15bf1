"""Dead letters for operators against the real broker and database: what a consumer gives up on is
moved from its `.dlq` queue into `dead_letters`, counted and grouped by reason, and replayed after a fix,
harmlessly more than once."""

from __future__ import annotations

import aio_pika

from shared import dead_letters
from shared.bus import Bus, Consumer, QueueTopology
from shared.dead_letters import Choice, DeadLetterKeeper
from shared.events import PointsEarned, new_envelope
from shared.handlers import EventHandlers, on
from tests.support import eventually


def earned(customer: str, shop: str = "default") -> PointsEarned:
    return PointsEarned(shop=shop, customer_id=customer, points=5, balance=5, reason="test", source_id="x")


async def effects(pool, event_id: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event_id)


async def test_a_dead_letter_is_kept_grouped_by_reason_and_replayed_once_after_the_fix(settings, pool, names):
    fixed = False

    async def needs_a_fix(conn, event, data):
        if not fixed:
            raise LookupError(f"no tier for customer {data.customer_id}")
        await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, $2)", event.id, data.customer_id)

    queue = names["queue"]
    bus = Bus(settings.amqp_url, exchange=names["exchange"], client_name="test")
    bus.add_consumer(Consumer(bus=bus, pool=pool, handlers=EventHandlers(on(PointsEarned, needs_a_fix)),
                              topology=QueueTopology(queue, retry_delays_ms=(100, 200))))
    bus.add_consumer(DeadLetterKeeper(pool, queue))
    await bus.connect()
    try:
        sent = [new_envelope(earned(c, shop="shop-a"), source="test") for c in ("c-1", "c-2")]
        other = new_envelope(earned("c-3", shop="shop-b"), source="test")
        for envelope in [*sent, other]:
            await bus.publish(envelope)
        channel = await bus._connection.channel()  # type: ignore[union-attr]
        exchange = await channel.get_exchange(names["exchange"])
        await exchange.publish(aio_pika.Message(b"{not json", message_id="poison-1"), routing_key="points.earned")

        async def all_kept():
            return (await dead_letters.summary(pool, queue, None))["count"] == 4
        await eventually(all_kept, what="the four dead letters in the table")
        shop_a = await dead_letters.summary(pool, queue, "shop-a")
        assert shop_a["count"] == 2 and shop_a["oldest"] is not None
        assert [(r["reason"], r["count"], r["event_types"]) for r in shop_a["reasons"]] == [
            ("LookupError: no tier for customer …", 2, ["points.earned"])]  # c-1 and c-2: one reason
        everyone = await dead_letters.summary(pool, queue, None)
        assert {r["reason"]: r["count"] for r in everyone["reasons"]} == {
            "LookupError: no tier for customer …": 3, "PoisonMessage: not a Flywheel CloudEvent": 1}
        assert sorted(r["message_id"] for r in await dead_letters.letters(pool, queue, "shop-a")) == \
            sorted(e.id for e in sent)

        fixed = True  # the fix is deployed: replay shop-a's letters
        replayed = await dead_letters.replay(pool, settings.amqp_url, queue, Choice(shop="shop-a"))
        assert len(replayed) == 2
        for envelope in sent:
            await eventually(lambda e=envelope: effects(pool, e.id), what="the replayed event applied")
        assert await dead_letters.replay(pool, settings.amqp_url, queue, Choice(shop="shop-a")) == []  # done already
        # Replayed again on purpose: the inbox drops what was applied; nothing doubles.
        assert len(await dead_letters.replay(pool, settings.amqp_url, queue, Choice(shop="shop-a", again=True))) == 2
        await bus.publish(marker := new_envelope(earned("c-marker", shop="shop-a"), source="test"))
        await eventually(lambda: effects(pool, marker.id), what="an event behind the second replay")
        assert [await effects(pool, e.id) for e in sent] == [1, 1]
        assert (await dead_letters.summary(pool, queue, "shop-a"))["count"] == 0
        assert (await dead_letters.summary(pool, queue, "shop-b"))["count"] == 1  # not chosen, still waiting
        assert await effects(pool, other.id) == 0
    finally:
        await bus.close()


async def test_a_letter_moved_twice_is_kept_once(pool):
    letter = dead_letters.Letter(key="dl-twice", message_id="m-1", event_type="points.earned", shop="s",
                                 reason="ValueError: x", attempts=3, headers={}, body=b"{}", content_type=None)
    assert await dead_letters.file(pool, "test.twice.events", letter) is True
    assert await dead_letters.file(pool, "test.twice.events", letter) is False
