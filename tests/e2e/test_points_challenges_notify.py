"""A challenge launched through the gateway invites its audience and its completion notifies the
customer: the points service's challenge.launched / challenge.completed reach the notifications
service, which applies consent (the flows are the notifications service's own). The waits are long:
in the full suite this runs right after the bulk-adjustment test, whose 2000 points.earned events the
notifications queue may still be draining."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.challenges_support import JOIN, LAUNCH, send
from tests.e2e.notifications_helpers import add_customer, having, known_to_notifications, log, mails
from tests.stack import customer_token, new_shop, unique
from tests.support import eventually


async def test_launch_invites_consenting_customers_and_completion_notifies(gql):
    shop, admin = new_shop()
    anna = await add_customer(gql, admin)
    silent = await add_customer(gql, admin, acceptsEmail=False)
    for customer_id in (anna, silent):  # an audience is whoever notifications knows at launch time
        await eventually(lambda c=customer_id: known_to_notifications(shop, c), what="the contact")
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
