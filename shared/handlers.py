"""A service's event subscriptions, listed in one place and checked by the type checker.

Each subscription pairs a payload class of the event catalog (shared/events.py) with the handler
that takes it: `on(OrderPaid, earning.on_order_paid)`. The routing key is the class's event type,
so the queue is bound to exactly the types the registry names, and mypy checks that a handler
accepts the payload it is registered for (a handler may take a base class or a union of payloads).

A handler runs inside the inbox transaction of shared/inbox.py and gets that connection; it
raises to be retried (shared/bus.py says what retry and dead-letter mean).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.db import Connection
from shared.events import CATALOG, Envelope, EventData

P = TypeVar("P", bound=EventData)

# What the registry keeps once a subscription is checked: any payload of its class.
AnyHandler = Callable[[Connection, Envelope, Any], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    payload: type[EventData]
    handler: AnyHandler

    @property
    def routing_key(self) -> str:
        return self.payload.type


def on(payload: type[P], handler: Callable[[Connection, Envelope, P], Awaitable[None]]) -> Subscription:
    """Subscribe `handler` to the events whose payload is `payload` (a class of the catalog)."""
    if CATALOG.get((payload.type, payload.version)) is not payload:
        raise ValueError(f"{payload.__name__} is not an event of the catalog")
    return Subscription(payload, handler)


class EventHandlers:
    """The registry: payload class → handler. One subscription per class."""

    def __init__(self, *subscriptions: Subscription) -> None:
        self._by_payload: dict[type[EventData], AnyHandler] = {}
        for s in subscriptions:
            if s.payload in self._by_payload:
                raise ValueError(f"{s.payload.__name__} has two handlers")
            self._by_payload[s.payload] = s.handler

    def handler_for(self, payload: EventData) -> AnyHandler | None:
        return self._by_payload.get(type(payload))

    def routing_keys(self) -> list[str]:
        """The event types to bind the service's queue to, sorted."""
        return sorted({p.type for p in self._by_payload})

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(self._by_payload)

    def __len__(self) -> int:
        return len(self._by_payload)

    async def dispatch(self, conn: Connection, envelope: Envelope, payload: EventData) -> None:
        """Run the payload's handler (for tests and tools that feed events without the broker)."""
        handler = self.handler_for(payload)
        if handler is None:
            raise LookupError(f"no handler for {envelope.type} v{envelope.dataversion}")
        await handler(conn, envelope, payload)
