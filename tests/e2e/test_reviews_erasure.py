"""customer.erased: the person's reviews lose everything personal; the product's ratings stay.

Choice: unpublished reviews are deleted; a published review keeps only its rating (under a
placeholder author, hidden from the product page) so the public summary does not jump, which the
erasure event allows ("keeping anonymous aggregates"). Votes, purchases, requests and their
scheduled jobs of the person are deleted; helpful counts on other people's reviews stay as numbers.
"""

from __future__ import annotations

from services.reviews import requests
from shared.events import CustomerErased
from tests.e2e.reviews_support import PAGE, VOTE, buy, fetchval, publish, submit, summary
from tests.stack import ADMIN, PUBLIC, TEST_SHOP, customer_token, publish_event, unique
from tests.support import eventually

PERSON = "query($id: ID!) { customer(id: $id) { reviews { id } pendingReviews { orderId } } }"


async def test_erasing_a_customer_forgets_them_but_keeps_the_rating_summary(gql, new_customer):
    person, neighbour = await new_customer(), await new_customer()
    kept, pending_review, requested = unique("p"), unique("p"), unique("p")
    await buy(gql, person["id"], [kept, pending_review])
    await buy(gql, person["id"], [requested], deliver=True)
    mine = await submit(gql, person["id"], kept, rating=2, title="My name is Anna Example",
                        mediaUrls=["https://cdn.example.com/anna-face.jpg"], hashtags=["anna"])
    await publish(gql, mine["id"])
    await submit(gql, person["id"], pending_review)
    theirs = await submit(gql, neighbour["id"], kept, rating=4)
    await publish(gql, theirs["id"])
    await gql.ok(VOTE, {"id": theirs["id"]}, customer_token(person["id"]))
    before = await summary(gql, kept)
    assert before["count"] == 2

    event_id = await publish_event(CustomerErased(shop=TEST_SHOP, customer_id=person["id"]))
    await eventually(lambda: fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", event_id),
                     what="the erasure to be handled")

    assert await summary(gql, kept) == before  # anonymous aggregate kept
    page = (await gql.ok(PAGE, {"id": kept}, PUBLIC))["product"]["reviews"]["edges"]
    assert [(e["node"]["id"], e["node"]["helpfulCount"]) for e in page] == [(theirs["id"], 1)]
    assert (await gql.ok(PERSON, {"id": person["id"]}, ADMIN))["customer"] == {"reviews": [], "pendingReviews": []}
    for table in ("reviews", "purchases", "review_votes", "review_requests"):
        assert await fetchval(f"SELECT count(*) FROM {table} WHERE customer_id = $1", person["id"]) == 0, table
    assert await fetchval("SELECT count(*) FROM scheduled_jobs WHERE starts_with(dedup_key, $1)",
                          requests.customer_prefix(person["id"])) == 0
    anonymous = await fetchval("""SELECT row(rating, title, body, cardinality(media_urls), order_id IS NULL)::text
                                  FROM reviews WHERE id = $1::uuid""", mine["id"])
    assert anonymous == '(2,,"",0,t)'

    replay = await publish_event(CustomerErased(shop=TEST_SHOP, customer_id=person["id"]))
    await eventually(lambda: fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", replay),
                     what="the replayed erasure")
    assert await summary(gql, kept) == before
