"""The reviews subgraph: reviews, moderation, helpful votes, review requests, and the Product
entity's rating summary and review list. Resolvers are thin: rules live in submissions.py,
moderation.py, ratings.py, listing.py; transactions in reviewing.py; SQL in store.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.reviews import listing, ratings, reviewing, store, submissions
from services.reviews.settings import ReviewSettings as SettingsRules
from shared.dead_letters_schema import dead_letters_part
from shared.graphql import Context, SubgraphSchema, ctx, customer_ctx, guarded_reference, rows_loader
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size
from shared.personal_data import customer_data_export


@strawberry.enum
class ReviewStatus(Enum):
    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    REJECTED = "REJECTED"


@strawberry.enum
class ReviewSort(Enum):
    NEWEST = "NEWEST"
    HIGHEST = "HIGHEST"
    LOWEST = "LOWEST"
    MOST_HELPFUL = "MOST_HELPFUL"


@strawberry.enum
class ModerationDecision(Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@strawberry.type
class RatingSummary:
    average: float = strawberry.field(description="Mean of the published ratings, 2 decimals; 0 without reviews.")
    count: int
    distribution: list[int] = strawberry.field(description="Published reviews with 1★, 2★, 3★, 4★, 5★.")


@strawberry.type
class ReviewReply:
    body: str = strawberry.field(description="The merchant's public answer, plain text.")
    created_at: datetime


def product_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """One query per request for all the products whose summaries it shows (a list of reviews, a
    category page resolving many Product entities)."""
    return rows_loader(c, "products", "product_id", store.products)


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product:
        return cls(id=id)

    @strawberry.field(description="Average, count and 1★..5★ distribution of the published reviews.")
    async def rating_summary(self, info: Info) -> RatingSummary:
        row = await product_rows(ctx(info)).load(str(self.id))
        dist = tuple(row[f"r{n}"] for n in range(1, 6)) if row else ratings.EMPTY
        s = ratings.summary(dist)
        return RatingSummary(average=float(s.average), count=s.count, distribution=list(s.distribution))

    @strawberry.field(description="Published reviews. withMedia: true puts reviews with photos or videos first.")
    async def reviews(self, info: Info, first: int | None = None, after: str | None = None,
                      sort: ReviewSort | None = ReviewSort.NEWEST,
                      with_media: bool | None = False) -> Connection[Review]:
        c = ctx(info)
        size = page_size(first)
        order = (sort or ReviewSort.NEWEST).value
        media_first = bool(with_media)
        key = decode_cursor(after, int, int, datetime.fromisoformat, reviewing.review_uuid)
        rows = await store.published_page(c.pool, c.shop, self.id, order, media_first, key, size)
        return connection(rows, size, node=Review.from_row, key=lambda r: listing.key(order, media_first, r),
                          after=after)


@strawberry.type
class Review:
    id: strawberry.ID
    rating: int
    title: str | None = strawberry.field(description="Plain text: markup was removed on submission.")
    body: str = strawberry.field(description="Plain text: markup was removed on submission.")
    status: ReviewStatus
    rejection_reason: str | None
    verified_buyer: bool
    incentivized: bool = strawberry.field(description="A reward (points or store credit) was granted for it.")
    media_urls: list[str]
    hashtags: list[str]
    challenge_id: strawberry.ID | None
    helpful_count: int
    reply: ReviewReply | None
    created_at: datetime
    updated_at: datetime
    product: Product
    author_id: strawberry.Private[str]

    @strawberry.field(description="The author's customer id: for admins and the author; null for anyone else.")
    def customer_id(self, info: Info) -> strawberry.ID | None:
        principal = ctx(info).principal
        if principal.is_admin or principal.customer_id == self.author_id:
            return strawberry.ID(self.author_id)
        return None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Review:
        return cls(
            id=strawberry.ID(str(row["id"])), rating=row["rating"], title=row["title"], body=row["body"],
            status=ReviewStatus(row["status"]), rejection_reason=row["rejection_reason"],
            verified_buyer=row["verified_buyer"], incentivized=row["incentivized"],
            media_urls=list(row["media_urls"]), hashtags=list(row["hashtags"]),
            challenge_id=row["challenge_id"], helpful_count=row["helpful_count"],
            reply=ReviewReply(body=row["reply_body"], created_at=row["replied_at"]) if row["reply_body"] else None,
            created_at=row["created_at"], updated_at=row["updated_at"],
            product=Product(id=strawberry.ID(row["product_id"])), author_id=row["customer_id"],
        )


@strawberry.type
class PendingReview:
    product: Product
    order_id: strawberry.ID
    delivered_at: datetime
    due_at: datetime = strawberry.field(description="When the review request goes out (D+7 by default).")
    requested_at: datetime | None = strawberry.field(description="When it went out; null while scheduled.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> PendingReview:
        return cls(product=Product(id=strawberry.ID(row["product_id"])), order_id=strawberry.ID(row["order_id"]),
                   delivered_at=row["delivered_at"], due_at=row["due_at"], requested_at=row["requested_at"])


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        entity: Customer = guarded_reference(cls, info, id)  # that customer or an admin only
        return entity

    @strawberry.field(description="The customer's own reviews, whatever their status.")
    async def reviews(self, info: Info) -> list[Review]:
        c = customer_ctx(info, self.id)
        return [Review.from_row(r) for r in await store.reviews_by_customer(c.pool, c.shop, self.id)]

    @strawberry.field(description="Delivered products waiting for the customer's review.")
    async def pending_reviews(self, info: Info) -> list[PendingReview]:
        c = customer_ctx(info, self.id)
        return [PendingReview.from_row(r) for r in await store.pending_requests(c.pool, c.shop, self.id)]


@strawberry.input
class ReviewInput:
    product_id: strawberry.ID
    rating: int
    body: str
    title: str | None = None
    media_urls: list[str] | None = None
    order_id: strawberry.ID | None = None
    hashtags: list[str] | None = None
    challenge_id: strawberry.ID | None = None


@strawberry.type(description="The shop's review settings (a new version with every change).")
class ReviewSettings:
    version: int = strawberry.field(description="0 until the first change (the defaults).")
    request_delay_days: str = strawberry.field(
        description="A delivered product's review request is due this many days after the delivery (\"7\": D+7).")
    media_hosts: list[str] = strawberry.field(
        description="Hosts (and their subdomains) whose URLs count as photos or videos whatever their path; other "
                    "media URLs must name an image or video file.")

    @classmethod
    def of(cls, s: SettingsRules) -> ReviewSettings:
        return cls(version=s.version, request_delay_days=str(s.request_delay_days), media_hosts=list(s.media_hosts))


@strawberry.input(description="A change to the review settings; fields left out keep their value.")
class ReviewSettingsInput:
    request_delay_days: str | None = strawberry.field(default=None, description="0–365, at most two decimals.")
    media_hosts: list[str] | None = strawberry.field(default=None, description="At most 20; [] removes them.")


@strawberry.type
class Query:
    @strawberry.field(description="The shop's review settings (admin).")
    async def review_settings(self, info: Info) -> ReviewSettings:
        c = ctx(info)
        c.principal.require_admin()
        return ReviewSettings.of(await reviewing.settings_of(c.pool, c.shop))

    @strawberry.field(description="A product page's review data (public; X-Shop names the shop).")
    def product(self, info: Info, id: strawberry.ID) -> Product:
        _ = ctx(info).principal  # a forged credential is an error even on public fields
        return Product(id=strawberry.ID(external_id(id, "id")))

    @strawberry.field(description="Reviews waiting for a decision (admin), oldest first; or those in another status.")
    async def moderation_queue(self, info: Info, status: ReviewStatus = ReviewStatus.PENDING,
                               first: int | None = None, after: str | None = None) -> Connection[Review]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        key = decode_cursor(after, datetime.fromisoformat, reviewing.review_uuid)
        rows = await store.moderation_queue(c.pool, c.shop, status.value, key, size)
        return connection(rows, size, node=Review.from_row, key=lambda r: (r["updated_at"].isoformat(), str(r["id"])),
                          after=after)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Review a product (customer). Again for the same product replaces the review "
                                     "and sends it back to moderation.")
    async def submit_review(self, info: Info, input: ReviewInput) -> Review:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        draft = submissions.draft(
            product_id=input.product_id, rating=input.rating, title=input.title, body=input.body,
            media_urls=input.media_urls, order_id=input.order_id, hashtags=input.hashtags,
            challenge_id=input.challenge_id,
        )
        return Review.from_row(await reviewing.submit(c.pool, c.shop, customer_id, draft))

    @strawberry.mutation(description="Count the review as helpful, once per customer; not for one's own review.")
    async def vote_review_helpful(self, info: Info, review_id: strawberry.ID) -> Review:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        return Review.from_row(await reviewing.vote_helpful(c.pool, c.shop, customer_id, review_id))

    @strawberry.mutation(description="Publish or reject a review (admin).")
    async def moderate_review(self, info: Info, id: strawberry.ID, decision: ModerationDecision,
                              reason: str | None = None) -> Review:
        c = ctx(info)
        c.principal.require_admin()
        note = submissions.plain_text(reason, "reason", limit=500, required=False)
        return Review.from_row(await reviewing.moderate(c.pool, c.shop, id, decision.value, note))

    @strawberry.mutation(description="Change the review settings (admin): the D+7 request delay, the media hosts.")
    async def configure_reviews(self, info: Info, input: ReviewSettingsInput) -> ReviewSettings:
        c = ctx(info)
        c.principal.require_admin()
        return ReviewSettings.of(await reviewing.configure(c.pool, c.shop, request_delay_days=input.request_delay_days,
                                                           media_hosts=input.media_hosts))

    @strawberry.mutation(description="The merchant's public reply to a review (admin); replaces an earlier one.")
    async def reply_to_review(self, info: Info, id: strawberry.ID, body: str) -> Review:
        c = ctx(info)
        c.principal.require_admin()
        return Review.from_row(await reviewing.reply(c.pool, c.shop, id, submissions.reply(body)))


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, Product, customer_data_export("reviews"), dead_letters_part("reviews")],
)
