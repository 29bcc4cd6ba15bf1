"""A challenge launched through the gateway invites its audience and its completion notifies the
customer: the points service's challenge.launched / challenge.completed reach the notifications
service, which applies consent (the flows are the notifications service's own). The waits are long:
in the full suite this runs right after the bulk-adjustment test, whose 2000 points.earned events the
notifications queue may still be draining."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.challenges_support import JOIN, LAUNCH, send
from tests.e2e.notifications_support import (
    SETTINGS,
    add_customer,
    handled,
    having,
    known_to_notifications,
    log,
    mails,
)
from tests.stack import customer_token, new_shop, unique
from tests.stack import publish_event as publish
from tests.support import eventually


async def test_launch_invites_consenting_customers_and_completion_notifies(gql):
    shop, admin = new_shop()
    anna = await add_customer(gql, admin)
    silent = await add_customer(gql, admin, acceptsEmail=False)
    for customer_id in (anna, silent):  # an audience is whoever notifications knows at launch time
        await eventually(lambda c=customer_id: known_to_notifications(shop, c), what="the contact", timeout=120)
    now = datetime.now(UTC)
    title = f"One photo review {unique('t')}"
    launched = await gql.ok(LAUNCH, {"input": {
        "title": title, "goal": {"event": "REVIEW_PUBLISHED", "count": 1}, "rewardPoints": 30,
        "startsAt": (now - timedelta(minutes=5)).isoformat(), "endsAt": (now + timedelta(days=3)).isoformat()}},
        admin)
    challenge_id = launched["launchChallenge"]["id"]
    got = await eventually(lambda: mails(f"{anna}@example.com"), what="the invitation", timeout=120)
    assert got[0]["subject"] == f"New challenge: {title}" and "30 points" in got[0]["text"]
    assert having(await log(gql, admin, silent), flow="challenge_launched") == []
    await gql.ok(JOIN, {"id": challenge_id}, customer_token(anna, shop=shop))
    await send(events.ReviewPublished(shop=shop, review_id=unique("r"), customer_id=anna, product_id="p-1",
                                      rating=5))

    async def completed():
        return having(await log(gql, admin, anna), flow="challenge_completed")
    assert len(await eventually(completed, what="the completion notification", timeout=120)) == 1


def _challenge(title: str, **over) -> dict:
    now = datetime.now(UTC)
    return {"title": title, "goal": {"event": "ORDER_PAID", "count": 1}, "rewardPoints": 10,
            "startsAt": (now - timedelta(minutes=5)).isoformat(), "endsAt": (now + timedelta(days=3)).isoformat(),
            **over}


async def test_a_segment_challenge_invites_that_segment_only(gql):
    shop, admin = new_shop()
    vip, regular = await add_customer(gql, admin), await add_customer(gql, admin)
    for customer_id, segment in ((vip, "VIP"), (regular, "REGULAR")):
        await eventually(lambda c=customer_id: known_to_notifications(shop, c), what="the contact", timeout=120)
        moved = await publish(events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment="NEW",
                                                            to_segment=segment))
        await eventually(lambda e=moved: handled(e), what="the segment in notifications", timeout=120)
    title = f"VIPs: one purchase {unique('t')}"
    await gql.ok(LAUNCH, {"input": _challenge(title, audience="VIP")}, admin)

    async def invitations(customer_id: str) -> list[dict]:
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"] == f"New challenge: {title}"]
    assert len(await eventually(lambda: invitations(vip), what="the VIP's invitation", timeout=120)) == 1
    # The audience is planned in one transaction: the VIP's invitation being there, the other has none.
    assert having(await log(gql, admin, regular), flow="challenge_launched") == []


async def test_the_invitation_respects_the_frequency_cap(gql):
    shop, admin = new_shop()
    await gql.ok(SETTINGS, {"input": {"dailyCap": 1}}, admin)
    anna = await add_customer(gql, admin)
    await eventually(lambda: known_to_notifications(shop, anna), what="the contact", timeout=120)
    await publish(events.PointsEarned(shop=shop, customer_id=anna, points=45, balance=45, reason="purchase",
                                      source_id=unique("o")))

    async def sent(flow: str) -> list[dict]:
        return having(await log(gql, admin, anna), flow=flow, status="SENT")
    await eventually(lambda: sent("points_earned"), what="today's one marketing message", timeout=120)
    await gql.ok(LAUNCH, {"input": _challenge(f"Capped {unique('t')}")}, admin)

    async def capped() -> list[dict]:
        return having(await log(gql, admin, anna), flow="challenge_launched", status="SUPPRESSED")
    node = (await eventually(capped, what="the invitation capped", timeout=120))[0]
    assert node["error"] == "frequency cap: 1 marketing messages per day"
    assert await sent("challenge_launched") == []
