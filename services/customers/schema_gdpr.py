"""The customers subgraph's GDPR surface: exportCustomerData (this subgraph owns the root query and
the CustomerDataExport entity; every other subgraph adds its own field through
shared/personal_data.py) and eraseCustomer. schema.py wires these resolvers."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from services.customers import erasure, exporting
from shared.graphql import ctx
from shared.ids import external_id


@strawberry.federation.type(keys=["customerId"], description=(
    "A GDPR export of one person. Each subgraph adds one JSON field named after itself with what "
    "it holds (this one: customers); the gateway joins them in one query."))
class CustomerDataExport:
    customer_id: strawberry.ID
    customers: JSON

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> CustomerDataExport:
        # The representation arrives as the gateway spells the key: {"customerId": ...}.
        return await export_customer_data(info, strawberry.ID(str(representation.get("customerId", ""))))


async def export_customer_data(info: Info, id: strawberry.ID) -> CustomerDataExport:
    """Everything Flywheel holds about the person (admin)."""
    c = ctx(info)
    c.principal.require_admin()
    data = await exporting.export(c.pool, c.shop, external_id(id, "id"))
    return CustomerDataExport(customer_id=id, customers=cast(JSON, data))


async def erase_customer(info: Info, id: strawberry.ID) -> bool:
    """GDPR: forget the person (admin). Emits customer.erased so every service does the same."""
    c = ctx(info)
    c.principal.require_admin()
    await erasure.erase(c.pool, c.shop, external_id(id, "id"))
    return True
