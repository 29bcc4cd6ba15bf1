"""A referrer's standing (counts, rewards, ambassador) against real Postgres (a throwaway database):
the standings of a whole page of referrers come from one query, and the program is read once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.referrals import referring
from services.referrals.schema import schema
from tests.integration.conftest import Statements, logged_pool, run_graphql, throwaway_database

CODE_AND_LINK = """query ($r: [_Any!]!) {
  _entities(representations: $r) { ... on Customer { referralCode referralLink } } }"""


@pytest.fixture(scope="module")
def statements() -> Statements:
    return Statements()


@pytest.fixture(scope="module")
async def referrals_pool(settings, statements):
    async with throwaway_database(settings, "referrals") as dsn, logged_pool(dsn, statements, max_size=4) as pool:
        yield pool


async def test_standings_of_many_referrers_take_one_query_and_one_program_read(referrals_pool, statements):
    shop = f"s-{uuid.uuid4().hex[:8]}"
    await referrals_pool.execute("INSERT INTO programs (shop_id, ambassador_threshold) VALUES ($1, 2)", shop)
    for friend, (referrer, status, amount) in enumerate([("anna", "CONVERTED", 20), ("anna", "CONVERTED", 30),
                                                         ("anna", "REJECTED", None), ("ben", "PENDING", None)]):
        await referrals_pool.execute(
            """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, status, reward_amount, currency)
               VALUES ($1, $2, $3, 'X', $4, $5, 'EUR')""", shop, referrer, f"f-{friend}", status, amount)
    async with statements.counted() as ran:
        anna, nobody, ben = await referring.standings(referrals_pool, shop, ["anna", "nobody", "ben"])
    assert (anna.invited, anna.converted, anna.rejected, anna.earned, anna.ambassador) == (3, 2, 1, Decimal(50), True)
    assert (ben.invited, ben.converted, ben.ambassador) == (1, 0, False)
    assert (nobody.invited, nobody.converted, nobody.earned, nobody.earned_points, nobody.currency) == (
        0, 0, Decimal(0), 0, "EUR")
    assert len([s for s in ran if "FROM referrals" in s]) == 1
    assert len([s for s in ran if "FROM programs" in s]) == 1
    assert not [s for s in ran if s.startswith("INSERT")], ran  # the program row exists: a read writes nothing


async def test_a_customers_referral_code_and_link_take_one_read_once_the_code_exists(referrals_pool, statements):
    """The rewards panel asks referralCode and referralLink: one statement for both (the request's
    loader), no transaction and no write once the customer has a code; the first read creates it."""
    shop = f"s-{uuid.uuid4().hex[:8]}"
    def anna_and_ben() -> dict:  # the schema takes the representations' __typename out
        return {"r": [{"__typename": "Customer", "id": "anna"}, {"__typename": "Customer", "id": "ben"}]}
    async with statements.counted() as first_read:
        first = await run_graphql(schema, referrals_pool, shop, CODE_AND_LINK, anna_and_ben())
    async with statements.counted() as ran:
        again = await run_graphql(schema, referrals_pool, shop, CODE_AND_LINK, anna_and_ben())
    assert first == again
    anna, ben = again["_entities"]
    assert anna["referralCode"] != ben["referralCode"]
    assert anna["referralLink"].endswith(anna["referralCode"])
    assert len([s for s in first_read if s.startswith("INSERT INTO referral_codes")]) == 2, first_read
    assert len(ran) == 1 and "FROM referral_codes" in ran[0], ran
