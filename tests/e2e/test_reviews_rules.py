"""Issue 19, item 6 and 8, through the gateway in shops of their own: a review is incentivized only
when a reward was granted for it; only photos and videos count as media; a full refund takes
"verified buyer" away; the D+7 delay and the media hosts are the shop's settings, versioned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.e2e.points_support import CONFIGURE as CONFIGURE_PROGRAM
from tests.e2e.reviews_support import MODERATE, PENDING, SUBMIT, review_input
from tests.stack import codes, customer_token, db, new_shop, unique
from tests.support import eventually

STATUS_AT = """mutation($id: ID!, $status: OrderStatus!, $at: DateTime) {
  updateOrderStatus(id: $id, status: $status, at: $at) { id status } }"""
SETTINGS = """mutation($input: ReviewSettingsInput!) { configureReviews(input: $input) {
  version requestDelayDays mediaHosts } }"""
READ_SETTINGS = "{ reviewSettings { version requestDelayDays mediaHosts } }"
MINE = "{ me { reviews { id verifiedBuyer incentivized } } }"


class Shop:
    def __init__(self) -> None:
        self.id, self.admin = new_shop()

    async def buy(self, gql, customer_id: str, product: str, *statuses: str, delivered_at: datetime | None = None,
                  **over) -> str:
        order = order_input(customer_id, lines=[{"productId": product, "quantity": 1, "unitPrice": "45.00"}],
                            discountTotal=None, **over)
        await gql.ok(RECORD, {"input": order}, self.admin)
        for status in statuses:
            at = delivered_at.isoformat() if delivered_at is not None and status == "DELIVERED" else None
            await gql.ok(STATUS_AT, {"id": order["id"], "status": status, "at": at}, self.admin)
        await eventually(lambda: reviews_val("SELECT count(*) > 0 FROM purchases WHERE shop_id = $1 AND order_id = $2",
                                             self.id, order["id"]), what="the purchase")
        return order["id"]

    def customer(self) -> tuple[str, dict[str, str]]:
        customer_id = unique("c")
        return customer_id, customer_token(customer_id, shop=self.id)

    async def submit(self, gql, headers: dict[str, str], product: str, **over) -> dict:
        return (await gql.ok(SUBMIT, {"input": review_input(product, **over)}, headers))["submitReview"]

    async def publish(self, gql, review_id: str) -> dict:
        return (await gql.ok(MODERATE, {"id": review_id, "decision": "APPROVE"}, self.admin))["moderateReview"]


async def reviews_val(query: str, *args):
    conn = await db("reviews")
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def points_handled(shop: str, review_id: str) -> None:
    """Until the points service has handled the review's review.published."""
    async def seen():
        reviews, points = await db("reviews"), await db("points")
        try:
            event_id = await reviews.fetchval("""SELECT envelope->>'id' FROM outbox WHERE shop_id = $1
                AND type = 'review.published' AND envelope->'data'->>'review_id' = $2""", shop, review_id)
            return event_id is not None and await points.fetchval(
                "SELECT count(*) = 1 FROM inbox WHERE event_id = $1", event_id)
        finally:
            await reviews.close()
            await points.close()
    await eventually(seen, what="points to handle review.published")


async def upsert(gql, shop: Shop, customer_id: str) -> None:
    await gql.ok("""mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }""",
                 {"i": {"id": customer_id, "email": f"{customer_id}@example.com"}}, shop.admin)


async def test_a_review_is_incentivized_only_when_a_reward_was_granted(gql):
    shop = Shop()
    await gql.ok(CONFIGURE_PROGRAM, {"input": {"actionRewards": {"review": 0, "mediaReview": 0}}}, shop.admin)
    customer_id, me = shop.customer()
    await upsert(gql, shop, customer_id)
    product = unique("p")
    await shop.buy(gql, customer_id, product)
    review = await shop.submit(gql, me, product)
    assert (await shop.publish(gql, review["id"]))["status"] == "PUBLISHED"
    await points_handled(shop.id, review["id"])  # the program pays 0 for a review: nothing granted
    assert (await gql.ok(MINE, headers=me))["me"]["reviews"][0]["incentivized"] is False

    await gql.ok(CONFIGURE_PROGRAM, {"input": {"actionRewards": {"review": 30}}}, shop.admin)
    other, other_me = shop.customer()
    await upsert(gql, shop, other)
    await shop.buy(gql, other, product)
    paid = await shop.submit(gql, other_me, product)
    await shop.publish(gql, paid["id"])

    async def marked():
        return (await gql.ok(MINE, headers=other_me))["me"]["reviews"][0]["incentivized"]
    await eventually(marked, what="the 30 points to mark the review incentivized")


async def test_only_photos_and_videos_count_as_media_and_the_shop_names_its_media_hosts(gql):
    shop = Shop()
    customer_id, me = shop.customer()
    await upsert(gql, shop, customer_id)
    product = unique("p")
    await shop.buy(gql, customer_id, product)
    page = await gql(SUBMIT, {"input": review_input(product, mediaUrls=["https://shop.example/products/mug"])}, me)
    assert codes(page) == ["BAD_USER_INPUT"] and page["errors"][0]["extensions"]["field"] == "mediaUrls[0]"
    assert (await shop.submit(gql, me, product, mediaUrls=["https://cdn.example.com/mug.webp"]))["mediaUrls"]
    cdn = ["https://img.cdn.shop.example/a1b2c3"]
    assert codes(await gql(SUBMIT, {"input": review_input(product, mediaUrls=cdn)}, me)) == ["BAD_USER_INPUT"]
    configured = (await gql.ok(SETTINGS, {"input": {"mediaHosts": ["cdn.shop.example"]}}, shop.admin))
    assert configured["configureReviews"] == {"version": 1, "requestDelayDays": "7", "mediaHosts": ["cdn.shop.example"]}
    assert (await shop.submit(gql, me, product, mediaUrls=cdn))["mediaUrls"] == cdn
    assert codes(await gql(SETTINGS, {"input": {"mediaHosts": ["not a host"]}}, shop.admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(SETTINGS, {"input": {"requestDelayDays": "400"}}, shop.admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(SETTINGS, {"input": {"mediaHosts": []}}, me)) == ["FORBIDDEN"]


async def test_a_full_refund_takes_verified_buyer_away(gql):
    shop = Shop()
    customer_id, me = shop.customer()
    await upsert(gql, shop, customer_id)
    product = unique("p")
    order = await shop.buy(gql, customer_id, product, "PAID")
    review = await shop.submit(gql, me, product)
    assert review["verifiedBuyer"] is True
    await gql.ok(STATUS, {"id": order, "status": "REFUNDED", "refunded": "10.00"}, shop.admin)  # partial: kept
    await gql.ok(STATUS, {"id": order, "status": "REFUNDED"}, shop.admin)

    async def unverified():
        return (await gql.ok(MINE, headers=me))["me"]["reviews"][0]["verifiedBuyer"] is False
    await eventually(unverified, what="the full refund to take verified buyer away")
    assert (await shop.submit(gql, me, product, rating=3))["verifiedBuyer"] is False


async def test_the_review_request_is_due_the_shops_delay_after_the_delivery_happened(gql):
    """D+7 by default, counted from when the order was delivered (a delivery reported a day late
    counts from the day before), and the shop's own delay for the deliveries after a change."""
    shop = Shop()
    customer_id, me = shop.customer()
    await upsert(gql, shop, customer_id)
    first, second = unique("p"), unique("p")
    delivered = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    await shop.buy(gql, customer_id, first, "PAID", "DELIVERED", delivered_at=delivered,
                   placedAt=(delivered - timedelta(days=3)).isoformat())

    async def due_of(product: str):
        pending = (await gql.ok(PENDING, headers=me))["me"]["pendingReviews"]
        found = [p for p in pending if p["product"]["id"] == product]
        return found and found[0]
    request = await eventually(lambda: due_of(first), what="the review request")
    assert datetime.fromisoformat(request["deliveredAt"]) == delivered
    assert datetime.fromisoformat(request["dueAt"]) == delivered + timedelta(days=7)

    await gql.ok(SETTINGS, {"input": {"requestDelayDays": "3.5"}}, shop.admin)
    assert (await gql.ok(READ_SETTINGS, headers=shop.admin))["reviewSettings"]["version"] == 1
    await shop.buy(gql, customer_id, second, "PAID", "DELIVERED")
    request = await eventually(lambda: due_of(second), what="the second review request")
    gap = datetime.fromisoformat(request["dueAt"]) - datetime.fromisoformat(request["deliveredAt"])
    assert gap == timedelta(days=3, hours=12)
