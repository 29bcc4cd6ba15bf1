"""Events the notifications service consumes. Every handler runs inside the inbox transaction
(shared/inbox.py). Ack/retry/dead-letter: a handler that raises is retried with backoff; a
PoisonMessage goes straight to the dead-letter queue; a redelivered event finds its id in the inbox
and does nothing. An event about a customer whose profile has not arrived yet (a flow's trigger, a
segment or tier change) is acked and parked in `waiting_events`; the profile's arrival resumes it
(planning is idempotent, so whatever the first attempt already planned is not planned twice). Waiting
events older than a week are dropped.

  customer.registered / .updated   contacts.save_profile (then the events that waited for it)
  customer.erased                  contacts.erase
  offer.issued                     offers.issued (a waiting message gets its offer), then automation.handle
                                   (the referred friend's welcome)
  offer.refused                    offers.refused (the waiting message is cancelled)
  every event a flow starts or is cancelled by   automation.handle
  every event of the catalog       also webhooks.fan_out to the shop's subscribed endpoints

The queue is bound to the types above and to those some merchant's enabled webhook endpoint
subscribes to (webhooks.subscribed_types, followed when an endpoint is saved), not to the whole
catalog: an event no flow uses and no endpoint wants (order.paid, say) never reaches this service.
One queue with bindings that follow the subscriptions, rather than a webhook queue of its own bound
to everything: an event both a flow and an endpoint want is delivered, recorded and handled once,
and an event nobody wants costs nothing at all; the price is a rebinding when an endpoint changes
(a few broker calls, serialised across instances), and an event type one shop subscribes to is
delivered for every shop (fan_out finds no endpoint for the others, from a per-batch memo).
"""

from __future__ import annotations

from services.notifications import automation, contacts, flows, offers, webhooks
from shared.db import Connection
from shared.events import (
    CATALOG,
    CustomerErased,
    CustomerRegistered,
    CustomerUpdated,
    Envelope,
    EventData,
    OfferIssued,
    OfferRefused,
)
from shared.handlers import AnyHandler, EventHandlers, on


async def on_customer_profile(
    conn: Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    await contacts.save_profile(conn, data)


async def on_event(conn: Connection, event: Envelope, data: EventData) -> None:
    """Any event that starts or cancels a flow."""
    await automation.handle(conn, event.type, data, event.time)


async def on_offer_issued(conn: Connection, event: Envelope, data: OfferIssued) -> None:
    await offers.issued(conn, data)
    await automation.handle(conn, event.type, data, event.time)


async def on_offer_refused(conn: Connection, event: Envelope, data: OfferRefused) -> None:
    await offers.refused(conn, data)


async def on_customer_erased(conn: Connection, event: Envelope, data: CustomerErased) -> None:
    await contacts.erase(conn, data.shop, data.customer_id)


async def _nothing_else(conn: Connection, event: Envelope, data: EventData) -> None:
    """An event no flow uses: only merchant webhooks may want it."""


def _with_webhooks(handler: AnyHandler) -> AnyHandler:
    async def handle(conn: Connection, event: Envelope, data: EventData) -> None:
        await handler(conn, event, data)
        await webhooks.fan_out(conn, event, data)
    return handle


_OWN: dict[str, AnyHandler] = {
    **dict.fromkeys(sorted(flows.events_used()), on_event),
    "customer.registered": on_customer_profile,
    "customer.updated": on_customer_profile,
    "customer.erased": on_customer_erased,
    "offer.issued": on_offer_issued,
    "offer.refused": on_offer_refused,
}
# Every event of the catalog: flows use some, merchants may subscribe their webhooks to any. Bound
# are those a flow or the contacts need; the others while an endpoint subscribes to them.
HANDLERS = EventHandlers(*(on(payload, _with_webhooks(_OWN.get(payload.type, _nothing_else)),
                              bind=payload.type in _OWN)
                           for payload in CATALOG.values()),
                         also_bind=webhooks.subscribed_types)
