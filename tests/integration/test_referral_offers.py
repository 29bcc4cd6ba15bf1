"""The referred friend's offer, asked of the points service, against a real PostgreSQL: referrals is
fed the events the customers and points services send, through its own consumer. A sign-up with a
code asks for the friend's offer on the program's terms; offer.issued brings the code the friend's
API shows; offer.redeemed marks it used (an order naming the code no longer does); offer.released
gives it back; friend codes minted before are handed over keeping their code, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services.referrals import offers, store
from services.referrals.consumers import HANDLERS
from shared import events
from shared.db import SHARED_MIGRATIONS, create_pool, migrate
from shared.schedule import Job
from tests.integration.conftest import migrate_until, throwaway_database

REFERRALS = Path(__file__).resolve().parents[2] / "services" / "referrals" / "migrations"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def migrated(scratch_dsn):
    await migrate(scratch_dsn, [("referrals", REFERRALS)])


async def feed(pool: asyncpg.Pool, data: events.EventData, at: datetime = NOW) -> None:
    envelope = events.Envelope(id=str(uuid.uuid4()), source="flywheel/test", type=data.type, time=at,
                               dataversion=data.version, shop=data.shop, data=data.model_dump(mode="json"))
    async with pool.acquire() as conn, conn.transaction():
        await HANDLERS.dispatch(conn, envelope, envelope.payload())


async def published(pool: asyncpg.Pool, shop: str, type_: str) -> list[dict]:
    rows = await pool.fetch("SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2 ORDER BY seq", shop, type_)
    return [r["envelope"]["data"] for r in rows]


async def referred_friend(pool: asyncpg.Pool) -> tuple[str, str]:
    """Anna's friend Ben signs up with her code; returns (shop, the referral's id)."""
    shop = f"fo-{uuid.uuid4().hex[:8]}"
    await feed(pool, events.CustomerRegistered(shop=shop, customer_id="anna", email="anna@example.com",
                                               first_name="Anna"), NOW - timedelta(days=30))
    code = await pool.fetchval("SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = 'anna'", shop)
    await feed(pool, events.CustomerRegistered(shop=shop, customer_id="ben", email="ben@example.com",
                                               first_name="Ben", referral_code=code))
    referral = await pool.fetchval("SELECT id::text FROM referrals WHERE shop_id = $1 AND friend_id = 'ben'", shop)
    return shop, referral


def issued(shop: str, referral: str, **over) -> events.OfferIssued:
    return events.OfferIssued(**{
        "shop": shop, "offer_id": "of-1", "key": f"referral:{referral}", "code": "FLY-7K3M-9QXD-2HRB-T4VW",
        "source": "REFERRAL", "kind": "PERCENTAGE", "value": Decimal("20.00"), "currency": "EUR",
        "min_order": Decimal("12.00"), "starts_at": NOW, "expires_at": NOW + timedelta(days=30), "customer_id": "ben",
        "context": {"referral": referral, "opened_by": "signup"}, **over})


def redeemed(shop: str, referral: str, order_id: str) -> events.OfferRedeemed:
    facts = issued(shop, referral).model_dump(exclude={"context"})
    return events.OfferRedeemed(**facts, order_id=order_id, discount=Decimal("4.00"), exhausted=True)


async def test_a_sign_up_asks_for_the_friends_offer_and_offer_issued_brings_its_code(migrated, pool):
    shop, referral = await referred_friend(pool)
    asked = await published(pool, shop, "offer.requested")
    assert [(a["key"], a["source"], a["customer_id"], a["kind"], a["value"], a["min_order"], a["currency"],
             a["valid_days"], a["usage_limit"], a["code"], a["context"]) for a in asked] == [
        (f"referral:{referral}", "REFERRAL", "ben", "PERCENTAGE", "20", "12.00", "EUR", 30, 1, None,
         {"referral": referral, "opened_by": "signup"})]
    assert await store.offers.of_friend(pool, shop, "ben") is None  # no code before points issued one

    await feed(pool, issued(shop, referral))
    row = await store.offers.of_friend(pool, shop, "ben")
    assert (row["code"], row["offer_id"], row["percent_off"], row["min_order"], row["used_order"]) == (
        "FLY-7K3M-9QXD-2HRB-T4VW", "of-1", 20, Decimal("12.0000"), None)
    assert row["expires_at"] == NOW + timedelta(days=30)

    # Announced again (a replayed ask), or another offer under a key that is not this referral's: no change.
    await feed(pool, issued(shop, referral))
    await feed(pool, issued(shop, referral, offer_id="of-2", code="FLY-OTHER"))
    await feed(pool, issued(shop, referral, key="winback:ben:o-1:120", source="WINBACK", offer_id="of-3", code="X"))
    assert (await store.offers.of_friend(pool, shop, "ben"))["code"] == "FLY-7K3M-9QXD-2HRB-T4VW"
    # The sign-up event again asks for nothing more.
    assert len(await published(pool, shop, "offer.requested")) == 1


async def test_the_offer_is_used_by_the_order_that_redeemed_it_not_by_an_order_naming_it(migrated, pool):
    shop, referral = await referred_friend(pool)
    await feed(pool, issued(shop, referral))
    placed = events.OrderPlaced(shop=shop, order_id="o-1", customer_id="ben", currency="EUR", total=Decimal("20"),
                                net_amount=Decimal("16"), placed_at=NOW, discount_codes=["FLY-7K3M-9QXD-2HRB-T4VW"])
    await feed(pool, placed)
    assert (await store.offers.of_friend(pool, shop, "ben"))["used_order"] is None  # points decides, not the order
    await feed(pool, redeemed(shop, referral, "o-1"))
    await feed(pool, redeemed(shop, referral, "o-1"))
    assert (await store.offers.of_friend(pool, shop, "ben"))["used_order"] == "o-1"
    facts = issued(shop, referral).model_dump(exclude={"context"})
    # A release for another order changes nothing; the order's own release gives it back.
    await feed(pool, events.OfferReleased(**facts, order_id="o-9", reason="cancelled", usable=True))
    assert (await store.offers.of_friend(pool, shop, "ben"))["used_order"] == "o-1"
    await feed(pool, events.OfferReleased(**facts, order_id="o-1", reason="cancelled", usable=True))
    assert (await store.offers.of_friend(pool, shop, "ben"))["used_order"] is None


async def test_a_refused_offer_leaves_the_friend_without_a_code_and_says_why(migrated, pool):
    shop, referral = await referred_friend(pool)
    await feed(pool, events.OfferRefused(shop=shop, key=f"referral:{referral}", source="REFERRAL", customer_id="ben",
                                         reason="OVER_LIMIT: 60 % is over the program's 50 %",
                                         context={"referral": referral}))
    assert await store.offers.of_friend(pool, shop, "ben") is None
    assert await pool.fetchval("SELECT refused FROM friend_offers WHERE shop_id = $1", shop) == \
        "OVER_LIMIT: 60 % is over the program's 50 %"


async def test_an_erased_friends_offer_is_not_brought_back_by_a_late_issue(migrated, pool):
    shop, referral = await referred_friend(pool)
    await feed(pool, events.CustomerErased(shop=shop, customer_id="ben"))
    await feed(pool, issued(shop, referral))
    assert await pool.fetchval("SELECT count(*) FROM friend_offers WHERE shop_id = $1", shop) == 0


async def carry_over_job(pool: asyncpg.Pool, shop: str, job_id: int = 1) -> None:
    job = Job(id=job_id, shop=shop, kind=offers.CARRY_OVER_JOB, dedup_key="carry-over:test", due_at=NOW, payload={},
              attempts=0, final_attempt=False)
    async with pool.acquire() as conn, conn.transaction():
        await offers.carry_over(conn, job)


async def test_friend_codes_minted_before_are_handed_to_points_keeping_their_code_once(settings, tmp_path):
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "referrals", "0004", tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            ids = {}
            for friend, status in (("ben", "PENDING"), ("cleo", "CONVERTED"), ("dora", "PENDING"),
                                   ("emil", "REJECTED")):
                ids[friend] = await conn.fetchval(
                    """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, status)
                       VALUES ('s', 'anna', $1, 'ANNA0001', $2) RETURNING id""", friend, status)
            await conn.execute(
                """INSERT INTO friend_offers (shop_id, friend_id, referral_id, code, percent_off, used_order)
                   VALUES ('s', 'ben', $1, 'FBEN00001', 20, NULL), ('s', 'cleo', $2, 'FCLEO0001', 15, NULL),
                          ('s', 'dora', $3, 'FDORA0001', 20, 'o-7'), ('s', 'emil', $4, 'FEMIL0001', 20, NULL)""",
                ids["ben"], ids["cleo"], ids["dora"], ids["emil"])
        finally:
            await conn.close()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("referrals", REFERRALS)])
        pool = await create_pool(dsn, max_size=2)
        try:
            # The start-up catch-up schedules one job for the shop; the job hands over the unused codes
            # of open or converted referrals (not a used one, not a rejected referral's).
            async with pool.acquire() as c, c.transaction():
                assert await offers.schedule_carry_over(c) == 1
            assert await pool.fetchval(
                "SELECT count(*) FROM scheduled_jobs WHERE shop_id = 's' AND kind = $1", offers.CARRY_OVER_JOB) == 1
            await carry_over_job(pool, "s")
            asked = await published(pool, "s", "offer.requested")
            assert sorted((a["customer_id"], a["code"], a["value"], a["key"], a["context"]["opened_by"])
                          for a in asked) == [
                ("ben", "FBEN00001", "20", f"referral:{ids['ben']}", "carry_over"),
                ("cleo", "FCLEO0001", "15", f"referral:{ids['cleo']}", "carry_over")]
            assert all((a["min_order"], a["valid_days"]) == ("12.00", 30) for a in asked)
            # Again (a retried job, the next start): nothing more.
            await carry_over_job(pool, "s", job_id=2)
            async with pool.acquire() as c, c.transaction():
                assert await offers.schedule_carry_over(c) == 0
            assert len(await published(pool, "s", "offer.requested")) == 2
            # Points issues them with the same code: the friend's API keeps showing it.
            await feed(pool, issued("s", str(ids["ben"]), code="FBEN00001",
                                    context={"referral": str(ids["ben"]), "opened_by": "carry_over"}))
            row = await store.offers.of_friend(pool, "s", "ben")
            assert (row["code"], row["offer_id"]) == ("FBEN00001", "of-1")
        finally:
            await pool.close()
