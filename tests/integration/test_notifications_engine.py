"""The flow engine against a real PostgreSQL (a throwaway database with the notifications
migrations): concurrent copies of one fact plan each message once; a newer event cancels the
waiting messages and their jobs; erasure keeps anonymous rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications import automation, consumers, contacts, store, variables
from shared import events
from shared.db import create_pool
from tests.integration.conftest import throwaway_database

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)


@pytest.fixture(scope="module")
async def engine_pool(settings):
    async with throwaway_database(settings, "notifications") as dsn:
        pool = await create_pool(dsn, max_size=12)
        yield pool
        await pool.close()


async def contact(pool, shop: str, customer_id: str) -> None:
    async with pool.acquire() as conn:
        await store.save_contact(conn, shop, customer_id, email=f"{customer_id}@example.com", first_name="Anna",
                                 locale="en", timezone=None, accepts_email=True, accepts_sms=False,
                                 accepts_whatsapp=False)


def credit(shop: str, customer_id: str, source_id: str) -> dict:
    return {"shop": shop, "customer_id": customer_id, "amount": "2.00", "currency": "EUR", "balance": "2.00",
            "reason": "review", "source_id": source_id}


async def run_once(pool, shop: str, event_type: str, data: dict, at: datetime = AT) -> list[str]:
    async with pool.acquire() as conn, conn.transaction():
        return await automation.run(conn, shop, event_type, data, at)


async def test_concurrent_copies_of_one_fact_plan_each_message_once(engine_pool):
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    data = credit(shop, customer_id, "rv-1")
    results = await asyncio.gather(*(run_once(engine_pool, shop, "credit.granted", data) for _ in range(8)),
                                   return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(len(r) for r in results) == 2  # the credit mail and its reminder, once
    rows = await engine_pool.fetch("SELECT step_key FROM deliveries WHERE shop_id = $1 ORDER BY step_key", shop)
    assert [r["step_key"] for r in rows] == ["granted", "reminder"]
    jobs = await engine_pool.fetchval("SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1", shop)
    assert jobs == 2


async def test_a_newer_event_cancels_waiting_messages_and_their_jobs(engine_pool):
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    await run_once(engine_pool, shop, "credit.granted", credit(shop, customer_id, "rv-1"))
    await run_once(engine_pool, shop, "credit.spent", spent(shop, customer_id, "o-1"), LATER)
    rows = await engine_pool.fetch("SELECT id::text, step_key, status FROM deliveries WHERE shop_id = $1", shop)
    # both were still waiting (due "now" but not yet taken by a worker of this throwaway database)
    assert {r["status"] for r in rows} == {"CANCELLED"}
    statuses = await engine_pool.fetch("SELECT status FROM scheduled_jobs WHERE shop_id = $1", shop)
    assert {r["status"] for r in statuses} == {"cancelled"}
    other = f"s-{uuid.uuid4().hex[:8]}"  # the same customer id in another shop is someone else
    await contact(engine_pool, other, customer_id)
    await run_once(engine_pool, other, "credit.granted", credit(other, customer_id, "rv-1"))
    await run_once(engine_pool, shop, "credit.spent", spent(shop, customer_id, "o-2"), LATER)
    assert {r["status"] for r in await engine_pool.fetch(
        "SELECT status FROM deliveries WHERE shop_id = $1", other)} == {"SCHEDULED"}


def spent(shop: str, customer_id: str, source_id: str) -> dict:
    return {"shop": shop, "customer_id": customer_id, "amount": "2", "currency": "EUR", "balance": "0",
            "source_id": source_id}


def order(shop: str, customer_id: str, order_id: str, **extra) -> dict:
    return {**variables.SAMPLES["order.delivered"], "shop": shop, "customer_id": customer_id, "order_id": order_id,
            **extra}


async def scheduled(pool, shop: str) -> list[tuple[str, str | None, datetime]]:
    """(flow, correlation, time of the event that planned it) of each message still waiting."""
    rows = await pool.fetch("""SELECT flow_key, correlation, triggered_at FROM deliveries
                               WHERE shop_id = $1 AND status = 'SCHEDULED' ORDER BY flow_key, dedup_key""", shop)
    return [(r["flow_key"], r["correlation"], r["triggered_at"]) for r in rows]


async def test_obsolete_goes_by_when_events_happened_not_when_they_were_handled(engine_pool):
    """The consumer handles several events at once and retries a failed one later, so a cancelling
    event may be handled before the older event it makes obsolete. That older event then plans
    nothing for the flow; and a cancelling event handled late never cancels what newer events planned."""
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    # The credit was spent (later) before its grant was handled: neither the mail nor the reminder.
    await run_once(engine_pool, shop, "credit.spent", spent(shop, customer_id, "o-1"), LATER)
    assert await run_once(engine_pool, shop, "credit.granted", credit(shop, customer_id, "rv-1")) == []
    # A full refund (later) handled before the delivery: nothing about that order; another order's
    # delivery plans as usual.
    await run_once(engine_pool, shop, "order.refunded",
                   order(shop, customer_id, "o-7", refunded_amount="45.00", fully_refunded=True), LATER)
    assert await run_once(engine_pool, shop, "order.delivered", order(shop, customer_id, "o-7")) == []
    assert len(await run_once(engine_pool, shop, "order.delivered", order(shop, customer_id, "o-8"))) == 3
    # Two orders handled newest first: the win-back series follows the newer one only.
    await run_once(engine_pool, shop, "order.placed", order(shop, customer_id, "o-9"), LATER)
    await run_once(engine_pool, shop, "order.placed", order(shop, customer_id, "o-8"))
    winback = [at for f, _, at in await scheduled(engine_pool, shop) if f == "winback"]
    assert winback == [LATER] * 5  # the five steps, planned by o-9's event
    # Replaying an event never cancels what it planned itself.
    await run_once(engine_pool, shop, "order.placed", order(shop, customer_id, "o-9"), LATER)
    assert [at for f, _, at in await scheduled(engine_pool, shop) if f == "winback"] == winback


async def test_an_event_before_the_profile_waits_for_it(engine_pool):
    shop = f"s-{uuid.uuid4().hex[:8]}"
    with pytest.raises(automation.ContactNotYetKnown):
        await run_once(engine_pool, shop, "credit.granted", credit(shop, "c-unknown", "rv-1"))
    assert await engine_pool.fetchval("SELECT count(*) FROM deliveries WHERE shop_id = $1", shop) == 0


async def test_the_consumer_parks_such_an_event_until_the_profile_arrives(engine_pool):
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-late"
    granted = events.CreditGranted(**credit(shop, customer_id, "rv-1"))
    async with engine_pool.acquire() as conn, conn.transaction():
        await consumers.on_event(conn, events.new_envelope(granted, source="test"), granted)  # acked, no retry
    assert await engine_pool.fetchval("SELECT count(*) FROM deliveries WHERE shop_id = $1", shop) == 0
    assert await engine_pool.fetchval("SELECT count(*) FROM waiting_events WHERE shop_id = $1", shop) == 1
    profile = events.CustomerRegistered(shop=shop, customer_id=customer_id, email="late@example.com",
                                        first_name="Lena", accepts_email=True)
    async with engine_pool.acquire() as conn, conn.transaction():
        await consumers.on_customer_profile(conn, events.new_envelope(profile, source="test"), profile)
    steps = await engine_pool.fetch("SELECT step_key FROM deliveries WHERE shop_id = $1 ORDER BY step_key", shop)
    assert [r["step_key"] for r in steps] == ["granted", "reminder"]
    assert await engine_pool.fetchval("SELECT count(*) FROM waiting_events WHERE shop_id = $1", shop) == 0


async def test_a_segment_or_tier_change_before_the_profile_is_parked_and_kept_when_it_arrives(engine_pool):
    """A backlog delays customer.registered: the segment and tier changes that overtook it are parked,
    not retried into the dead-letter queue, and the profile's arrival keeps them and plans their flows."""
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-early"
    changes = [events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment="REGULAR",
                                             to_segment="AT_RISK"),
               events.TierChanged(shop=shop, customer_id=customer_id, from_tier="Silver", to_tier="Gold",
                                  direction="up")]
    for change in changes:
        async with engine_pool.acquire() as conn, conn.transaction():
            await consumers.on_event(conn, events.new_envelope(change, source="test"), change)  # no raise
    assert await engine_pool.fetchval("SELECT count(*) FROM waiting_events WHERE shop_id = $1", shop) == 2
    profile = events.CustomerRegistered(shop=shop, customer_id=customer_id, email="early@example.com",
                                        first_name="Eva", accepts_email=True)
    async with engine_pool.acquire() as conn, conn.transaction():
        await consumers.on_customer_profile(conn, events.new_envelope(profile, source="test"), profile)
    kept = await engine_pool.fetchrow("SELECT segment, tier FROM contacts WHERE shop_id = $1 AND customer_id = $2",
                                      shop, customer_id)
    assert (kept["segment"], kept["tier"]) == ("AT_RISK", "Gold")
    flows = [r["flow_key"] for r in await engine_pool.fetch("SELECT flow_key FROM deliveries WHERE shop_id = $1", shop)]
    assert flows == ["tier_up"]  # the at-risk flow of segment changes is off by default
    assert await engine_pool.fetchval("SELECT count(*) FROM waiting_events WHERE shop_id = $1", shop) == 0


async def test_a_segment_change_of_an_erased_customer_is_neither_parked_nor_retried(engine_pool):
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-gone"
    await contact(engine_pool, shop, customer_id)
    async with engine_pool.acquire() as conn, conn.transaction():
        await contacts.erase(conn, shop, customer_id)
    change = events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment="NEW",
                                           to_segment="AT_RISK")
    async with engine_pool.acquire() as conn, conn.transaction():
        await consumers.on_event(conn, events.new_envelope(change, source="test"), change)
    assert await engine_pool.fetchval("SELECT count(*) FROM waiting_events WHERE shop_id = $1", shop) == 0
