"""Offers pushed to the shop's platforms as discount codes (issue 17, "Platform push"), and a
Shopify store's webhook subscriptions, as scheduled jobs: never inside the transaction that issued
the offer, retried with backoff, counted on the connection (offersPushed, pushFailures, lastError).

The events say what each code should be at every pushing connection of the shop (platform_offers):
offer.issued creates it; offer.redeemed with no use left and offer.revoked switch it off;
offer.released with the code usable again switches it back on. The push job then makes the
platform match: create the code when missing, switch it when it differs, nothing when it matches.
So any number of runs for one (connection, offer) do each change once. A failed call is tried
again later (a new job, 5 s · 2^n up to an hour, 6 attempts); a refused token marks the connection
FAILING until a call succeeds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.customers import store
from services.customers.platforms import connections, settings, shopify_admin, shopware_admin
from services.customers.platforms.adapters import Adapter, Code, PlatformError, Unsupported
from services.customers.platforms.connecting import Link, can_reach, link
from services.customers.shopify import SUBSCRIBED
from shared import events, schedule
from shared.db import Connection
from shared.events import Envelope
from shared.schedule import Job

log = logging.getLogger(__name__)
PUSH_JOB = "platforms.push_offer"
MAX_ATTEMPTS = 6
_FACTS = tuple(events.OfferFacts.model_fields)


def adapter(link_: Link) -> Adapter:
    if link_.platform == connections.SHOPIFY:
        return shopify_admin.ShopifyAdmin(link_)
    return shopware_admin.ShopwareAdmin(link_)


async def _want(conn: Connection, data: events.OfferFacts, active: bool, *, first: bool) -> None:
    """Note what the offer should be at each pushing connection of its shop and plan the push.
    `first`: offer.issued, which only creates (a replayed issue, or one arriving after the code
    was used up, must not switch it back on)."""
    facts = {k: v for k, v in data.model_dump(mode="json").items() if k in _FACTS}
    now = datetime.now(UTC)
    for row in await store.connections.pushing(conn, data.shop, connections.PUSHES):
        if not can_reach(link(row)):
            continue
        if first and await store.platform_offers.get(conn, data.shop, row["id"], data.offer_id) is not None:
            continue
        version = await store.platform_offers.want(conn, data.shop, row["id"], data.offer_id, facts, active)
        await schedule.schedule(conn, shop=data.shop, kind=PUSH_JOB,
                                dedup_key=f"{row['id']}:{data.offer_id}:v{version}", due_at=now,
                                payload={"connection_id": row["id"], "offer_id": data.offer_id, "attempt": 1})


async def on_offer_issued(conn: Connection, event: Envelope, data: events.OfferIssued) -> None:
    await _want(conn, data, True, first=True)


async def on_offer_redeemed(conn: Connection, event: Envelope, data: events.OfferRedeemed) -> None:
    if data.exhausted:
        await _want(conn, data, False, first=False)


async def on_offer_revoked(conn: Connection, event: Envelope, data: events.OfferRevoked) -> None:
    await _want(conn, data, False, first=False)


async def on_offer_released(conn: Connection, event: Envelope, data: events.OfferReleased) -> None:
    if data.usable:
        await _want(conn, data, True, first=False)


async def retry_later(conn: Connection, job: Job, error: str) -> None:
    """Try the job again later as a job of its own (the failed run commits its counters), or give up."""
    attempt = int(job.payload.get("attempt", 1))
    if attempt >= MAX_ATTEMPTS:
        log.warning("%s %s gave up after %d attempts: %s", job.kind, job.dedup_key, attempt, error)
        return
    base = job.dedup_key.split("#", 1)[0]
    await schedule.schedule(conn, shop=job.shop, kind=job.kind, dedup_key=f"{base}#{attempt + 1}",
                            due_at=datetime.now(UTC) + timedelta(seconds=schedule.backoff_seconds(attempt)),
                            payload={**job.payload, "attempt": attempt + 1})


async def push_offer(conn: Connection, job: Job) -> None:
    shop, connection_id = job.shop, str(job.payload["connection_id"])
    row = await store.connections.get(conn, shop, connection_id)
    wanted = await store.platform_offers.lock(conn, shop, connection_id, str(job.payload["offer_id"]))
    if row is None or wanted is None or row["status"] not in connections.PUSHES or wanted["skipped"]:
        return  # disconnected or uninstalled meanwhile: nothing goes out
    target = link(row)
    code = Code.of(wanted["facts"])
    try:
        if wanted["remote_id"] is None:
            if not wanted["wanted_active"]:
                return  # used up or revoked before it ever reached the platform
            remote = await adapter(target).create_code(code, datetime.now(UTC))
        elif wanted["remote_active"] != wanted["wanted_active"]:
            remote = wanted["remote_id"]
            await adapter(target).set_code_active(remote, code, wanted["wanted_active"])
        else:
            return
    except Unsupported as exc:
        await store.platform_offers.record_remote(conn, shop, connection_id, code.offer_id, remote_id=None,
                                                  active=None, skipped=str(exc))
        return
    except PlatformError as exc:
        error = connections.error_text(f"offer {code.offer_id}: {exc}")
        await store.connections.count(conn, shop, connection_id, "push_failures", error=error,
                                      status=connections.FAILING if exc.auth else None)
        await retry_later(conn, job, error)
        return
    await store.platform_offers.record_remote(conn, shop, connection_id, code.offer_id, remote_id=remote,
                                              active=wanted["wanted_active"])
    await store.connections.count(conn, shop, connection_id, "offers_pushed", status=connections.ACTIVE)


async def subscribe(conn: Connection, job: Job) -> None:
    """Register a Shopify store's webhook subscriptions (every topic but the compliance ones, which
    the app's configuration holds)."""
    row = await store.connections.get(conn, job.shop, str(job.payload["connection_id"]))
    if row is None or row["status"] not in connections.PUSHES:
        return
    target = link(row)
    if not can_reach(target):
        return
    try:
        created = await shopify_admin.ShopifyAdmin(target).subscribe(SUBSCRIBED, settings.public_url())
    except PlatformError as exc:
        error = connections.error_text(f"webhook subscriptions: {exc}")
        await store.connections.note_error(conn, job.shop, target.id, error,
                                           connections.FAILING if exc.auth else None)
        await retry_later(conn, job, error)
        return
    log.info("shopify %s: %d webhook subscriptions registered", target.domain, created)

