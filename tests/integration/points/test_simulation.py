"""simulateProgram against the real earning code: a period of orders, deliveries, releases, refunds,
cancellations, actions and a redemption goes through the live consumers and jobs; replaying the same
period under the program that was in force answers what the ledger holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.loyalty import accounts, earning, simulating, simulation, simulation_runs, store
from services.points.loyalty.program import ProgramChange, RateChange, TierChange
from shared.auth import Principal
from shared.db import transaction
from shared.errors import BadUserInput
from shared.events import (
    CustomerBirthday,
    OrderCancelled,
    OrderDelivered,
    OrderRefunded,
    ReferralConverted,
    ReviewPublished,
)
from shared.schedule import Job
from tests.integration.points.conftest import graphql, handle, new_shop, paid


def _order(cls, shop: str, customer: str, order_id: str, net: str, **extra):
    return cls(shop=shop, order_id=order_id, customer_id=customer, currency="EUR", total=Decimal(net),
               net_amount=Decimal(net), placed_at=datetime.now(UTC), **extra)


RATES = 'exchangeRates: [{currency: "GBP", rate: "1.15"}]'


async def _release(pool, shop: str, order_id: str) -> None:
    async with transaction(pool) as conn:
        await earning.release(conn, shop, order_id)


async def _history(pool, shop: str, program: str = "") -> datetime:
    """A period of one shop through the live code, under the default program changed by `program`;
    returns its start."""
    start = datetime.now(UTC) - timedelta(seconds=1)
    # No return window, so the release jobs the test runs at once are due when they run.
    # A point worth 0.01 (the default is 0.025) keeps a doubled earn rate under the 5 % ceiling: 2 × 1.5 × 0.01.
    await graphql(pool, shop, 'mutation { configureProgram(input: {pendingDays: 0, pointValue: "0.01", '
                  + RATES + program + "}) { version } }")
    # anna: a delivered, released order; then enough for Silver; the next earns ×1.25, is partly refunded;
    # the second is cancelled after its release (taken from the available bucket).
    await handle(pool, paid(shop, "anna", "a-1", "120"))
    await handle(pool, _order(OrderDelivered, shop, "anna", "a-1", "120"))
    await _release(pool, shop, "a-1")
    await handle(pool, paid(shop, "anna", "a-2", "450.50"))
    await handle(pool, _order(OrderDelivered, shop, "anna", "a-2", "450.50"))
    await _release(pool, shop, "a-2")
    await handle(pool, paid(shop, "anna", "a-3", "200"))
    await handle(pool, _order(OrderRefunded, shop, "anna", "a-3", "77.77", refunded_amount=Decimal("122.23"),
                              fully_refunded=False))
    await handle(pool, _order(OrderCancelled, shop, "anna", "a-2", "450.50"))
    # ben: an order, a photo review, a birthday, points by hand, a redemption, a full refund.
    await handle(pool, paid(shop, "ben", "b-1", "33.90"))
    await handle(pool, ReviewPublished(shop=shop, review_id="r1", customer_id="ben", product_id="p1", rating=5,
                                       has_media=True))
    await handle(pool, CustomerBirthday(shop=shop, customer_id="ben", year=2026))
    await graphql(pool, shop, """mutation { adjustPoints(customerId: "ben", delta: 400, reason: "goodwill",
                                 idempotencyKey: "k1") { balance } }""")
    await graphql(pool, shop, """mutation { redeemReward(rewardId: "r-5-off", idempotencyKey: "k2") { code } }""",
                  principal=Principal("customer", shop, "ben"))
    await handle(pool, _order(OrderRefunded, shop, "ben", "b-1", "0", refunded_amount=Decimal("33.90"),
                              fully_refunded=True))
    # cleo: a referral reward, an order in a currency without a rate (NOT_ELIGIBLE: 0 points, no tier
    # spend) and one in GBP converted at the program's rate (92 points), partly refunded (keeps 34).
    await handle(pool, ReferralConverted(shop=shop, referral_id="ref-1", referrer_id="cleo", friend_id="x",
                                         order_id="x-1", reward_kind="points"))
    await handle(pool, paid(shop, "cleo", "c-1", "99", currency="USD"))
    await handle(pool, paid(shop, "cleo", "c-2", "80", currency="GBP"))
    await handle(pool, OrderRefunded(shop=shop, order_id="c-2", customer_id="cleo", currency="GBP", total=Decimal(80),
                                     net_amount=Decimal(30), refunded_amount=Decimal(50), fully_refunded=False,
                                     placed_at=datetime.now(UTC)))
    return start


async def _ledger(pool, shop: str, start: datetime, end: datetime) -> dict:
    sums = await pool.fetchrow(
        """SELECT coalesce(sum(balance), 0) AS available, coalesce(sum(pending), 0) AS pending
           FROM accounts WHERE shop_id = $1""", shop)
    issued = await pool.fetchval(
        """SELECT coalesce(sum(delta), 0) FROM ledger_entries WHERE shop_id = $1 AND created_at >= $2
             AND created_at < $3 AND (kind = 'earn' OR (kind = 'reverse' AND idempotency_key LIKE 'order:%'))""",
        shop, start, end)
    async with transaction(pool) as conn:
        tiers = [(await accounts.current_tier(conn, shop, c)).name
                 for c in await store.simulation.customers(conn, shop, end, "", 100)]
    return {"available": sums["available"], "pending": sums["pending"], "issued": issued,
            "tiers": {t: tiers.count(t) for t in set(tiers)}}


async def test_the_program_in_force_replays_to_what_the_ledger_holds(points_pool):
    shop = new_shop()
    start = await _history(points_pool, shop)
    end = datetime.now(UTC)
    comparison = await simulating.simulate(points_pool, shop, ProgramChange(), start, end)
    want = await _ledger(points_pool, shop, start, end)
    for side in (comparison.current, comparison.proposed):  # an empty change is the program in force
        t = side.totals
        got = {"available": t.available, "pending": t.pending, "issued": t.issued,
               "tiers": {k: v for k, v in t.tiers.items() if v}}
        assert got == want
        assert t.orders == 6 and t.expired == 0 and t.not_eligible == 1
    # The ledger's side of cleo's orders: what the replay took them to be.
    assert dict(await points_pool.fetch(
        "SELECT order_id, (earned - taken_back, status) FROM order_points WHERE shop_id = $1 AND customer_id = 'cleo'",
        shop)) == {"c-1": (0, "NOT_ELIGIBLE"), "c-2": (34, "PENDING")}
    assert any("1 paid orders of the period earn nothing under the current program" in n for n in comparison.notes)
    assert comparison.current.liability == Decimal(want["available"] + want["pending"]) * Decimal("0.01")
    # The period's own redemption rate: ben's 5-off reward (200 points at the starter price) redeemed.
    assert comparison.current.reward_cost == Decimal(200) * Decimal("0.01")


async def test_a_proposed_program_replays_to_what_the_live_code_does_under_it(points_pool):
    """The same history in a second shop that ran the proposed program all along: the first shop's
    proposed side is that shop's ledger (Silver reached later at 2 points per unit changes nothing: tiers
    go by spend; the tier rename and the review reward change move points)."""
    proposed = ('earnRate: "2", actionRewards: {review: 80, mediaReview: 150}, tiers: [{name: "Basic", '
                'threshold: "0", multiplier: "1"}, {name: "Plus", threshold: "300", multiplier: "1.5"}]')
    shop, twin = new_shop(), new_shop()
    start = await _history(points_pool, shop)
    twin_start = await _history(points_pool, twin, ", " + proposed)
    end = datetime.now(UTC)
    change = ProgramChange(earn_rate="2", action_points={"review": 80, "media_review": 150}, tiers=[
        TierChange("Basic", "0", "1", []), TierChange("Plus", "300", "1.5", [])])
    comparison = await simulating.simulate(points_pool, shop, change, start, end)
    t = comparison.proposed.totals
    assert {"available": t.available, "pending": t.pending, "issued": t.issued,
            "tiers": {k: v for k, v in t.tiers.items() if v}} == await _ledger(points_pool, twin, twin_start, end)


async def test_a_doubled_earn_rate_costs_more_and_nothing_is_written(points_pool):
    shop = new_shop()
    start = await _history(points_pool, shop)
    end = datetime.now(UTC)
    entries = await points_pool.fetchval("SELECT count(*) FROM ledger_entries WHERE shop_id = $1", shop)
    comparison = await simulating.simulate(points_pool, shop, ProgramChange(earn_rate="2"), start, end)
    assert comparison.proposed.totals.issued > comparison.current.totals.issued
    assert comparison.proposed.effective_cashback > comparison.current.effective_cashback
    assert comparison.proposed.within_ceiling and all("exchange rate" in n for n in comparison.notes)
    over = await simulating.simulate(points_pool, shop, ProgramChange(earn_rate="10"), start, end)
    assert not over.proposed.within_ceiling and "ceiling" in over.notes[0]
    # A rate for the dollar too: cleo's order earns under the proposed program (99 × 0.9 = 89 points).
    usd = await simulating.simulate(points_pool, shop, ProgramChange(exchange_rates=[
        RateChange("GBP", "1.15"), RateChange("USD", "0.9")]), start, end)
    assert (usd.proposed.totals.not_eligible, usd.current.totals.not_eligible) == (0, 1)
    assert usd.proposed.totals.issued - usd.current.totals.issued == 89
    assert usd.proposed.totals.revenue - usd.current.totals.revenue == Decimal("89.1")
    assert await points_pool.fetchval("SELECT count(*) FROM ledger_entries WHERE shop_id = $1", shop) == entries
    assert await points_pool.fetchval("SELECT max(version) FROM programs WHERE shop_id = $1", shop) == 2


async def test_a_shop_too_large_to_answer_at_once_is_told_to_start_a_run(points_pool, monkeypatch):
    shop = new_shop()
    start = await _history(points_pool, shop)
    monkeypatch.setattr(simulating, "SYNC_ORDERS", 5)
    with pytest.raises(BadUserInput) as refused:
        await simulating.simulate(points_pool, shop, ProgramChange(), start, datetime.now(UTC))
    assert refused.value.extensions["orders"] == 6 and "startProgramSimulation" in refused.value.message


async def test_bad_periods_and_shops_without_orders_get_clear_answers(points_pool):
    now = datetime.now(UTC)
    for start, end in ((now, now - timedelta(days=1)), (now - timedelta(days=4 * 365), now),
                       (now, now + timedelta(days=30)), (now.replace(tzinfo=None) - timedelta(days=1), now)):
        with pytest.raises(BadUserInput):
            await simulating.simulate(points_pool, new_shop(), ProgramChange(), start, end)
    with pytest.raises(BadUserInput):
        await simulating.simulate(points_pool, new_shop(), ProgramChange(earn_rate="-1"), now - timedelta(days=1), now)
    empty = await simulating.simulate(points_pool, new_shop(), ProgramChange(earn_rate="2"),
                                      now - timedelta(days=365), now)
    assert empty.current.totals.orders == 0 and empty.proposed.effective_cashback == 0
    assert "no paid orders" in empty.notes[0]


async def test_the_replay_and_the_store_agree_on_qualifying_spend(points_pool):
    """tiers.qualifying_spend (the replay's) and store.orders.qualifying_spend (the live ledger's)."""
    shop = new_shop()
    await graphql(points_pool, shop, "mutation { configureProgram(input: {" + RATES + "}) { version } }")
    await handle(points_pool, paid(shop, "dora", "d-1", "100"))
    await handle(points_pool, paid(shop, "dora", "d-2", "250"))
    await handle(points_pool, _order(OrderRefunded, shop, "dora", "d-2", "50", refunded_amount=Decimal("200"),
                                     fully_refunded=False))
    await handle(points_pool, paid(shop, "dora", "d-3", "70"))
    await handle(points_pool, _order(OrderCancelled, shop, "dora", "d-3", "70"))
    await handle(points_pool, paid(shop, "dora", "d-4", "40", currency="USD"))  # no rate: counts for nothing
    await handle(points_pool, paid(shop, "dora", "d-5", "20", currency="GBP"))  # at 1.15
    now = datetime.now(UTC)
    async with transaction(points_pool) as conn:
        live = await store.orders.qualifying_spend(conn, shop, "dora", "EUR", now - timedelta(days=365))
        customers = await simulating.facts(conn, shop, ["dora"], now - timedelta(days=1), now)
    replayed = simulation._Spend()
    for order in customers[0].orders:
        replayed.recorded(order)
    assert replayed.at(now, "EUR") == live == Decimal(173)


async def test_a_run_as_jobs_answers_what_simulate_program_answers(points_pool, monkeypatch):
    shop = new_shop()
    start = await _history(points_pool, shop)
    end = datetime.now(UTC)
    change = ProgramChange(earn_rate="1.5", expiry_months=0)
    at_once = await simulating.simulate(points_pool, shop, change, start, end)
    monkeypatch.setattr(simulating, "PAGE", 1)  # a page per customer
    run = await simulation_runs.start(points_pool, shop, change, start, end, "admin")
    assert not run.done and run.comparison is None
    pages = 0
    while not run.done:
        async with transaction(points_pool) as conn:
            await simulation_runs.page(conn, Job(0, shop, simulation_runs.JOB, "", end, {"run": run.id}, 0, False))
            run = await simulation_runs.read(conn, shop, run.id)
        pages += 1
    assert pages == 4 and run.customers == 3  # anna, ben, cleo, then an empty page
    assert run.comparison is not None
    assert run.comparison.proposed.totals == at_once.proposed.totals
    assert run.comparison.current == at_once.current
    assert await points_pool.fetchval(
        "SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND kind = $2", shop, simulation_runs.JOB) == 4
