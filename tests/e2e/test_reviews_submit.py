"""Submitting reviews through the gateway: verified buyers, one review per product, bad input."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STATUS
from tests.e2e.reviews_support import (
    MY_REVIEWS,
    SUBMIT,
    buy,
    events_of,
    fetchval,
    publish,
    review_input,
    submit,
    summary,
)
from tests.stack import ADMIN, INGEST, codes, customer_token, unique
from tests.support import eventually


async def test_a_buyer_submits_a_verified_review_that_waits_for_moderation(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, rating=4, mediaUrls=["https://cdn.example.com/mug.jpg"])
    assert (review["status"], review["verifiedBuyer"], review["incentivized"], review["rating"]) == \
        ("PENDING", True, False, 4)
    assert review["product"] == {"id": product} and review["mediaUrls"] == ["https://cdn.example.com/mug.jpg"]
    mine = (await gql.ok(MY_REVIEWS, headers=customer_token(customer["id"])))["me"]["reviews"]
    assert [r["id"] for r in mine] == [review["id"]]
    [event] = await events_of("review.submitted", review_id=review["id"])
    assert (event["customer_id"], event["product_id"], event["rating"], event["has_media"]) == \
        (customer["id"], product, 4, True)
    assert (await summary(gql, product))["count"] == 0  # not published yet


async def test_a_customer_who_never_bought_the_product_gets_an_unverified_review(gql, new_customer):
    buyer, other, product = await new_customer(), await new_customer(), unique("p")
    await buy(gql, buyer["id"], [product])
    review = await submit(gql, other["id"], product)
    assert (review["status"], review["verifiedBuyer"]) == ("PENDING", False)


async def test_a_cancelled_order_does_not_make_a_verified_buyer(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    order = await buy(gql, customer["id"], [product])
    await gql.ok(STATUS, {"id": order["id"], "status": "CANCELLED"}, INGEST)
    await eventually(lambda: fetchval("SELECT cancelled_at IS NOT NULL FROM purchases WHERE order_id = $1",
                                      order["id"]), what="the cancellation")
    assert (await submit(gql, customer["id"], product))["verifiedBuyer"] is False


async def test_a_product_never_sold_in_the_shop_is_not_found(gql, new_customer):
    customer, product = await new_customer(), unique("never-sold")
    body = await gql(SUBMIT, {"input": review_input(product)}, customer_token(customer["id"]))
    assert codes(body) == ["NOT_FOUND"]
    assert await fetchval("SELECT count(*) FROM reviews WHERE customer_id = $1", customer["id"]) == 0


async def test_an_order_id_must_be_the_customers_own_order_with_that_product(gql, new_customer):
    a, b, product = await new_customer(), await new_customer(), unique("p")
    order_a = await buy(gql, a["id"], [product])
    body = await gql(SUBMIT, {"input": review_input(product, orderId=order_a["id"])}, customer_token(b["id"]))
    assert codes(body) == ["BAD_USER_INPUT"]
    assert (await submit(gql, a["id"], product, orderId=order_a["id"]))["verifiedBuyer"] is True


@pytest.mark.parametrize("over", [
    {"rating": 0}, {"rating": 6}, {"rating": -3}, {"body": "x" * 5001}, {"title": "t" * 121},
    {"body": "binary \x00\x01 junk here"}, {"body": ""}, {"mediaUrls": ["javascript:alert(document.cookie)"]},
    {"mediaUrls": ["data:image/png;base64,AAAA"]},
    {"mediaUrls": [f"https://cdn.example.com/{i}.jpg" for i in range(7)]},
    {"hashtags": ["<script>"]}, {"productId": "p" * 300}, {"body": "<b>hi <svg/onload=alert(1)"},
], ids=lambda over: f"{next(iter(over))}={str(next(iter(over.values())))[:12]}")
async def test_bad_reviews_are_refused_and_nothing_changes(gql, new_customer, over):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    body = await gql(SUBMIT, {"input": review_input(product, **over)}, customer_token(customer["id"]))
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert await fetchval("SELECT count(*) FROM reviews WHERE customer_id = $1", customer["id"]) == 0
    assert await events_of("review.submitted", customer_id=customer["id"]) == []


async def test_wrong_types_are_refused(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    body = await gql(SUBMIT, {"input": review_input(product, rating="five")}, customer_token(customer["id"]))
    assert body.get("errors") and not body.get("data")


async def test_html_is_stored_and_returned_as_plain_text(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, title="<h1>Best</h1> mug",
                          body='<script>alert("x")</script><p>Really <b>solid</b> mug &lt;3</p>')
    assert (review["title"], review["body"]) == ("Best mug", "Really solid mug &lt;3")
    stored = await fetchval("SELECT body FROM reviews WHERE id = $1::uuid", review["id"])
    assert "<" not in stored


async def test_credentials_are_checked(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    variables = {"input": review_input(product)}
    assert codes(await gql(SUBMIT, variables)) == ["UNAUTHENTICATED"]
    assert codes(await gql(SUBMIT, variables, customer_token(customer["id"], secret="forged-" + "x" * 40))) == \
        ["UNAUTHENTICATED"]
    assert codes(await gql(SUBMIT, variables, customer_token(customer["id"], ttl=-120))) == ["UNAUTHENTICATED"]
    assert codes(await gql(SUBMIT, variables, ADMIN)) == ["FORBIDDEN"]
    assert await fetchval("SELECT count(*) FROM reviews WHERE product_id = $1", product) == 0


async def test_editing_replaces_the_review_and_sends_it_back_to_moderation(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    first = await submit(gql, customer["id"], product, rating=5)
    await publish(gql, first["id"])
    assert (await summary(gql, product)) == {"average": 5.0, "count": 1, "distribution": [0, 0, 0, 0, 1]}

    async def rewarded():  # the points service's review.rewarded marks it incentivized, after publishing
        mine = (await gql.ok(MY_REVIEWS, headers=customer_token(customer["id"])))["me"]["reviews"]
        return [r["incentivized"] for r in mine if r["id"] == first["id"]] == [True]
    await eventually(rewarded, what="the reward to mark the review incentivized")
    edited = await submit(gql, customer["id"], product, rating=2, title="Chipped",
                          body="After a month the rim chipped in the dishwasher.")
    assert edited["id"] == first["id"]
    assert (edited["status"], edited["rating"], edited["title"], edited["incentivized"]) == \
        ("PENDING", 2, "Chipped", True)
    assert (await summary(gql, product))["count"] == 0  # the edit is unpublished until approved again
    await publish(gql, first["id"])
    assert (await summary(gql, product)) == {"average": 2.0, "count": 1, "distribution": [0, 1, 0, 0, 0]}
    assert await fetchval("SELECT count(*) FROM reviews WHERE product_id = $1", product) == 1


async def test_another_customer_cannot_edit_my_review(gql, new_customer):
    me, other, product = await new_customer(), await new_customer(), unique("p")
    await buy(gql, me["id"], [product])
    mine = await submit(gql, me["id"], product, rating=5, title="Mine")
    theirs = await submit(gql, other["id"], product, rating=1, title="Theirs",
                          body="I never liked this mug, the handle is odd.")
    assert theirs["id"] != mine["id"]
    [still_mine] = (await gql.ok(MY_REVIEWS, headers=customer_token(me["id"])))["me"]["reviews"]
    assert (still_mine["id"], still_mine["rating"], still_mine["title"]) == (mine["id"], 5, "Mine")
    other_reads_mine = 'query($id: ID!) { customer(id: $id) { reviews { id } } }'
    assert codes(await gql(other_reads_mine, {"id": me["id"]}, customer_token(other["id"]))) == ["FORBIDDEN"]


async def test_automatic_rules_reject_with_a_reason(gql, new_customer):
    customer, product = await new_customer(), unique("p")
    await buy(gql, customer["id"], [product])
    review = await submit(gql, customer["id"], product, body="Find it cheaper at https://rival.example/mug")
    assert (review["status"], review["rejectionReason"]) == ("REJECTED", "LINKS")
    [event] = await events_of("review.rejected", review_id=review["id"])
    assert event["reason"] == "LINKS"
