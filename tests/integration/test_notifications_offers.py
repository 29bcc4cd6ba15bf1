"""Messages that carry an offer, against a real PostgreSQL (a throwaway database with the
notifications migrations), fed the events the points service sends through the service's own
consumer: a due win-back mail asks for its offer and waits, never sent without it; offer.issued
releases it with the code, offer.refused cancels it, a replayed answer changes nothing; the referred
friend's welcome follows the friend's issued offer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.notifications import consumers, delivery, policy, store
from services.notifications.links import Links
from shared import events
from shared.db import create_pool
from shared.schedule import Job
from tests.integration.conftest import throwaway_database

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def offers_pool(settings):
    async with throwaway_database(settings, "notifications") as dsn:
        pool = await create_pool(dsn, max_size=6)
        yield pool
        await pool.close()


class FakeSenders:
    """Stands in for the channels: records what would have gone out."""

    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, message, config) -> None:
        self.sent.append(message)


class Shop:
    def __init__(self, pool, locale: str = "en") -> None:
        self.pool = pool
        self.id = f"s-{uuid.uuid4().hex[:8]}"
        self.customer = "c-1"
        self.locale = locale
        self.senders = FakeSenders()
        self.job = delivery.send_job(Links("test-secret-" + "x" * 32, "http://n.test"), self.senders)

    async def setup(self) -> Shop:
        async with self.pool.acquire() as conn:
            await store.save_contact(conn, self.id, self.customer, email="anna@example.com", first_name="Anna",
                                     locale=self.locale, timezone="Europe/Berlin", accepts_email=True,
                                     accepts_sms=False, accepts_whatsapp=False, phone=None)
        return self

    async def feed(self, data: events.EventData, at: datetime = NOW) -> None:
        """An event through the service's own consumer, in an inbox-like transaction."""
        envelope = events.Envelope(id=str(uuid.uuid4()), source="flywheel/test", type=data.type, time=at,
                                   dataversion=data.version, shop=self.id, data=data.model_dump(mode="json"))
        async with self.pool.acquire() as conn, conn.transaction():
            await consumers.HANDLERS.dispatch(conn, envelope, envelope.payload())

    async def time_passes(self, delta: timedelta) -> None:
        """Everything this shop planned or noted moves `delta` into the past."""
        await self.pool.execute(
            """UPDATE deliveries SET due_at = due_at - $2::interval, offer_asked_at = offer_asked_at - $2::interval
               WHERE shop_id = $1""", self.id, delta)
        await self.pool.execute("UPDATE scheduled_jobs SET due_at = due_at - $2::interval WHERE shop_id = $1",
                                self.id, delta)

    async def run_due_jobs(self) -> int:
        """What the scheduler would run now: each due send job, in a transaction of its own."""
        rows = await self.pool.fetch(
            """SELECT * FROM scheduled_jobs WHERE shop_id = $1 AND kind = $2 AND status = 'pending'
                 AND due_at <= now() ORDER BY id""", self.id, delivery.SEND_JOB)
        for r in rows:
            job = Job(id=r["id"], shop=r["shop_id"], kind=r["kind"], dedup_key=r["dedup_key"], due_at=r["due_at"],
                      payload=r["payload"], attempts=r["attempts"], final_attempt=False)
            async with self.pool.acquire() as conn, conn.transaction():
                await self.job(conn, job)
                await conn.execute("UPDATE scheduled_jobs SET status = 'done' WHERE id = $1", r["id"])
        return len(rows)

    async def message(self, step: str):
        """The first message of the step (a later purchase plans another series)."""
        return await self.pool.fetchrow(
            "SELECT * FROM deliveries WHERE shop_id = $1 AND step_key = $2 ORDER BY created_at, triggered_at LIMIT 1",
            self.id, step)

    async def published(self, type_: str) -> list[dict]:
        rows = await self.pool.fetch("SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2 ORDER BY seq",
                                     self.id, type_)
        return [r["envelope"]["data"] for r in rows]

    async def winback_due(self) -> str:
        """A purchase 120 days and an hour ago: the day-120 step fell due an hour ago (the earlier ones
        are long overdue and not sent). Returns the day-120 message."""
        placed = events.OrderPlaced(shop=self.id, order_id="o-1", customer_id=self.customer, currency="EUR",
                                    total=Decimal("57.40"), net_amount=Decimal("45.00"),
                                    placed_at=NOW - timedelta(days=120, hours=1))
        await self.feed(placed, at=NOW)
        # Only the 10 % step is of interest here: the earlier ones are taken out of the way.
        await self.pool.execute(
            """UPDATE deliveries SET status = 'CANCELLED' WHERE shop_id = $1 AND step_key <> 'discount_10'""", self.id)
        return str((await self.message("discount_10"))["id"])

    def issued(self, delivery_id: str, key: str, **over) -> events.OfferIssued:
        fields = {"shop": self.id, "offer_id": "of-1", "key": key, "code": "FLY-7K3M-9QXD-2HRB-T4VW",
                  "source": "WINBACK", "kind": "PERCENTAGE", "value": Decimal("10.00"), "currency": "EUR",
                  "starts_at": NOW, "expires_at": NOW + timedelta(days=14), "customer_id": self.customer,
                  "context": {"delivery": delivery_id}, **over}
        return events.OfferIssued(**fields)


async def test_a_due_offer_mail_asks_for_its_offer_and_is_never_sent_without_it(offers_pool):
    shop = await Shop(offers_pool).setup()
    delivery_id = await shop.winback_due()
    assert await shop.run_due_jobs() >= 1
    assert shop.senders.sent == []  # no offer yet: nothing goes out
    asked = await shop.published("offer.requested")
    assert asked == [{"shop": shop.id, "key": f"winback:{shop.customer}:o-1:120", "source": "WINBACK",
                      "customer_id": shop.customer, "kind": None, "value": None, "currency": None,
                      "min_order": None, "starts_at": None, "expires_at": None, "valid_days": None,
                      "usage_limit": None, "code": None, "context": {"delivery": delivery_id}}]
    waiting = await shop.message("discount_10")
    assert waiting["status"] == "SCHEDULED" and waiting["error"].startswith("waiting for its offer")
    assert waiting["due_at"] > datetime.now(UTC) + timedelta(minutes=59)  # asks again in an hour

    # Still no answer when it is due again: it asks again under the same key and still sends nothing.
    await shop.time_passes(timedelta(hours=1, minutes=1))
    assert await shop.run_due_jobs() == 1
    assert shop.senders.sent == []
    again = await shop.published("offer.requested")
    assert len(again) == 2 and again[1]["key"] == asked[0]["key"]

    # A week without an answer: it gives up, still without sending.
    await shop.time_passes(timedelta(days=7))
    assert await shop.run_due_jobs() == 1
    gone = await shop.message("discount_10")
    assert (gone["status"], gone["error"]) == ("CANCELLED", "its offer was not issued within 7 days")
    assert shop.senders.sent == [] and await shop.published("notification.sent") == []


async def test_offer_issued_releases_the_waiting_mail_with_its_code_and_a_replay_changes_nothing(offers_pool):
    shop = await Shop(offers_pool, locale="de").setup()
    delivery_id = await shop.winback_due()
    await shop.run_due_jobs()
    key = (await shop.published("offer.requested"))[0]["key"]

    # An answer for another key (or for no message of ours) changes nothing.
    await shop.feed(shop.issued(delivery_id, "winback:someone-else:o-9:120"))
    await shop.feed(shop.issued(delivery_id, key, context={"delivery": "not-a-message"}))
    assert "offer" not in (await shop.message("discount_10"))["variables"]

    await shop.feed(shop.issued(delivery_id, key))
    # The answer again before the mail went out (two asks answered, a redelivery): the first offer stays.
    await shop.feed(shop.issued(delivery_id, key))
    await shop.feed(shop.issued(delivery_id, key, offer_id="of-2", code="FLY-OTHER"))
    ready = await shop.message("discount_10")
    assert ready["offer_id"] == "of-1" and ready["variables"]["offer"]["code"] == "FLY-7K3M-9QXD-2HRB-T4VW"
    assert ready["due_at"] <= datetime.now(UTC)
    await shop.run_due_jobs()
    assert len(shop.senders.sent) == 1
    mail = shop.senders.sent[0].rendered
    last_day = (NOW + timedelta(days=13)).astimezone(policy.zone("Europe/Berlin")).strftime("%d.%m.%Y")
    assert mail.subject == "Komm zurück: 10 % Rabatt auf deine nächste Bestellung"
    assert "Dein Code: FLY-7K3M-9QXD-2HRB-T4VW" in mail.text and f"Gültig bis {last_day}" in mail.text
    assert "?offer=" not in mail.text
    sent = await shop.published("notification.sent")
    assert len(sent) == 1 and sent[0]["offer"] is True and sent[0]["notification_id"] == delivery_id

    # Points announces the same offer again (a replayed or repeated ask): nothing more is sent.
    await shop.feed(shop.issued(delivery_id, key))
    await shop.feed(shop.issued(delivery_id, key, offer_id="of-2", code="FLY-OTHER"))
    await shop.time_passes(timedelta(days=1))
    await shop.run_due_jobs()  # the wait's own later job finds it sent
    assert len(shop.senders.sent) == 1 and len(await shop.published("offer.requested")) == 1
    assert (await shop.message("discount_10"))["variables"]["offer"]["offer_id"] == "of-1"


async def test_offer_refused_cancels_the_waiting_mail_with_the_reason(offers_pool):
    shop = await Shop(offers_pool).setup()
    delivery_id = await shop.winback_due()
    await shop.run_due_jobs()
    key = (await shop.published("offer.requested"))[0]["key"]
    refused = events.OfferRefused(shop=shop.id, key=key, source="WINBACK", customer_id=shop.customer,
                                  reason="DISABLED: WINBACK offers are switched off in the program",
                                  context={"delivery": delivery_id})
    await shop.feed(refused)
    gone = await shop.message("discount_10")
    assert gone["status"] == "CANCELLED"
    assert gone["error"] == "offer refused: DISABLED: WINBACK offers are switched off in the program"
    pending = await offers_pool.fetchval(
        """SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND status = 'pending'
             AND starts_with(dedup_key, $2)""", shop.id, delivery_id)
    assert pending == 0  # the wait's later job went with it
    # A late issue for it (or the refusal again) sends nothing.
    await shop.feed(refused)
    await shop.feed(shop.issued(delivery_id, key))
    await shop.time_passes(timedelta(days=1))
    assert await shop.run_due_jobs() == 0
    assert shop.senders.sent == [] and (await shop.message("discount_10"))["status"] == "CANCELLED"


async def test_a_purchase_before_the_offer_comes_cancels_the_mail_and_the_offer_sends_nothing(offers_pool):
    shop = await Shop(offers_pool).setup()
    delivery_id = await shop.winback_due()
    await shop.run_due_jobs()
    key = (await shop.published("offer.requested"))[0]["key"]
    await shop.feed(events.OrderPlaced(shop=shop.id, order_id="o-2", customer_id=shop.customer, currency="EUR",
                                       total=Decimal("20"), net_amount=Decimal("15"), placed_at=NOW))
    assert (await shop.message("discount_10"))["status"] == "CANCELLED"
    await shop.feed(shop.issued(delivery_id, key))
    await shop.time_passes(timedelta(days=1))
    await shop.run_due_jobs()
    assert shop.senders.sent == [] or all(m.template != "winback_discount" for m in shop.senders.sent)


async def test_a_birthday_offer_is_asked_valid_from_the_birthday(offers_pool):
    shop = await Shop(offers_pool).setup()
    morning = NOW - timedelta(hours=2)
    await shop.feed(events.CustomerBirthday(shop=shop.id, customer_id=shop.customer, year=2026), at=morning)
    await shop.run_due_jobs()
    asked = await shop.published("offer.requested")
    assert [(a["key"], a["source"], a["starts_at"]) for a in asked] == [
        (f"birthday:{shop.customer}:2026:greeting", "BIRTHDAY", morning.isoformat().replace("+00:00", "Z"))]
    # A Gold customer's gift comes as the offer's kind: the mail says so.
    greeting = await shop.message("greeting")
    await shop.feed(shop.issued(str(greeting["id"]), asked[0]["key"], source="BIRTHDAY", kind="STORE_CREDIT",
                                value=Decimal("10.00")))
    await shop.run_due_jobs()
    assert "Your birthday gift: €10.00 in store credit" in shop.senders.sent[0].rendered.text


async def test_a_message_planned_before_offers_asks_under_a_key_of_its_own(offers_pool):
    shop = await Shop(offers_pool).setup()
    delivery_id = await shop.winback_due()
    await offers_pool.execute("UPDATE deliveries SET offer_key = NULL WHERE id = $1::uuid", delivery_id)
    await shop.run_due_jobs()
    asked = await shop.published("offer.requested")
    assert asked[0]["key"] == f"winback:{shop.customer}:d-{delivery_id}:120"
    assert (await shop.message("discount_10"))["offer_key"] == asked[0]["key"]


async def test_the_referred_friend_is_welcomed_with_the_issued_code_once(offers_pool):
    shop = await Shop(offers_pool).setup()
    referral = str(uuid.uuid4())
    friend_offer = events.OfferIssued(
        shop=shop.id, offer_id="of-f", key=f"referral:{referral}", code="FLY-2HRB-T4VW-7K3M-9QXD", source="REFERRAL",
        kind="PERCENTAGE", value=Decimal("20.00"), currency="EUR", min_order=Decimal("12.00"), starts_at=NOW,
        expires_at=NOW + timedelta(days=30), customer_id=shop.customer,
        context={"referral": referral, "opened_by": "signup"})
    await shop.feed(friend_offer)
    await shop.feed(friend_offer)  # announced again: one mail
    # Codes carried over from before, and offers of referrals opened by an order, send nothing.
    await shop.feed(friend_offer.model_copy(update={"key": "referral:x", "context": {"opened_by": "carry_over"}}))
    await shop.run_due_jobs()
    assert len(shop.senders.sent) == 1
    mail = shop.senders.sent[0].rendered
    assert mail.subject == "Welcome! Your gift: 20 % off your next order"
    assert "Your code: FLY-2HRB-T4VW-7K3M-9QXD" in mail.text and "on orders from €12.00" in mail.text
    assert (await shop.published("notification.sent"))[0]["offer"] is True


async def test_erasure_forgets_the_key_naming_the_customer(offers_pool):
    shop = await Shop(offers_pool).setup()
    delivery_id = await shop.winback_due()
    await shop.run_due_jobs()
    await shop.feed(events.CustomerErased(shop=shop.id, customer_id=shop.customer))
    row = await offers_pool.fetchrow("SELECT * FROM deliveries WHERE id = $1::uuid", delivery_id)
    assert (row["status"], row["offer_key"], row["customer_id"]) == ("CANCELLED", None, None)
