"""Sending a planned message when it is due: check consent, quiet hours and the frequency cap
(marketing only), make sure a message that carries an offer has it, render it in the customer's
locale, hand it to the channel, log the outcome.

Runs as a scheduled job (shared/schedule.py), so it survives restarts. Channel failures are
retried on the shop's own backoff (a fresh job per attempt, so the delay is the shop's, not the
scheduler's), then the message is FAILED with the reason and `notification.failed` goes out.
Quiet hours postpone a message rather than drop it; missing consent and the cap suppress it.

A message whose step carries an offer is never sent without it: when it is due and has none it asks
the points service (offer.requested, once per its natural key) and waits, SCHEDULED; offers.py puts
the issued offer on it and makes it due again, or cancels it when the offer is refused. Unanswered,
it asks again after as long as it has waited (an hour at first, at most a day) and gives up after a
week."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import asyncpg

from services.notifications import channels, configuration, flows, policy, store, templates
from services.notifications import variables as messages
from services.notifications.links import Links
from shared import events, outbox, schedule
from shared.db import Connection
from shared.schedule import Job, JobHandler

log = logging.getLogger(__name__)

SOURCE = "notifications"
SEND_JOB = "delivery.send"  # a planned message is due (registered in jobs.py)
OFFER_ASK_AGAIN = (timedelta(hours=1), timedelta(days=1))  # bounds of the wait before asking again
OFFER_GIVE_UP = timedelta(days=7)


async def queue(conn: Connection, shop: str, delivery_id: str, due_at: datetime) -> None:
    """The job that sends a newly planned message when it is due."""
    await schedule.schedule(conn, shop=shop, kind=SEND_JOB, dedup_key=delivery_id, due_at=due_at,
                            payload={"delivery_id": delivery_id})


async def queue_again(conn: Connection, shop: str, delivery_id: str, tag: str, due_at: datetime) -> None:
    """Another job for a message that became due again (its offer came): once per `tag`."""
    await schedule.schedule(conn, shop=shop, kind=SEND_JOB, dedup_key=f"{delivery_id}:{tag}", due_at=due_at,
                            payload={"delivery_id": delivery_id})


async def unqueue(conn: Connection, shop: str, delivery_ids: Iterable[str]) -> None:
    """Cancel the jobs of cancelled messages (their first one and any postponement's)."""
    for delivery_id in delivery_ids:
        await schedule.cancel(conn, shop=shop, kind=SEND_JOB, dedup_key_prefix=delivery_id)


async def postpone(conn: Connection, shop: str, delivery_id: str, due_at: datetime, *, reason: str,
                   count_attempt: bool = False) -> None:
    """Move a message to a later time (quiet hours, a retry) with a fresh job; it stays SCHEDULED."""
    await store.postpone(conn, shop, delivery_id, due_at, reason=reason, count_attempt=count_attempt)
    await schedule.schedule(conn, shop=shop, kind=SEND_JOB, dedup_key=f"{delivery_id}:{due_at.isoformat()}",
                            due_at=due_at, payload={"delivery_id": delivery_id})


def send_job(links: Links, senders: channels.Senders) -> JobHandler:
    async def send_delivery(conn: Connection, job: Job) -> None:
        shop, delivery_id = job.shop, job.payload["delivery_id"]
        delivery = await store.delivery_for_update(conn, shop, delivery_id)
        if delivery is None or delivery["status"] != "SCHEDULED":
            return  # cancelled, suppressed or already sent since it was planned
        now = datetime.now(UTC)
        if delivery["due_at"] > now + timedelta(seconds=1):
            return  # postponed: a later job of its own takes it
        customer_id = delivery["customer_id"]
        contact = await store.contact(conn, shop, customer_id, lock=True) if customer_id else None
        if contact is None:
            await store.mark(conn, shop, delivery_id, "CANCELLED", error="no contact for customer")
            return
        channel = delivery["channel"]
        if not delivery["transactional"]:
            if not policy.consents(contact)[channel]:
                await store.mark(conn, shop, delivery_id, "SUPPRESSED", error=f"no consent for {channel}")
                return
            quiet_end = policy.quiet_until(contact, now)
            if quiet_end is not None:
                await postpone(conn, shop, delivery_id, quiet_end, reason="waiting for quiet hours to end")
                return
            shop_settings = await configuration.settings_of(conn, shop)
            day, week = await store.marketing_sent(conn, shop, delivery["customer_id"])
            capped = policy.over_cap(day, week, shop_settings["daily_cap"] if shop_settings else None,
                                     shop_settings["weekly_cap"] if shop_settings else None)
            if capped:
                await store.mark(conn, shop, delivery_id, "SUPPRESSED", error=capped)
                return
        if flows.carries_offer(delivery["flow_key"], delivery["step_key"]) and "offer" not in delivery["variables"]:
            await _wait_for_offer(conn, delivery, now)
            return  # never without its offer
        locale = policy.locale_of(contact)
        variables = messages.for_template(delivery["variables"], contact["first_name"], locale,
                                          contact["pref_timezone"] or contact["timezone"])
        rendered = templates.render(delivery["template"], locale, variables)
        message = channels.Message(
            delivery_id=delivery_id, shop=shop, customer_id=delivery["customer_id"], channel=channel,
            template=delivery["template"], locale=locale, rendered=rendered,
            recipient=contact["email"] if channel == "EMAIL" else policy.phone(contact) or "",
            unsubscribe_url=None if delivery["transactional"] else links.unsubscribe(shop, delivery["customer_id"]),
            variables=variables,
        )
        try:
            await senders.send(message, await configuration.settings_of(conn, shop))
        except Exception as exc:
            await _failed(conn, delivery, message, exc)
            return
        await store.mark(conn, shop, delivery_id, "SENT", recipient=message.recipient,
                         subject=rendered.subject)
        await outbox.add(conn, events.NotificationSent(
            shop=shop, notification_id=delivery_id, customer_id=delivery["customer_id"],
            channel=channel, template=delivery["template"],
            offer=flows.carries_offer(delivery["flow_key"], delivery["step_key"]),
        ), source=SOURCE)

    return send_delivery


async def _wait_for_offer(conn: Connection, delivery: asyncpg.Record, now: datetime) -> None:
    """Ask for the offer of a due message that has none, and wait for it (offers.py takes the answer)."""
    shop, delivery_id = delivery["shop_id"], str(delivery["id"])
    step = flows.shipped_step(delivery["flow_key"], delivery["step_key"])
    flow = flows.BY_KEY.get(delivery["flow_key"] or "")
    if step is None or step.asks is None or flow is None:  # its offer was to come with its event
        await store.mark(conn, shop, delivery_id, "CANCELLED", error="no offer to carry")
        return
    asked = delivery["offer_asked_at"]
    if asked is not None and now - asked > OFFER_GIVE_UP:
        await store.mark(conn, shop, delivery_id, "CANCELLED",
                         error=f"its offer was not issued within {OFFER_GIVE_UP.days} days")
        return
    # Planned before offers were asked for: the message itself names the run.
    key = delivery["offer_key"] or flows.offer_key(flow, step, delivery["customer_id"], f"d-{delivery_id}")
    first = await store.offer_asked(conn, shop, delivery_id, key, now)
    await outbox.add(conn, events.OfferRequested(
        shop=shop, key=key, source=step.asks.source, customer_id=delivery["customer_id"],
        starts_at=delivery["triggered_at"] if step.asks.from_event else None,
        context={"delivery": delivery_id},
    ), source=SOURCE)
    wait = min(max(now - first, OFFER_ASK_AGAIN[0]), OFFER_ASK_AGAIN[1])
    await postpone(conn, shop, delivery_id, now + wait, reason=f"waiting for its offer ({step.asks.source})")


async def _failed(conn: Connection, delivery: asyncpg.Record, message: channels.Message,
                  exc: Exception) -> None:
    shop, delivery_id = message.shop, message.delivery_id
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    settings = await configuration.settings_of(conn, shop)
    delays = policy.retry_delays(settings["retry_seconds"] if settings else None)
    attempt = delivery["attempts"]  # failed attempts before this one
    if attempt < len(delays):
        log.warning("delivery %s failed (attempt %d), retrying in %ss: %s", delivery_id, attempt + 1,
                    delays[attempt], reason)
        await postpone(conn, shop, delivery_id, datetime.now(UTC) + timedelta(seconds=delays[attempt]),
                       reason=reason, count_attempt=True)
        return
    log.error("giving up on delivery %s after %d attempts: %s", delivery_id, attempt + 1, reason)
    await store.mark(conn, shop, delivery_id, "FAILED", recipient=message.recipient or None,
                     subject=message.rendered.subject, error=reason)
    await outbox.add(conn, events.NotificationFailed(
        shop=shop, notification_id=delivery_id, customer_id=delivery["customer_id"], channel=message.channel,
        template=message.template, reason=reason,
    ), source=SOURCE)
