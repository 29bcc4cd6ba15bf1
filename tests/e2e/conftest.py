from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e import traces
from tests.platform_fakes import platform_fake  # noqa: F401  (the fake Admin APIs of the platform tests)
from tests.stack import INGEST, GraphQL, ensure_stack, gateway_url, unique


@pytest.fixture(scope="session")
def stack():
    ensure_stack()


@pytest.fixture(scope="session")
async def http(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def gql(http) -> GraphQL:
    return GraphQL(http, gateway_url())


@pytest.fixture(autouse=True)
def trace_marks():
    """Where each trace file ends as the test begins: tests/e2e/traces.py reads only past it."""
    traces.mark()


UPSERT = """mutation($input: CustomerInput!) { upsertCustomer(input: $input) { id email firstName locale } }"""
RECORD = """mutation($input: OrderInput!) { recordOrder(input: $input) { id status total { amount currency } } }"""
STATUS = """mutation($id: ID!, $status: OrderStatus!, $refunded: String) {
  updateOrderStatus(id: $id, status: $status, refundedAmount: $refunded) { id status refunded { amount } } }"""


@pytest.fixture
def new_customer(gql):
    async def make(**over):
        customer_id = unique("c")
        data = await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com",
                                               "firstName": "Anna", "locale": "en", **over}}, INGEST)
        return data["upsertCustomer"]
    return make


def order_input(customer_id: str, **over) -> dict:
    return {"id": unique("o"), "customerId": customer_id, "currency": "EUR",
            "lines": [{"productId": "p-mug", "quantity": 2, "unitPrice": "25.00"}],
            "discountTotal": "5.00", "shippingTotal": "4.90", "taxTotal": "7.50", "total": "57.40",
            "placedAt": datetime.now(UTC).isoformat(timespec="seconds"), **over}


@pytest.fixture
def paid_order(gql):
    """Record an order and mark it paid: net 57.40 - 4.90 - 7.50 = 45.00 → 45 points."""
    async def make(customer_id: str, **over):
        order = order_input(customer_id, **over)
        await gql.ok(RECORD, {"input": order}, INGEST)
        await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
        return order
    return make
