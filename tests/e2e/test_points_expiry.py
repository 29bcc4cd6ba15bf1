"""Points lapse after the configured months without earning or redeeming, with a reminder 30 days
before; both are durable jobs in the schedule (made due here instead of waiting a year)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.points_support import assert_ledger_invariant, events_of, new_shop
from tests.stack import db, publish_raw
from tests.support import eventually


async def birthday(shop: str, customer: str, year: int) -> None:
    envelope = events.new_envelope(events.CustomerBirthday(shop=shop, customer_id=customer, year=year), source="test")
    await publish_raw(json.dumps(envelope.model_dump(mode="json")).encode(), envelope.type, envelope.id)


async def jobs(shop: str, customer: str) -> list:
    conn = await db("points")
    try:
        return await conn.fetch(
            """SELECT kind, due_at, status, payload FROM scheduled_jobs WHERE shop_id = $1
                 AND kind IN ('points.expiring', 'points.expire') AND payload->>'customer_id' = $2
               ORDER BY id""", shop, customer)
    finally:
        await conn.close()


async def make_due(shop: str, kind: str, customer: str) -> None:
    conn = await db("points")
    try:
        await conn.execute(
            """UPDATE scheduled_jobs SET due_at = now() WHERE shop_id = $1 AND kind = $2
                 AND payload->>'customer_id' = $3 AND status = 'pending'""", shop, kind, customer)
    finally:
        await conn.close()


def assert_months_after(due: datetime, activity: str, months: int, before: datetime) -> None:
    """`due` is `months` calendar months after the activity (same time of day; the same day of the month
    up to the 28th), and the activity is the earning this test made (not before it started)."""
    start = datetime.fromisoformat(activity)
    assert before - timedelta(seconds=5) <= start <= datetime.now(UTC)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    assert due.time() == start.time() and (start.day > 28 or due.day == start.day)


async def test_points_lapse_after_inactivity_with_a_reminder_first(gql):
    shop = await new_shop(gql, expiryMonths=6)
    customer = await shop.new_customer()
    before = datetime.now(UTC)
    await birthday(shop.id, customer, 2026)
    account = await shop.until(customer, "birthday points", balance=100)
    planned = await eventually(lambda: jobs(shop.id, customer), what="the expiry jobs")
    expiring, lapse = planned
    assert (expiring["kind"], lapse["kind"]) == ("points.expiring", "points.expire")
    assert_months_after(lapse["due_at"], lapse["payload"]["activity"], 6, before)
    assert lapse["due_at"] - expiring["due_at"] == timedelta(days=30)
    assert datetime.fromisoformat(account["expiringAt"]) == lapse["due_at"] and account["expiringPoints"] == 100

    await make_due(shop.id, "points.expiring", customer)
    reminder = await eventually(lambda: events_of(shop.id, "points.expiring", customer), what="the reminder")
    assert reminder[0]["points"] == 100
    await make_due(shop.id, "points.expire", customer)
    await shop.until(customer, "lapsed", balance=0, expiringPoints=0, expiringAt=None)
    expired = await eventually(lambda: events_of(shop.id, "points.expired", customer), what="points.expired")
    assert (expired[0]["points"], expired[0]["balance"]) == (100, 0)
    await assert_ledger_invariant(shop.id, customer)


async def test_new_activity_makes_earlier_expiry_jobs_harmless(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    before = datetime.now(UTC)
    await birthday(shop.id, customer, 2026)
    await shop.until(customer, "first earning", balance=100)
    first = await eventually(lambda: jobs(shop.id, customer), what="the first jobs")
    assert_months_after(first[1]["due_at"], first[1]["payload"]["activity"], 12, before)  # the default 12 months
    await birthday(shop.id, customer, 2027)
    await shop.until(customer, "second earning", balance=200)
    first_lapse = (await eventually(lambda: jobs(shop.id, customer), what="jobs"))[1]
    conn = await db("points")
    try:  # only the first activity's jobs become due
        await conn.execute(
            """UPDATE scheduled_jobs SET due_at = now() WHERE shop_id = $1 AND payload->>'activity' = $2""",
            shop.id, first_lapse["payload"]["activity"])
    finally:
        await conn.close()

    async def done():
        return all(j["status"] == "done" for j in (await jobs(shop.id, customer))[:2])
    await eventually(done, what="the stale jobs to run")
    assert (await shop.loyalty(customer))["balance"] == 200
    assert await events_of(shop.id, "points.expired", customer) == []
    assert await events_of(shop.id, "points.expiring", customer) == []
