"""Who hears which event on the console's live stream (console/live.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from console.live import LIVE_EVENTS, QUEUE_LIMIT, Hub, Listener
from shared.events import CATALOG, ChallengeLaunched, PointsEarned, new_envelope


def earned(customer: str, shop: str = "s1", points: int = 45):
    data = PointsEarned(shop=shop, customer_id=customer, points=points, balance=points, reason="order",
                        source_id="o-1", pending=True)
    return new_envelope(data, source="points"), data


def launched(shop: str = "s1"):
    data = ChallengeLaunched(shop=shop, challenge_id="ch-1", title="Autumn", reward_points=50,
                             starts_at=datetime(2026, 11, 1, tzinfo=UTC), ends_at=datetime(2026, 12, 1, tzinfo=UTC))
    return new_envelope(data, source="points"), data


def test_every_live_event_is_in_the_catalog():
    assert set(LIVE_EVENTS) <= {t for t, _ in CATALOG}


async def test_a_customer_hears_only_their_own_events_of_their_shop():
    hub = Hub()
    anna, ben = Listener("s1", "anna"), Listener("s1", "ben")
    other_shop_anna = Listener("s2", "anna")
    hub.listeners |= {anna, ben, other_shop_anna}
    await hub.on_event(*earned("anna"))
    assert anna.queue.qsize() == 1 and ben.queue.empty() and other_shop_anna.queue.empty()
    message = anna.queue.get_nowait()
    assert message["type"] == "points.earned"
    assert message["data"] == {"customer_id": "anna", "points": 45, "balance": 45, "pending": True}


async def test_an_admin_hears_the_whole_shop_and_everyone_hears_a_launch():
    hub = Hub()
    admin, anna, elsewhere = Listener("s1", None), Listener("s1", "anna"), Listener("s2", None)
    hub.listeners |= {admin, anna, elsewhere}
    await hub.on_event(*earned("ben"))
    await hub.on_event(*launched())
    assert admin.queue.qsize() == 2 and anna.queue.qsize() == 1 and elsewhere.queue.empty()
    assert anna.queue.get_nowait()["type"] == "challenge.launched"


async def test_a_stalled_stream_keeps_only_the_newest_events():
    hub = Hub()
    anna = Listener("s1", "anna")
    hub.listeners.add(anna)
    for n in range(QUEUE_LIMIT + 5):
        await hub.on_event(*earned("anna", points=n + 1))
    assert anna.queue.qsize() == QUEUE_LIMIT
    assert anna.queue.get_nowait()["data"]["points"] == 6


async def test_the_stream_says_connected_then_sends_events_and_forgets_the_listener_on_close():
    hub = Hub()
    anna = Listener("s1", "anna")
    stream = hub.stream(anna, heartbeat=0.05)
    assert await anna_next(stream) == ": connected\n\n"
    assert anna in hub.listeners
    assert await anna_next(stream) == ": heartbeat\n\n"
    await hub.on_event(*earned("anna"))
    chunk = await anna_next(stream)
    assert chunk.startswith("event: points.earned\nid: ") and '"points": 45' in chunk
    await stream.aclose()
    assert anna not in hub.listeners


async def anna_next(stream):
    return await asyncio.wait_for(stream.__anext__(), 2)
