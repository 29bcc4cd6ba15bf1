"""Helpers for the reviews end-to-end tests: buying products, reading the reviews database."""

from __future__ import annotations

from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.stack import ADMIN, INGEST, PUBLIC, TEST_SHOP, customer_token, db
from tests.support import eventually

SUBMIT = """mutation($input: ReviewInput!) { submitReview(input: $input) {
  id rating title body status rejectionReason verifiedBuyer incentivized mediaUrls hashtags challengeId
  helpfulCount createdAt product { id } reply { body } } }"""
MODERATE = """mutation($id: ID!, $decision: ModerationDecision!, $reason: String) {
  moderateReview(id: $id, decision: $decision, reason: $reason) { id status rejectionReason incentivized } }"""
REPLY = """mutation($id: ID!, $body: String!) { replyToReview(id: $id, body: $body) { id reply { body createdAt } } }"""
VOTE = """mutation($id: ID!) { voteReviewHelpful(reviewId: $id) { id helpfulCount } }"""
MY_REVIEWS = "{ me { reviews { id rating title body status verifiedBuyer incentivized product { id } } } }"
PENDING = "{ me { pendingReviews { product { id } orderId deliveredAt dueAt requestedAt } } }"
SUMMARY = "query($id: ID!) { product(id: $id) { ratingSummary { average count distribution } } }"
PAGE = """query($id: ID!, $first: Int, $after: String, $sort: ReviewSort, $media: Boolean) {
  product(id: $id) { reviews(first: $first, after: $after, sort: $sort, withMedia: $media) {
    edges { cursor node { id rating title body helpfulCount mediaUrls verifiedBuyer reply { body } } }
    pageInfo { hasNextPage endCursor } } } }"""


def review_input(product_id: str, **over) -> dict:
    return {"productId": product_id, "rating": 5, "title": "Lovely",
            "body": "The glaze is beautiful and it keeps coffee warm.", **over}


async def buy(gql, customer_id: str, products: list[str], *, deliver: bool = False) -> dict:
    """Order the products; wait until the reviews service has the purchase (and the delivery)."""
    order = order_input(customer_id, lines=[{"productId": p, "quantity": 1, "unitPrice": "45.00"} for p in products],
                        discountTotal=None, total=f"{45 * len(products) + 12.40:.2f}")
    await gql.ok(RECORD, {"input": order}, INGEST)
    if deliver:
        await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
        await gql.ok(STATUS, {"id": order["id"], "status": "DELIVERED"}, INGEST)

    async def recorded():
        return await fetchval(
            """SELECT count(*) = $3 FROM purchases WHERE shop_id = $4 AND order_id = $1
               AND ($2 = false OR delivered_at IS NOT NULL)""",
            order["id"], deliver, len(set(products)), TEST_SHOP)
    await eventually(recorded, what=f"reviews to record order {order['id']}")
    return order


async def fetchval(query: str, *args):
    conn = await db("reviews")
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def fetch(query: str, *args):
    conn = await db("reviews")
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def events_of(event_type: str, **match) -> list[dict]:
    """The reviews service's outbox events of a type whose data matches the given fields."""
    rows = await fetch("SELECT envelope FROM outbox WHERE type = $1 ORDER BY seq", event_type)
    return [r["envelope"]["data"] for r in rows
            if all(r["envelope"]["data"].get(k) == v for k, v in match.items())]


async def submit(gql, customer_id: str, product_id: str, **over) -> dict:
    return (await gql.ok(SUBMIT, {"input": review_input(product_id, **over)}, customer_token(customer_id)))[
        "submitReview"]


async def publish(gql, review_id: str) -> dict:
    return (await gql.ok(MODERATE, {"id": review_id, "decision": "APPROVE"}, ADMIN))["moderateReview"]


async def summary(gql, product_id: str) -> dict:
    return (await gql.ok(SUMMARY, {"id": product_id}, PUBLIC))["product"]["ratingSummary"]


