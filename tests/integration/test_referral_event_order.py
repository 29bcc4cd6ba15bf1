"""The referrals consumer handles several messages at once and retries a failed one later, so the
events of one friend reach it in any order. Whatever that order, the referral must end the same:
these tests apply a friend's events through the service's own handlers in every permutation (or a
seeded sample of them) on a throwaway database and compare the outcome.

A CI run once lost a reversal this way: the refund was handled before the referral knew its order."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from services.referrals.consumers import HANDLERS
from shared import events
from shared.db import SHARED_MIGRATIONS, create_pool, migrate
from shared.events import Envelope
from tests.integration.conftest import migrate_until, throwaway_database

REFERRALS = Path(__file__).resolve().parents[2] / "services" / "referrals" / "migrations"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def migrated(scratch_dsn):
    await migrate(scratch_dsn, [("referrals", REFERRALS)])


class Friend:
    """Anna (with a code) and her friend Ben in a shop of their own; `event` builds Ben's events
    stamped with the time the customers service would have given them."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self.shop = f"order-{uuid.uuid4().hex[:10]}"
        self.code = ""

    async def setup(self) -> Friend:
        await self.apply(self.registered("anna", at=T0 - timedelta(days=30)))
        self.code = await self.pool.fetchval(
            "SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = 'anna'", self.shop)
        return self

    def envelope(self, data: events.EventData, at: datetime) -> Envelope:
        return Envelope(id=str(uuid.uuid4()), source="flywheel/customers", type=data.type, time=at,
                        dataversion=data.version, shop=self.shop, data=data.model_dump(mode="json"))

    def registered(self, customer: str, *, at: datetime, code: str | None = None) -> Envelope:
        return self.envelope(events.CustomerRegistered(
            shop=self.shop, customer_id=customer, email=f"{customer}@example.com", first_name=customer.title(),
            referral_code=code), at)

    def order(self, kind: str, order_id: str, *, at: datetime, net: str = "45.00", **extra) -> Envelope:
        model = {"placed": events.OrderPlaced, "paid": events.OrderPaid, "delivered": events.OrderDelivered,
                 "refunded": events.OrderRefunded, "cancelled": events.OrderCancelled}[kind]
        return self.envelope(model(shop=self.shop, order_id=order_id, customer_id="ben", currency="EUR",
                                   total=Decimal("57.40"), net_amount=Decimal(net), placed_at=T0, **extra), at)

    async def apply(self, envelope: Envelope) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await HANDLERS.dispatch(conn, envelope, envelope.payload())

    async def outcome(self) -> dict:
        referral = await self.pool.fetchrow("SELECT * FROM referrals WHERE shop_id = $1 AND friend_id = 'ben'",
                                            self.shop)
        jobs = await self.pool.fetch(
            "SELECT dedup_key FROM scheduled_jobs WHERE shop_id = $1 AND status = 'pending'", self.shop)
        published = await self.pool.fetch("SELECT type FROM outbox WHERE shop_id = $1 ORDER BY id", self.shop)
        pending = referral["status"] == "PENDING"
        paid_net = await self.pool.fetchval(
            "SELECT paid_net FROM friend_orders WHERE shop_id = $1 AND customer_id = 'ben' AND order_id = $2",
            self.shop, referral["order_id"])
        return {  # what was noted of the order on the way matters only while the referral is open
            "status": referral["status"], "reason": referral["rejection_reason"],
            "order": referral["order_id"] if referral["status"] != "REJECTED" else None,
            "paid": (paid_net is not None, paid_net) if pending else None,
            "jobs": sorted(j["dedup_key"].split(":", 1)[1] for j in jobs),
            # the friend's offer is asked for with the sign-up (test_referral_offers.py follows it)
            "decisions": sorted(e["type"] for e in published
                                if e["type"] not in ("referral.signed_up", "offer.requested")),
        }


async def outcomes(pool, build, *, sample: int | None = None, seed: int = 7,
                   before: tuple[int, int] | None = None) -> dict[tuple, list[str]]:
    """Apply the events `build(friend)` returns in every order (or `sample` seeded orders; `before`
    keeps only the orders handling one event before another); map each distinct outcome to the
    orders that gave it."""
    shape = build(await Friend(pool).setup())
    orders = list(itertools.permutations(range(len(shape))))
    if before is not None:
        orders = [o for o in orders if o.index(before[0]) < o.index(before[1])]
    if sample is not None:
        orders = random.Random(seed).sample(orders, sample)
    seen: dict[tuple, list[str]] = {}
    for order in orders:
        friend = await Friend(pool).setup()
        sent = build(friend)
        for index in order:
            await friend.apply(sent[index])
        result = await friend.outcome()
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in result.items())
        seen.setdefault(key, []).append(" ".join(sent[i].type.split(".")[-1] for i in order))
    return seen


def only(seen: dict[tuple, list[str]]) -> dict:
    assert len(seen) == 1, "the outcome depends on arrival order:\n" + "\n".join(
        f"{dict(k)} <- e.g. {v[0]} ({len(v)} orders)" for k, v in seen.items())
    return {k: list(v) if isinstance(v, tuple) else v for k, v in next(iter(seen))}


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_a_full_refund_reverses_whatever_the_arrival_order(migrated, pool):
    def build(f: Friend):
        return [f.registered("ben", at=t(0), code=f.code), f.order("placed", "o1", at=t(1)),
                f.order("paid", "o1", at=t(2)), f.order("delivered", "o1", at=t(3)),
                f.order("refunded", "o1", at=t(4), net="0.00", refunded_amount=Decimal("45.00"),
                        fully_refunded=True)]
    result = only(await outcomes(pool, build))
    assert result["status"] == "REVERSED" and result["order"] == "o1"
    assert result["jobs"] == [] and result["decisions"] == ["referral.reversed"]


async def test_a_cancellation_reverses_whatever_the_arrival_order(migrated, pool):
    def build(f: Friend):
        return [f.registered("ben", at=t(0), code=f.code), f.order("placed", "o1", at=t(1)),
                f.order("paid", "o1", at=t(2)), f.order("cancelled", "o1", at=t(3))]
    result = only(await outcomes(pool, build))
    assert (result["status"], result["jobs"], result["decisions"]) == ("REVERSED", [], ["referral.reversed"])


async def test_paid_and_delivered_start_one_return_window_whatever_the_order(migrated, pool):
    def build(f: Friend):
        return [f.registered("ben", at=t(0), code=f.code), f.order("placed", "o1", at=t(1)),
                f.order("paid", "o1", at=t(2)), f.order("delivered", "o1", at=t(3)),
                f.order("refunded", "o1", at=t(4), net="40.00", refunded_amount=Decimal("5.00"),
                        fully_refunded=False)]  # a small partial refund leaves 40.00, over the minimum
    result = only(await outcomes(pool, build))
    assert result == {"status": "PENDING", "reason": None, "order": "o1", "paid": [True, Decimal("45.0000")],
                      "jobs": ["o1"], "decisions": []}


async def test_the_first_order_counts_even_when_a_later_one_is_seen_first(migrated, pool):
    """The referral moves to the first order when that one's events come after a later order's.
    Limit: a decision taken on the later order before the first one is seen at all (here: its
    payment below the minimum) stands, so that order's payment is kept after the first one's
    placing; every other arrival order is sampled."""
    def build(f: Friend):
        return [f.registered("ben", at=t(0), code=f.code), f.order("placed", "o1", at=t(1)),
                f.order("paid", "o1", at=t(2)), f.order("delivered", "o1", at=t(3)),
                f.order("placed", "o2", at=t(5)), f.order("paid", "o2", at=t(6), net="8.00")]
    result = only(await outcomes(pool, build, sample=80, before=(1, 5)))
    assert result == {"status": "PENDING", "reason": None, "order": "o1", "paid": [True, Decimal("45.0000")],
                      "jobs": ["o1"], "decisions": []}


async def test_an_order_from_before_the_sign_up_makes_the_friend_not_new(migrated, pool):
    def build(f: Friend):
        return [f.order("placed", "o0", at=t(-60)), f.registered("ben", at=t(0), code=f.code),
                f.order("placed", "o1", at=t(1)), f.order("paid", "o1", at=t(2))]
    result = only(await outcomes(pool, build))
    assert (result["status"], result["reason"], result["jobs"]) == ("REJECTED", "NOT_NEW", [])
    assert result["decisions"] == ["referral.rejected"]


async def test_a_code_on_the_order_follows_that_order(migrated, pool):
    def build(f: Friend):
        return [f.registered("ben", at=t(0)), f.order("placed", "o1", at=t(1), referral_code=f.code.lower()),
                f.order("paid", "o1", at=t(2), referral_code=f.code), f.order("delivered", "o1", at=t(3))]
    result = only(await outcomes(pool, build))
    assert result == {"status": "PENDING", "reason": None, "order": "o1", "paid": [True, Decimal("45.0000")],
                      "jobs": ["o1"], "decisions": []}


async def test_an_order_below_the_minimum_is_rejected_whatever_the_order(migrated, pool):
    def build(f: Friend):
        return [f.registered("ben", at=t(0), code=f.code), f.order("placed", "o1", at=t(1), net="9.00"),
                f.order("paid", "o1", at=t(2), net="9.00"), f.order("delivered", "o1", at=t(3), net="9.00")]
    result = only(await outcomes(pool, build))
    assert (result["status"], result["reason"], result["jobs"]) == ("REJECTED", "ORDER_TOO_SMALL", [])


async def test_referrals_open_before_the_migration_keep_their_order_and_state(settings, tmp_path):
    """Migration 0003 turns what 0002 remembered into order facts without moving any referral: a
    paid, delivered one waiting out its window stays on its order when the friend's next order comes;
    one still waiting for its order binds to the first order seen after."""
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "referrals", "0003", tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                """INSERT INTO customer_facts (shop_id, customer_id, order_ids, delivered_order_ids)
                   VALUES ('s', 'ben', '{a9,o1}', '{o1}'), ('s', 'cleo', '{}', '{}')""")
            await conn.execute(
                """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, order_id, order_paid, order_net,
                                          currency, convert_due, created_at)
                   VALUES ('s', 'anna', 'ben', 'X', 'o1', true, 45, 'EUR', now() + interval '9 days',
                           now() - interval '20 days'),
                          ('s', 'anna', 'cleo', 'X', NULL, false, NULL, NULL, NULL, now() - interval '2 days')""")
        finally:
            await conn.close()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("referrals", REFERRALS)])
        pool = await create_pool(dsn, max_size=2)
        try:
            facts = {(r["customer_id"], r["order_id"]): (r["paid_net"], r["delivered"])
                     for r in await pool.fetch("SELECT * FROM friend_orders WHERE shop_id = 's'")}
            assert facts == {("ben", "o1"): (Decimal("45.0000"), True), ("ben", "a9"): (None, False)}
            friend = Friend(pool)
            friend.shop = "s"
            await friend.apply(friend.order("placed", "o10", at=datetime.now(UTC)))
            ben = await pool.fetchrow("SELECT * FROM referrals WHERE shop_id = 's' AND friend_id = 'ben'")
            assert (ben["status"], ben["order_id"], ben["order_paid"]) == ("PENDING", "o1", True)
            envelope = friend.order("placed", "c1", at=datetime.now(UTC))
            cleo_order = envelope.model_copy(update={"data": {**envelope.data, "customer_id": "cleo"}})
            await friend.apply(cleo_order)
            cleo = await pool.fetchrow("SELECT * FROM referrals WHERE shop_id = 's' AND friend_id = 'cleo'")
            assert (cleo["status"], cleo["order_id"]) == ("PENDING", "c1")
        finally:
            await pool.close()
