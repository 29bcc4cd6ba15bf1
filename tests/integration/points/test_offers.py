"""Offers on a throwaway database, below the gateway: a single-use code raced by 20 checkouts,
redeeming idempotently per order (redeemCode and order.placed alike), codes given back by a
cancellation, offer.requested issuing once per key, reward codes as offers, and what offerPerformance
counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.loyalty import adjustment, configuration, redemption
from services.points.loyalty.program import ProgramChange
from services.points.offers import checkout, discounts, issuing, performance
from services.points.offers.settings import SettingsChange
from services.points.offers.terms import Ask, Refusal
from shared import events
from shared.db import transaction
from shared.errors import Conflict, NotFound
from tests.integration.points.conftest import handle, new_shop, paid

D = Decimal


def cart(subtotal: str = "20.00", customer_id: str | None = "friend", currency: str = "EUR",
         shipping: str | None = None) -> discounts.Cart:
    return discounts.cart(currency=currency, subtotal=subtotal, shipping_total=shipping, customer_id=customer_id,
                          lines=None)


async def referral_offer(pool, shop: str, customer_id: str = "friend", **over):
    await handle(pool, events.OfferRequested(shop=shop, key=f"referral:{customer_id}", source="REFERRAL",
                                             customer_id=customer_id, context={"referral": "r-1"}, **over))
    return await pool.fetchrow("SELECT * FROM offers WHERE shop_id = $1 AND key = $2", shop, f"referral:{customer_id}")


async def outbox(pool, shop: str, event_type: str) -> list[dict]:
    rows = await pool.fetch("SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2 ORDER BY seq", shop,
                            event_type)
    return [r["envelope"]["data"] for r in rows]


async def test_twenty_checkouts_racing_for_a_single_use_code_make_exactly_one_winner(points_pool):
    shop = new_shop()
    offer = await referral_offer(points_pool, shop)
    answers = await asyncio.gather(*(
        checkout.redeem(points_pool, shop, offer["code"], f"o-{i}", cart()) for i in range(20)))
    winners = [i for i, a in enumerate(answers) if a.valid]
    assert len(winners) == 1 and sorted(a.reason for a in answers if not a.valid) == ["USED"] * 19
    assert answers[winners[0]].discount == D("4.00")
    row = await points_pool.fetchrow("SELECT * FROM offers WHERE shop_id = $1 AND id = $2", shop, offer["id"])
    assert (row["used_count"], row["status"]) == (1, "REDEEMED")
    assert await points_pool.fetchval("SELECT count(*) FROM offer_uses WHERE shop_id = $1", shop) == 1
    redeemed = await outbox(points_pool, shop, "offer.redeemed")
    assert [(e["order_id"], e["discount"], e["exhausted"]) for e in redeemed] == [(f"o-{winners[0]}", "4.00", True)]

    again = await checkout.redeem(points_pool, shop, offer["code"].lower(), f"o-{winners[0]}", cart("99.00"))
    assert (again.valid, again.discount) == (True, D("4.00"))  # the same order: the same answer
    other = await checkout.redeem(points_pool, shop, offer["code"], "o-late", cart())
    assert (other.valid, other.reason) == (False, "USED")
    assert len(await outbox(points_pool, shop, "offer.redeemed")) == 1


async def test_a_check_changes_nothing_and_refusals_change_nothing(points_pool):
    shop = new_shop()
    offer = await referral_offer(points_pool, shop)
    before = await points_pool.fetchval("SELECT count(*) FROM outbox WHERE shop_id = $1", shop)
    ok = await checkout.check(points_pool, shop, offer["code"], cart(), "friend")
    assert (ok.valid, ok.discount, ok.free_shipping) == (True, D("4.00"), False)
    assert (await checkout.check(points_pool, shop, offer["code"], cart("11.99"), "friend")).reason == "MIN_ORDER"
    assert (await checkout.check(points_pool, shop, offer["code"], cart(currency="CHF"), "friend")).reason == (
        "WRONG_CURRENCY")
    stranger = await checkout.check(points_pool, shop, offer["code"], cart(), "stranger")
    assert (stranger.reason, stranger.offer) == ("WRONG_CUSTOMER", None)  # another customer's offer stays hidden
    assert (await checkout.check(points_pool, new_shop(), offer["code"], cart(), "friend")).reason == "UNKNOWN"
    for refused in ("11.99", "20.00"):
        who = "friend" if refused == "11.99" else "stranger"
        answer = await checkout.redeem(points_pool, shop, offer["code"], "o-1", cart(refused, who))
        assert not answer.valid
    row = await points_pool.fetchrow("SELECT used_count, status FROM offers WHERE shop_id = $1", shop)
    assert tuple(row) == (0, "ACTIVE")
    assert await points_pool.fetchval("SELECT count(*) FROM offer_uses WHERE shop_id = $1", shop) == 0
    assert await points_pool.fetchval("SELECT count(*) FROM outbox WHERE shop_id = $1", shop) == before


async def test_an_order_placed_with_codes_uses_them_once_and_its_cancellation_gives_them_back(points_pool):
    shop = new_shop()
    offer = await referral_offer(points_pool, shop)
    async with transaction(points_pool) as conn:  # a shareable 20 % code
        other = await issuing.issue(conn, shop, Ask(key="promo", source="MANUAL", kind="PERCENTAGE", value=D(20)))
    placed = events.OrderPlaced(
        shop=shop, order_id="o-1", customer_id="friend", currency="EUR", total=D("20.90"), net_amount=D("16.00"),
        placed_at=datetime.now(UTC), lines=[events.OrderLine(product_id="p", quantity=2, unit_price=D("10.00"))],
        discount_codes=[offer["code"].lower(), other["code"], "SHOPIFY-SUMMER"], shipping_total=D("4.90"),
        discount_total=D("3.00"))
    same = await checkout.redeem(points_pool, shop, offer["code"], "o-1", cart())  # the checkout redeemed it first
    await handle(points_pool, placed)
    await handle(points_pool, placed)  # a replay under a new event id
    redeemed = await outbox(points_pool, shop, "offer.redeemed")
    assert same.valid and sorted((e["code"], e["order_id"], e["discount"]) for e in redeemed) == sorted([
        (offer["code"], "o-1", "4.00"),  # what the checkout got; the order changes nothing
        (other["code"], "o-1", "3.00")])  # 20 % of the lines' 20.00, at most the order's discount total
    for code in (offer["code"], other["code"]):
        assert (await checkout.redeem(points_pool, shop, code, "o-2", cart())).reason == "USED"

    await handle(points_pool, events.OrderCancelled(shop=shop, order_id="o-1", customer_id="friend", currency="EUR",
                                                    total=D("20.90"), net_amount=D("16.00"),
                                                    placed_at=placed.placed_at))
    released = await outbox(points_pool, shop, "offer.released")
    assert sorted((e["code"], e["order_id"], e["reason"], e["usable"]) for e in released) == sorted([
        (offer["code"], "o-1", "cancelled", True), (other["code"], "o-1", "cancelled", True)])
    assert (await checkout.redeem(points_pool, shop, offer["code"], "o-2", cart())).valid  # usable again


async def test_a_cancellation_keeps_an_expired_code_used_and_the_setting_can_keep_every_code(points_pool):
    shop = new_shop()
    expired, kept = await referral_offer(points_pool, shop, "a"), await referral_offer(points_pool, shop, "b")
    for offer, who, order in ((expired, "a", "o-a"), (kept, "b", "o-b")):
        assert (await checkout.redeem(points_pool, shop, offer["code"], order, cart(customer_id=who))).valid
    await points_pool.execute(
        "UPDATE offers SET expires_at = now() - interval '1 minute' WHERE shop_id = $1 AND id = $2",
        shop, expired["id"])
    await handle(points_pool, events.OrderCancelled(shop=shop, order_id="o-a", customer_id="a", currency="EUR",
                                                    total=D(20), net_amount=D(20), placed_at=datetime.now(UTC)))
    assert await outbox(points_pool, shop, "offer.released") == []  # expired: stays used
    await configuration.configure(points_pool, shop, ProgramChange(
        offers=SettingsChange(restore_codes_on_cancel=False)), "admin")
    await handle(points_pool, events.OrderRefunded(shop=shop, order_id="o-b", customer_id="b", currency="EUR",
                                                   total=D(20), net_amount=D(0), placed_at=datetime.now(UTC),
                                                   refunded_amount=D(20), fully_refunded=True))
    assert await outbox(points_pool, shop, "offer.released") == []  # the merchant keeps codes used
    assert (await checkout.redeem(points_pool, shop, kept["code"], "o-c", cart(customer_id="b"))).reason == "USED"


async def test_release_code_gives_back_an_unpaid_orders_code_once_and_refuses_a_paid_one(points_pool):
    shop = new_shop()
    offer = await referral_offer(points_pool, shop)
    with pytest.raises(NotFound):
        await checkout.release(points_pool, shop, offer["code"], "o-1")
    await checkout.redeem(points_pool, shop, offer["code"], "o-1", cart())
    row = await checkout.release(points_pool, shop, offer["code"], "o-1")
    again = await checkout.release(points_pool, shop, offer["code"], "o-1")
    assert (row["status"], row["used_count"], again["used_count"]) == ("ACTIVE", 0, 0)
    assert len(await outbox(points_pool, shop, "offer.released")) == 1
    assert (await checkout.redeem(points_pool, shop, offer["code"], "o-2", cart())).valid
    await handle(points_pool, paid(shop, "friend", "o-2", "20"))
    with pytest.raises(Conflict):
        await checkout.release(points_pool, shop, offer["code"], "o-2")


async def test_a_request_issues_once_per_key_and_a_refusal_says_why(points_pool):
    shop = new_shop()
    first = await referral_offer(points_pool, shop)
    await handle(points_pool, events.OfferRequested(shop=shop, key="referral:friend", source="REFERRAL",
                                                    customer_id="friend", value=D(30), context={"delivery": "d-2"}))
    issued = await outbox(points_pool, shop, "offer.issued")
    assert [(e["code"], e["value"], e["context"]) for e in issued] == [
        (first["code"], "20.00", {"referral": "r-1"}), (first["code"], "20.00", {"delivery": "d-2"})]
    assert await points_pool.fetchval("SELECT count(*) FROM offers WHERE shop_id = $1", shop) == 1

    await handle(points_pool, events.OfferRequested(shop=shop, key="winback:c:1:120", source="WINBACK",
                                                    customer_id="c", value=D(80), context={"delivery": "d-3"}))
    await handle(points_pool, events.OfferRequested(shop=shop, key="carried", source="REFERRAL", code=first["code"]))
    refused = await outbox(points_pool, shop, "offer.refused")
    assert [(e["key"], e["reason"].split(":")[0], e["context"]) for e in refused] == [
        ("winback:c:1:120", "OVER_LIMIT", {"delivery": "d-3"}), ("carried", "CODE_TAKEN", {})]

    carried = await referral_offer(points_pool, shop, "ben", code="ben-friend-20")
    assert (carried["code"], carried["code_key"]) == ("BEN-FRIEND-20", "BENFRIEND20")
    assert (await checkout.check(points_pool, shop, "benfriend20", cart(customer_id="ben"), "ben")).valid
    with pytest.raises(Refusal):
        await issuing.issue_manual(points_pool, shop, Ask(key="manual:x", source="MANUAL", value=D(500)))


async def test_reward_codes_are_offers_and_validate_reward_code_uses_the_offer(points_pool):
    shop = new_shop()
    await adjustment.adjust_points(points_pool, shop, "anna", 1000, "to spend", "start")
    got = await redemption.redeem(points_pool, shop, "anna", "r-5-off", "k-1")
    offer = await points_pool.fetchrow("SELECT * FROM offers WHERE shop_id = $1", shop)
    assert (offer["code"], offer["source"], offer["kind"], offer["value"], offer["redemption_id"]) == (
        got.redemption["code"], "REWARD", "FIXED_AMOUNT", D(5), got.redemption["id"])
    assert offer["expires_at"] == got.redemption["expires_at"]
    checked = await checkout.check(points_pool, shop, got.redemption["code"], cart("3.50", "anna"), "anna")
    assert (checked.valid, checked.discount) == (True, D("3.50"))  # never more than the cart
    check, used = await redemption.use_code(points_pool, shop, got.redemption["code"])
    assert check.valid and used is not None and used.redemption["used_at"] is not None
    assert (await checkout.check(points_pool, shop, got.redemption["code"], cart(), "anna")).reason == "USED"
    assert (await redemption.use_code(points_pool, shop, got.redemption["code"]))[0].reason == "USED"


async def test_offer_performance_counts_the_orders_that_used_offers_per_source(points_pool):
    shop = new_shop()
    start = datetime.now(UTC) - timedelta(minutes=1)
    used = await referral_offer(points_pool, shop, "a")
    await referral_offer(points_pool, shop, "b")
    async with transaction(points_pool) as conn:
        await issuing.issue(conn, shop, Ask(key="winback:c:1:120", source="WINBACK", customer_id="c"))
    assert (await checkout.redeem(points_pool, shop, used["code"], "o-a", cart("50.00", "a"))).discount == D("10.00")
    await handle(points_pool, paid(shop, "a", "o-a", "45.00"))
    rows, currency = await performance.performance(points_pool, shop, start, datetime.now(UTC) + timedelta(minutes=1))
    assert currency == "EUR"
    assert [(r.source, r.issued, r.redeemed, r.redemption_rate, r.revenue, r.cost, r.cost_share) for r in rows] == [
        ("REFERRAL", 2, 1, 50.0, D("45.00"), D("10.00"), 22.22), ("WINBACK", 1, 0, 0.0, D(0), D(0), 0.0)]
