"""The flow engine: an event first cancels the waiting messages it makes obsolete, then plans the
steps of every enabled flow it triggers, each due when the event happened (an order's placedAt or
delivery time, flows.happened_at) plus the step's delay; a step already overdue by more than a day
when the event is handled is logged as not sent (flows.LATE_GRACE). Obsolete goes by when events
happened, not when they were handled: a cancelling event cancels what older events planned, and an
older event handled after it plans nothing for that flow (store.cancel_pending, store.cancelled_after). Runs inside the
consumer's inbox transaction, so the plan and the record of the event commit together; the dedup
key (flow, step, customer, source) makes a replay of the same fact under a new event id plan
nothing twice. The admin's order-delay note runs the same engine in a transaction of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.notifications import configuration, delivery, flows, policy, store, variables
from shared.db import Connection, transaction
from shared.errors import NotFound
from shared.events import CustomerSegmentChanged, EventData, OrderEvent, PoisonMessage, TierChanged


class ContactNotYetKnown(Exception):
    """The event arrived before the customer's profile event: it waits for the profile."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no contact for customer {customer_id} yet")
        self.customer_id = customer_id


async def handle(conn: Connection, event_type: str, data: EventData, at: datetime) -> None:
    """An event that starts or cancels a flow, in the consumer's transaction. What later messages
    need of it is kept first (the order, the segment, the tier). An event about a customer whose
    profile has not arrived is parked (waiting_events) and resumed when the profile arrives
    (contacts.save_profile → resume), however long a backlog delays it: never retried into the
    dead-letter queue."""
    if isinstance(data, OrderEvent):
        await store.save_order(conn, data.shop, order_id=data.order_id, customer_id=data.customer_id,
                               currency=data.currency, total=data.total,
                               status=event_type.split(".")[1].upper(), placed_at=data.placed_at)
    payload = data.model_dump(mode="json")
    if not await _keep(conn, data.shop, event_type, payload, at):  # a segment or tier of no contact yet
        customer_id = payload["customer_id"]
        if await store.is_erased(conn, data.shop, policy.id_hash(customer_id)):
            return
        # Under the customer's lock, as below: the profile may have committed meanwhile.
        await store.lock_customer(conn, data.shop, customer_id)
        if not await _keep(conn, data.shop, event_type, payload, at):
            await store.wait_for_contact(conn, data.shop, customer_id, event_type, payload, at)
            return
    at = flows.happened_at(event_type, payload, at)  # an order's placedAt, its delivery time
    try:
        await run(conn, data.shop, event_type, payload, at)
    except ContactNotYetKnown as missing:
        # Park it under the customer's lock: the profile handler takes the same lock, so either it
        # sees this parked event or this handler sees its committed contact and plans now.
        await store.lock_customer(conn, data.shop, missing.customer_id)
        if await store.contact(conn, data.shop, missing.customer_id) is not None:
            await run(conn, data.shop, event_type, payload, at)
        else:
            await store.wait_for_contact(conn, data.shop, missing.customer_id, event_type, payload, at)


async def _keep(conn: Connection, shop: str, event_type: str, data: dict[str, Any], at: datetime) -> bool:
    """Keep on the contact what later messages need of a segment or tier change; False when the
    customer has no contact (yet). True for any other event."""
    if event_type == CustomerSegmentChanged.type:
        return await store.save_segment(conn, shop, data["customer_id"], data["to_segment"])
    if event_type == TierChanged.type:
        return await store.save_tier(conn, shop, data["customer_id"], data["to_tier"], at)
    return True


async def resume(conn: Connection, shop: str, event_type: str, data: dict[str, Any], at: datetime) -> None:
    """A parked event, now that its customer's profile has arrived (contacts.save_profile, under the
    customer's lock): what `handle` keeps of it, then its plans."""
    if await _keep(conn, shop, event_type, data, at):
        await run(conn, shop, event_type, data, at)


async def notify_order_delay(pool: asyncpg.Pool, shop: str, order_id: str, note: str) -> None:
    """The admin's honest note that an order is late (once per order and text)."""
    async with transaction(pool) as conn:
        order = await store.order(conn, shop, order_id)
        if order is None:
            raise NotFound(f"unknown order {order_id}", field="orderId")
        data = {"shop": shop, "order_id": order_id, "customer_id": order["customer_id"], "message": note,
                "message_hash": variables.message_hash(note)}
        try:
            await run(conn, shop, flows.ORDER_DELAY, data, datetime.now(UTC))
        except ContactNotYetKnown as exc:
            raise NotFound("the order's customer is not known to notifications yet") from exc


async def run(conn: Connection, shop: str, event_type: str, data: dict[str, Any], at: datetime) -> list[str]:
    """Apply one event that happened at `at`: cancellations, then plans (each step due `at` + its
    delay). Returns the ids of the planned messages."""
    defined = await configuration.flows_of(conn, shop)
    customer_id = data.get("customer_id")
    if customer_id is not None:
        for flow, rule in flows.cancelled_by(event_type, defined):
            if not rule.cancels(data):
                continue
            correlation = str(data[rule.match]) if rule.match else None
            cancelled = await store.cancel_pending(conn, shop, customer_id, flow.key, correlation,
                                                   f"obsoleted by {event_type}", at)
            await delivery.unqueue(conn, shop, cancelled)
    planned: list[str] = []
    for flow in flows.triggered_by(event_type, defined):
        if flow.enabled and flow.applies_to(data):
            planned += await _plan(conn, shop, flow, data, at)
    return planned


async def _plan(conn: Connection, shop: str, flow: flows.Flow, data: dict[str, Any],
                at: datetime) -> list[str]:
    settings = await configuration.settings_of(conn, shop)
    links = variables.links_for(settings["storefront_url"] if settings else None,
                                settings["tracking_url"] if settings else None)
    correlation = str(data[flow.correlation]) if flow.correlation else None
    if flow.audience:
        recipients = await store.audience(conn, shop, data.get("audience"), data.get("audience_tier"))
    else:
        customer_id = data.get(flow.customer_field)
        if not customer_id:
            raise PoisonMessage(f"{flow.trigger} without {flow.customer_field}")
        if await store.is_erased(conn, shop, policy.id_hash(customer_id)):
            return []
        if await store.cancelled_after(conn, shop, customer_id, flow.key, correlation, at):
            return []  # a newer event that makes this flow obsolete was handled first
        contact = await store.contact(conn, shop, customer_id)
        if contact is None:
            raise ContactNotYetKnown(customer_id)
        recipients = [contact]
    source = flow.source_of(data, at)
    planned: list[str] = []
    now = datetime.now(UTC)
    for contact in recipients:
        for step in flow.steps:
            # Marketing without consent is never planned; consent is checked again when it is due.
            channel = policy.choose_channel(contact, step.channels, transactional=flow.transactional)
            if channel is None:
                continue
            due = at + step.delay
            # A step whose time passed long before its event was handled (a backfilled order, a
            # delivery reported late) is logged as not sent, never sent late with the rest at once.
            late = (f"not sent: due {due.isoformat()}, more than {flows.LATE_GRACE} before its event was handled"
                    if flows.too_late(due, now) else None)
            added = await store.add_delivery(
                conn, shop, customer_id=contact["customer_id"], channel=channel, template=step.template,
                dedup_key=flows.dedup_key(flow, step, contact["customer_id"], source),
                variables=variables.for_message(flow.trigger, data, links, step.variables),
                due_at=due, flow_key=flow.key, step_key=step.key,
                correlation=correlation, transactional=flow.transactional, triggered_at=at,
                # its offer is asked for when it is due (delivery.py), not now: a purchase before then
                # cancels the message, and no code was issued for nothing
                offer_key=flows.offer_key(flow, step, contact["customer_id"], source) if step.asks else None,
                skipped=late,
            )
            if added is not None and late is None:  # else planned before, or too late to send
                await delivery.queue(conn, shop, added["id"], added["due_at"])
                planned.append(added["id"])
    return planned
