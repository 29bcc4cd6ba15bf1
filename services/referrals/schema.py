"""The referrals subgraph: each customer's code and link."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from services.referrals import codes, store
from shared.graphql import EXTENSIONS, ctx, customer_ctx, guarded_reference


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    resolve_reference = classmethod(guarded_reference)

    @strawberry.field(description="The code a friend enters at checkout.")
    async def referral_code(self, info: Info) -> str:
        c = customer_ctx(info, self.id)
        async with c.pool.acquire() as conn:
            return await store.ensure_code(conn, c.shop, self.id)

    @strawberry.field(description="The link to share; it carries the code.")
    async def referral_link(self, info: Info) -> str:
        c = ctx(info)
        code = await self.referral_code(info)
        return codes.link(c.runtime.settings.referral_base_url, code)


schema = strawberry.federation.Schema(
    types=[Customer],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
