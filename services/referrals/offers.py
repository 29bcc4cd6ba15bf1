"""The referred friend's offer. The points service issues it (it owns every offer and checks codes at
the checkout); referrals asks for it when a referral opens (offer.requested under the key
"referral:<referral id>", for the friend, on the program's terms: percent, minimum order, days
valid) and keeps what offer.issued brings for `Customer.friendOffer`. offer.redeemed marks it used by
its order, offer.released gives it back. offer.refused leaves the friend without a code (the reason
is kept). Everything runs in the caller's transaction (the consumer's inbox transaction, the
referral's opening, the carry-over job) and writes its events to the outbox.

Codes minted here before (`F` + 8 characters) are handed over keeping their code: a start-up
catch-up schedules `CARRY_OVER_JOB` for each shop that has such codes unused on an open or converted
referral; the job asks for each (idempotent at points: one offer per key) and notes it asked.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from services.referrals import store
from services.referrals.referring import program_of
from shared import events, outbox, schedule
from shared.db import Connection
from shared.events import OfferFacts, OfferIssued, OfferRedeemed, OfferRefused, OfferReleased
from shared.money import in_minor_units
from shared.schedule import Job

log = logging.getLogger(__name__)

SOURCE = "referrals"
OFFER_SOURCE = "REFERRAL"
KEY_PREFIX = "referral:"
CARRY_OVER_JOB = "referral.carry_over_offers"  # hand codes minted here before to points (jobs.py)
CARRY_OVER_BATCH = 500  # codes per job run; a full batch schedules the next run


def key_of(referral_id: uuid.UUID | str) -> str:
    return f"{KEY_PREFIX}{referral_id}"


def referral_of(key: str, source: str) -> uuid.UUID | None:
    """The referral an offer's key names (None: not a friend's offer)."""
    if source != OFFER_SOURCE or not key.startswith(KEY_PREFIX):
        return None
    try:
        return uuid.UUID(key[len(KEY_PREFIX):])
    except ValueError:
        return None


def _request(shop: str, friend_id: str, referral_id: uuid.UUID | str, percent: int, program: dict[str, Any], *,
             opened_by: str, code: str | None = None) -> events.OfferRequested:
    """The ask, on the referral program's terms (the one place a merchant sets the friend's offer)."""
    return events.OfferRequested(
        shop=shop, key=key_of(referral_id), source=OFFER_SOURCE, customer_id=friend_id, kind="PERCENTAGE",
        value=percent, currency=program["currency"],
        min_order=in_minor_units(program["minimum_order"], program["currency"]),  # stored with 4 decimals
        valid_days=program["friend_offer_valid_days"], usage_limit=1, code=code,
        context={"referral": str(referral_id), "opened_by": opened_by},
    )


async def ask(conn: Connection, shop: str, friend_id: str, referral_id: uuid.UUID, *, opened_by: str) -> None:
    """The friend's offer for a referral that opened (by a "signup" or an "order"); once per friend."""
    program = await program_of(conn, shop)
    if await store.offers.add(conn, shop, friend_id, referral_id, program["friend_discount_percent"]):
        await outbox.add(conn, _request(shop, friend_id, referral_id, program["friend_discount_percent"], program,
                                        opened_by=opened_by), source=SOURCE)


def _friend(data: OfferFacts | OfferRefused) -> tuple[str, uuid.UUID] | None:
    referral_id = referral_of(data.key, data.source)
    if referral_id is None or data.customer_id is None:
        return None
    return data.customer_id, referral_id


def concerns(data: OfferFacts | OfferRefused) -> bool:
    """Whether an offer event is about a referred friend's offer (every other offer's events reach this
    service too: they share the routing key; the consumers acknowledge them without a transaction)."""
    return _friend(data) is not None


async def issued(conn: Connection, data: OfferIssued) -> None:
    friend = _friend(data)
    if friend is None:
        return
    if not await store.offers.issued(conn, data.shop, *friend, offer_id=data.offer_id, code=data.code,
                                     expires_at=data.expires_at, min_order=data.min_order, currency=data.currency):
        log.info("offer %s of %s: no friend offer waits for it (erased, or another offer)", data.offer_id, data.key)


async def refused(conn: Connection, data: OfferRefused) -> None:
    friend = _friend(data)
    if friend is not None:
        log.warning("the friend's offer %s was refused: %s", data.key, data.reason)
        await store.offers.refused(conn, data.shop, *friend, data.reason[:1000])


async def redeemed(conn: Connection, data: OfferRedeemed) -> None:
    friend = _friend(data)
    if friend is not None:
        await store.offers.use(conn, data.shop, *friend, data.offer_id, data.order_id)


async def released(conn: Connection, data: OfferReleased) -> None:
    friend = _friend(data)
    if friend is not None:
        await store.offers.give_back(conn, data.shop, *friend, data.offer_id, data.order_id)


async def schedule_carry_over(conn: Connection) -> int:
    """Start-up catch-up: a carry-over job for each shop with codes to hand over (once a day at most
    per shop; the job itself is idempotent). Returns how many shops have some."""
    shops = await store.offers.shops_to_hand_over(conn)
    day = datetime.now(UTC).date().isoformat()
    for shop in shops:
        await schedule.schedule(conn, shop=shop, kind=CARRY_OVER_JOB, dedup_key=f"carry-over:{day}",
                                due_at=datetime.now(UTC))
    return len(shops)


async def carry_over(conn: Connection, job: Job) -> None:
    """Ask points for an offer keeping the code of each friend offer minted here before."""
    rows = await store.offers.to_hand_over(conn, job.shop, CARRY_OVER_BATCH)
    if not rows:
        return
    program = await program_of(conn, job.shop)
    await outbox.add_many(conn, [
        _request(job.shop, r["friend_id"], r["referral_id"], r["percent_off"], program, opened_by="carry_over",
                 code=r["code"]) for r in rows], source=SOURCE)
    await store.offers.handed_over(conn, job.shop, [r["friend_id"] for r in rows])
    log.info("handed %d friend offer code(s) of shop %s to points", len(rows), job.shop)
    if len(rows) == CARRY_OVER_BATCH:
        await schedule.schedule(conn, shop=job.shop, kind=CARRY_OVER_JOB, dedup_key=f"{job.dedup_key}+{job.id}",
                                due_at=datetime.now(UTC))
