"""Moderation through the gateway: approve, reject, reply, and the events they announce."""

from __future__ import annotations

import uuid

from tests.e2e.reviews_support import MODERATE, MY_REVIEWS, PAGE, REPLY, buy, events_of, publish, submit, summary
from tests.stack import ADMIN, PUBLIC, codes, customer_token, unique
from tests.support import eventually


async def test_approving_publishes_announces_it_and_the_reward_marks_it_incentivized(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, rating=4, mediaUrls=["https://cdn.example.com/1.jpg"])
    published = await publish(gql, review["id"])
    assert published["status"] == "PUBLISHED"  # incentivized once the points service has paid it

    async def incentivized():
        mine = (await gql.ok(MY_REVIEWS, headers=customer_token(customer["id"])))["me"]["reviews"]
        return [r["incentivized"] for r in mine if r["id"] == review["id"]] == [True]
    await eventually(incentivized, what="the reward to mark the review incentivized")
    [event] = await events_of("review.published", review_id=review["id"])
    assert (event["customer_id"], event["product_id"], event["rating"], event["has_media"], event["verified_buyer"]) \
        == (customer["id"], product, 4, True, True)
    page = (await gql.ok(PAGE, {"id": product}, PUBLIC))["product"]["reviews"]  # public: no credentials
    assert [e["node"]["id"] for e in page["edges"]] == [review["id"]]
    assert await summary(gql, product) == {"average": 4.0, "count": 1, "distribution": [0, 0, 0, 1, 0]}
    again = await publish(gql, review["id"])  # a repeated decision announces nothing new
    assert again["status"] == "PUBLISHED"
    assert len(await events_of("review.published", review_id=review["id"])) == 1
    # text-only and untagged: no UGC for challenges
    assert await events_of("ugc.submitted", review_id=review["id"]) == []


async def test_rejecting_a_published_review_takes_it_off_the_page_and_out_of_the_summary(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, rating=1, body="Arrived broken, packaging was too thin.")
    await publish(gql, review["id"])
    assert (await summary(gql, product))["count"] == 1
    rejected = (await gql.ok(MODERATE, {"id": review["id"], "decision": "REJECT", "reason": "Off-topic"},
                             ADMIN))["moderateReview"]
    assert (rejected["status"], rejected["rejectionReason"]) == ("REJECTED", "Off-topic")
    assert await summary(gql, product) == {"average": 0.0, "count": 0, "distribution": [0, 0, 0, 0, 0]}
    assert (await gql.ok(PAGE, {"id": product}, PUBLIC))["product"]["reviews"]["edges"] == []
    [event] = await events_of("review.rejected", review_id=review["id"])
    assert event["reason"] == "Off-topic"


async def test_moderation_needs_an_admin_and_a_real_review(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product)
    approve = {"id": review["id"], "decision": "APPROVE"}
    assert codes(await gql(MODERATE, approve, customer_token(customer["id"]))) == ["FORBIDDEN"]
    assert codes(await gql(MODERATE, approve)) == ["UNAUTHENTICATED"]
    assert codes(await gql(MODERATE, {"id": str(uuid.uuid4()), "decision": "APPROVE"}, ADMIN)) == ["NOT_FOUND"]
    assert codes(await gql(MODERATE, {"id": "not-a-uuid", "decision": "APPROVE"}, ADMIN)) == ["NOT_FOUND"]
    unknown_decision = await gql(MODERATE, {"id": review["id"], "decision": "MAYBE"}, ADMIN)
    assert unknown_decision.get("errors") and not unknown_decision.get("data")  # refused by the gateway
    other_shop_admin = customer_token("someone", shop=unique("shop"), roles=["admin"])
    assert codes(await gql(MODERATE, approve, other_shop_admin)) == ["NOT_FOUND"]
    assert await events_of("review.published", review_id=review["id"]) == []


async def test_a_photo_review_with_a_hashtag_or_challenge_becomes_ugc_once_published(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, hashtags=["#MyMugMorning"], challengeId="ch-42",
                          mediaUrls=["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.mp4"])
    assert await events_of("ugc.submitted", review_id=review["id"]) == []  # not before moderation
    await publish(gql, review["id"])
    [ugc] = await events_of("ugc.submitted", review_id=review["id"])
    assert (ugc["customer_id"], ugc["product_id"], ugc["media_count"], ugc["hashtags"], ugc["challenge_id"]) == \
        (customer["id"], product, 2, ["mymugmorning"], "ch-42")
    # unpublish and publish again: still one UGC submission for the challenge
    await gql.ok(MODERATE, {"id": review["id"], "decision": "REJECT"}, ADMIN)
    await publish(gql, review["id"])
    assert len(await events_of("ugc.submitted", review_id=review["id"])) == 1
    assert len(await events_of("review.published", review_id=review["id"])) == 2


async def test_the_merchant_replies_publicly_as_plain_text(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product)
    await publish(gql, review["id"])
    replied = (await gql.ok(REPLY, {"id": review["id"], "body": "<b>Thank you</b>, Anna!"}, ADMIN))["replyToReview"]
    assert replied["reply"]["body"] == "Thank you, Anna!"
    page = (await gql.ok(PAGE, {"id": product}, PUBLIC))["product"]["reviews"]
    assert page["edges"][0]["node"]["reply"] == {"body": "Thank you, Anna!"}
    assert codes(await gql(REPLY, {"id": review["id"], "body": "hi"}, customer_token(customer["id"]))) == \
        ["FORBIDDEN"]
    assert codes(await gql(REPLY, {"id": review["id"], "body": "x" * 2001}, ADMIN)) == ["BAD_USER_INPUT"]
    assert codes(await gql(REPLY, {"id": str(uuid.uuid4()), "body": "hi"}, ADMIN)) == ["NOT_FOUND"]
