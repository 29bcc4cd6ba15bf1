"""Helpers for the customers e2e tests: a fresh shop per test, customers and orders at given times,
raw events on the bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.events import CATALOG
from tests.e2e import traces
from tests.e2e.conftest import RECORD, STATUS, UPSERT
from tests.stack import db, unique
from tests.stack import publish_event as publish_catalog_event


def days_ago(n: float) -> str:
    return (datetime.now(UTC) - timedelta(days=n)).isoformat()


async def customer(gql, headers, **over) -> str:
    customer_id = over.pop("id", None) or unique("c")
    await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com", "firstName": "Ida",
                                    **over}}, headers)
    return customer_id


async def order(gql, headers, customer_id: str, placed_at: str, *, net: str = "100.00", status: str = "PAID",
                refunded: str | None = None, **over) -> str:
    """An order of `net` (shipping 5.00 and tax 14.00 on top) moved to `status`."""
    order_id = over.pop("id", None) or unique("o")
    total = str(float(net) + 19)
    await gql.ok(RECORD, {"input": {"id": order_id, "customerId": customer_id, "currency": "EUR",
                                    "lines": [{"productId": "p-1", "quantity": 1, "unitPrice": net}],
                                    "shippingTotal": "5.00", "taxTotal": "14.00", "total": f"{float(total):.2f}",
                                    "placedAt": placed_at, **over}}, headers)
    path = {"PLACED": [], "PAID": ["PAID"], "SHIPPED": ["PAID", "SHIPPED"],
            "DELIVERED": ["PAID", "SHIPPED", "DELIVERED"], "CANCELLED": ["CANCELLED"],
            "REFUNDED": ["PAID", "REFUNDED"]}[status]
    for step in path:
        await gql.ok(STATUS, {"id": order_id, "status": step, "refunded": refunded if step == "REFUNDED" else None},
                     headers)
    return order_id


async def publish_event(type_: str, shop: str, data: dict, event_id: str | None = None) -> str:
    """A catalog event from plain fields (validated by its model, as a consumer would)."""
    return await publish_catalog_event(CATALOG[(type_, 1)].model_validate({"shop": shop, **data}), event_id)


async def customers_value(sql: str, *args):
    conn = await db("customers")
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def statements_of_request(trace_id: str) -> list[str] | None:
    """The SQL the customers service ran for the request of that trace (from its trace file), or
    None while the request's own span has not been written yet (spans go out in batches; a request's
    statements end, and are written, before it does)."""
    spans = [json.loads(line) for line in traces.lines("customers", trace_id)]
    if not any(s["name"] == "POST /graphql" for s in spans):
        return None
    return [s["attributes"]["db.statement"] for s in spans if s["attributes"].get("db.system") == "postgresql"]
