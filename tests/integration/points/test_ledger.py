"""The points ledger's SQL on a throwaway database, below the gateway: posting an entry, taking
points back after a refund (a shortfall when they were spent), redeeming a reward for a code, and a
bulk adjustment. After each, every account equals the sums of its ledger."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from services.points.loyalty import adjustment, configuration, earning, posting, redemption
from services.points.loyalty.ledger import Entry
from shared.db import transaction
from shared.errors import Conflict, InsufficientPoints
from shared.events import OrderRefunded
from tests.integration.points.conftest import handle, new_shop, paid, sums_differ


async def post(pool, shop: str, entry: Entry):
    async with transaction(pool) as conn:
        return await posting.post(conn, shop, entry)


async def account(pool, shop: str, customer_id: str):
    return await pool.fetchrow("SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)


async def events_of(pool, shop: str, event_type: str) -> list[dict]:
    rows = await pool.fetch("SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2 ORDER BY id", shop,
                            event_type)
    return [r["envelope"]["data"] for r in rows]


async def test_an_entry_is_posted_once_per_key_and_never_overdraws(points_pool):
    shop, anna = new_shop(), "anna"
    entry = Entry(customer_id=anna, kind="adjust", delta=120, reason="welcome", idempotency_key="adjust:k-1",
                  actor="admin")
    acct, applied = await post(points_pool, shop, entry)
    assert applied and (acct["balance"], acct["pending"], acct["lifetime_earned"]) == (120, 0, 120)
    acct, applied = await post(points_pool, shop, entry)  # the same key again: nothing more
    assert not applied and acct["balance"] == 120
    with pytest.raises(Conflict):
        await post(points_pool, shop, replace(entry, delta=121))
    with pytest.raises(InsufficientPoints):
        await post(points_pool, shop, replace(entry, delta=-121, idempotency_key="adjust:k-2"))
    assert await points_pool.fetchval("SELECT count(*) FROM ledger_entries WHERE shop_id = $1", shop) == 1
    assert [e["points"] for e in await events_of(points_pool, shop, "points.earned")] == [120]
    assert await sums_differ(points_pool, shop) == []


async def test_a_replayed_spend_is_answered_as_done_even_when_the_balance_could_not_pay_it_again(points_pool):
    """The entry is written first and its key decides (posting.post): a replay finds it and changes
    nothing, whatever the balance is now; a spend too large for the balance leaves no entry behind."""
    shop, anna = new_shop(), "anna"
    await post(points_pool, shop, Entry(customer_id=anna, kind="adjust", delta=100, reason="start",
                                        idempotency_key="adjust:start", actor="admin"))
    spend = Entry(customer_id=anna, kind="redeem", delta=-80, reason="a reward", idempotency_key="redeem:k-1",
                  actor="customer")
    acct, applied = await post(points_pool, shop, spend)
    assert applied and acct["balance"] == 20
    acct, applied = await post(points_pool, shop, spend)  # 20 left could not pay 80 again: not asked to
    assert not applied and acct["balance"] == 20
    with pytest.raises(InsufficientPoints):
        await post(points_pool, shop, replace(spend, idempotency_key="redeem:k-2"))
    keys = await points_pool.fetch("SELECT idempotency_key FROM ledger_entries WHERE shop_id = $1 ORDER BY id", shop)
    assert [r["idempotency_key"] for r in keys] == ["adjust:start", "redeem:k-1"]
    assert await sums_differ(points_pool, shop) == []


async def test_a_refund_takes_back_what_the_order_may_no_longer_keep_and_spent_points_become_a_shortfall(
        points_pool):
    shop, anna = new_shop(), "anna"
    await handle(points_pool, paid(shop, anna, "o-1", "100"))
    async with transaction(points_pool) as conn:
        await earning.release(conn, shop, "o-1")  # the return window has passed
    assert ((await account(points_pool, shop, anna))["balance"], (await account(points_pool, shop, anna))["pending"]
            ) == (100, 0)
    await post(points_pool, shop, Entry(customer_id=anna, kind="adjust", delta=-70, reason="spent elsewhere",
                                        idempotency_key="adjust:spent", actor="admin"))

    refund = OrderRefunded(shop=shop, order_id="o-1", customer_id=anna, currency="EUR", total=Decimal(100),
                           net_amount=Decimal(40), placed_at=paid(shop, anna, "o-1").placed_at,
                           refunded_amount=Decimal(60), fully_refunded=False)
    await handle(points_pool, refund)
    acct = await account(points_pool, shop, anna)
    # 60 points no longer kept: the 30 left are taken, the 30 already spent become a shortfall.
    assert (acct["balance"], acct["shortfall"], acct["lifetime_earned"]) == (0, 30, 70)
    assert [(e["points"], e["shortfall"]) for e in await events_of(points_pool, shop, "points.reversed")] == [(60, 30)]
    await handle(points_pool, refund)  # the same refund under a new event id: nothing more
    assert (await account(points_pool, shop, anna))["shortfall"] == 30

    await handle(points_pool, paid(shop, anna, "o-2", "10"))
    async with transaction(points_pool) as conn:
        await earning.release(conn, shop, "o-2")  # available points settle the shortfall first
    acct = await account(points_pool, shop, anna)
    assert (acct["balance"], acct["shortfall"]) == (0, 20)
    assert await sums_differ(points_pool, shop) == []


async def test_a_redemption_spends_points_once_per_key_and_its_code_is_used_once(points_pool):
    shop, anna, ben = new_shop(), "anna", "ben"
    for customer in (anna, ben):
        await adjustment.adjust_points(points_pool, shop, customer, 1000, "to spend", f"start-{customer}")
    first = await redemption.redeem(points_pool, shop, anna, "r-5-off", "k-1")
    again = await redemption.redeem(points_pool, shop, anna, "r-5-off", "k-1")
    assert again.redemption["id"] == first.redemption["id"] and first.reward["name"] == "5 off your next order"
    assert (await account(points_pool, shop, anna))["balance"] == 800  # the seeded r-5-off costs 200 points
    with pytest.raises(Conflict):
        await redemption.redeem(points_pool, shop, anna, "r-free-shipping", "k-1")

    check, used = await redemption.use_code(points_pool, shop, first.redemption["code"].lower())
    assert check.valid and used is not None and used.redemption["id"] == first.redemption["id"]
    check, _ = await redemption.use_code(points_pool, shop, first.redemption["code"])
    assert (check.valid, check.reason) == (False, "USED")
    check, used = await redemption.use_code(points_pool, shop, "NOSUCHCODE")
    assert (check.valid, check.reason, used) == (False, "UNKNOWN", None)

    await configuration.upsert_reward(points_pool, shop, id="r-one", name="The only one", kind="FREE_PRODUCT",
                                      points_cost=100, value=None, min_tier=None, limit_per_customer=None,
                                      limit_total=1, active=None)
    await redemption.redeem(points_pool, shop, anna, "r-one", "k-2")
    with pytest.raises(Conflict):  # sold out
        await redemption.redeem(points_pool, shop, ben, "r-one", "k-1")
    assert (await account(points_pool, shop, ben))["balance"] == 1000
    assert len(await events_of(points_pool, shop, "reward.redeemed")) == 2
    assert await sums_differ(points_pool, shop) == []


async def test_a_bulk_adjustment_applies_good_rows_once_and_answers_bad_rows_by_index(points_pool):
    shop = new_shop()
    rows = [("anna", 100, "gift"), ("ben", 50, "gift"), ("anna", -30, "fix"), ("cleo", -10, "fix"),
            ("ben", 0, "nothing"), ("ben", 5, " ")]
    outcome = await adjustment.bulk_adjust(points_pool, shop, "batch-1", rows)
    assert (outcome.applied, outcome.already_applied) == (3, 0)
    assert [(i, e.code) for i, _, e in outcome.errors] == [
        (3, "INSUFFICIENT_POINTS"), (4, "BAD_USER_INPUT"), (5, "BAD_USER_INPUT")]
    again = await adjustment.bulk_adjust(points_pool, shop, "batch-1", rows)
    assert (again.applied, again.already_applied, len(again.errors)) == (0, 3, 3)
    anna, ben = await account(points_pool, shop, "anna"), await account(points_pool, shop, "ben")
    assert (anna["balance"], anna["lifetime_earned"], ben["balance"]) == (70, 100, 50)
    assert sorted(e["points"] for e in await events_of(points_pool, shop, "points.earned")) == [50, 100]
    assert await sums_differ(points_pool, shop) == []
