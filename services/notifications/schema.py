"""The notifications subgraph's resolvers: a customer's delivery log and preferences; admins'
flows, settings, failures, merchant webhooks and the order-delay note. Resolvers are thin: types in
schema_types.py, use cases in contacts.py, configuration.py, webhooks.py and automation.py, reads in
store.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.notifications import automation, configuration, contacts, store, validation, webhooks
from services.notifications.schema_types import (
    Notification,
    NotificationFlow,
    NotificationFlowInput,
    NotificationPreferences,
    NotificationSettings,
    NotificationSettingsInput,
    PreferencesInput,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointInput,
)
from shared.dead_letters_schema import dead_letters_part
from shared.errors import NotFound
from shared.graphql import Context, SubgraphSchema, ctx, customer_ctx, guarded_reference, rows_loader
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size
from shared.personal_data import customer_data_export


def _page(rows: Sequence[asyncpg.Record], size: int, after: str | None) -> Connection[Notification]:
    return connection(rows, size, node=Notification.from_row,
                      key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)


def contact_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """One query per request for the contacts of every customer it shows."""
    return rows_loader(c, "contacts", "customer_id", store.contacts)


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        entity: Customer = guarded_reference(cls, info, id)  # that customer or an admin only
        return entity

    @strawberry.field(description="Messages sent or planned for the customer, newest first.")
    async def notifications(self, info: Info, first: int | None = None,
                            after: str | None = None) -> Connection[Notification]:
        c = customer_ctx(info, self.id)
        size = page_size(first)
        rows = await store.deliveries(c.pool, c.shop, self.id, size,
                                      decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return _page(rows, size, after)

    @strawberry.field(description="Channels the customer agreed to, locale, timezone and quiet hours.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        c = customer_ctx(info, self.id)
        row = await contact_rows(c).load(str(self.id))
        if row is None:
            raise NotFound("no notification profile for this customer yet")
        return NotificationPreferences.from_row(row)


@strawberry.type
class Query:
    @strawberry.field(description="Admin: the shop's flows with its overrides applied.")
    async def notification_flows(self, info: Info) -> list[NotificationFlow]:
        c = ctx(info)
        c.principal.require_admin()
        return [NotificationFlow.of(f) for f in await configuration.flows_of(c.pool, c.shop)]

    @strawberry.field(description="Admin: messages that failed for good, newest first, with the reason.")
    async def failed_notifications(self, info: Info, first: int | None = None,
                                   after: str | None = None) -> Connection[Notification]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        rows = await store.failed_deliveries(c.pool, c.shop, size,
                                             decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return _page(rows, size, after)

    @strawberry.field(description="Admin: the shop's outbound webhook endpoints.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        c = ctx(info)
        c.principal.require_admin()
        return [WebhookEndpoint.from_row(r) for r in await store.webhook_endpoints(c.pool, c.shop)]

    @strawberry.field(description="Admin: the log of outbound webhook deliveries, newest first.")
    async def webhook_deliveries(self, info: Info, first: int | None = None, after: str | None = None,
                                 status: WebhookDeliveryStatus | None = None) -> Connection[WebhookDelivery]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        rows = await store.webhook_deliveries(c.pool, c.shop, status.value if status else None, size,
                                              decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return connection(rows, size, node=WebhookDelivery.from_row,
                          key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)

    @strawberry.field(description="Admin: links, caps, retries and channel providers (secrets are not shown).")
    async def notification_settings(self, info: Info) -> NotificationSettings:
        c = ctx(info)
        c.principal.require_admin()
        return NotificationSettings.from_row(await configuration.settings_of(c.pool, c.shop))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Customer: channels, locale, timezone, quiet hours.")
    async def update_notification_preferences(self, info: Info, input: PreferencesInput) -> NotificationPreferences:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        row = await contacts.update_preferences(c.pool, c.shop, customer_id, strawberry.asdict(input))
        return NotificationPreferences.from_row(row)

    @strawberry.mutation(description="Admin: enable or disable a flow, change a step's delay or template.")
    async def update_notification_flow(self, info: Info, input: NotificationFlowInput) -> NotificationFlow:
        c = ctx(info)
        c.principal.require_admin()
        steps = [strawberry.asdict(s) for s in input.steps or []]
        return NotificationFlow.of(await configuration.update_flow(c.pool, c.shop, input.key, input.enabled, steps))

    @strawberry.mutation(description="Admin: the shop's notification settings; absent fields keep their value.")
    async def configure_notifications(self, info: Info, input: NotificationSettingsInput) -> NotificationSettings:
        c = ctx(info)
        c.principal.require_admin()
        return NotificationSettings.from_row(await configuration.configure(c.pool, c.shop, strawberry.asdict(input)))

    @strawberry.mutation(description="Admin: add or change an outbound webhook endpoint (signed POSTs of events).")
    async def upsert_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookEndpoint:
        c = ctx(info)
        c.principal.require_admin()
        endpoint_id = None
        if input.id is not None:
            try:
                endpoint_id = str(uuid.UUID(str(input.id)))
            except ValueError as exc:
                raise NotFound("unknown webhook endpoint", field="id") from exc
        row = await webhooks.save_endpoint(c.pool, c.shop, endpoint_id, url=input.url, secret=input.secret,
                                           event_types=input.event_types, enabled=input.enabled)
        await webhooks.follow_subscriptions(c.runtime.bus)
        return WebhookEndpoint.from_row(row)

    @strawberry.mutation(description="Admin: tell the customer honestly that an order is late (once per message).")
    async def notify_order_delay(self, info: Info, order_id: strawberry.ID, message: str | None = None) -> bool:
        c = ctx(info)
        c.principal.require_admin()
        order = external_id(order_id, "orderId")
        await automation.notify_order_delay(c.pool, c.shop, order, validation.delay_note(message))
        return True


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, customer_data_export("notifications"), dead_letters_part("notifications")],
)
