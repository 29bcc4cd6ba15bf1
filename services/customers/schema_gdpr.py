"""The customers subgraph's GDPR surface: exportCustomerData (this subgraph owns the root query and
the CustomerDataExport entity; its `customers` field comes from shared/personal_data.py like every
other subgraph's, answered by exporting.export) and eraseCustomer. schema.py wires these resolvers."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from services.customers import erasure, exporting
from shared.graphql import ctx
from shared.ids import external_id
from shared.personal_data import customer_data_export

CustomerDataExport = customer_data_export("customers", exporting.export)


async def export_customer_data(info: Info, id: strawberry.ID) -> Any:
    """Everything Flywheel holds about the person (admin): each subgraph's field reads its part."""
    c = ctx(info)
    c.principal.require_admin()
    return CustomerDataExport(customer_id=strawberry.ID(await exporting.require_known(c.pool, c.shop, id)))


async def erase_customer(info: Info, id: strawberry.ID) -> bool:
    """GDPR: forget the person (admin). Emits customer.erased so every service does the same."""
    c = ctx(info)
    c.principal.require_admin()
    await erasure.erase(c.pool, c.shop, external_id(id, "id"))
    return True
