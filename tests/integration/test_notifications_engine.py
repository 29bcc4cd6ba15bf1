"""The flow engine against a real PostgreSQL (a throwaway database with the notifications
migrations): concurrent copies of one fact plan each message once; a newer event cancels the
waiting messages and their jobs; erasure keeps anonymous rows; every timing counts from when the
order was placed or delivered, and a step long overdue is not sent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications import automation, consumers, contacts, store, variables
from shared import events
from shared.db import create_pool
from tests.integration.conftest import throwaway_database

# Recent, so that the steps due at once are not overdue (flows.LATE_GRACE) when a test runs.
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
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
                                 accepts_whatsapp=False, phone=None)


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
    assert winback == [LATER] * 4  # the four steps, planned by o-9's event
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


async def deliveries(pool, shop: str, flow: str) -> dict[str, tuple[str, datetime, str | None]]:
    rows = await pool.fetch("SELECT step_key, status, due_at, error FROM deliveries WHERE shop_id = $1 "
                            "AND flow_key = $2", shop, flow)
    return {r["step_key"]: (r["status"], r["due_at"], r["error"]) for r in rows}


async def handle(pool, data: events.EventData, handled_at: datetime) -> None:
    """What the consumer does with an event whose envelope says `handled_at`."""
    async with pool.acquire() as conn, conn.transaction():
        await automation.handle(conn, data.type, data, handled_at)


def order_event(model, shop: str, customer_id: str, order_id: str, placed_at: datetime, **extra):
    return model(shop=shop, order_id=order_id, customer_id=customer_id, currency="EUR", total="57.40",
                 net_amount="45.00", placed_at=placed_at, **extra)


async def test_timings_count_from_when_the_order_was_placed_and_delivered_not_when_handled(engine_pool):
    """Issue 19, item 2: D+1 from the order's placedAt, D+21 and D+28 from its delivery, win-back 90,
    105, 120 and 135 days from the order: each due time is checked against the order's own times."""
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    now = datetime.now(UTC).replace(microsecond=0)
    placed = now - timedelta(hours=20)  # handled 20 hours after the order was placed
    await handle(engine_pool, order_event(events.OrderPlaced, shop, customer_id, "o-1", placed), now)
    care = await deliveries(engine_pool, shop, "order_care_tips")
    assert care == {"care_tips": ("SCHEDULED", placed + timedelta(days=1), None)}
    thanks = await deliveries(engine_pool, shop, "order_placed")
    assert thanks["thank_you"][:2] == ("SCHEDULED", placed)  # 20 h late: still sent (at once)
    winback = await deliveries(engine_pool, shop, "winback")
    assert {k: v[1] for k, v in winback.items()} == {
        "value_reminder": placed + timedelta(days=90), "content": placed + timedelta(days=105),
        "discount_10": placed + timedelta(days=120), "discount_20_survey": placed + timedelta(days=135)}

    delivered = now - timedelta(days=2)  # a delivery reported two days late
    await handle(engine_pool, order_event(events.OrderDelivered, shop, customer_id, "o-1", placed,
                                          delivered_at=delivered), now)
    after = await deliveries(engine_pool, shop, "order_delivered")
    assert after["cross_sell"][:2] == ("SCHEDULED", delivered + timedelta(days=21))
    assert after["replenishment"][:2] == ("SCHEDULED", delivered + timedelta(days=28))
    # the feedback request was due two days ago: not sent late (logged with the reason)
    assert after["feedback"][0] == "CANCELLED" and after["feedback"][2].startswith("not sent: due")


async def test_a_backfilled_order_sends_none_of_its_overdue_steps_at_once(engine_pool):
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    now = datetime.now(UTC)
    placed = now - timedelta(days=110)  # imported from the shop's history
    await handle(engine_pool, order_event(events.OrderPlaced, shop, customer_id, "o-old", placed), now)
    winback = await deliveries(engine_pool, shop, "winback")
    assert {k: v[0] for k, v in winback.items()} == {"value_reminder": "CANCELLED", "content": "CANCELLED",
                                                     "discount_10": "SCHEDULED", "discount_20_survey": "SCHEDULED"}
    assert winback["discount_10"][1] == placed + timedelta(days=120)
    assert {v[0] for v in (await deliveries(engine_pool, shop, "order_care_tips")).values()} == {"CANCELLED"}
    queued = await engine_pool.fetchval("SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND due_at <= $2",
                                        shop, now)
    assert queued == 0  # nothing due now: no burst of old messages


async def test_crossing_the_engagement_threshold_starts_win_back_once_per_lapse(engine_pool):
    """Issue 19, item 3: customer.disengaged plans the at-risk message with its offer (enabled by
    default); the same lapse again plans nothing more, a purchase cancels it."""
    shop, customer_id = f"s-{uuid.uuid4().hex[:8]}", "c-1"
    await contact(engine_pool, shop, customer_id)
    now = datetime.now(UTC)
    lapse = events.CustomerDisengaged(shop=shop, customer_id=customer_id, score=-30, threshold=-15,
                                      last_order_at=now - timedelta(days=60))
    await handle(engine_pool, lapse, now)
    await handle(engine_pool, lapse, now + timedelta(hours=1))  # crossing again within the same lapse
    rows = await engine_pool.fetch("SELECT step_key, status, offer_key FROM deliveries WHERE shop_id = $1 "
                                   "AND flow_key = 'at_risk'", shop)
    assert [(r["step_key"], r["status"]) for r in rows] == [("at_risk", "SCHEDULED")]
    assert rows[0]["offer_key"].startswith(f"at_risk:{customer_id}:")
    await handle(engine_pool, order_event(events.OrderPlaced, shop, customer_id, "o-2", now + timedelta(hours=2)),
                 now + timedelta(hours=2))
    assert (await deliveries(engine_pool, shop, "at_risk"))["at_risk"][0] == "CANCELLED"
