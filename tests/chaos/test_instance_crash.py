"""kill -9 of one instance under load: orders keep coming through the gateway while a customers
instance (taking the ingest requests) and a points instance (consuming order events) die without a
shutdown. With SCALE > 1 the others carry on; at SCALE=1 the shop retries until the restart. Either
way every paid order is credited exactly once and nothing stays behind in an outbox."""

from __future__ import annotations

import asyncio
import subprocess

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.invariants import earn_once_violations
from tests.stack import INGEST, TEST_SHOP, GraphQL, all_ready, customer_token, db, ensure_stack, gateway_url, unique
from tests.support import eventually

pytestmark = pytest.mark.chaos
STACK = str(ROOT / "infra/local/stack.sh")
CUSTOMERS, ORDERS_EACH, POINTS_PER_ORDER = 4, 8, 45


def scale() -> int:
    return int(subprocess.run([STACK, "scale"], check=True, capture_output=True, text=True).stdout)


def one_instance(service: str) -> str:
    """The last instance of a service (its only one at SCALE=1)."""
    n = scale()
    return service if n == 1 else f"{service}.{n}"


async def with_retries(gql: GraphQL, query: str, variables: dict) -> dict:
    """What a shop's integration does: resend until accepted. A request cut off by the crash may
    or may not have been applied; recordOrder and updateOrderStatus are idempotent by order id."""
    last: object = None
    for _ in range(120):
        try:
            body = await gql(query, variables, INGEST)
            if not body.get("errors"):
                return body["data"]
            last = body["errors"]
        except (httpx.HTTPError, ValueError, AssertionError) as exc:  # reset, 502 page, no body
            last = exc
        await asyncio.sleep(0.5)
    raise AssertionError(f"never accepted: {last!r}")


async def test_kill_9_of_one_instance_under_load_loses_and_doubles_nothing():
    ensure_stack()
    async with httpx.AsyncClient(timeout=30) as client:
        gql = GraphQL(client, gateway_url())
        customers = [unique("c") for _ in range(CUSTOMERS)]
        for customer_id in customers:
            await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, INGEST)
        orders: list[str] = []
        started = asyncio.Event()

        async def shop(customer_id: str) -> None:
            for n in range(ORDERS_EACH):
                order = order_input(customer_id)
                await with_retries(gql, RECORD, {"input": order})
                await with_retries(gql, STATUS, {"id": order["id"], "status": "PAID"})
                orders.append(order["id"])
                if n == 1:
                    started.set()

        async def crash() -> None:
            await started.wait()
            victims = [one_instance("customers"), one_instance("points")]
            for victim in victims:
                await asyncio.to_thread(subprocess.run, [STACK, "kill", victim], check=True)
            await asyncio.sleep(3)  # the load goes on without them
            for victim in victims:
                await asyncio.to_thread(subprocess.run, [STACK, "start", victim], check=True)

        await asyncio.gather(crash(), *(shop(c) for c in customers))
        assert len(orders) == CUSTOMERS * ORDERS_EACH

        for customer_id in customers:
            async def credited(customer_id=customer_id):
                data = await gql.ok("{ me { loyalty { pending } } }", headers=customer_token(customer_id))
                return data["me"]["loyalty"]["pending"] == ORDERS_EACH * POINTS_PER_ORDER
            await eventually(credited, timeout=90, what=f"{ORDERS_EACH * POINTS_PER_ORDER} pending for {customer_id}")

        points = await db("points")
        customers_db = await db("customers")
        try:
            assert await earn_once_violations(TEST_SHOP, orders) == []
            events = await customers_db.fetch(
                "SELECT type, envelope->'data'->>'order_id' AS order_id, count(*) AS n FROM outbox"
                " WHERE envelope->'data'->>'order_id' = ANY($1::text[]) GROUP BY 1, 2", orders)
            # One order.placed and one order.paid per order: a retried request wrote no second event.
            assert sorted({r["type"] for r in events}) == ["order.paid", "order.placed"]
            assert len(events) == 2 * len(orders) and all(r["n"] == 1 for r in events)
            assert await customers_db.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND envelope->'data'->>'order_id' = ANY($1)",
                orders) == 0
        finally:
            await points.close()
            await customers_db.close()
        await eventually(all_ready, timeout=60, what="every service ready again")
