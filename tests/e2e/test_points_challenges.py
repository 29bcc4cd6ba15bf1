"""Community challenges through the gateway, each test in a shop of its own: launch (idempotent, bad
input stores nothing), the public listing, progress from events counted once per challenge, the
window and an early end, concurrency, completion paying once through the ledger, badges, the
leaderboard and its bonus, audiences, streaks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from shared.events import new_envelope
from tests.e2e.challenges_support import (
    END,
    JOIN,
    LAUNCH,
    LIST,
    ONE,
    STATE,
    challenge_input,
    handled,
    iso,
    join,
    launch,
    outbox,
    paid,
    progress,
    send,
    state,
)
from tests.e2e.points_support import Shop, assert_ledger_invariant, new_shop
from tests.stack import codes, customer_token, db, publish_raw, unique
from tests.stack import publish_event as publish
from tests.support import eventually


async def test_launch_is_idempotent_public_and_announced(gql):
    shop = await new_shop(gql)
    key = unique("k")
    once = challenge_input(idempotencyKey=key, hashtag="#Summer")
    first = (await gql.ok(LAUNCH, {"input": once}, shop.admin))["launchChallenge"]
    again = (await gql.ok(LAUNCH, {"input": once}, shop.admin))["launchChallenge"]  # a retry: the same input
    assert again["id"] == first["id"] and first["status"] == "ACTIVE" and first["hashtag"] == "summer"
    other = await gql(LAUNCH, {"input": {**once, "rewardPoints": 5}}, shop.admin)
    assert codes(other) == ["CONFLICT"]
    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = await launch(shop, title="Later", startsAt=iso(later), endsAt=iso(later + timedelta(days=1)))
    assert scheduled["status"] == "SCHEDULED"
    public = {"x-shop": shop.id}
    assert {c["id"] for c in (await gql.ok(LIST, {}, public))["challenges"]} == {first["id"], scheduled["id"]}
    assert [c["id"] for c in (await gql.ok(LIST, {"s": "ACTIVE"}, public))["challenges"]] == [first["id"]]
    assert [c["id"] for c in (await gql.ok(LIST, {"s": "SCHEDULED"}, public))["challenges"]] == [scheduled["id"]]
    assert (await gql.ok(ONE, {"id": first["id"]}, public))["challenge"]["status"] == "ACTIVE"
    assert (await gql.ok(ONE, {"id": "ch-nope"}, public))["challenge"] is None
    launched = await outbox(shop.id, "challenge.launched")
    assert [e["challenge_id"] for e in launched] == [first["id"], scheduled["id"]]
    assert launched[0]["title"] == "Two purchases" and launched[0]["reward_points"] == 100
    assert (await gql.ok(LIST, {}, {"x-shop": unique("shop")}))["challenges"] == []  # another shop sees none


async def test_bad_input_is_refused_and_stores_nothing(gql):
    shop = await new_shop(gql)
    now = datetime.now(UTC)
    bad = [
        ({"endsAt": iso(now - timedelta(days=2))}, "BAD_USER_INPUT"),
        ({"rewardPoints": -1}, "BAD_USER_INPUT"),
        ({"title": "x" * 201}, "BAD_USER_INPUT"),
        ({"badge": "b" * 61}, "BAD_USER_INPUT"),
        ({"goal": {"event": "ORDER_PAID", "count": 0}}, "BAD_USER_INPUT"),
        ({"idempotencyKey": "k" * 201}, "BAD_USER_INPUT"),
    ]
    for over, code in bad:
        assert codes(await gql(LAUNCH, {"input": challenge_input(**over)}, shop.admin)) == [code], over
    unknown = await gql(LAUNCH, {"input": challenge_input(goal={"event": "ORDER_REFUNDED", "count": 1})}, shop.admin)
    assert unknown.get("errors") and not unknown.get("data")  # an unknown goal event fails validation
    assert codes(await gql(LAUNCH, {"input": challenge_input()}, shop.customer("c-1"))) == ["FORBIDDEN"]
    assert codes(await gql(LAUNCH, {"input": challenge_input()}, {"x-shop": shop.id})) == ["UNAUTHENTICATED"]
    forged = customer_token("ops", shop=shop.id, roles=["admin"], secret="not-the-secret-0123456789abcdef0123")
    assert codes(await gql(LAUNCH, {"input": challenge_input()}, forged)) == ["UNAUTHENTICATED"]
    assert (await gql.ok(LIST, {}, {"x-shop": shop.id}))["challenges"] == []
    assert await outbox(shop.id, "challenge.launched") == []


async def test_paid_orders_complete_a_challenge_once_through_the_ledger(gql):
    shop = await new_shop(gql)
    ch = await launch(shop)
    anna, bob = await shop.new_customer(), await shop.new_customer()
    joined = await join(shop, ch["id"], anna)
    assert joined == {"challenge": {"id": ch["id"]}, "progress": 0, "completed": False, "completedAt": None}
    assert (await join(shop, ch["id"], anna))["progress"] == 0  # joining twice is harmless
    await shop.order(anna, "PAID")  # the real flow: customers publishes order.paid
    await shop.order(bob, "PAID")  # bob did not join: nothing counts for him
    await eventually(lambda: _progress_is(shop, anna, ch["id"], 1), what="first order counted")
    first = paid(shop, anna)
    await send(first)
    await send(first)  # the same order again under a new event id: counted once
    got = await eventually(lambda: _progress_is(shop, anna, ch["id"], 2), what="completion")
    assert got["completed"] and got["completedAt"]
    await send(paid(shop, anna))  # progress goes on for the leaderboard; the reward does not repeat
    await eventually(lambda: _progress_is(shop, anna, ch["id"], 3), what="third order")
    mine = await state(shop, anna)
    assert mine["badges"] == [{"name": "regular-buyer", "source": f"challenge:{ch['id']}"}]
    conn = await db("points")
    try:
        rewards = await conn.fetch("SELECT delta FROM ledger_entries WHERE shop_id = $1 AND customer_id = $2 "
                                   "AND idempotency_key LIKE 'challenge:%'", shop.id, anna)
    finally:
        await conn.close()
    assert [r["delta"] for r in rewards] == [100]
    await assert_ledger_invariant(shop.id, anna)
    completed = await outbox(shop.id, "challenge.completed")
    assert [(e["customer_id"], e["reward_points"], e["badge"]) for e in completed] == [
        (anna, 100, "regular-buyer")]
    assert (await state(shop, bob))["challengeProgress"] == []


async def _progress_is(shop: Shop, customer_id: str, challenge_id: str, n: int):
    got = await progress(shop, customer_id, challenge_id)
    return got if got is not None and got["progress"] == n else None


async def test_events_before_the_start_or_after_an_early_end_do_not_count(gql):
    shop = await new_shop(gql)
    later = datetime.now(UTC) + timedelta(days=1)
    scheduled = await launch(shop, startsAt=iso(later), endsAt=iso(later + timedelta(days=1)))
    running = await launch(shop, goal={"event": "ORDER_PAID", "count": 5})
    anna = await shop.new_customer()
    await join(shop, scheduled["id"], anna)
    await join(shop, running["id"], anna)
    await send(paid(shop, anna))
    assert (await progress(shop, anna, scheduled["id"]))["progress"] == 0  # not started yet
    assert (await progress(shop, anna, running["id"]))["progress"] == 1
    ended = (await gql.ok(END, {"id": running["id"]}, shop.admin))["endChallenge"]
    assert ended["status"] == "ENDED" and ended["endedAt"]
    await send(paid(shop, anna))
    assert (await progress(shop, anna, running["id"]))["progress"] == 1  # after the early end
    newcomer = await shop.new_customer()
    assert codes(await gql(JOIN, {"id": running["id"]}, shop.customer(newcomer))) == ["CONFLICT"]
    assert codes(await gql(JOIN, {"id": "ch-nope"}, shop.customer(newcomer))) == ["NOT_FOUND"]
    assert codes(await gql(END, {"id": running["id"]}, shop.customer(anna))) == ["FORBIDDEN"]


async def test_concurrent_events_of_one_customer_all_count_and_complete_once(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 4}, rewardPoints=40)
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    ids = await asyncio.gather(*(publish(paid(shop, anna)) for _ in range(8)))
    for event_id in ids:
        await eventually(lambda e=event_id: handled(e), what="order handled")
    got = await progress(shop, anna, ch["id"])
    assert got["progress"] == 8 and got["completed"]
    assert len(await outbox(shop.id, "challenge.completed")) == 1
    assert (await state(shop, anna))["loyalty"]["balance"] == 40
    await assert_ledger_invariant(shop.id, anna)


async def test_reviews_with_media_and_hashtag_posts_count_for_their_goals(gql):
    shop = await new_shop(gql)
    photos = await launch(shop, title="Photo reviews", goal={"event": "REVIEW_PUBLISHED", "count": 1,
                                                             "withMedia": True}, rewardPoints=0, badge=None)
    tagged = await launch(shop, title="Summer look", hashtag="#SummerLook",
                          goal={"event": "UGC_SUBMITTED", "count": 1}, rewardPoints=0, badge="summer")
    referrals = await launch(shop, title="Bring a friend", goal={"event": "REFERRAL_CONVERTED", "count": 1},
                             rewardPoints=0, badge=None)
    anna = await shop.new_customer()
    for ch in (photos, tagged, referrals):
        await join(shop, ch["id"], anna)

    def review(media: bool) -> events.ReviewPublished:
        return events.ReviewPublished(shop=shop.id, review_id=unique("r"), customer_id=anna,
                                      product_id=unique("p"), rating=5, has_media=media)
    await send(review(False))
    assert (await progress(shop, anna, photos["id"]))["progress"] == 0
    await send(review(True))
    assert (await progress(shop, anna, photos["id"]))["completed"]

    def ugc(*tags: str) -> events.UgcSubmitted:
        return events.UgcSubmitted(shop=shop.id, review_id=unique("r"), customer_id=anna, product_id="p-1",
                                   media_count=1, hashtags=list(tags))
    await send(ugc("winter"))
    assert (await progress(shop, anna, tagged["id"]))["progress"] == 0
    await send(ugc("summerlook"))
    assert (await progress(shop, anna, tagged["id"]))["completed"]
    await send(events.ReferralConverted(shop=shop.id, referral_id=unique("ref"), referrer_id=anna,
                                        friend_id=unique("c"), order_id=unique("o"), reward_kind="points",
                                        reward_points=10))
    assert (await progress(shop, anna, referrals["id"]))["completed"]
    assert "summer" in {b["name"] for b in (await state(shop, anna))["badges"]}


async def test_the_leaderboard_ranks_and_the_bonus_is_granted_once_at_an_early_end(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 10}, rewardPoints=0, leaderboardBonus=25,
                      leaderboardTop=2)
    first, second, third, idle = [await shop.new_customer() for _ in range(4)]
    for customer_id, orders in ((second, 2), (first, 3), (third, 2), (idle, 0)):
        await join(shop, ch["id"], customer_id)
        for _ in range(orders):
            await send(paid(shop, customer_id))
    board = (await gql.ok(ONE, {"id": ch["id"], "n": 10}, shop.admin))["challenge"]["leaderboard"]
    # second and third tie on 2; second progressed earlier, so second wins the tie; idle has no place
    assert [(e["rank"], e["customerId"], e["progress"]) for e in board] == [
        (1, first, 3), (2, second, 2), (3, third, 2)]
    public = (await gql.ok(ONE, {"id": ch["id"], "n": 1}, {"x-shop": shop.id}))["challenge"]["leaderboard"]
    assert public == [{"rank": 1, "progress": 3, "completed": False, "isMe": False, "customerId": None}]
    mine = (await gql.ok(ONE, {"id": ch["id"]}, shop.customer(second)))["challenge"]["leaderboard"]
    assert [e["isMe"] for e in mine] == [False, True, False]
    await gql.ok(END, {"id": ch["id"]}, shop.admin)
    await gql.ok(END, {"id": ch["id"]}, shop.admin)  # a second end grants nothing more
    balances = {c: (await state(shop, c))["loyalty"]["balance"] for c in (first, second, third, idle)}
    assert balances == {first: 25, second: 25, third: 0, idle: 0}


async def test_the_job_at_ends_at_grants_the_bonus(gql):
    shop = await new_shop(gql)
    now = datetime.now(UTC)
    ch = await launch(shop, endsAt=iso(now + timedelta(seconds=3)), rewardPoints=0, leaderboardBonus=7)
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    await send(paid(shop, anna))
    await shop.until(anna, "the bonus at endsAt", balance=7)
    assert (await gql.ok(ONE, {"id": ch["id"]}, {"x-shop": shop.id}))["challenge"]["status"] == "ENDED"


async def test_a_segment_challenge_is_for_its_segment_only(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, audience="VIP")
    vip, regular = await shop.new_customer(), await shop.new_customer()
    for customer_id, segment in ((vip, "VIP"), (regular, "REGULAR")):
        await send(events.CustomerSegmentChanged(shop=shop.id, customer_id=customer_id, from_segment="NEW",
                                                 to_segment=segment))
    assert (await join(shop, ch["id"], vip))["progress"] == 0
    assert codes(await gql(JOIN, {"id": ch["id"]}, shop.customer(regular))) == ["FORBIDDEN"]
    assert (await state(shop, regular))["challengeProgress"] == []
    prospects = await launch(shop, audience="PROSPECT")
    newcomer = await shop.new_customer()  # no segment change seen yet: a prospect
    assert (await join(shop, prospects["id"], newcomer))["progress"] == 0
    assert codes(await gql(JOIN, {"id": prospects["id"]}, shop.customer(vip))) == ["FORBIDDEN"]


async def test_streaks_count_weeks_with_a_purchase_or_a_review(gql):
    shop = await new_shop(gql)
    anna = await shop.new_customer()
    assert (await state(shop, anna))["streak"] == {"current": 0, "longest": 0}
    await send(paid(shop, anna))
    await send(events.ReviewPublished(shop=shop.id, review_id=unique("r"), customer_id=anna, product_id="p-1",
                                      rating=4))
    assert (await state(shop, anna))["streak"] == {"current": 1, "longest": 1}  # one week, however many events
    me = await gql.ok("{ me { streak { current } badges { name } challengeProgress { progress } } }",
                      {}, shop.customer(anna))
    assert me["me"] == {"streak": {"current": 1}, "badges": [], "challengeProgress": []}
    other = await shop.new_customer()
    refused = await gql(STATE, {"id": other}, shop.customer(anna))
    assert "FORBIDDEN" in codes(refused)


async def send_at(data: events.EventData, at: datetime) -> str:
    """Publish an event that happened at `at` (a late delivery, or history) and wait until handled."""
    envelope = new_envelope(data, source="tests").model_copy(update={"time": at})
    await publish_raw(envelope.model_dump_json().encode(), envelope.type, envelope.id)
    await eventually(lambda: handled(envelope.id), what=f"{data.type} handled")
    return envelope.id


async def test_four_weeks_in_a_row_award_the_streak_badge_and_a_gap_breaks_the_streak(gql):
    shop = await new_shop(gql)
    anna, bob = await shop.new_customer(), await shop.new_customer()
    now = datetime.now(UTC)
    for weeks_ago in (3, 2, 1, 0):
        await send_at(paid(shop, anna), now - timedelta(weeks=weeks_ago))
    mine = await state(shop, anna)
    assert mine["streak"] == {"current": 4, "longest": 4}
    assert {"name": "streak-4-weeks", "source": "streak:4"} in mine["badges"]
    for weeks_ago in (4, 3, 2):
        await send_at(paid(shop, bob), now - timedelta(weeks=weeks_ago))
    theirs = await state(shop, bob)
    assert theirs["streak"] == {"current": 0, "longest": 3} and theirs["badges"] == []


async def test_an_event_that_happened_before_the_join_or_the_start_does_not_count(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, startsAt=iso(datetime.now(UTC) - timedelta(days=2)))
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    await send_at(paid(shop, anna), datetime.now(UTC) - timedelta(days=1))  # in the window, before the join
    await send_at(paid(shop, anna), datetime.now(UTC) - timedelta(days=3))  # before the start
    assert (await progress(shop, anna, ch["id"]))["progress"] == 0
    await send_at(paid(shop, anna), datetime.now(UTC))
    assert (await progress(shop, anna, ch["id"]))["progress"] == 1


async def test_a_spend_goal_adds_up_net_amounts_in_the_shop_currency(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 25, "measure": "SPEND"}, rewardPoints=10)
    assert ch["goal"]["count"] == 25
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    await send(paid(shop, anna).model_copy(update={"currency": "USD", "net_amount": Decimal("99.00")}))
    assert (await progress(shop, anna, ch["id"]))["progress"] == 0  # not the shop's currency
    await send(paid(shop, anna).model_copy(update={"net_amount": Decimal("12.99")}))
    await send(paid(shop, anna).model_copy(update={"net_amount": Decimal("12.50")}))
    got = await progress(shop, anna, ch["id"])
    assert (got["progress"], got["completed"]) == (24, False)  # whole units per order: 12 + 12
    await send(paid(shop, anna))
    got = await progress(shop, anna, ch["id"])
    assert (got["progress"], got["completed"]) == (34, True)
    bad = await gql(LAUNCH, {"input": challenge_input(goal={"event": "REVIEW_PUBLISHED", "count": 2,
                                                            "measure": "SPEND"})}, shop.admin)
    assert codes(bad) == ["BAD_USER_INPUT"]


async def test_the_badge_catalogue_lists_streak_badges_and_each_challenge_badge_once(gql):
    shop = await new_shop(gql)
    catalog = "{ badgeCatalog { name description } }"
    streaks = (await gql.ok(catalog, {}, {"x-shop": shop.id}))["badgeCatalog"]
    assert [b["name"] for b in streaks] == ["streak-4-weeks", "streak-12-weeks", "streak-52-weeks"]
    await launch(shop, title="Summer look", badge="summer")
    await launch(shop, title="Summer again", badge="summer")
    await launch(shop, title="No badge", badge=None)
    await launch(shop, title="Photos", badge="photographer")
    names = [b["name"] for b in (await gql.ok(catalog, {}, {"x-shop": shop.id}))["badgeCatalog"]]
    assert names == ["streak-4-weeks", "streak-12-weeks", "streak-52-weeks", "summer", "photographer"]
    assert [b["name"] for b in (await gql.ok(catalog, {}, {"x-shop": unique("shop")}))["badgeCatalog"]] == [
        "streak-4-weeks", "streak-12-weeks", "streak-52-weeks"]  # another shop has only the streak badges
