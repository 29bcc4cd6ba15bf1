"""Sending a planned message: render it in the customer's locale, hand it to the channel, log
the outcome. Runs as a scheduled job (shared/schedule.py), so it survives restarts and retries
with backoff; the last failed attempt marks the delivery FAILED with its reason."""

from __future__ import annotations

import logging

import asyncpg

from services.notifications import mail, store, templates
from shared import events, outbox
from shared.schedule import Job
from shared.settings import Settings

log = logging.getLogger(__name__)


def send_job(settings: Settings):
    async def send_delivery(conn: asyncpg.Connection, job: Job) -> None:
        delivery_id = job.payload["delivery_id"]
        delivery = await store.delivery_for_update(conn, job.shop, delivery_id)
        if delivery is None or delivery["status"] != "SCHEDULED":
            return  # cancelled or suppressed since it was planned
        recipient = await store.contact(conn, job.shop, delivery["customer_id"])
        if recipient is None:
            await store.mark(conn, job.shop, delivery_id, "FAILED", error="no contact for customer")
            return
        variables = {**delivery["variables"], "first_name": recipient["first_name"]}
        rendered = templates.render(delivery["template"], recipient["locale"], variables)
        message = mail.build_message(sender=settings.mail_from, to=recipient["email"], rendered=rendered,
                                     delivery_id=delivery_id)
        try:
            await mail.send(message, host=settings.smtp_host, port=settings.smtp_port)
        except Exception as exc:
            if not job.final_attempt:
                raise
            log.error("giving up on delivery %s: %r", delivery_id, exc)
            await store.mark(conn, job.shop, delivery_id, "FAILED", recipient=recipient["email"],
                             subject=rendered.subject, error=f"{type(exc).__name__}: {exc}"[:1000])
            return
        await store.mark(conn, job.shop, delivery_id, "SENT", recipient=recipient["email"],
                         subject=rendered.subject)
        await outbox.add(conn, events.NotificationSent(
            shop=job.shop, notification_id=delivery_id, customer_id=delivery["customer_id"],
            channel=delivery["channel"], template=delivery["template"],
        ), source="notifications")

    return send_delivery
