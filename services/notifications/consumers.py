"""Events the notifications service consumes. Every handler runs inside the inbox transaction
(shared/inbox.py). Ack/retry/dead-letter: a handler that raises is retried with backoff; a
PoisonMessage goes straight to the dead-letter queue; a redelivered event finds its id in the inbox
and does nothing. An event about a customer whose profile has not arrived yet is acked and kept in
`waiting_events`; the profile's arrival plans it (planning is idempotent, so whatever the first
attempt already planned is not planned twice). Waiting events older than a week are dropped."""

from __future__ import annotations

from services.notifications import automation, flows, store, webhooks
from services.notifications.automation import ContactNotYetKnown
from shared.db import Connection
from shared.events import (
    CATALOG,
    CustomerErased,
    CustomerRegistered,
    CustomerSegmentChanged,
    CustomerUpdated,
    Envelope,
    EventData,
    OrderEvent,
    TierChanged,
)
from shared.handlers import AnyHandler, EventHandlers, on


async def on_customer_profile(
    conn: Connection, event: Envelope, data: CustomerRegistered | CustomerUpdated
) -> None:
    if await store.is_erased(conn, data.shop, automation.id_hash(data.customer_id)):
        return
    await store.lock_customer(conn, data.shop, data.customer_id)
    await store.save_contact(
        conn, data.shop, data.customer_id, email=data.email, first_name=data.first_name,
        locale=data.locale, timezone=data.timezone, accepts_email=data.accepts_email,
        accepts_sms=data.accepts_sms, accepts_whatsapp=data.accepts_whatsapp,
    )
    for waiting in await store.take_waiting_events(conn, data.shop, data.customer_id):
        await automation.run(conn, data.shop, waiting["event_type"], waiting["data"], waiting["happened_at"])


async def on_event(conn: Connection, event: Envelope, data: EventData) -> None:
    """Any event that starts or cancels a flow."""
    if isinstance(data, OrderEvent):
        await store.save_order(conn, data.shop, order_id=data.order_id, customer_id=data.customer_id,
                               currency=data.currency, total=data.total, status=event.type.split(".")[1].upper(),
                               placed_at=data.placed_at)
    if isinstance(data, CustomerSegmentChanged) and not await store.save_segment(
            conn, data.shop, data.customer_id, data.to_segment):
        if not await store.is_erased(conn, data.shop, automation.id_hash(data.customer_id)):
            raise ContactNotYetKnown(data.customer_id)
        return
    if isinstance(data, TierChanged) and not await store.save_tier(
            conn, data.shop, data.customer_id, data.to_tier, event.time):
        if not await store.is_erased(conn, data.shop, automation.id_hash(data.customer_id)):
            raise ContactNotYetKnown(data.customer_id)  # retried until the profile has arrived
        return
    payload = data.model_dump(mode="json")
    try:
        await automation.run(conn, data.shop, event.type, payload, event.time)
    except ContactNotYetKnown as missing:
        # Park it under the customer's lock: the profile handler takes the same lock, so either it
        # sees this parked event or this handler sees its committed contact and plans now.
        await store.lock_customer(conn, data.shop, missing.customer_id)
        if await store.contact(conn, data.shop, missing.customer_id) is not None:
            await automation.run(conn, data.shop, event.type, payload, event.time)
        else:
            await store.wait_for_contact(conn, data.shop, missing.customer_id, event.type, payload, event.time)


async def on_customer_erased(conn: Connection, event: Envelope, data: CustomerErased) -> None:
    await store.take_waiting_events(conn, data.shop, data.customer_id)
    await store.erase_customer(conn, data.shop, data.customer_id, automation.id_hash(data.customer_id))


def _flow_events() -> set[str]:
    triggers = {f.trigger for f in flows.DEFAULT_FLOWS if f.trigger != flows.ORDER_DELAY}
    return triggers | {r.event for f in flows.DEFAULT_FLOWS for r in f.cancel_on}


async def _nothing_else(conn: Connection, event: Envelope, data: EventData) -> None:
    """An event no flow uses: only merchant webhooks may want it."""


def _with_webhooks(handler: AnyHandler) -> AnyHandler:
    async def handle(conn: Connection, event: Envelope, data: EventData) -> None:
        await handler(conn, event, data)
        await webhooks.fan_out(conn, event, data)
    return handle


_OWN: dict[str, AnyHandler] = {
    **dict.fromkeys(sorted(_flow_events()), on_event),
    "customer.registered": on_customer_profile,
    "customer.updated": on_customer_profile,
    "customer.erased": on_customer_erased,
}
# Every event of the catalog: flows use some, merchants may subscribe their webhooks to any.
HANDLERS = EventHandlers(*(on(payload, _with_webhooks(_OWN.get(payload.type, _nothing_else)))
                           for payload in CATALOG.values()))
