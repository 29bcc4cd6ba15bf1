"""Program configuration through the gateway: defaults per shop, versions, the margin ceiling,
public tiers, the liability report, and bad input that changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.points_support import CONFIGURE, new_shop
from tests.stack import INGEST, codes, customer_token

PROGRAM = """{ program { version earnRate pendingDays effectiveCashback withinBand tierPeriodDays nearTierPercent
  expiryWarningDays socialSharesPerDay tiers { id name } } }"""
TIERS = "{ tiers { name threshold { amount currency } multiplier perks } }"
LIABILITY = "{ programLiability { amount currency } }"


async def test_a_new_shop_starts_with_the_default_program_and_public_tiers(gql):
    shop = await new_shop(gql)
    program = (await gql.ok(PROGRAM, headers=shop.admin))["program"]
    # 1 × 1.5 × 0.025 = 3.75 %: inside the sustainable band of 3–5 % (issue 19, item 9)
    assert program == {"version": 1, "earnRate": "1", "pendingDays": 14, "effectiveCashback": "0.0375",
                       "withinBand": True, "tierPeriodDays": 365, "nearTierPercent": "15", "expiryWarningDays": 30,
                       "socialSharesPerDay": 3,
                       "tiers": [{"id": "Bronze", "name": "Bronze"}, {"id": "Silver", "name": "Silver"},
                                 {"id": "Gold", "name": "Gold"}]}
    tiers = (await gql.ok(TIERS, headers={"x-shop": shop.id}))["tiers"]
    assert tiers[0] == {"name": "Bronze", "threshold": {"amount": "0.00", "currency": "EUR"}, "multiplier": "1",
                        "perks": []}
    assert tiers[2]["multiplier"] == "1.5" and "free shipping" in tiers[2]["perks"]


async def test_configuring_makes_a_new_version_and_the_tiers_follow(gql):
    shop = await new_shop(gql)
    program = await shop.configure(pointValue="0.02", pendingDays=7, actionRewards={"review": 80},
                                   tiers=[{"name": "Fan", "threshold": "0", "multiplier": "1"},
                                          {"name": "Star", "threshold": "250", "multiplier": "2", "perks": ["gift"]}])
    assert program["version"] == 2 and program["effectiveCashback"] == "0.04"
    assert program["actionRewards"] == {"signup": 0, "review": 80, "mediaReview": 100}
    tiers = (await gql.ok(TIERS, headers={"x-shop": shop.id}))["tiers"]
    assert [(t["name"], t["threshold"]["amount"], t["perks"]) for t in tiers] == [
        ("Fan", "0.00", []), ("Star", "250.00", ["gift"])]


async def test_the_tier_period_nudge_share_and_expiry_warning_are_the_shops_to_change(gql):
    """Issue 19, item 8: per shop, validated, a new version like every program change."""
    shop = await new_shop(gql)
    program = await shop.configure(tierPeriodDays=180, nearTierPercent="20", expiryWarningDays=14)
    assert program["version"] == 2
    read = (await gql.ok(PROGRAM, headers=shop.admin))["program"]
    assert (read["tierPeriodDays"], read["nearTierPercent"], read["expiryWarningDays"]) == (180, "20", 14)
    other = (await gql.ok(PROGRAM, headers=(await new_shop(gql)).admin))["program"]
    assert other["tierPeriodDays"] == 365  # another shop keeps the default


async def test_a_program_above_the_cashback_ceiling_is_refused_unless_forced(gql):
    shop = await new_shop(gql)
    body = await gql(CONFIGURE, {"input": {"earnRate": "2"}}, shop.admin)  # 2 × 1.5 × 0.025 = 7.5 %
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "ceiling" in body["errors"][0]["message"] and body["errors"][0]["extensions"]["effectiveCashback"]
    assert (await gql.ok(PROGRAM, headers=shop.admin))["program"]["version"] == 1
    forced = await shop.configure(earnRate="2", force=True)
    assert forced["version"] == 2 and Decimal(forced["effectiveCashback"]) == Decimal("0.075")


@pytest.mark.parametrize("program", [
    {"earnRate": "-1"}, {"earnRate": "0.5x"}, {"earnRate": "1e30"}, {"pointValue": "0"}, {"currency": "EURO"},
    {"pendingDays": -1}, {"expiryMonths": 100000}, {"tiers": []},
    {"tiers": [{"name": "A", "threshold": "10", "multiplier": "1"}]},
    {"tiers": [{"name": "x" * 500, "threshold": "0", "multiplier": "1"}]},
    {"tiers": [{"name": "A", "threshold": "0", "multiplier": "1"},
               {"name": "B", "threshold": "-1", "multiplier": "1"}]},
    {"actionRewards": {"review": -10}}, {"actionRewards": {"signup": 10**9}}, {"tierPeriodDays": 10},
    {"nearTierPercent": "150"}, {"expiryWarningDays": 0}, {"socialSharesPerDay": 101},
], ids=lambda p: f"{next(iter(p))}={next(iter(p.values()))}"[:40])
async def test_bad_programs_change_nothing(gql, program):
    shop = await new_shop(gql)
    assert codes(await gql(CONFIGURE, {"input": program}, shop.admin)) == ["BAD_USER_INPUT"]
    assert (await gql.ok(PROGRAM, headers=shop.admin))["program"]["version"] == 1


async def test_only_admins_configure(gql):
    shop = await new_shop(gql)
    assert codes(await gql(CONFIGURE, {"input": {"earnRate": "1"}}, customer_token("c", shop=shop.id))) == [
        "FORBIDDEN"]
    assert codes(await gql(CONFIGURE, {"input": {"earnRate": "1"}}, INGEST)) == ["FORBIDDEN"]
    assert codes(await gql(CONFIGURE, {"input": {"earnRate": "1"}})) == ["UNAUTHENTICATED"]
    assert codes(await gql(LIABILITY, headers=customer_token("c", shop=shop.id))) == ["FORBIDDEN"]


async def test_liability_is_outstanding_points_times_their_value(gql):
    shop = await new_shop(gql, pointValue="0.02")
    assert (await gql.ok(LIABILITY, headers=shop.admin))["programLiability"] == {"amount": "0.00",
                                                                                "currency": "EUR"}
    a, b = await shop.new_customer(), await shop.new_customer()
    await shop.adjust(a, 1000)
    await shop.order(b, "PAID")
    await shop.until(b, "pending", pending=45)
    assert (await gql.ok(LIABILITY, headers=shop.admin))["programLiability"] == {"amount": "20.90",
                                                                                "currency": "EUR"}
