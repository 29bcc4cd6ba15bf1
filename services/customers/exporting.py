"""The customers part of the GDPR export (exportCustomerData): what this service holds about the
person, read through shared/personal_data.py like every other service (in its read-only snapshot;
each table with a person column, whole rows, JSON-ready), arranged as this service's part has
always been: the profile (the person's own row, keyed by `id`), the orders with their lines, the
engagement, the RFM scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.customers import store
from shared.db import Connection, Executor
from shared.errors import NotFound
from shared.ids import external_id
from shared.personal_data import export_person, json_ready

# Columns of the profile that nobody reads since migration 0013 moved the scores to rfm_scores
# (docs/operations.md says why they are still there); the scores are exported as "rfm".
_OLD_RFM_COLUMNS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_at")


def _plain(row: asyncpg.Record, *drop: str) -> dict[str, Any]:
    return {k: json_ready(v) for k, v in row.items() if k not in drop}


def _chronological(rows: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (datetime.fromisoformat(r[at]), r["id"]))


async def require_known(conn: Executor, shop: str, customer_id: str) -> str:
    """The person's id, once the shop knows them (erased or not): what exportCustomerData asks first,
    whichever services' fields the caller then reads."""
    customer_id = external_id(customer_id, "id")
    if await store.profiles.get(conn, shop, customer_id) is None:
        raise NotFound(f"unknown customer {customer_id}", field="id")
    return customer_id


async def export(conn: Connection, shop: str, customer_id: str) -> dict[str, Any]:
    """This service's part, inside shared/personal_data.py's snapshot."""
    customer_id = external_id(customer_id, "id")
    profile = await store.profiles.get(conn, shop, customer_id)
    if profile is None:
        raise NotFound(f"unknown customer {customer_id}", field="id")
    held = await export_person(conn, shop, customer_id)
    lines = await store.orders.lines_of_customer(conn, shop, customer_id)  # lines name no person
    rfm = await store.segments.rfm_scores(conn, shop, [customer_id])  # with the time of the pass
    held.pop("rfm_scores", None)
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(line["order_id"], []).append(_plain(line, "order_id"))
    orders = _chronological(held.pop("orders", []), "placed_at")
    return {
        "profile": _plain(profile, "shop_id", *_OLD_RFM_COLUMNS),
        "rfm": _plain(rfm[0], "customer_id") if rfm else None,
        "orders": [{**o, "lines": by_order.get(o["id"], [])} for o in orders],
        "engagement": _chronological(held.pop("engagements", []), "at"),
        **held,  # a table added later, under its own name
    }
