"""The rest of the automation map through the real service: each event becomes its message with
the real values, in the customer's language; a challenge invites its whole audience."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared import events
from tests.e2e.notifications_support import UPDATE_FLOW, add_customer, handled, having, log, mails
from tests.stack import db, new_shop, unique
from tests.stack import publish_event as publish
from tests.support import eventually

SOON = datetime.now(UTC) + timedelta(days=30)


def cases():
    return [
        # the greeting waits for its offer: points issues the birthday default, 10 % (the code is real)
        ("birthday", lambda s, c: events.CustomerBirthday(shop=s, customer_id=c, year=2026),
         "Alles Gute zum Geburtstag, Jonas!", "Unser Geburtstagsgeschenk für dich: 10 % Rabatt"),
        ("tier_near", lambda s, c: events.TierNear(shop=s, customer_id=c, next_tier="Gold",
                                                   amount_to_next=Decimal("20"), currency="EUR"),
         "Dir fehlen nur 20.00 EUR bis Gold", None),
        ("points_expiring", lambda s, c: events.PointsExpiring(shop=s, customer_id=c, points=300, expires_at=SOON),
         f"300 Punkte verfallen am {SOON.date().isoformat()}", None),
        ("referral_reward", lambda s, c: events.ReferralConverted(
            shop=s, referral_id=unique("r"), referrer_id=c, friend_id=unique("c"), order_id=unique("o"),
            reward_kind="credit", reward_amount=Decimal("20"), currency="EUR"),
         "Deine Freundin oder dein Freund hat bestellt — hier ist deine Belohnung", "20.00 EUR Guthaben"),
        ("challenge_completed", lambda s, c: events.ChallengeCompleted(
            shop=s, challenge_id=unique("ch"), customer_id=c, title="Drei Fotos", reward_points=150, badge="Fotograf"),
         "Du hast Drei Fotos geschafft!", "Abzeichen Fotograf"),
        ("points_earned", lambda s, c: events.PointsEarned(shop=s, customer_id=c, points=45, balance=1045,
                                                           reason="purchase", source_id=unique("o")),
         "Du hast 45 Punkte gesammelt", "Dein Stand: 1045 Punkte"),
    ]


@pytest.mark.parametrize("flow, make, subject, in_text", cases(), ids=[c[0] for c in cases()])
async def test_each_event_becomes_its_message_with_the_real_values(gql, flow, make, subject, in_text):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, locale="de", firstName="Jonas")
    await publish(make(shop, customer_id))

    async def the_mail() -> list[dict]:
        # Look for this flow's subject: other mails to the same person may come first.
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"] == subject]

    got = await eventually(the_mail, what=f"the {flow} mail")
    assert "Hallo Jonas" in got[0]["text"] and (in_text is None or in_text in got[0]["text"])
    assert having(await log(gql, admin, customer_id), flow=flow, status="SENT")
    # notification.sent says whether the message carried an offer (the -5 engagement rule of docs/domain.md):
    # of these flows only the birthday greeting does.
    conn = await db("notifications")
    try:
        offers = await conn.fetch(
            """SELECT envelope->'data'->>'template' AS template, envelope->'data'->'offer' AS offer FROM outbox
               WHERE shop_id = $1 AND type = 'notification.sent' AND envelope->'data'->>'customer_id' = $2""",
            shop, customer_id)
    finally:
        await conn.close()
    sent = {r["template"]: r["offer"] for r in offers}  # this flow's message, and any other the customer got
    assert sent[flow] is (flow == "birthday")
    assert all(offer is (template == "birthday") for template, offer in sent.items()), sent


async def test_a_pending_earning_sends_no_balance_update(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    event_id = await publish(events.PointsEarned(shop=shop, customer_id=customer_id, points=45, balance=0,
                                                 reason="purchase", source_id=unique("o"), pending=True))
    await eventually(lambda: handled(event_id), what="the event")
    assert await log(gql, admin, customer_id) == []


async def test_a_launched_challenge_invites_every_consenting_customer_of_its_audience(gql):
    shop, admin = new_shop()
    vip = await add_customer(gql, admin)
    regular = await add_customer(gql, admin)
    silent = await add_customer(gql, admin, acceptsEmail=False)
    for customer_id, segment in ((vip, "VIP"), (regular, "REGULAR")):
        changed = await publish(events.CustomerSegmentChanged(shop=shop, customer_id=customer_id,
                                                              from_segment="NEW", to_segment=segment))
        await eventually(lambda event_id=changed: handled(event_id), what="the segment change")
    everyone = await publish(events.ChallengeLaunched(
        shop=shop, challenge_id=unique("ch"), title="Three photo reviews", starts_at=datetime.now(UTC),
        ends_at=SOON, reward_points=150))
    await eventually(lambda: handled(everyone), what="the launch")
    for customer_id in (vip, regular):
        got = await eventually(lambda cid=customer_id: mails(f"{cid}@example.com"), what="an invitation")
        assert got[0]["subject"] == "New challenge: Three photo reviews" and "150 points" in got[0]["text"]
    assert await log(gql, admin, silent) == []
    vips_only = await publish(events.ChallengeLaunched(
        shop=shop, challenge_id=unique("ch"), title="VIP sprint", starts_at=datetime.now(UTC), ends_at=SOON,
        audience="VIP", reward_points=300))
    await eventually(lambda: handled(vips_only), what="the VIP launch")
    await eventually(lambda: _count(gql, admin, vip, 2), what="the VIP invitation")
    assert len(having(await log(gql, admin, regular), flow="challenge_launched")) == 1


async def _count(gql, admin, customer_id, n):
    return len(having(await log(gql, admin, customer_id), flow="challenge_launched")) == n


async def test_the_segment_based_at_risk_flow_runs_once_an_admin_enables_it(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    # The change the flow reacts to, while it is off as shipped: nothing (a change to REGULAR, which it
    # ignores anyway, could not tell an off flow from an on one). Win-back starts from the engagement
    # score instead (the at_risk flow, customer.disengaged).
    await _segment(shop, customer_id, "AT_RISK")
    assert await log(gql, admin, customer_id) == []
    await gql.ok(UPDATE_FLOW, {"input": {"key": "segment_at_risk", "enabled": True}}, admin)
    await _segment(shop, customer_id, "AT_RISK")
    got = await eventually(lambda: mails(f"{customer_id}@example.com"), what="the at-risk mail")
    assert got[0]["subject"] == "We miss you" and "Hi Anna" in got[0]["text"]
    await _segment(shop, customer_id, "VIP")
    assert len(await log(gql, admin, customer_id)) == 1


async def _segment(shop: str, customer_id: str, segment: str) -> None:
    """Publish a segment change and wait until notifications handled it."""
    event_id = await publish(events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment="NEW",
                                                           to_segment=segment))
    await eventually(lambda: handled(event_id), what=f"the change to {segment}")


@pytest.mark.parametrize("kind", ["credit", "points"])
async def test_a_referral_reward_is_announced_once(gql, kind):
    """The points service books a converted referral's reward as credit or points, and that grant is
    an event the credit and balance flows listen to as well: the referrer still gets one mail."""
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, locale="de", firstName="Jonas")
    await publish(events.ReferralConverted(
        shop=shop, referral_id=unique("r"), referrer_id=customer_id, friend_id=unique("c"), order_id=unique("o"),
        reward_kind=kind, reward_amount=Decimal("20") if kind == "credit" else None,
        reward_points=2000 if kind == "points" else None, currency="EUR"))
    grant = "credit.granted" if kind == "credit" else "points.earned"

    async def granted():
        conn = await db("points")
        try:
            return await conn.fetchrow(
                """SELECT envelope->>'id' AS event_id, envelope->'data'->>'origin' AS origin FROM outbox
                   WHERE shop_id = $1 AND type = $2 AND envelope->'data'->>'customer_id' = $3""",
                shop, grant, customer_id)
        finally:
            await conn.close()

    row = await eventually(granted, what=f"the reward's {grant}")
    assert row["origin"] == "referral"
    await eventually(lambda: handled(row["event_id"]), what=f"notifications handling {grant}")
    async def sent():
        return having(await log(gql, admin, customer_id), flow="referral_reward", status="SENT")

    await eventually(sent, what="the referral mail sent")
    assert [(n["flow"], n["status"]) for n in await log(gql, admin, customer_id)] == [("referral_reward", "SENT")]
