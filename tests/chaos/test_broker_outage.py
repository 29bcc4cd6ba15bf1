"""RabbitMQ stopped between the order write and the publish: nothing is lost, nothing doubles."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.invariants import earn_once_violations
from tests.stack import (
    INGEST,
    TEST_SHOP,
    GraphQL,
    all_ready,
    customer_token,
    db,
    ensure_stack,
    gateway_url,
    port,
    unique,
)
from tests.support import eventually

pytestmark = pytest.mark.chaos
RABBIT = str(ROOT / "infra/local/rabbitmq.sh")


async def unpublished(order_id: str) -> int:
    conn = await db("customers")
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND envelope->'data'->>'order_id' = $1",
            order_id)
    finally:
        await conn.close()


async def readiness(client: httpx.AsyncClient, query: str = "") -> int:
    return (await client.get(f"http://127.0.0.1:{port('customers')}/readyz{query}")).status_code


async def test_orders_taken_while_the_broker_is_down_are_credited_once_it_is_back():
    ensure_stack()
    async with httpx.AsyncClient(timeout=30) as client:
        gql = GraphQL(client, gateway_url())
        customer_id = unique("c")
        await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, INGEST)
        subprocess.run([RABBIT, "stop"], check=True)
        try:
            # Not ready in full, yet still in rotation for a load balancer (several instances) or
            # Kubernetes: requests work without the broker.
            async def broker_missed():
                return await readiness(client) == 503
            await eventually(broker_missed, timeout=30, what="/readyz reporting the broker gone")
            assert await readiness(client, "?broker=optional") == 200
            order = order_input(customer_id)
            await gql.ok(RECORD, {"input": order}, INGEST)  # the shop keeps taking orders
            await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
            assert await unpublished(order["id"]) == 2  # order.placed and order.paid wait in the outbox
        finally:
            subprocess.run([RABBIT, "start"], check=True)

        async def credited():
            data = await gql.ok("{ me { loyalty { pending } } }", headers=customer_token(customer_id))
            return data["me"]["loyalty"]["pending"] == 45  # pending until the return window passes
        await eventually(credited, timeout=90, what="the points once the broker is back")
        assert await unpublished(order["id"]) == 0
        assert await earn_once_violations(TEST_SHOP, [order["id"]]) == []
        await eventually(all_ready, timeout=60, what="every service ready again")
