"""D+7 review requests: scheduled on delivery, cancelled by a review, sent when due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.reviews import requests, reviewing
from tests.e2e.reviews_support import PENDING, buy, events_of, fetch, fetchval, submit
from tests.stack import ADMIN, codes, customer_token, db, publish_raw, subgraph_url, unique
from tests.support import eventually


async def pending(gql, customer_id: str) -> list[dict]:
    return (await gql.ok(PENDING, headers=customer_token(customer_id)))["me"]["pendingReviews"]


async def jobs(customer_id: str) -> dict[str, str]:
    rows = await fetch("SELECT dedup_key, status FROM scheduled_jobs WHERE kind = $1 AND starts_with(dedup_key, $2)",
                       reviewing.REQUEST_JOB, requests.customer_prefix(customer_id))
    return {r["dedup_key"]: r["status"] for r in rows}


async def test_delivery_schedules_requests_that_a_review_cancels_and_that_go_out_when_due(gql, new_customer):
    customer = await new_customer()
    cid = customer["id"]
    early, later, reviewed_first = unique("p"), unique("p"), unique("p")
    await buy(gql, cid, [reviewed_first])
    await submit(gql, cid, reviewed_first)  # reviewed before the delivery: no request for it
    before = datetime.now(UTC)
    order = await buy(gql, cid, [early, later, reviewed_first], deliver=True)
    after = datetime.now(UTC)

    listed = await pending(gql, cid)
    assert sorted(p["product"]["id"] for p in listed) == sorted([early, later])
    for p in listed:
        assert p["orderId"] == order["id"] and p["requestedAt"] is None
        # D+7 (the default shop's setting) from the delivery, which happened during buy(): checked
        # against this test's own clock and 7 days, not against a value the product computes.
        delivered = datetime.fromisoformat(p["deliveredAt"])
        assert before - timedelta(seconds=5) <= delivered <= after + timedelta(seconds=5)
        assert datetime.fromisoformat(p["dueAt"]) - delivered == timedelta(days=7)
    assert await jobs(cid) == {requests.job_key(cid, early): "pending", requests.job_key(cid, later): "pending"}

    await submit(gql, cid, early)  # a review submitted first cancels its request
    assert [p["product"]["id"] for p in await pending(gql, cid)] == [later]
    assert (await jobs(cid))[requests.job_key(cid, early)] == "cancelled"

    await fetchval("UPDATE scheduled_jobs SET due_at = now() WHERE dedup_key = $1 AND kind = $2",
                   requests.job_key(cid, later), reviewing.REQUEST_JOB)  # time travel to D+7
    [sent] = await eventually(lambda: events_of("review.requested", customer_id=cid), what="review.requested")
    assert (sent["product_id"], sent["order_id"]) == (later, order["id"])
    [still_open] = await pending(gql, cid)
    assert still_open["product"]["id"] == later and still_open["requestedAt"] is not None
    assert (await jobs(cid))[requests.job_key(cid, later)] == "done"
    assert await events_of("review.requested", customer_id=cid, product_id=early) == []

    await submit(gql, cid, later)  # answering the request closes it
    assert await pending(gql, cid) == []


async def test_a_replayed_delivery_schedules_nothing_twice(gql, new_customer):
    customer = await new_customer()
    product = unique("p")
    order = await buy(gql, customer["id"], [product], deliver=True)
    conn = await db("customers")
    try:
        envelope = await conn.fetchval("""SELECT envelope FROM outbox WHERE type = 'order.delivered'
                                          AND envelope->'data'->>'order_id' = $1""", order["id"])
    finally:
        await conn.close()
    replay = {**envelope, "id": envelope["id"] + "-replayed"}
    await publish_raw(json.dumps(envelope).encode(), "order.delivered", envelope["id"])
    await publish_raw(json.dumps(replay).encode(), "order.delivered", replay["id"])
    await eventually(lambda: fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", replay["id"]),
                     what="the replay to be handled")
    assert len(await jobs(customer["id"])) == 1
    assert len(await pending(gql, customer["id"])) == 1


async def test_pending_reviews_and_reviews_are_the_customers_own_even_on_the_subgraph(gql, new_customer):
    me, other = await new_customer(), await new_customer()
    await buy(gql, me["id"], [unique("p")], deliver=True)
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
                 ... on Customer { pendingReviews { orderId } reviews { id } } } }"""
    representations = {"r": [{"__typename": "Customer", "id": me["id"]}]}
    url = subgraph_url("reviews")
    assert codes(await gql(query, representations, customer_token(other["id"]), url=url)) == ["FORBIDDEN"]
    assert codes(await gql(query, representations, url=url)) == ["UNAUTHENTICATED"]
    mine = await gql.ok(query, representations, customer_token(me["id"]), url=url)
    assert len(mine["_entities"][0]["pendingReviews"]) == 1
    assert len((await gql.ok(query, representations, ADMIN, url=url))["_entities"][0]["pendingReviews"]) == 1
