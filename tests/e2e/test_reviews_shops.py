"""The moderation queue, and reviews kept apart per shop."""

from __future__ import annotations

from tests.e2e.conftest import RECORD, UPSERT, order_input
from tests.e2e.reviews_support import MODERATE, PAGE, SUMMARY, fetchval, review_input
from tests.e2e.reviews_support import SUBMIT as SUBMIT_REVIEW
from tests.stack import ADMIN, PUBLIC, codes, customer_token, unique
from tests.support import eventually

AUTHORS = "query($id: ID!) { product(id: $id) { reviews { edges { node { id customerId } } } } }"
QUEUE = """query($status: ReviewStatus, $first: Int, $after: String) {
  moderationQueue(status: $status, first: $first, after: $after) {
    edges { node { id status rating customerId } } pageInfo { hasNextPage endCursor } } }"""


async def test_a_shop_moderates_its_own_queue_oldest_first_and_never_sees_another_shop(gql):
    shop = unique("shop")
    admin = customer_token("back-office", shop=shop, roles=["admin"])
    product = unique("p")
    customers = [unique("c") for _ in range(3)]
    for cid in customers:
        await gql.ok(UPSERT, {"input": {"id": cid, "email": f"{cid}@example.com"}}, admin)
    await gql.ok(RECORD, {"input": order_input(customers[0], lines=[
        {"productId": product, "quantity": 1, "unitPrice": "45.00"}], discountTotal=None)}, admin)
    await eventually(lambda: fetchval("SELECT count(*) = 1 FROM products WHERE shop_id = $1 AND product_id = $2",
                                      shop, product), what="the product known in the new shop")

    ids = []
    for i, cid in enumerate(customers):
        body = await gql.ok(SUBMIT_REVIEW, {"input": review_input(product, rating=i + 3)},
                            customer_token(cid, shop=shop))
        ids.append(body["submitReview"]["id"])

    first = (await gql.ok(QUEUE, {"first": 2}, admin))["moderationQueue"]
    assert [e["node"]["id"] for e in first["edges"]] == ids[:2] and first["pageInfo"]["hasNextPage"]
    assert [e["node"]["customerId"] for e in first["edges"]] == customers[:2]  # admins see the author
    rest = (await gql.ok(QUEUE, {"first": 2, "after": first["pageInfo"]["endCursor"]}, admin))["moderationQueue"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]

    await gql.ok(MODERATE, {"id": ids[1], "decision": "APPROVE"}, admin)
    pending = (await gql.ok(QUEUE, {}, admin))["moderationQueue"]["edges"]
    assert [e["node"]["id"] for e in pending] == [ids[0], ids[2]]
    published = (await gql.ok(QUEUE, {"status": "PUBLISHED"}, admin))["moderationQueue"]["edges"]
    assert [e["node"]["id"] for e in published] == [ids[1]]

    public = (await gql.ok(AUTHORS, {"id": product}, {"x-shop": shop}))["product"]["reviews"]["edges"]
    assert [e["node"]["customerId"] for e in public] == [None]  # the public never sees who wrote it
    own = (await gql.ok(AUTHORS, {"id": product}, customer_token(customers[1], shop=shop)))["product"]["reviews"]
    assert [e["node"]["customerId"] for e in own["edges"]] == [customers[1]]
    other = (await gql.ok(AUTHORS, {"id": product}, customer_token(customers[0], shop=shop)))["product"]["reviews"]
    assert [e["node"]["customerId"] for e in other["edges"]] == [None]

    # the default shop sees none of it: not the product's summary, page or queue, nor the review by id
    assert (await gql.ok(SUMMARY, {"id": product}, PUBLIC))["product"]["ratingSummary"]["count"] == 0
    assert (await gql.ok(SUMMARY, {"id": product}, {"x-shop": shop}))["product"]["ratingSummary"]["count"] == 1
    assert (await gql.ok(PAGE, {"id": product}, PUBLIC))["product"]["reviews"]["edges"] == []
    assert codes(await gql(MODERATE, {"id": ids[0], "decision": "APPROVE"}, ADMIN)) == ["NOT_FOUND"]
    default_queue = (await gql.ok(QUEUE, {"first": 100}, ADMIN))["moderationQueue"]["edges"]
    assert not {e["node"]["id"] for e in default_queue} & set(ids)


async def test_the_queue_is_for_admins(gql, new_customer):
    customer = await new_customer()
    assert codes(await gql(QUEUE, {}, customer_token(customer["id"]))) == ["FORBIDDEN"]
    assert codes(await gql(QUEUE, {})) == ["UNAUTHENTICATED"]
    assert codes(await gql(QUEUE, {"after": "garbage"}, ADMIN)) == ["BAD_USER_INPUT"]
