"""The reviews subgraph: a customer's reviews and the Product entity they are about."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from services.reviews import store
from shared.graphql import EXTENSIONS, ctx, customer_ctx, guarded_reference


@strawberry.enum
class ReviewStatus(Enum):
    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    REJECTED = "REJECTED"


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product:
        return cls(id=id)


@strawberry.type
class Review:
    id: strawberry.ID
    rating: int
    title: str | None
    body: str
    status: ReviewStatus
    verified_buyer: bool
    incentivized: bool
    media_urls: list[str]
    created_at: datetime
    product: Product

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Review:
        return cls(
            id=strawberry.ID(str(row["id"])), rating=row["rating"], title=row["title"], body=row["body"],
            status=ReviewStatus(row["status"]), verified_buyer=row["verified_buyer"],
            incentivized=row["incentivized"], media_urls=list(row["media_urls"]),
            created_at=row["created_at"], product=Product(id=strawberry.ID(row["product_id"])),
        )


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    resolve_reference = classmethod(guarded_reference)

    @strawberry.field(description="The customer's own reviews, whatever their status.")
    async def reviews(self, info: Info) -> list[Review]:
        c = customer_ctx(info, self.id)
        return [Review.from_row(r) for r in await store.reviews_by_customer(c.pool, c.shop, self.id)]


@strawberry.type
class Query:
    @strawberry.field(description="A product page's review data (public; X-Shop names the shop).")
    def product(self, info: Info, id: strawberry.ID) -> Product:
        _ = ctx(info).principal  # a forged credential is an error even on public fields
        return Product(id=id)


schema = strawberry.federation.Schema(
    query=Query,
    types=[Customer, Product],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
