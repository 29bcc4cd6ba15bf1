"""The customers subgraph's commerce platforms (CONTRACT.md, "Commerce platforms"): connections
managed by the admin, what each took and refused, and the privacy data requests platforms sent.
schema.py wires these resolvers; each authorises, parses and calls one use case
(platforms/connecting.py) or one store read. Secrets are never part of any type."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from strawberry.types import Info

from services.customers import store
from services.customers.platforms import connecting, connections
from services.customers.schema_gdpr import CustomerDataExport, export_customer_data
from shared.graphql import ctx
from shared.ids import external_id


@strawberry.enum
class CommercePlatform(Enum):
    SHOPIFY = "SHOPIFY"
    SHOPWARE = "SHOPWARE"


@strawberry.enum
class ConnectionStatus(Enum):
    ACTIVE = "ACTIVE"
    DISCONNECTED = "DISCONNECTED"
    UNINSTALLED = "UNINSTALLED"
    FAILING = "FAILING"


@strawberry.type(description="A store (Shopify) or shop (Shopware 6) that sends this shop's orders and customers. "
                             "Its secrets are stored encrypted and never shown.")
class CommerceConnection:
    id: strawberry.ID
    platform: CommercePlatform
    domain: str = strawberry.field(description="Shopify: the myshopify.com domain; Shopware: the shop id.")
    shop_url: str | None = strawberry.field(description="Shopware: the shop's address (its Admin API).")
    status: ConnectionStatus
    api_version: str | None
    registered: bool = strawberry.field(description="Shopware: the app registration handshake was confirmed.")
    admin_access: bool = strawberry.field(description="Flywheel can reach the platform's Admin API (offers are "
                                                      "pushed as discount codes).")
    last_event_at: datetime | None
    events_taken: int = strawberry.field(description="Deliveries applied (or obsolete), redeliveries not counted.")
    events_refused: int = strawberry.field(description="Deliveries refused: signature, body, payload, disconnected.")
    events_failed: int = strawberry.field(description="Deliveries that could not apply yet (the platform retries).")
    offers_pushed: int = strawberry.field(description="Discount codes created, switched off or on in the platform.")
    push_failures: int
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> CommerceConnection:
        return cls(
            id=strawberry.ID(row["id"]), platform=CommercePlatform(row["platform"]), domain=row["domain"],
            shop_url=row["shop_url"], status=ConnectionStatus(row["status"]), api_version=row["api_version"],
            registered=row["registered_at"] is not None,
            admin_access=connecting.can_reach(connecting.link(row)), last_event_at=row["last_event_at"],
            events_taken=row["events_taken"], events_refused=row["events_refused"],
            events_failed=row["events_failed"], offers_pushed=row["offers_pushed"],
            push_failures=row["push_failures"], last_error=row["last_error"], last_error_at=row["last_error_at"],
            created_at=row["created_at"])


async def request_export(root: CommerceDataRequest, info: Info) -> Any:
    """The export of the person a data request names (admin, like exportCustomerData)."""
    if not root.known:
        return None
    return await export_customer_data(info, root.customer_id)


@strawberry.type(description="A platform's request for everything held about a person (Shopify's "
                             "customers/data_request); `export` is that person's exportCustomerData.")
class CommerceDataRequest:
    id: strawberry.ID
    platform: CommercePlatform
    domain: str
    request_id: str = strawberry.field(description="The platform's id of the request.")
    customer_id: strawberry.ID
    orders_requested: list[str]
    known: bool = strawberry.field(description="Whether Flywheel held anything about the person when asked.")
    received_at: datetime
    export = strawberry.field(
        resolver=request_export, graphql_type=CustomerDataExport | None,
        description="Everything Flywheel holds about the person, every service's part; null when nothing is held.")


@strawberry.input
class ShopifyStoreInput:
    domain: str = strawberry.field(description="The store's myshopify.com domain.")
    webhook_secret: str = strawberry.field(description="The app's client secret, which signs the webhooks.")
    admin_access_token: str | None = strawberry.field(
        default=None, description="An Admin API token: webhook subscriptions are registered and offers pushed "
                                  "as discount codes. Left out on a reconnect: the stored one stays.")
    api_version: str | None = strawberry.field(default=None, description="Admin API version, default 2025-01.")


@strawberry.input
class ShopwareShopInput:
    shop_id: str = strawberry.field(description="The shop's id (from its app registration).")
    shop_url: str
    app_secret: str = strawberry.field(description="The app's secret from its manifest: it signs the registration.")
    client_id: str | None = strawberry.field(default=None, description="An integration's access key for the Admin "
                                                                       "API until the registration brings the app's.")
    client_secret: str | None = None
    app_name: str | None = strawberry.field(default=None, description="The app's technical name, if not the "
                                                                     "deployment's SHOPWARE_APP_NAME.")


async def commerce_connections(info: Info) -> list[CommerceConnection]:
    c = ctx(info)
    c.principal.require_admin()
    return [CommerceConnection.from_row(r) for r in await store.connections.of_shop(c.pool, c.shop)]


async def commerce_data_requests(info: Info) -> list[CommerceDataRequest]:
    c = ctx(info)
    c.principal.require_admin()
    return [CommerceDataRequest(
        id=strawberry.ID(r["id"]), platform=CommercePlatform(r["platform"]), domain=r["domain"],
        request_id=r["request_id"], customer_id=strawberry.ID(r["customer_id"]),
        orders_requested=list(r["orders_requested"]), known=r["known"], received_at=r["received_at"],
    ) for r in await store.data_requests.of_shop(c.pool, c.shop)]


async def connect_shopify_store(info: Info, input: ShopifyStoreInput) -> CommerceConnection:
    c = ctx(info)
    c.principal.require_admin()
    s = connections.shopify_store(input.domain, input.webhook_secret, input.admin_access_token, input.api_version)
    return CommerceConnection.from_row(await connecting.connect_shopify(c.pool, c.shop, s))


async def connect_shopware_shop(info: Info, input: ShopwareShopInput) -> CommerceConnection:
    c = ctx(info)
    c.principal.require_admin()
    s = connections.shopware_shop(input.shop_id, input.shop_url, input.app_secret, input.app_name,
                                  input.client_id, input.client_secret)
    return CommerceConnection.from_row(await connecting.connect_shopware(c.pool, c.shop, s))


async def disconnect_commerce(info: Info, id: strawberry.ID) -> CommerceConnection:
    c = ctx(info)
    c.principal.require_admin()
    return CommerceConnection.from_row(await connecting.disconnect(c.pool, c.shop, external_id(id, "id")))
