"""A consumer that is down while orders are paid catches up when it returns: nothing lost, nothing
doubled; its queue held the events meanwhile."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.invariants import earn_once_violations
from tests.stack import INGEST, TEST_SHOP, GraphQL, all_ready, customer_token, ensure_stack, gateway_url, unique
from tests.support import eventually

pytestmark = pytest.mark.chaos
STACK = str(ROOT / "infra/local/stack.sh")


async def test_points_down_while_orders_are_paid_credits_each_once_after_restart():
    ensure_stack()
    async with httpx.AsyncClient(timeout=30) as client:
        gql = GraphQL(client, gateway_url())
        customer_id = unique("c")
        await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, INGEST)
        subprocess.run([STACK, "stop", "points"], check=True)
        orders = []
        try:
            for _ in range(3):
                order = order_input(customer_id)
                await gql.ok(RECORD, {"input": order}, INGEST)
                await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
                orders.append(order["id"])
        finally:
            subprocess.run([STACK, "start", "points"], check=True)

        async def credited():
            data = await gql.ok("{ me { loyalty { pending } } }", headers=customer_token(customer_id))
            return data["me"]["loyalty"]["pending"] == 3 * 45  # pending until the return window passes
        await eventually(credited, timeout=60, what="135 pending points after the restart")
        assert len(orders) == 3 and await earn_once_violations(TEST_SHOP, orders) == []
        await eventually(all_ready, timeout=60, what="every service ready again")
