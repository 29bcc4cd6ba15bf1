"""A service's event subscriptions, listed in one place and checked by the type checker.

Each subscription pairs a payload class of the event catalog (shared/events.py) with the handler
that takes it: `on(OrderPaid, earning.on_order_paid)`. The routing key is the class's event type,
so the queue is bound to exactly the types the registry names, and mypy checks that a handler
accepts the payload it is registered for (a handler may take a base class or a union of payloads).

A handler runs inside the inbox transaction of shared/inbox.py and gets that connection; it
raises to be retried (shared/bus.py says what retry and dead-letter mean). The transaction is a
batch's: the handler runs in a savepoint of its own, after the events delivered before it of the same
customer, and shares what the batch remembers (shared/db.py).

Bindings: the queue is bound to the routing keys of the subscriptions, except those made with
`on(…, bind=False)`: such an event is handled when it arrives, but its binding is decided by the
registry's `also_bind`, a reading of the service's own data (notifications: the event types its
merchants' webhook endpoints subscribe to), so a service does not pay for events nobody wants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.db import Connection
from shared.events import CATALOG, Envelope, EventData

P = TypeVar("P", bound=EventData)

# What the registry keeps once a subscription is checked: any payload of its class.
AnyHandler = Callable[[Connection, Envelope, Any], Awaitable[None]]
# More routing keys to bind, read from the service's own data on the connection given.
AlsoBind = Callable[[Connection], Awaitable[Iterable[str]]]


# Which events of a subscribed type concern the service, judged from the payload alone.
Concerns = Callable[[Any], bool]


@dataclass(frozen=True)
class Subscription:
    payload: type[EventData]
    handler: AnyHandler
    bind: bool = True  # False: handled when delivered, bound only when `also_bind` names the type
    when: Concerns | None = None  # None: every event of the type

    @property
    def routing_key(self) -> str:
        return self.payload.type


def on(payload: type[P], handler: Callable[[Connection, Envelope, P], Awaitable[None]], *,
       bind: bool = True, when: Callable[[P], bool] | None = None) -> Subscription:
    """Subscribe `handler` to the events whose payload is `payload` (a class of the catalog);
    `bind=False`: the queue is bound to them only when the registry's `also_bind` says so;
    `when`: only the events it is true of reach the handler. The others are acknowledged with their
    batch, without a transaction or an inbox row: nothing happens for them, so nothing can happen
    twice (offer.issued reaches referrals for every offer; only a friend's concerns it)."""
    if CATALOG.get((payload.type, payload.version)) is not payload:
        raise ValueError(f"{payload.__name__} is not an event of the catalog")
    return Subscription(payload, handler, bind, when)


class EventHandlers:
    """The registry: payload class → handler. One subscription per class."""

    def __init__(self, *subscriptions: Subscription, also_bind: AlsoBind | None = None) -> None:
        self._by_payload: dict[type[EventData], AnyHandler] = {}
        self._when: dict[type[EventData], Concerns] = {}
        self._bound: set[str] = set()
        self._also_bind = also_bind
        for s in subscriptions:
            if s.payload in self._by_payload:
                raise ValueError(f"{s.payload.__name__} has two handlers")
            self._by_payload[s.payload] = s.handler
            if s.when is not None:
                self._when[s.payload] = s.when
            if s.bind:
                self._bound.add(s.routing_key)

    def handler_for(self, payload: EventData) -> AnyHandler | None:
        return self._by_payload.get(type(payload))

    def concerns(self, payload: EventData) -> bool:
        """Whether the event reaches its handler (its subscription's `when`, if any, is true of it)."""
        when = self._when.get(type(payload))
        return when is None or when(payload)

    def routing_keys(self) -> list[str]:
        """The event types the service's queue is always bound to, sorted."""
        return sorted(self._bound)

    def handled_routing_keys(self) -> list[str]:
        """Every event type the registry has a handler for (bound or not), sorted."""
        return sorted({p.type for p in self._by_payload})

    @staticmethod
    def known_routing_keys() -> list[str]:
        """Every event type of the catalog: what a queue may have been bound to by any version."""
        return sorted({t for t, _ in CATALOG})

    @property
    def follows_data(self) -> bool:
        """True when some bindings come from the service's data (`also_bind`)."""
        return self._also_bind is not None

    async def bindings(self, conn: Connection) -> list[str]:
        """The routing keys to bind now: the static ones, and those `also_bind` reads that the
        registry handles, sorted."""
        more = set(await self._also_bind(conn)) if self._also_bind is not None else set()
        return sorted(self._bound | (more & set(self.handled_routing_keys())))

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(self._by_payload)

    def __len__(self) -> int:
        return len(self._by_payload)

    async def dispatch(self, conn: Connection, envelope: Envelope, payload: EventData) -> None:
        """Run the payload's handler (for tests and tools that feed events without the broker)."""
        handler = self.handler_for(payload)
        if handler is None:
            raise LookupError(f"no handler for {envelope.type} v{envelope.dataversion}")
        if self.concerns(payload):
            await handler(conn, envelope, payload)
