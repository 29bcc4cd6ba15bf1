"""The flow engine: an event first cancels the waiting messages it makes obsolete, then plans the
steps of every enabled flow it triggers. Obsolete goes by when events happened, not when they were
handled: a cancelling event cancels what older events planned, and an older event handled after it
plans nothing for that flow (store.cancel_pending, store.cancelled_after). Runs inside the
consumer's inbox transaction, so the plan and the record of the event commit together; the dedup
key (flow, step, customer, source) makes a replay of the same fact under a new event id plan
nothing twice."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from services.notifications import flows, policy, store, variables
from shared.db import Connection
from shared.events import PoisonMessage


class ContactNotYetKnown(Exception):
    """The event arrived before the customer's profile event: it waits for the profile."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no contact for customer {customer_id} yet")
        self.customer_id = customer_id


def id_hash(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()


async def shop_flows(conn: Connection, shop: str) -> tuple[flows.Flow, ...]:
    return flows.shop_flows(await store.flow_overrides(conn, shop))


async def run(conn: Connection, shop: str, event_type: str, data: dict[str, Any], at: datetime) -> list[str]:
    """Apply one event: cancellations, then plans. Returns the ids of the planned messages."""
    defined = await shop_flows(conn, shop)
    customer_id = data.get("customer_id")
    if customer_id is not None:
        for flow, rule in flows.cancelled_by(event_type, defined):
            if not rule.cancels(data):
                continue
            correlation = str(data[rule.match]) if rule.match else None
            await store.cancel_pending(conn, shop, customer_id, flow.key, correlation, f"obsoleted by {event_type}",
                                       at)
    planned: list[str] = []
    for flow in flows.triggered_by(event_type, defined):
        if flow.enabled and flow.applies_to(data):
            planned += await _plan(conn, shop, flow, data, at)
    return planned


async def _plan(conn: Connection, shop: str, flow: flows.Flow, data: dict[str, Any],
                at: datetime) -> list[str]:
    settings = await store.shop_settings(conn, shop)
    links = variables.links_for(settings and settings["storefront_url"], settings and settings["tracking_url"])
    correlation = str(data[flow.correlation]) if flow.correlation else None
    if flow.audience:
        recipients = await store.audience(conn, shop, data.get("audience"), data.get("audience_tier"))
    else:
        customer_id = data.get(flow.customer_field)
        if not customer_id:
            raise PoisonMessage(f"{flow.trigger} without {flow.customer_field}")
        if await store.is_erased(conn, shop, id_hash(customer_id)):
            return []
        if await store.cancelled_after(conn, shop, customer_id, flow.key, correlation, at):
            return []  # a newer event that makes this flow obsolete was handled first
        contact = await store.contact(conn, shop, customer_id)
        if contact is None:
            raise ContactNotYetKnown(customer_id)
        recipients = [contact]
    source = flow.source_of(data, at)
    planned = []
    for contact in recipients:
        for step in flow.steps:
            # Marketing without consent is never planned; consent is checked again when it is due.
            channel = policy.choose_channel(contact, step.channels, transactional=flow.transactional)
            if channel is None:
                continue
            delivery_id = await store.plan_delivery(
                conn, shop, customer_id=contact["customer_id"], channel=channel, template=step.template,
                dedup_key=flows.dedup_key(flow, step, contact["customer_id"], source),
                variables=variables.for_message(flow.trigger, data, links, step.variables),
                due_at=at + step.delay, flow_key=flow.key, step_key=step.key,
                correlation=correlation, transactional=flow.transactional, triggered_at=at,
            )
            if delivery_id is not None:
                planned.append(delivery_id)
    return planned
