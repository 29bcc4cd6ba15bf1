"""Events between the real services: replays, poison, and one trace across HTTP and RabbitMQ."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import aio_pika

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.stack import ADMIN, INGEST, amqp_url, customer_token, db, publish_raw
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


async def test_poison_in_a_service_queue_is_dead_lettered_and_orders_keep_flowing(gql, new_customer, paid_order):
    message_id = f"poison-{secrets.token_hex(6)}"
    await publish_raw(b'{"specversion": "1.0", "broken": true', "order.paid", message_id)
    customer = await new_customer()
    await paid_order(customer["id"])

    async def credited():
        return (await gql.ok(BALANCE, headers=customer_token(customer["id"])))["me"]["loyalty"]["pending"] == 45
    await eventually(credited, what="an order behind the poison")

    async def in_dlq():
        connection = await aio_pika.connect(amqp_url())
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("points.events.dlq", passive=True)
            while (message := await queue.get(fail=False)) is not None:
                if message.message_id == message_id:
                    await message.ack()
                    return message
                await message.nack(requeue=True)
                return None
        return None
    dead = await eventually(in_dlq, what="the poison in points.events.dlq")
    assert "not a Flywheel CloudEvent" in dead.headers["x-flywheel-error"]


def spans(service: str, trace_id: str) -> list[dict]:
    path = Path(os.environ.get("TRACE_DIR", ROOT / ".run" / "traces")) / f"{service}.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        if trace_id[:8] in line:
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
        found = spans("points", trace_id)
        return any(s["name"] == "points.events process" for s in found) and found
    consumer_side = await eventually(points_spans, what="the points consumer span in the trace")

    def customers_published():
        # Each process flushes its spans in batches: the consumer's may reach its file first.
        found = spans("customers", trace_id)
        return any(s["name"] == "order.paid publish" for s in found) and found
    customer_side = await eventually(customers_published, what="the customers publish span in the trace")
    assert any(s["kind"] == "SpanKind.SERVER" for s in customer_side)
    assert any(s["kind"] == "SpanKind.CLIENT" and "INSERT" in s["name"].upper() or
               s["attributes"].get("db.system") == "postgresql" for s in consumer_side)



def spans_named(service: str, name: str) -> list[dict]:
    path = Path(os.environ.get("TRACE_DIR", ROOT / ".run" / "traces")) / f"{service}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if name in line] if path.exists() else []


async def test_a_request_without_a_traceparent_still_makes_one_trace_across_subgraphs(gql, new_customer):
    customer = await new_customer()
    operation = f"TraceProbe_{secrets.token_hex(6)}"
    query = f"query {operation}($id: ID!) {{ customer(id: $id) {{ email loyalty {{ balance }} referralCode }} }}"
    await gql.ok(query, {"id": customer["id"]}, ADMIN)

    root = await eventually(lambda: spans_named("customers", f"GraphQL Query: {operation}"), what="the root span")
    trace_id = root[0]["context"]["trace_id"].removeprefix("0x")
    assert await eventually(lambda: spans("points", trace_id), what="points spans in the same trace")
    assert await eventually(lambda: spans("referrals", trace_id), what="referrals spans in the same trace")
