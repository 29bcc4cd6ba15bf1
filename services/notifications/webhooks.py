"""Outbound merchant webhooks: the shop's endpoints (an admin adds and changes them), and each
event an endpoint subscribed to, logged as a delivery and POSTed as its CloudEvent, HMAC-SHA256
signed (channels.sign), by a scheduled job; failures retry on the shop's backoff, then the delivery
is FAILED with the reason."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.notifications import channels, configuration, policy, store, validation
from shared import schedule
from shared.bus import Bus
from shared.db import Connection, remembered, transaction
from shared.errors import NotFound
from shared.events import CATALOG, Envelope, EventData
from shared.schedule import Job, JobHandler

log = logging.getLogger(__name__)
WEBHOOK_JOB = "webhook.send"  # a logged webhook delivery is due (registered in jobs.py)
EVENT_TYPES = sorted({t for t, _ in CATALOG})


async def save_endpoint(pool: asyncpg.Pool, shop: str, endpoint_id: str | None, *, url: str, secret: str | None,
                        event_types: list[str], enabled: bool) -> asyncpg.Record:
    """Add an endpoint (`endpoint_id` None; it needs a secret) or change one (an absent secret
    keeps the old one)."""
    validation.webhook_endpoint(url, secret, event_types, EVENT_TYPES, new=endpoint_id is None)
    async with transaction(pool) as conn:
        row = await store.save_webhook_endpoint(conn, shop, endpoint_id, url=url, secret=secret,
                                                event_types=sorted(set(event_types)), enabled=enabled)
    if row is None:
        raise NotFound("unknown webhook endpoint", field="id")
    return row


async def subscribed_types(conn: Connection) -> list[str]:
    """The event types some enabled endpoint of any shop subscribes to: the notifications queue is
    bound to these besides its flows' (consumers.py)."""
    return await store.webhook_event_types(conn)


async def follow_subscriptions(bus: Bus) -> None:
    """Bind the queue to what the endpoints subscribe to now (after an endpoint was saved). When the
    broker is unreachable the consumer's periodic pass does it later (shared/bus.py)."""
    try:
        await bus.rebind()
    except Exception as exc:
        log.warning("webhooks: the queue's bindings follow later (%s)", exc)


async def _endpoints(conn: Connection, shop: str) -> dict[str, list[str]]:
    """The shop's enabled endpoints by event type, read once per transaction (a batch of events)."""
    async def load() -> dict[str, list[str]]:
        by_type: dict[str, list[str]] = {}
        for row in await store.enabled_webhook_endpoints(conn, shop):
            for event_type in row["event_types"]:
                by_type.setdefault(event_type, []).append(row["id"])
        return by_type
    return await remembered(f"notifications.webhook_endpoints:{shop}", load)


async def fan_out(conn: Connection, envelope: Envelope, data: EventData) -> int:
    """Log one delivery per subscribed endpoint and queue it; a redelivered event adds none."""
    endpoints = (await _endpoints(conn, envelope.shop)).get(envelope.type, [])
    if not endpoints:
        return 0
    payload = envelope.model_dump(mode="json", exclude={"traceparent", "tracestate"})
    customer_id = getattr(data, "customer_id", None) or getattr(data, "referrer_id", None)
    planned = 0
    for endpoint_id in endpoints:
        delivery_id = await store.add_webhook_delivery(conn, envelope.shop, endpoint_id, envelope.id,
                                                       envelope.type, customer_id, payload)
        if delivery_id is not None:
            await schedule.schedule(conn, shop=envelope.shop, kind=WEBHOOK_JOB, dedup_key=delivery_id,
                                    due_at=datetime.now(UTC), payload={"delivery_id": delivery_id})
            planned += 1
    return planned


def send_job(client: httpx.AsyncClient) -> JobHandler:
    async def send_webhook(conn: Connection, job: Job) -> None:
        shop, delivery_id = job.shop, job.payload["delivery_id"]
        row = await store.webhook_delivery_for_update(conn, shop, delivery_id)
        if row is None or row["status"] != "PENDING":
            return
        try:
            response = await channels.signed_post(client, row["url"], row["secret"], row["payload"], headers={
                "X-Flywheel-Event": row["event_type"], "X-Flywheel-Delivery": delivery_id})
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            settings = await configuration.settings_of(conn, shop)
            delays = policy.retry_delays(settings["retry_seconds"] if settings else None)
            attempt = row["attempts"]
            status = getattr(exc, "status_code", None)
            if attempt < len(delays):
                due = datetime.now(UTC) + timedelta(seconds=delays[attempt])
                await store.webhook_attempt(conn, shop, delivery_id, "PENDING", reason, status)
                await schedule.schedule(conn, shop=shop, kind=WEBHOOK_JOB, dedup_key=f"{delivery_id}:{attempt + 1}",
                                        due_at=due, payload={"delivery_id": delivery_id})
            else:
                log.error("webhook delivery %s failed for good: %s", delivery_id, reason)
                await store.webhook_attempt(conn, shop, delivery_id, "FAILED", reason, status)
            return
        await store.webhook_attempt(conn, shop, delivery_id, "SENT", None, response.status_code)

    return send_webhook
