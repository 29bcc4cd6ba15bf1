"""A referrer's standing (counts, rewards, ambassador) against real Postgres (a throwaway database):
the standings of a whole page of referrers come from one query, and the program is read once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.referrals import referring
from shared.db import create_pool
from tests.integration.conftest import throwaway_database


@pytest.fixture(scope="module")
async def referrals_pool(settings):
    async with throwaway_database(settings, "referrals") as dsn:
        pool = await create_pool(dsn, max_size=4)
        yield pool
        await pool.close()


async def test_standings_of_many_referrers_take_one_query_and_one_program_read(referrals_pool):
    shop = f"s-{uuid.uuid4().hex[:8]}"
    await referrals_pool.execute("INSERT INTO programs (shop_id, ambassador_threshold) VALUES ($1, 2)", shop)
    for friend, (referrer, status, amount) in enumerate([("anna", "CONVERTED", 20), ("anna", "CONVERTED", 30),
                                                         ("anna", "REJECTED", None), ("ben", "PENDING", None)]):
        await referrals_pool.execute(
            """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, status, reward_amount, currency)
               VALUES ($1, $2, $3, 'X', $4, $5, 'EUR')""", shop, referrer, f"f-{friend}", status, amount)
    async with referrals_pool.acquire() as conn:
        statements: list[str] = []
        conn.add_query_logger(lambda record: statements.append(record.query))
        anna, nobody, ben = await referring.standings(conn, shop, ["anna", "nobody", "ben"])
    assert (anna.invited, anna.converted, anna.rejected, anna.earned, anna.ambassador) == (3, 2, 1, Decimal(50), True)
    assert (ben.invited, ben.converted, ben.ambassador) == (1, 0, False)
    assert (nobody.invited, nobody.converted, nobody.earned, nobody.earned_points, nobody.currency) == (
        0, 0, Decimal(0), 0, "EUR")
    assert len([s for s in statements if "FROM referrals" in s]) == 1
    assert len([s for s in statements if "FROM programs" in s]) == 1
