"""Events between the real services: replays, poison, and one trace across HTTP and RabbitMQ."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal

from shared.events import OrderPaid, new_envelope
from tests.e2e import traces
from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.stack import ADMIN, INGEST, customer_token, db, publish_raw, shop_admin, unique
from tests.support import eventually

BALANCE = "{ me { loyalty { pending } } }"  # paid orders earn pending points


async def ledger_rows(order_id: str) -> int:
    conn = await db("points")
    try:
        return await conn.fetchval("SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1",
                                   f"order:{order_id}:earn")
    finally:
        await conn.close()


async def test_a_replayed_order_paid_event_credits_once(gql, new_customer, paid_order):
    customer = await new_customer()
    order = await paid_order(customer["id"])
    token = customer_token(customer["id"])
    await eventually(lambda: ledger_rows(order["id"]), what="the first credit")
    conn = await db("customers")
    envelope = await conn.fetchval(
        "SELECT envelope FROM outbox WHERE type = 'order.paid' AND envelope->'data'->>'order_id' = $1", order["id"])
    await conn.close()
    body = json.dumps(envelope).encode()
    await publish_raw(body, "order.paid", envelope["id"])  # the very same event again
    replay = {**envelope, "id": envelope["id"] + "-replayed"}  # and a copy under a new event id
    await publish_raw(json.dumps(replay).encode(), "order.paid", replay["id"])

    async def both_seen():
        conn = await db("points")
        try:
            return await conn.fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", replay["id"])
        finally:
            await conn.close()
    await eventually(both_seen, what="the replay to be handled")
    assert await ledger_rows(order["id"]) == 1
    assert (await gql.ok(BALANCE, headers=token))["me"]["loyalty"]["pending"] == 45


async def dead_letter(service: str, message_id: str):
    conn = await db(service)
    try:
        return await conn.fetchrow("SELECT * FROM dead_letters WHERE message_id = $1", message_id)
    finally:
        await conn.close()


async def test_poison_in_a_service_queue_is_dead_lettered_and_orders_keep_flowing(gql, new_customer, paid_order):
    message_id = f"poison-{secrets.token_hex(6)}"
    await publish_raw(b'{"specversion": "1.0", "broken": true', "order.paid", message_id)
    customer = await new_customer()
    await paid_order(customer["id"])

    async def credited():
        return (await gql.ok(BALANCE, headers=customer_token(customer["id"])))["me"]["loyalty"]["pending"] == 45
    await eventually(credited, what="an order behind the poison")
    # From points.events.dlq into points' dead_letters table, where an operator reads and replays it.
    dead = await eventually(lambda: dead_letter("points", message_id), what="the poison among points' dead letters")
    assert dead["reason"].startswith("PoisonMessage: not a Flywheel CloudEvent") and dead["shop_id"] is None
    assert dead["event_type"] == "order.paid" and bytes(dead["body"]).startswith(b'{"specversion"')


DEAD_LETTERS = """{ deadLetters { points { queue count oldest reasons { reason count eventTypes }
                    letters { id eventId eventType reason } } notifications { count } customers { count } } }"""


async def test_an_admin_sees_the_dead_letters_of_their_shop_by_service_and_reason(gql):
    """An event of a version nobody handles is dead-lettered at once: the shop's admin finds it under
    points with its reason; another shop's admin does not."""
    shop, other = unique("dl-shop"), unique("dl-other")
    paid = OrderPaid(shop=shop, order_id=unique("o"), customer_id=unique("c"), currency="EUR", total=Decimal("10"),
                     net_amount=Decimal("10"), placed_at=datetime.now(UTC))
    envelope = new_envelope(paid, source="tests").model_copy(update={"dataversion": 99})
    await publish_raw(envelope.model_dump_json().encode(), "order.paid", envelope.id)

    async def listed():
        data = await gql.ok(DEAD_LETTERS, headers=shop_admin(shop))
        return data["deadLetters"]["points"]["count"] == 1 and data["deadLetters"]
    found = await eventually(listed, what="the letter in the shop's deadLetters")
    points = found["points"]
    assert points["queue"] == "points.events" and points["oldest"]
    assert points["reasons"] == [{"reason": "PoisonMessage: unknown event order.paid …", "count": 1,
                                  "eventTypes": ["order.paid"]}]
    assert [(x["eventId"], x["eventType"]) for x in points["letters"]] == [(envelope.id, "order.paid")]
    assert found["customers"]["count"] == 0
    assert (await gql.ok(DEAD_LETTERS, headers=shop_admin(other)))["deadLetters"]["points"]["count"] == 0


def spans(service: str, trace_id: str) -> list[dict]:
    found = []
    for line in traces.lines(service, trace_id[:8]):
        span = json.loads(line)
        if span["context"]["trace_id"] == "0x" + trace_id:
            found.append(span)
    return found


async def test_one_trace_follows_an_order_from_the_gateway_through_rabbitmq(gql, new_customer):
    customer = await new_customer()
    order = order_input(customer["id"])
    trace_id = secrets.token_hex(16)
    traced = {**INGEST, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    await gql.ok(RECORD, {"input": order}, traced)
    await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, traced)

    async def points_spans():
        # The payment's handling (order.placed without codes runs no SQL): its span ends after the
        # statements under it, so once it is in the file they are too.
        found = spans("points", trace_id)
        paid = [s for s in found if s["name"] == "points.events process"
                and s["attributes"].get("cloudevents.event_type") == "order.paid"]
        return paid and (paid[0], found)
    paid_span, consumer_side = await eventually(points_spans, what="the points consumer span in the trace")

    def customers_published():
        # Each process flushes its spans in batches: the consumer's may reach its file first.
        found = spans("customers", trace_id)
        return any(s["name"] == "order.paid publish" for s in found) and found
    customer_side = await eventually(customers_published, what="the customers publish span in the trace")
    assert any(s["kind"] == "SpanKind.SERVER" for s in customer_side)
    assert any(s["attributes"].get("db.system") == "postgresql" and s["parent_id"] == paid_span["context"]["span_id"]
               for s in consumer_side)



def spans_named(service: str, name: str) -> list[dict]:
    return [json.loads(line) for line in traces.lines(service, name)]


async def test_a_request_without_a_traceparent_still_makes_one_trace_across_subgraphs(gql, new_customer):
    customer = await new_customer()
    operation = f"TraceProbe_{secrets.token_hex(6)}"
    query = f"query {operation}($id: ID!) {{ customer(id: $id) {{ email loyalty {{ balance }} referralCode }} }}"
    await gql.ok(query, {"id": customer["id"]}, ADMIN)

    root = await eventually(lambda: spans_named("customers", f"GraphQL Query: {operation}"), what="the root span")
    trace_id = root[0]["context"]["trace_id"].removeprefix("0x")
    assert await eventually(lambda: spans("points", trace_id), what="points spans in the same trace")
    assert await eventually(lambda: spans("referrals", trace_id), what="referrals spans in the same trace")
