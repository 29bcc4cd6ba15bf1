"""The product page: rating summary under concurrency, sorted pages of reviews, helpful votes."""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import ROUND_HALF_UP, Decimal

from tests.e2e.reviews_support import (
    MODERATE,
    PAGE,
    SUBMIT,
    VOTE,
    buy,
    fetch,
    publish,
    review_input,
    submit,
    summary,
)
from tests.stack import ADMIN, PUBLIC, codes, customer_token, unique

MEDIA = ["https://cdn.example.com/photo.jpg"]


async def published_reviews(gql, new_customer, product: str, specs: list[dict]) -> list[dict]:
    """One published review per spec, by fresh customers, in order (so NEWEST is the reverse)."""
    reviews = []
    for spec in specs:
        customer = await new_customer()
        review = await submit(gql, customer["id"], product, **spec)
        await publish(gql, review["id"])
        reviews.append({**review, "customer": customer["id"]})
    return reviews


def ids(page: dict) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


async def test_reviews_sort_page_and_put_media_first(gql, new_customer):
    product = unique("p")
    buyer = await new_customer()
    await buy(gql, buyer["id"], [product])
    r3, r5, r1, r4 = await published_reviews(gql, new_customer, product, [
        {"rating": 3}, {"rating": 5}, {"rating": 1, "mediaUrls": MEDIA, "body": "Cracked on day one, see photo."},
        {"rating": 4},
    ])
    voters = [await new_customer() for _ in range(2)]
    for voter in voters:
        await gql.ok(VOTE, {"id": r3["id"]}, customer_token(voter["id"]))
    await gql.ok(VOTE, {"id": r1["id"]}, customer_token(voters[0]["id"]))

    async def order(sort: str, media: bool = False) -> list[str]:
        return ids((await gql.ok(PAGE, {"id": product, "sort": sort, "media": media}, PUBLIC))["product"]["reviews"])

    assert await order("NEWEST") == [r4["id"], r1["id"], r5["id"], r3["id"]]
    assert await order("HIGHEST") == [r5["id"], r4["id"], r3["id"], r1["id"]]
    assert await order("LOWEST") == [r1["id"], r3["id"], r4["id"], r5["id"]]
    assert await order("MOST_HELPFUL") == [r3["id"], r1["id"], r4["id"], r5["id"]]
    assert await order("HIGHEST", media=True) == [r1["id"], r5["id"], r4["id"], r3["id"]]

    for sort, media in (("LOWEST", False), ("MOST_HELPFUL", True), ("NEWEST", True)):
        expected, seen, after = await order(sort, media), [], None
        while True:
            page = (await gql.ok(PAGE, {"id": product, "sort": sort, "media": media, "first": 1,
                                        "after": after}, PUBLIC))["product"]["reviews"]
            seen += ids(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, (sort, media)
    assert await summary(gql, product) == {"average": 3.25, "count": 4, "distribution": [1, 0, 1, 1, 1]}


async def test_bad_paging_is_refused(gql):
    assert codes(await gql(PAGE, {"id": unique("p"), "first": 1000}, PUBLIC)) == ["BAD_USER_INPUT"]
    assert codes(await gql(PAGE, {"id": unique("p"), "after": "bm90LWEtY3Vyc29y"}, PUBLIC)) == ["BAD_USER_INPUT"]


async def test_helpful_votes_count_once_per_customer_and_never_for_oneself(gql, new_customer):
    product = unique("p")
    author, voter = await new_customer(), await new_customer()
    await buy(gql, author["id"], [product])
    [review] = await published_reviews(gql, new_customer, product, [{"rating": 4}])
    vote = {"id": review["id"]}
    assert (await gql.ok(VOTE, vote, customer_token(voter["id"])))["voteReviewHelpful"]["helpfulCount"] == 1
    assert (await gql.ok(VOTE, vote, customer_token(voter["id"])))["voteReviewHelpful"]["helpfulCount"] == 1
    assert codes(await gql(VOTE, vote, customer_token(review["customer"]))) == ["FORBIDDEN"]
    assert codes(await gql(VOTE, vote)) == ["UNAUTHENTICATED"]
    assert codes(await gql(VOTE, vote, ADMIN)) == ["FORBIDDEN"]
    assert codes(await gql(VOTE, {"id": str(uuid.uuid4())}, customer_token(voter["id"]))) == ["NOT_FOUND"]
    pending = await submit(gql, author["id"], product)
    assert codes(await gql(VOTE, {"id": pending["id"]}, customer_token(voter["id"]))) == ["NOT_FOUND"]
    rows = await fetch("SELECT helpful_count FROM reviews WHERE id = $1::uuid", review["id"])
    assert rows[0]["helpful_count"] == 1


async def counted(product: str) -> list[int]:
    rows = await fetch("""SELECT rating, count(*) AS n FROM reviews
                          WHERE product_id = $1 AND status = 'PUBLISHED' GROUP BY rating""", product)
    return [next((r["n"] for r in rows if r["rating"] == stars), 0) for stars in range(1, 6)]


async def test_the_summary_stays_exact_under_concurrent_submissions_and_moderation(gql, new_customer):
    product = unique("p")
    customers = [await new_customer() for _ in range(10)]
    await buy(gql, customers[0]["id"], [product])
    rng = random.Random(5)

    async def review_by(customer: dict, rating: int) -> str:
        body = await gql.ok(SUBMIT, {"input": review_input(product, rating=rating)}, customer_token(customer["id"]))
        return body["submitReview"]["id"]

    def reject(rid: str):
        return gql.ok(MODERATE, {"id": rid, "decision": "REJECT"}, ADMIN)

    ratings = [rng.randint(1, 5) for _ in customers]
    review_ids = await asyncio.gather(*(review_by(c, r) for c, r in zip(customers, ratings, strict=True)))
    # The same review approved three times at once must count once.
    await asyncio.gather(*(publish(gql, rid) for rid in review_ids for _ in range(3)))
    got = await summary(gql, product)
    assert got["distribution"] == [ratings.count(stars) for stars in range(1, 6)] == await counted(product)

    # Author edits while an admin approves and another rejects the same review: any order, exact sums.
    new_ratings = [rng.randint(1, 5) for _ in customers]
    await asyncio.gather(*(op for c, rid, r in zip(customers, review_ids, new_ratings, strict=True)
                           for op in (review_by(c, r), publish(gql, rid), reject(rid))))
    assert (await summary(gql, product))["distribution"] == await counted(product)

    await asyncio.gather(*(publish(gql, rid) for rid in review_ids for _ in range(2)))
    expected = [new_ratings.count(stars) for stars in range(1, 6)]
    got = await summary(gql, product)
    assert got["distribution"] == expected == await counted(product)
    assert got["count"] == len(customers)
    average = (Decimal(sum(new_ratings)) / len(new_ratings)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert got["average"] == float(average)


async def test_a_customer_sees_the_summary_of_each_product_they_reviewed(gql, new_customer):
    customer, other = await new_customer(), await new_customer()
    products = [unique("p") for _ in range(3)]
    await buy(gql, customer["id"], products)
    for stars, product in enumerate(products, start=3):
        review = await submit(gql, customer["id"], product, rating=stars)
        await publish(gql, review["id"])
    extra = await submit(gql, other["id"], products[0], rating=1)
    await publish(gql, extra["id"])
    query = "{ me { reviews { rating product { id ratingSummary { average count distribution } } } } }"
    mine = (await gql.ok(query, headers=customer_token(customer["id"])))["me"]["reviews"]
    by_product = {r["product"]["id"]: r["product"]["ratingSummary"] for r in mine}
    assert by_product == {
        products[0]: {"average": 2.0, "count": 2, "distribution": [1, 0, 1, 0, 0]},
        products[1]: {"average": 4.0, "count": 1, "distribution": [0, 0, 0, 1, 0]},
        products[2]: {"average": 5.0, "count": 1, "distribution": [0, 0, 0, 0, 1]},
    }
