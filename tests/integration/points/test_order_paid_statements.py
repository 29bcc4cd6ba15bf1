"""What handling one order.paid costs in statements: the shop's program is read once and the
customer's account locked once, however many steps (earning, tier, punch card, challenges) need them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.points import consumers
from services.points.challenges import organising
from shared.events import OfferRequested, OrderCancelled, OrderLine, OrderPlaced, OrderRefunded, new_envelope
from shared.inbox import Delivered, handle_batch
from tests.integration.points.conftest import handle, new_shop, paid

PROGRAM_READ = re.compile(r"\bFROM programs\b")


def program_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if PROGRAM_READ.search(s)]


def account_locks(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM accounts" in s and "FOR UPDATE" in s]


async def test_one_paid_order_reads_the_program_once_and_locks_the_account_once(points_pool, statements):
    shop, anna = new_shop(), "anna"
    now = datetime.now(UTC)
    challenge = await organising.launch(
        points_pool, shop, title="Five purchases", description=None, hashtag_=None, goal_event="ORDER_PAID",
        goal_count=5, goal_with_media=None, goal_hashtag=None, goal_measure=None, starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1), audience=None, reward_points=50, badge=None, leaderboard_bonus=None,
        leaderboard_top=None, idempotency_key=None)
    await organising.join(points_pool, shop, challenge["id"], anna)
    # The first payment is the shop's first write (it seeds the program), the third unlocks the punch
    # card; each also moves the challenge (which takes the account lock too) and refreshes the tier.
    for order_id in ("o-1", "o-2", "o-3"):
        async with statements.counted() as ran:
            await handle(points_pool, paid(shop, anna, order_id))
        assert len(program_reads(ran)) == 1, program_reads(ran)
        assert len(account_locks(ran)) == 1, account_locks(ran)
    account = await points_pool.fetchrow("SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, anna)
    assert (account["pending"], account["tier"]) == (30, "Bronze")
    progress = await points_pool.fetchval(
        "SELECT progress FROM challenge_progress WHERE shop_id = $1 AND customer_id = $2", shop, anna)
    assert progress == 3
    assert await points_pool.fetchval(
        "SELECT count(*) FROM redemptions WHERE shop_id = $1 AND reward_id = 'punch-card'", shop) == 1


async def test_a_batch_of_paid_orders_reads_the_program_once_and_locks_each_account_once(points_pool, statements):
    """The batch shares its transaction's memo (shared/inbox.py): a shop's program is read once for the
    batch and each customer's account locked once, whichever event comes first; every event still
    earns, and a failing one (an unknown currency's refund before its payment) leaves the rest."""
    shop, customers = new_shop(), ["anna", "ben", "cleo"]
    await handle(points_pool, paid(shop, "seed", "o-seed"))  # the shop's first write seeds the program
    events = [paid(shop, customers[i % 3], f"o-{i}") for i in range(9)]
    early_refund = OrderRefunded(shop=shop, order_id="o-never-paid", customer_id="ben", currency="EUR",
                                 total=Decimal("10"), net_amount=Decimal(0), placed_at=datetime.now(UTC),
                                 refunded_amount=Decimal("5"), fully_refunded=False)
    batch = [Delivered(new_envelope(e, source="test"), e, consumers.HANDLERS.dispatch)
             for e in [*events[:4], early_refund, *events[4:]]]
    async with statements.counted() as ran:
        outcomes = await handle_batch(points_pool, "points", batch)
    assert [o.applied for o in outcomes] == [True] * 4 + [False] + [True] * 5
    assert isinstance(outcomes[4].error, LookupError)  # retried alone; the batch committed
    assert len(program_reads(ran)) == 1, program_reads(ran)
    assert len(account_locks(ran)) == 3, account_locks(ran)  # anna, ben, cleo: once each
    pending = await points_pool.fetch("SELECT customer_id, pending FROM accounts WHERE shop_id = $1 AND"
                                      " customer_id = ANY($2::text[]) ORDER BY 1", shop, customers)
    assert [(r["customer_id"], r["pending"]) for r in pending] == [("anna", 30), ("ben", 30), ("cleo", 30)]


async def test_a_batch_of_offer_events_keeps_the_account_first_lock_order_and_its_savepoints(points_pool, statements):
    """Offers' use cases in one batch (shared/inbox.py): order.placed with codes locks the account, then
    the offers; the cancellation gives them back under the account lock it holds already. A failing
    event of the same customer (a refund before its payment, the customer's first event in the batch)
    rolls back its savepoint and with it the account lock it took: the next event of that customer
    locks the account again instead of trusting the batch's memo. A second copy of an event in the
    batch is a duplicate; an offer requested in the batch is issued once."""
    shop = new_shop()
    await handle(points_pool, paid(shop, "seed", "o-seed"))  # the shop's first write seeds the program
    await handle(points_pool, OfferRequested(shop=shop, key="referral:friend", source="REFERRAL",
                                             customer_id="friend", context={"referral": "r-1"}))
    code = await points_pool.fetchval("SELECT code FROM offers WHERE shop_id = $1 AND key = 'referral:friend'", shop)
    at = datetime.now(UTC)
    placed = OrderPlaced(shop=shop, order_id="o-1", customer_id="friend", currency="EUR", total=Decimal("20.00"),
                         net_amount=Decimal("16.00"), placed_at=at, discount_codes=[code],
                         lines=[OrderLine(product_id="p", quantity=2, unit_price=Decimal("10.00"))],
                         discount_total=Decimal("4.00"))
    early_refund = OrderRefunded(shop=shop, order_id="o-never-paid", customer_id="friend", currency="EUR",
                                 total=Decimal("10"), net_amount=Decimal(0), placed_at=at,
                                 refunded_amount=Decimal("5"), fully_refunded=False)
    cancelled = OrderCancelled(shop=shop, order_id="o-1", customer_id="friend", currency="EUR",
                               total=Decimal("20.00"), net_amount=Decimal("16.00"), placed_at=at)
    requested = OfferRequested(shop=shop, key="referral:ann", source="REFERRAL", customer_id="ann",
                               context={"referral": "r-2"})
    envelopes = [new_envelope(e, source="test") for e in
                 (early_refund, placed, paid(shop, "friend", "o-1", "16"), requested, cancelled)]
    batch = [Delivered(e, d, consumers.HANDLERS.dispatch) for e, d in
             zip([*envelopes[:2], envelopes[1], *envelopes[2:]],  # o-1's order.placed twice
                 [early_refund, placed, placed, paid(shop, "friend", "o-1", "16"), requested, cancelled], strict=True)]
    async with statements.counted() as ran:
        outcomes = await handle_batch(points_pool, "points", batch)
    assert [(o.applied, o.duplicate) for o in outcomes] == [
        (False, False), (True, False), (False, True), (True, False), (True, False), (True, False)]
    assert isinstance(outcomes[0].error, LookupError)
    assert len(account_locks(ran)) == 2, account_locks(ran)  # friend's, taken again after the rollback
    uses = await points_pool.fetch("SELECT type, envelope FROM outbox WHERE shop_id = $1 AND type IN"
                                   " ('offer.redeemed', 'offer.released', 'offer.issued') ORDER BY seq", shop)
    assert [(r["type"], r["envelope"]["data"]["customer_id"]) for r in uses] == [
        ("offer.issued", "friend"), ("offer.issued", "ann"), ("offer.redeemed", "friend"), ("offer.released", "friend")]
    offer = await points_pool.fetchrow("SELECT status, used_count FROM offers WHERE shop_id = $1 AND code = $2",
                                       shop, code)
    assert (offer["status"], offer["used_count"]) == ("ACTIVE", 0)  # given back by the cancellation
    account = await points_pool.fetchrow("SELECT pending FROM accounts WHERE shop_id = $1 AND customer_id = 'friend'",
                                         shop)
    assert account["pending"] == 0  # earned by the payment, taken back by the cancellation
    assert await points_pool.fetchval("SELECT count(*) FROM offers WHERE shop_id = $1 AND key = 'referral:ann'",
                                      shop) == 1
    recorded = await points_pool.fetch("SELECT event_id FROM inbox WHERE consumer = 'points' AND"
                                       " event_id = ANY($1::text[])", [e.id for e in envelopes])
    assert {r["event_id"] for r in recorded} == {e.id for e in envelopes[1:]}  # the failed one: retried later
