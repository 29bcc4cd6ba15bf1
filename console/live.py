"""Live updates for browsers: RabbitMQ events fanned out to server-sent-event streams.

The console process has its own live queue on the shared bus (shared/bus.py, LiveConsumer) bound
to the events a customer or a merchant watches. Each open stream registers a
Listener for one shop and either one customer (storefront widget, customer JWT) or the whole shop
(admin console); an event reaches a listener only when both match. The stream carries the event's
type and a few public facts; the browser then re-reads the public GraphQL API, which stays the
only source of truth.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from shared.events import Envelope, EventData

# Events that change what the widget or the console shows. Per-customer ones carry customer_id.
LIVE_EVENTS = (
    "points.earned", "points.reversed", "points.expired", "tier.changed", "reward.redeemed",
    "credit.granted", "credit.spent", "challenge.launched", "challenge.completed",
    "review.submitted", "review.published", "review.rejected",
)
# Shop-wide events every customer of the shop hears (a new challenge to join).
SHOP_WIDE = frozenset({"challenge.launched"})
QUEUE_LIMIT = 100  # a stalled browser loses old events rather than growing memory
HEARTBEAT_SECONDS = 15.0


@dataclass(eq=False)
class Listener:
    shop: str
    customer_id: str | None  # None: an admin, who hears the whole shop
    queue: asyncio.Queue[dict] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def wants(self, envelope: Envelope, payload: EventData) -> bool:
        if envelope.shop != self.shop:
            return False
        if self.customer_id is None or envelope.type in SHOP_WIDE:
            return True
        return getattr(payload, "customer_id", None) == self.customer_id


class Hub:
    """Who listens right now. Handlers run on the bus's loop, streams on the same loop."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()

    async def on_event(self, envelope: Envelope, payload: EventData) -> None:
        message = {"type": envelope.type, "id": envelope.id, "time": envelope.time.isoformat(),
                   "data": _public_facts(payload)}
        for listener in list(self.listeners):
            if listener.wants(envelope, payload):
                if listener.queue.full():
                    listener.queue.get_nowait()
                listener.queue.put_nowait(message)

    async def stream(self, listener: Listener, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[str]:
        self.listeners.add(listener)
        try:
            yield ": connected\n\n"  # the browser knows the stream is open (and the test waits for it)
            while True:
                try:
                    message = await asyncio.wait_for(listener.queue.get(), heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                yield f"event: {message['type']}\nid: {message['id']}\ndata: {json.dumps(message)}\n\n"
        finally:
            self.listeners.discard(listener)


def _public_facts(payload: EventData) -> dict:
    """Only what the listener may see anyway: ids, points, tiers, titles; no e-mail or codes of others."""
    keep = ("customer_id", "points", "balance", "pending", "from_tier", "to_tier", "direction",
            "challenge_id", "title", "reward_points", "review_id", "product_id", "status")
    data = payload.model_dump(mode="json")
    return {k: data[k] for k in keep if k in data}
