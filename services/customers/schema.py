"""The customers subgraph: profiles and the order mirror, and the Query and Mutation that also
wire the resolvers of schema_insights.py and schema_gdpr.py. Resolvers are thin: rules live in
profiles.py / orders.py, transactions in registration.py / ordering.py, SQL in store/."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.customers import ordering, orders, profiles, registration, store
from services.customers import schema_gdpr as gdpr
from services.customers import schema_insights as insights
from services.customers import schema_platforms as platforms
from services.customers import schema_predictions as predicted
from shared.dead_letters_schema import dead_letters_part, root_query
from shared.errors import NotFound
from shared.graphql import Context, Money, SubgraphSchema, ctx, customer_ctx, rows_loader
from shared.pagination import Connection, connection, decode_cursor, page_size


@strawberry.enum
class OrderStatus(Enum):
    PLACED = "PLACED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


def rfm_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The scores of all the customers a request shows (a segment's page)."""
    return rows_loader(c, "rfm", "customer_id", store.segments.rfm_scores)


def customer_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """All the Customer entities the gateway asks this subgraph for in one request."""
    return rows_loader(c, "customers", "id", store.profiles.get_many)


def order_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """All the Order entities the gateway asks this subgraph for in one request."""
    return rows_loader(c, "orders", "id", store.orders.get_many)


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    customer_id: strawberry.ID
    status: OrderStatus
    total: Money
    refunded: Money
    placed_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Order:
        return cls(
            id=strawberry.ID(row["id"]),
            customer_id=strawberry.ID(row["customer_id"]),
            status=OrderStatus(row["status"]),
            total=Money.of(row["total"], row["currency"]),
            refunded=Money.of(row["refunded_total"], row["currency"]),
            placed_at=row["placed_at"],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Order | None:
        c = ctx(info)
        row = await order_rows(c).load(str(id))
        if row is None:
            return None
        c.principal.require_customer_access(row["customer_id"])
        return cls.from_row(row)


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    birthday: date | None = None
    row: strawberry.Private[asyncpg.Record | None] = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Customer:
        return cls(
            id=strawberry.ID(row["id"]), email=row["email"], first_name=row["first_name"],
            last_name=row["last_name"], locale=row["locale"], timezone=row["timezone"],
            birthday=row["birthday"], row=row,
        )

    @strawberry.field(description="PROSPECT until the first counting order (docs/domain.md, Segments).")
    def segment(self, info: Info) -> insights.Segment:
        customer_ctx(info, self.id)
        return insights.Segment(self.row["segment"] if self.row is not None else "PROSPECT")

    @strawberry.field(description="RFM scores from the last daily pass; null outside the active base.")
    async def rfm(self, info: Info) -> insights.RfmScore | None:
        c = customer_ctx(info, self.id)
        if self.row is None:
            return None
        return insights.RfmScore.of(await rfm_rows(c).load(str(self.id)))

    @strawberry.field(description="Order statistics and the engagement score; null for an unknown customer.")
    async def stats(self, info: Info) -> insights.CustomerStats | None:
        customer_ctx(info, self.id)
        return await insights.stats_of(info, self.row) if self.row is not None else None

    @strawberry.field(description=(
        "The shop's model's prediction (admin); null without one: see predictionStatus for why."))
    async def prediction(self, info: Info) -> predicted.CustomerPrediction | None:
        return await predicted.prediction_of(info, str(self.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        c = customer_ctx(info, id)
        row = await customer_rows(c).load(str(id))
        return cls.from_row(row) if row is not None else cls(id=id)

    @strawberry.field(description="The customer's orders, newest first.")
    async def orders(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Order]:
        c = customer_ctx(info, self.id)
        size = page_size(first)
        rows = await store.orders.page(c.pool, c.shop, self.id, size,
                                       decode_cursor(after, datetime.fromisoformat, str))
        return connection(rows, size, node=Order.from_row,
                          key=lambda r: (r["placed_at"].isoformat(), r["id"]), after=after)


@strawberry.input
class CustomerInput:
    id: strawberry.ID
    email: str
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = strawberry.field(default=None, description='"de" or "en"')
    timezone: str | None = strawberry.field(default=None, description="IANA name, e.g. Europe/Berlin")
    birthday: date | None = None
    phone: str | None = strawberry.field(default=None, description="E.164, e.g. +4915112345678")
    accepts_email: bool | None = None
    accepts_sms: bool | None = None
    accepts_whatsapp: bool | None = None
    referral_code: str | None = None
    device_id: str | None = None


@strawberry.input
class OrderLineInput:
    product_id: strawberry.ID
    quantity: int
    unit_price: str


@strawberry.input
class OrderInput:
    id: strawberry.ID
    customer_id: strawberry.ID
    currency: str
    lines: list[OrderLineInput]
    total: str = strawberry.field(description="What the customer paid, shipping and tax included")
    placed_at: datetime
    discount_total: str | None = None
    shipping_total: str | None = None
    tax_total: str | None = None
    referral_code: str | None = None
    discount_codes: list[str] | None = None
    shipping_address_hash: str | None = None
    payment_fingerprint: str | None = None
    device_id: str | None = None


DeadLetters = dead_letters_part("customers")


@strawberry.type
class Query:
    @strawberry.field(description=(
        "The signed-in customer (customer token). NOT_FOUND for an id the shop never sent (upsertCustomer "
        "or its platform's webhook comes first) or has erased: nothing is answered or created for it "
        "(docs/auth.md)."))
    async def me(self, info: Info) -> Customer | None:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        row = await store.profiles.get(c.pool, c.shop, customer_id)
        if row is None or row["erased_at"] is not None:
            raise NotFound("no such customer in this shop: the shop sends it (upsertCustomer) before its "
                           "customer signs in")
        return Customer.from_row(row)

    @strawberry.field(description="Any customer of the shop (admin).")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        c = ctx(info)
        c.principal.require_admin()
        row = await store.profiles.get(c.pool, c.shop, id)
        return Customer.from_row(row) if row is not None else None

    @strawberry.field(description="A segment's customers by id, e.g. a win-back or challenge audience (admin).")
    async def customers(self, info: Info, segment: insights.Segment, first: int | None = None,
                        after: str | None = None) -> Connection[Customer]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        key = decode_cursor(after, str)
        rows = await store.segments.members(c.pool, c.shop, segment.value, size, key[0] if key else None)
        return connection(rows, size, node=Customer.from_row, key=lambda r: (r["id"],), after=after)

    retention_metrics: insights.RetentionMetrics = strawberry.field(
        resolver=insights.retention_metrics,
        description="Retention metrics over [from, to), at most 10 years, as docs/domain.md defines them (admin).")
    segment_counts: list[insights.SegmentCount] = strawberry.field(
        resolver=insights.segment_counts, description="Customers per segment, erased ones left out (admin).")
    segment_rules: insights.SegmentRulesType = strawberry.field(
        resolver=insights.segment_rules, description="The shop's segment thresholds (admin).")
    prediction_status: predicted.PredictionStatus = strawberry.field(
        resolver=predicted.prediction_status,
        description="Whether the shop's customers have predictions, the fitted model, or why not (admin).")
    export_customer_data = strawberry.field(
        resolver=gdpr.export_customer_data, graphql_type=gdpr.CustomerDataExport,
        description="GDPR export: every subgraph adds its own JSON field to the result (admin).")
    dead_letters = root_query(DeadLetters)
    commerce_connections: list[platforms.CommerceConnection] = strawberry.field(
        resolver=platforms.commerce_connections,
        description="The shop's Shopify stores and Shopware shops: state and what each took and refused (admin).")
    commerce_data_requests: list[platforms.CommerceDataRequest] = strawberry.field(
        resolver=platforms.commerce_data_requests,
        description="Privacy data requests the platforms sent, newest first, each with its export (admin).")


@strawberry.type
class Mutation:
    record_engagement: bool = strawberry.mutation(
        resolver=insights.record_engagement,
        description="A site visit or an email open/click (ingest); counted once per idempotencyKey.")
    configure_segments: insights.SegmentRulesType = strawberry.mutation(
        resolver=insights.configure_segments,
        description="Change the shop's segment thresholds; unset fields keep their value (admin).")
    refresh_segments: int = strawberry.mutation(
        resolver=insights.refresh_segments,
        description="Run the daily segment and RFM pass now (admin); returns how many customers moved.")
    refresh_predictions: predicted.PredictionStatus = strawberry.mutation(
        resolver=predicted.refresh_predictions, description=(
            "Fit the shop's prediction models now (admin); nightly at 02:00 UTC otherwise. Past ~500k buyers the "
            "gateway's timeout answers first and the nightly job is the way."))
    erase_customer: bool = strawberry.mutation(
        resolver=gdpr.erase_customer,
        description="GDPR: forget the person, keep anonymous aggregates; emits customer.erased (admin).")
    connect_shopify_store: platforms.CommerceConnection = strawberry.mutation(
        resolver=platforms.connect_shopify_store,
        description="Connect a Shopify store, or reconnect it with new secrets (admin). With an Admin API token its "
                    "webhooks are subscribed and offers pushed as discount codes.")
    connect_shopware_shop: platforms.CommerceConnection = strawberry.mutation(
        resolver=platforms.connect_shopware_shop,
        description="Connect a Shopware 6 shop ahead of its app registration, or reconnect it (admin).")
    disconnect_commerce: platforms.CommerceConnection = strawberry.mutation(
        resolver=platforms.disconnect_commerce,
        description="Stop taking a platform's events and pushing to it; privacy requests are still honoured (admin).")

    @strawberry.mutation(description="Create or update a customer (ingest). Idempotent on id.")
    async def upsert_customer(self, info: Info, input: CustomerInput) -> Customer:
        c = ctx(info)
        c.principal.require_ingest()
        p = profiles.profile(
            id=input.id, email=input.email, first_name=input.first_name, last_name=input.last_name,
            locale=input.locale, timezone=input.timezone, birthday=input.birthday, phone=input.phone,
            accepts_email=input.accepts_email, accepts_sms=input.accepts_sms,
            accepts_whatsapp=input.accepts_whatsapp, referral_code=input.referral_code,
            device_id=input.device_id,
        )
        return Customer.from_row(await registration.upsert(c.pool, c.shop, p))

    @strawberry.mutation(description="Record an order as PLACED (ingest). Idempotent on id.")
    async def record_order(self, info: Info, input: OrderInput) -> Order:
        c = ctx(info)
        c.principal.require_ingest()
        o = orders.new_order(
            id=input.id, customer_id=input.customer_id, currency=input.currency,
            lines=[(line.product_id, line.quantity, line.unit_price) for line in input.lines],
            discount_total=input.discount_total, shipping_total=input.shipping_total,
            tax_total=input.tax_total, total=input.total, placed_at=input.placed_at,
            referral_code=input.referral_code, discount_codes=input.discount_codes,
            shipping_address_hash=input.shipping_address_hash,
            payment_fingerprint=input.payment_fingerprint, device_id=input.device_id,
        )
        return Order.from_row(await ordering.record(c.pool, c.shop, o))

    @strawberry.mutation(description=(
        "Move an order along PLACED → PAID → SHIPPED → DELIVERED, or to CANCELLED / REFUNDED (ingest). "
        "refundedAmount is the cumulative amount refunded so far; below the total it is a partial "
        "refund and the order keeps its status. Repeating an update changes nothing."))
    async def update_order_status(
        self, info: Info, id: strawberry.ID, status: OrderStatus, refunded_amount: str | None = None,
        at: Annotated[datetime | None, strawberry.argument(description=(
            "When the change happened on the platform (a delivery reported late), with an offset, not before "
            "placedAt; now when left out. Timings that count from it (the D+7 review request, D+21 and D+28 "
            "messages, the return window) start there."))] = None,
    ) -> Order:
        c = ctx(info)
        c.principal.require_ingest()
        return Order.from_row(await ordering.update_status(c.pool, c.shop, id, status.value, refunded_amount, at))


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, Order, gdpr.CustomerDataExport, DeadLetters],
)
