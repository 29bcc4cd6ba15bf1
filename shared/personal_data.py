"""What a service holds about one person, for the GDPR export.

Every service answers the same way, in one read-only snapshot: each of its tables that carries a
person column (the customer, or a referrer/friend) is read for that person, whole rows, in
JSON-ready form. Finding the tables from the catalog means a table added later is exported without
anyone remembering to. The outbox, inbox, schedule and migration tables are plumbing and carry no
profile of their own. A service whose person is a row of its own (customers: the `customers` row,
keyed by `id`) hands `customer_data_export` its own export, built on `export_person`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.db import Connection, transaction
from shared.graphql import admin_entity_part

PERSON_COLUMNS = ("customer_id", "referrer_id", "friend_id")
PLUMBING = ("outbox", "inbox", "scheduled_jobs", "schema_migrations")


def json_ready(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    return value


async def export_person(conn: Connection, shop: str, customer_id: str) -> dict[str, list[dict[str, Any]]]:
    tables = await conn.fetch(
        """SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.column_name) AS person_columns
           FROM information_schema.columns c
           WHERE c.table_schema = 'public' AND c.column_name = ANY($1::text[])
             AND NOT c.table_name = ANY($2::text[])
             AND EXISTS (SELECT 1 FROM information_schema.columns s WHERE s.table_schema = 'public'
                         AND s.table_name = c.table_name AND s.column_name = 'shop_id')
           GROUP BY c.table_name ORDER BY c.table_name""",
        list(PERSON_COLUMNS), list(PLUMBING),
    )
    export: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        match = " OR ".join(f"{column} = $2" for column in table["person_columns"])
        rows = await conn.fetch(
            f'SELECT * FROM "{table["table_name"]}" WHERE shop_id = $1 AND ({match})', shop, customer_id
        )
        if rows:
            export[table["table_name"]] = [
                {k: json_ready(v) for k, v in row.items() if k != "shop_id"} for row in rows
            ]
    return export


Export = Callable[[Connection, str, str], Awaitable[dict[str, Any]]]
"""What a service holds about one person: (conn, shop, customer id) → JSON-ready data."""


def customer_data_export(service: str, export: Export = export_person) -> type:
    """The service's part of the federated `CustomerDataExport` entity: one JSON field named after
    the service, answered by `export` in a read-only snapshot (the customers subgraph owns the root
    query `exportCustomerData`)."""

    async def resolve(self: Any, info: Info) -> JSON:
        context = info.context
        context.principal.require_admin()
        async with transaction(context.pool, isolation="repeatable_read", readonly=True) as conn:
            return cast(JSON, await export(conn, context.shop, str(self.customer_id)))

    return admin_entity_part(
        "CustomerDataExport", "customerId", "customer_id", service,
        strawberry.field(resolver=resolve, description=f"What the {service} service holds about the person."),
        "A GDPR export of one person. Each subgraph adds one JSON field named after itself with what it "
        "holds; the gateway joins them in one query.")
